//! Guards of several blocks in one pass: carry-less-multiply folding over up to
//! [`LANES`] equal-sized blocks at once, interleaved so their dependency chains overlap.
//!
//! Why: crc-fast computes one guard per call, and at 512-byte blocks its fixed cost per call
//! (measured with perf: almost all of it inside its folding kernel, i.e. its set-up and final
//! reduction, a chain of dependent multiplies; run-time dispatch is a few per cent) costs as
//! much as the bytes. Here each block keeps one accumulator, and the accumulators of up to
//! `LANES` blocks advance side by side, so the processor runs their multiplies in parallel and
//! the final reductions of the blocks overlap.
//!
//! The math, for all three guards at once: a reflected CRC of width `w` with polynomial `P` is
//! computed as a 64-bit reflected CRC with `Q = P * x^(64-w)`; its register holds the `w`-bit CRC
//! in its low bits (`M*x^64 mod Q = (M*x^w mod P) * x^(64-w)`). The non-reflected
//! CRC-16/T10-DIF is the same reflected computation over bytes with their bits reversed, read
//! back bit-reversed. Per 16 bytes, an accumulator `A = L*x^64 + H` (L: its first 8 bytes) is
//! replaced by `L*x^(128+64) + H*x^128 mod Q` plus the next 16 bytes; in the reflected bit order
//! a 64x64 carry-less product comes out multiplied by `x`, so the constants are
//! `x^(128+63) mod Q` and `x^(128-1) mod Q` (and the same for 512 bits with AVX-512, whose
//! four 128-bit lanes are folded into one at the end). The last remainder `X` becomes
//! `X*x^64 mod Q` with one multiply by `x^127 mod Q` and a Barrett step (`floor(x^128/Q)`).
//! Metadata bytes after the data (the PI-last prefix) continue the register a byte at a time
//! from a 256-entry table. All constants are computed at compile time from the polynomials.
//!
//! Kernels, chosen at run time (std caches the CPU feature bits): AVX-512 with VPCLMULQDQ and
//! GFNI, 64 bytes per step, for data sizes that are a multiple of 64; PCLMULQDQ with SSSE3 and
//! SSE4.1, 16 bytes per step, otherwise. Without PCLMULQDQ, off x86_64, or for a data length
//! that is not a multiple of 16, the caller falls back to crc-fast one block at a time. This
//! file is the only one in `pi` with `unsafe`: the unaligned loads and the calls into the
//! `target_feature` functions.

use super::guard::GuardFormat;

/// How many blocks advance side by side.
pub(crate) const LANES: usize = 8;

/// One guard's constants (see the module docs), in the reflected bit order used by the
/// folding: a 64-bit value whose bit `i` is the coefficient of `x^(63-i)`.
#[derive(Debug)]
struct FoldParams {
    width: u32,
    /// The CRC is defined over bits most significant first (CRC-16/T10-DIF): reverse each
    /// byte's bits on the way in, and the register's on the way out.
    msb_first: bool,
    /// Initial register, reflected, low `width` bits.
    init: u64,
    xorout: u64,
    /// Folding by 128 bits: `x^(128+63) mod Q` (for the first 8 bytes) and `x^127 mod Q`; the
    /// same pairs for 256, 384 and 512 bits.
    fold128_first: u64,
    fold128_second: u64,
    fold256_first: u64,
    fold256_second: u64,
    fold384_first: u64,
    fold384_second: u64,
    fold512_first: u64,
    fold512_second: u64,
    /// For the final reduction, reflected like the folding constants: `x^127 mod Q`,
    /// `floor(x^128 / Q) - x^64` and `Q - x^64`.
    x127: u64,
    mu: u64,
    q: u64,
    /// Byte-at-a-time table for the reflected register (polynomial `Q` reflected).
    table: [u64; 256],
}

/// `x^n mod Q` in plain bit order, `q` = `Q - x^64`.
const fn xpow_mod(n: u32, q: u64) -> u64 {
    let mut r = 1u64;
    let mut i = 0;
    while i < n {
        let carry = r >> 63;
        r <<= 1;
        if carry != 0 {
            r ^= q;
        }
        i += 1;
    }
    r
}

/// `floor(x^128 / Q) - x^64` in plain bit order, by long division.
const fn barrett_mu(q: u64) -> u64 {
    // x^128 - x^64 * Q = x^64 * q: the remainder after the quotient's top term.
    let mut rem = (q as u128) << 64;
    let mut mu = 0u64;
    let mut d = 127;
    while d >= 64 {
        if (rem >> d) & 1 != 0 {
            mu |= 1 << (d - 64);
            rem ^= (1u128 << d) ^ ((q as u128) << (d - 64));
        }
        d -= 1;
    }
    mu
}

const fn reflected_table(q_reflected: u64) -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut r = b as u64;
        let mut k = 0;
        while k < 8 {
            r = if r & 1 != 0 { (r >> 1) ^ q_reflected } else { r >> 1 };
            k += 1;
        }
        table[b] = r;
        b += 1;
    }
    table
}

impl FoldParams {
    /// `poly` without its `x^width` term, plain bit order; `init`/`xorout` as the catalog gives
    /// them.
    const fn new(width: u32, poly: u64, msb_first: bool, init: u64, xorout: u64) -> Self {
        let q = poly << (64 - width);
        let init = if msb_first { init.reverse_bits() >> (64 - width) } else { init };
        Self {
            width,
            msb_first,
            init,
            xorout,
            fold128_first: xpow_mod(128 + 63, q).reverse_bits(),
            fold128_second: xpow_mod(127, q).reverse_bits(),
            fold256_first: xpow_mod(256 + 63, q).reverse_bits(),
            fold256_second: xpow_mod(255, q).reverse_bits(),
            fold384_first: xpow_mod(384 + 63, q).reverse_bits(),
            fold384_second: xpow_mod(383, q).reverse_bits(),
            fold512_first: xpow_mod(512 + 63, q).reverse_bits(),
            fold512_second: xpow_mod(511, q).reverse_bits(),
            x127: xpow_mod(127, q).reverse_bits(),
            mu: barrett_mu(q).reverse_bits(),
            q: q.reverse_bits(),
            table: reflected_table(q.reverse_bits()),
        }
    }

    const fn of(guard: GuardFormat) -> &'static Self {
        match guard {
            GuardFormat::Crc16T10Dif => &CRC16_T10_DIF,
            GuardFormat::Crc32c => &CRC32C,
            GuardFormat::Crc64Nvme => &CRC64_NVME,
        }
    }

    /// Continues the reflected register over `bytes`, a byte at a time.
    fn update_bytewise(&self, mut reg: u64, bytes: &[u8]) -> u64 {
        for &b in bytes {
            let b = if self.msb_first { b.reverse_bits() } else { b };
            reg = self.table[((reg ^ u64::from(b)) & 0xFF) as usize] ^ (reg >> 8);
        }
        reg
    }

    /// The guard value from the reflected register.
    fn finish(&self, reg: u64) -> u64 {
        let mask = u64::MAX >> (64 - self.width);
        let reg = if self.msb_first { reg.reverse_bits() >> (64 - self.width) } else { reg & mask };
        reg ^ self.xorout
    }
}

static CRC16_T10_DIF: FoldParams = FoldParams::new(16, 0x8BB7, true, 0, 0);
static CRC32C: FoldParams = FoldParams::new(32, 0x1EDC_6F41, false, 0xFFFF_FFFF, 0xFFFF_FFFF);
static CRC64_NVME: FoldParams = FoldParams::new(64, 0xAD93_D235_94C9_3659, false, u64::MAX, u64::MAX);

/// Whether [`guards`] can take blocks of `data_len` bytes on this CPU.
pub(crate) fn available(data_len: usize) -> bool {
    data_len >= 16 && data_len.is_multiple_of(16) && simd::detected()
}

/// The guards of `blocks` (each: data, then the metadata bytes before the tuple), at most
/// [`LANES`] of them, all with data of the same length, for which [`available`] said yes.
/// Writes `out[i]` for block `i`.
pub(crate) fn guards(guard: GuardFormat, blocks: &[(&[u8], &[u8])], out: &mut [u64]) {
    let p = FoldParams::of(guard);
    debug_assert!(blocks.len() <= LANES && out.len() >= blocks.len());
    let mut data: [&[u8]; LANES] = [&[]; LANES];
    for (d, (b, _)) in data.iter_mut().zip(blocks) {
        *d = b;
    }
    let mut folded = [0u128; LANES];
    simd::fold(p, &data[..blocks.len()], &mut folded);
    for ((o, (_, prefix)), x) in out.iter_mut().zip(blocks).zip(folded) {
        let reg = simd::reduce(p, x);
        *o = p.finish(p.update_bytewise(reg, prefix));
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use super::{FoldParams, LANES};
    use std::arch::x86_64::*;

    pub(super) fn detected() -> bool {
        is_x86_feature_detected!("pclmulqdq") && is_x86_feature_detected!("ssse3") && is_x86_feature_detected!("sse4.1")
    }

    /// Calls `$kernel::<N>` with N = the number of blocks, so that every lane loop has a
    /// constant trip count and its accumulators stay in registers.
    macro_rules! for_block_count {
        ($kernel:ident, $p:expr, $data:expr, $out:expr) => {
            match $data.len() {
                8 => $kernel::<8>($p, $data, $out),
                7 => $kernel::<7>($p, $data, $out),
                6 => $kernel::<6>($p, $data, $out),
                5 => $kernel::<5>($p, $data, $out),
                4 => $kernel::<4>($p, $data, $out),
                3 => $kernel::<3>($p, $data, $out),
                2 => $kernel::<2>($p, $data, $out),
                1 => $kernel::<1>($p, $data, $out),
                n => panic!("{n} blocks: 1..={LANES} expected"),
            }
        };
    }

    /// Folds each block of `data` (same lengths, a multiple of 16, at least 16) to one 128-bit
    /// remainder congruent to its message (init applied), in the reflected order: bit `k` of
    /// the `u128` is the coefficient of `x^(127-k)`.
    pub(super) fn fold(p: &FoldParams, data: &[&[u8]], out: &mut [u128; LANES]) {
        assert!(detected(), "caller checks guard_fold::available");
        if data.first().is_some_and(|d| d.len().is_multiple_of(64)) && detected_avx512() {
            // SAFETY: the CPU has AVX-512 F/BW/VL, VPCLMULQDQ, GFNI (checked just above),
            // PCLMULQDQ and SSE4.1 (asserted above).
            unsafe { for_block_count!(fold_n_avx512, p, data, out) }
        } else {
            // SAFETY: the CPU has PCLMULQDQ, SSSE3 and SSE4.1 (asserted above).
            unsafe { for_block_count!(fold_n, p, data, out) }
        }
    }

    /// The PCLMULQDQ-only kernel even where AVX-512 is there, for tests.
    #[cfg(test)]
    pub(super) fn fold_sse_only(p: &FoldParams, data: &[&[u8]], out: &mut [u128; LANES]) {
        assert!(detected());
        // SAFETY: the CPU has PCLMULQDQ, SSSE3 and SSE4.1 (asserted above).
        unsafe { for_block_count!(fold_n, p, data, out) }
    }

    fn detected_avx512() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("vpclmulqdq")
            && is_x86_feature_detected!("gfni")
    }

    /// [`fold_n`] 64 bytes at a time: each block's accumulator is four 128-bit lanes, folded
    /// by 512 bits with VPCLMULQDQ, then the lanes are folded into one (by 384, 256 and 128
    /// bits). CRC-16's bit reversal of each byte is one GF2P8AFFINEQB.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,gfni,pclmulqdq,sse4.1")]
    fn fold_n_avx512<const N: usize>(p: &FoldParams, data: &[&[u8]], out: &mut [u128; LANES]) {
        let len = data[0].len();
        assert!(data.len() == N && data.iter().all(|d| d.len() == len) && len >= 64 && len.is_multiple_of(64));
        let keys = _mm512_broadcast_i32x4(_mm_set_epi64x(p.fold512_second as i64, p.fold512_first as i64));
        let bit_reverse = _mm512_set1_epi64(0x8040_2010_0804_0201_u64 as i64);
        let load = |block: &[u8], at: usize| -> __m512i {
            let chunk = &block[at..at + 64];
            // SAFETY: `chunk` is 64 readable bytes; loadu has no alignment requirement.
            let v = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast()) };
            if p.msb_first {
                _mm512_gf2p8affine_epi64_epi8::<0>(v, bit_reverse)
            } else {
                v
            }
        };
        let init = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, p.init as i64);
        let mut acc = [_mm512_setzero_si512(); N];
        for (a, block) in acc.iter_mut().zip(data) {
            *a = _mm512_xor_si512(load(block, 0), init);
        }
        let mut at = 64;
        while at < len {
            for (a, block) in acc.iter_mut().zip(data) {
                let first = _mm512_clmulepi64_epi128(*a, keys, 0x00);
                let second = _mm512_clmulepi64_epi128(*a, keys, 0x11);
                *a = _mm512_ternarylogic_epi64::<0x96>(first, second, load(block, at));
            }
            at += 64;
        }
        // Lanes 0, 1, 2 move forward by 384, 256, 128 bits onto lane 3.
        let lane_keys = _mm512_set_epi64(
            0,
            0,
            p.fold128_second as i64,
            p.fold128_first as i64,
            p.fold256_second as i64,
            p.fold256_first as i64,
            p.fold384_second as i64,
            p.fold384_first as i64,
        );
        for (o, a) in out.iter_mut().zip(acc) {
            let moved = _mm512_xor_si512(
                _mm512_clmulepi64_epi128(a, lane_keys, 0x00),
                _mm512_clmulepi64_epi128(a, lane_keys, 0x11),
            );
            let x = _mm_xor_si128(
                _mm_xor_si128(_mm512_extracti32x4_epi32::<0>(moved), _mm512_extracti32x4_epi32::<1>(moved)),
                _mm_xor_si128(_mm512_extracti32x4_epi32::<2>(moved), _mm512_extracti32x4_epi32::<3>(a)),
            );
            *o = to_u128(x);
        }
    }

    /// `x*x^64 mod Q` for the folded remainder `x`, as the reflected register.
    pub(super) fn reduce(p: &FoldParams, x: u128) -> u64 {
        // SAFETY: only reached after `fold`, which asserted the features.
        unsafe { reduce_pclmul(p, x) }
    }

    #[target_feature(enable = "pclmulqdq,sse2,ssse3,sse4.1")]
    fn fold_n<const N: usize>(p: &FoldParams, data: &[&[u8]], out: &mut [u128; LANES]) {
        let len = data[0].len();
        assert!(data.len() == N && data.iter().all(|d| d.len() == len) && len >= 16 && len.is_multiple_of(16));
        let keys = _mm_set_epi64x(p.fold128_second as i64, p.fold128_first as i64);
        let nibble_rev = _mm_setr_epi8(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
        let low_nibbles = _mm_set1_epi8(0x0F);
        let load = |block: &[u8], at: usize| -> __m128i {
            let chunk = &block[at..at + 16];
            // SAFETY: `chunk` is 16 readable bytes; loadu has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
            if p.msb_first {
                // Reverse the bits of every byte: two 4-bit table look-ups.
                let lo = _mm_shuffle_epi8(nibble_rev, _mm_and_si128(v, low_nibbles));
                let hi = _mm_shuffle_epi8(nibble_rev, _mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles));
                _mm_or_si128(_mm_slli_epi16(lo, 4), hi)
            } else {
                v
            }
        };
        let init = _mm_set_epi64x(0, p.init as i64);
        let mut acc = [_mm_setzero_si128(); N];
        for (a, block) in acc.iter_mut().zip(data) {
            *a = _mm_xor_si128(load(block, 0), init);
        }
        let mut at = 16;
        while at < len {
            for (a, block) in acc.iter_mut().zip(data) {
                let first = _mm_clmulepi64_si128(*a, keys, 0x00);
                let second = _mm_clmulepi64_si128(*a, keys, 0x11);
                *a = _mm_xor_si128(_mm_xor_si128(first, second), load(block, at));
            }
            at += 16;
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = to_u128(a);
        }
    }

    /// The 16 bytes of `v` as a little-endian `u128` (bit `k` is the coefficient of
    /// `x^(127-k)` of the folded remainder).
    #[target_feature(enable = "sse2,sse4.1")]
    fn to_u128(v: __m128i) -> u128 {
        (u128::from(_mm_extract_epi64(v, 1) as u64) << 64) | u128::from(_mm_cvtsi128_si64(v) as u64)
    }

    /// All in the reflected order, where a 64x64 carry-less product comes out times `x`.
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    fn reduce_pclmul(p: &FoldParams, x: u128) -> u64 {
        let x = _mm_set_epi64x((x >> 64) as i64, x as i64);
        let keys = _mm_set_epi64x(p.mu as i64, p.x127 as i64);
        // x*x^64 = L*x^128 + H*x^64 (L: first 8 bytes) = L*(x^127 mod Q)*x + H*x^64: a 128-bit
        // t = th*x^64 + tl, th its first 8 bytes.
        let t = _mm_xor_si128(_mm_clmulepi64_si128(x, keys, 0x00), _mm_srli_si128(x, 8));
        let (th, tl) = (_mm_cvtsi128_si64(t) as u64, _mm_extract_epi64(t, 1) as u64);
        // Barrett: quotient = th + floor(th*mu / x^64), the product's degrees 64..126, which
        // the reflected product holds one bit low in its first 8 bytes.
        let quotient = th ^ ((_mm_cvtsi128_si64(_mm_clmulepi64_si128(t, keys, 0x10)) as u64) << 1);
        // Remainder = tl + (quotient*Q mod x^64): degrees 0..63 of quotient*q, reflected
        // product bits 63..126.
        let qq = to_u128(_mm_clmulepi64_si128(_mm_set_epi64x(0, quotient as i64), _mm_set_epi64x(0, p.q as i64), 0x00));
        ((qq >> 63) as u64) ^ tl
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::{FoldParams, LANES};

    pub(super) fn detected() -> bool {
        false
    }

    pub(super) fn fold(_: &FoldParams, _: &[&[u8]], _: &mut [u128; LANES]) {
        unreachable!("guard_fold::available is false on this architecture")
    }

    pub(super) fn reduce(_: &FoldParams, _: u128) -> u64 {
        unreachable!("guard_fold::available is false on this architecture")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_agree_with_each_other() {
        for g in GuardFormat::ALL {
            let p = FoldParams::of(g);
            let (q, mu) = (p.q.reverse_bits(), p.mu.reverse_bits());
            // mu is the quotient of x^128 by Q: (x^64 + mu) * Q - x^128 must be x^128 mod Q.
            let mut product = u128::from(q) << 64;
            for i in 0..64 {
                if (mu >> i) & 1 != 0 {
                    product ^= (u128::from(q) << i) ^ (1u128 << (64 + i));
                }
            }
            assert_eq!(product, u128::from(xpow_mod(128, q)), "{}", g.name());
            assert_eq!(xpow_mod(127, q).reverse_bits(), p.x127);
        }
    }

    /// Both kernels (where the CPU has them) against the byte-at-a-time table.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn both_kernels_match_the_table() {
        if !simd::detected() {
            return; // nothing to compare on this CPU; guard.rs tests cover the fallback
        }
        let mut x = 0x1234_5678_9ABC_DEF1u64;
        let bytes: Vec<u8> = (0..8 * 4096 + 64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for g in GuardFormat::ALL {
            let p = FoldParams::of(g);
            for len in [16usize, 48, 64, 512, 4096] {
                for n in [1usize, 3, 8] {
                    // Odd offsets: the kernels must not need aligned data.
                    let data: Vec<&[u8]> = (0..n).map(|i| &bytes[i * len + 3..(i + 1) * len + 3]).collect();
                    let want: Vec<u64> = data.iter().map(|d| p.finish(p.update_bytewise(p.init, d))).collect();
                    let mut folded = [0u128; LANES];
                    simd::fold_sse_only(p, &data, &mut folded);
                    let got: Vec<u64> = folded[..n].iter().map(|&f| p.finish(simd::reduce(p, f))).collect();
                    assert_eq!(got, want, "sse {} len {len} n {n}", g.name());
                    let mut folded = [0u128; LANES];
                    simd::fold(p, &data, &mut folded);
                    let got: Vec<u64> = folded[..n].iter().map(|&f| p.finish(simd::reduce(p, f))).collect();
                    assert_eq!(got, want, "dispatched {} len {len} n {n}", g.name());
                }
            }
        }
    }

    #[test]
    fn bytewise_table_gives_check_values() {
        let expect = [0xD0DB, 0xE306_9283, 0xAE8B_1486_0A79_9888];
        for (g, want) in GuardFormat::ALL.into_iter().zip(expect) {
            let p = FoldParams::of(g);
            assert_eq!(p.finish(p.update_bytewise(p.init, b"123456789")), want, "{}", g.name());
        }
    }
}
