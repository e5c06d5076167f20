//! Guard field CRCs of the three NVMe protection information formats.
//!
//! NVM Command Set 1.2 §5.3.1 defines three formats, selected by the Protection Information
//! Format (PIF) field of the extended LBA format (Figure 119):
//!
//! | PIF | format | Guard | CRC | poly | init, xorout | reflected |
//! |-----|--------|-------|-----|------|--------------|-----------|
//! | 0 | 16b (§5.3.1.1) | 2 bytes | CRC-16/T10-DIF (SBC-4) | 8BB7h | 0, 0 | no |
//! | 1 | 32b (§5.3.1.2) | 4 bytes | CRC-32C (Castagnoli) | 1EDC6F41h | all ones | yes |
//! | 2 | 64b (§5.3.1.3) | 8 bytes | CRC-64/NVME (Fig. 153) | AD93D235_94C93659h | all ones | yes |
//!
//! PIF 3 ("Qualified Type", resolved through the QPIF field) is not a fourth CRC and is left to
//! the caller, which passes the resolved format here.
//!
//! # What the guard covers
//!
//! The guard is computed over the logical block data, followed by the metadata bytes that come
//! *before* the protection information tuple (§5.3: "If the Metadata Size is greater than the
//! number of bytes of protection information and the protection information is contained in the
//! last bytes of the metadata, then the CRC covers all metadata bytes up to but excluding the
//! protection information"; if the tuple is in the *first* bytes of metadata, "the CRC does not
//! cover any metadata bytes"). SPDK's `_get_guard_interval` and QEMU's `nvme_dif_prchk_*` apply
//! the same rule. [`GuardFormat::compute`] therefore takes the data and that metadata prefix as
//! two slices and continues one CRC across both (crc-fast's `Digest`), so neither a PI-last
//! layout nor an interleaved (extended LBA) buffer needs a copy.
//!
//! # Check values
//!
//! "123456789": 0xD0DB / 0xE3069283 / 0xAE8B14860A799888 (the catalog values; the "Check" row of
//! Figure 153 prints the 64b value byte-reversed). 4 KiB test patterns of Figures 150 and 155 are
//! asserted in the tests below.
//!
//! Not here: the tuple layout (`tuple.rs`), which bytes make up a block (`format.rs`).

use super::guard_fold;
use crc_fast::{CrcAlgorithm, Digest};

/// The protection information format of a namespace, named by its guard (NVM Command Set 1.2
/// §5.3.1, PIF field of Figure 119).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuardFormat {
    /// PIF 0: 16b Guard Protection Information, CRC-16/T10-DIF guard.
    Crc16T10Dif,
    /// PIF 1: 32b Guard Protection Information, CRC-32C guard.
    Crc32c,
    /// PIF 2: 64b Guard Protection Information, CRC-64/NVME guard.
    Crc64Nvme,
}

impl GuardFormat {
    /// All three formats, in PIF order.
    pub const ALL: [GuardFormat; 3] = [Self::Crc16T10Dif, Self::Crc32c, Self::Crc64Nvme];

    /// Decodes the PIF field (Figure 119). 3 (Qualified Type) and reserved values give `None`.
    pub const fn from_pif(pif: u8) -> Option<Self> {
        match pif {
            0 => Some(Self::Crc16T10Dif),
            1 => Some(Self::Crc32c),
            2 => Some(Self::Crc64Nvme),
            _ => None,
        }
    }

    /// The PIF field value of this format.
    pub const fn pif(self) -> u8 {
        match self {
            Self::Crc16T10Dif => 0,
            Self::Crc32c => 1,
            Self::Crc64Nvme => 2,
        }
    }

    /// Width of the Guard field in bytes (2, 4, 8).
    pub const fn guard_bytes(self) -> usize {
        match self {
            Self::Crc16T10Dif => 2,
            Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
        }
    }

    /// Size of the whole protection information tuple in bytes (Figures 147-151: 8, 16, 16).
    pub const fn tuple_bytes(self) -> usize {
        match self {
            Self::Crc16T10Dif => 8,
            Self::Crc32c | Self::Crc64Nvme => 16,
        }
    }

    /// Width of the Storage and Reference Space field in bits: what is left of the tuple after
    /// the guard and the 2-byte Application Tag (32, 80, 48).
    pub const fn storage_ref_space_bits(self) -> u32 {
        ((self.tuple_bytes() - self.guard_bytes() - 2) * 8) as u32
    }

    /// A short human name, as the specification names the format.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Crc16T10Dif => "16b guard (CRC-16/T10-DIF)",
            Self::Crc32c => "32b guard (CRC-32C)",
            Self::Crc64Nvme => "64b guard (CRC-64/NVME)",
        }
    }

    const fn algorithm(self) -> CrcAlgorithm {
        match self {
            Self::Crc16T10Dif => CrcAlgorithm::Crc16T10Dif,
            Self::Crc32c => CrcAlgorithm::Crc32Iscsi,
            Self::Crc64Nvme => CrcAlgorithm::Crc64Nvme,
        }
    }

    /// An empty running guard, to be fed any number of slices in order.
    pub fn digest(self) -> GuardDigest {
        GuardDigest { inner: Digest::new(self.algorithm()) }
    }

    /// The guard over `data` followed by `md_before_pi` (the metadata bytes that precede the
    /// tuple; empty when the tuple is first in the metadata or fills it). The value is
    /// right-aligned in the `u64` (e.g. a 16b guard is at most 0xFFFF).
    pub fn compute(self, data: &[u8], md_before_pi: &[u8]) -> u64 {
        if md_before_pi.is_empty() {
            // One-shot path: skips the digest bookkeeping for the common case.
            crc_fast::checksum(self.algorithm(), data)
        } else {
            let mut digest = self.digest();
            digest.update(data);
            digest.update(md_before_pi);
            digest.finalize()
        }
    }
}

impl GuardFormat {
    /// Whether [`GuardFormat::compute_many`] folds blocks of `data_len` bytes together on this
    /// CPU. Never for CRC-32C: crc-fast's CRC32-instruction path measured faster than the
    /// folding at 512 and 4096 bytes (docs/performance.md).
    pub(crate) fn folds_many(self, data_len: usize) -> bool {
        self != Self::Crc32c && guard_fold::available(data_len)
    }

    /// The guards of several blocks, `out[i]` for `blocks[i]` = (data, metadata bytes before
    /// the tuple), each as [`GuardFormat::compute`] gives it. For the 16b and 64b guards,
    /// blocks of equal data size are folded [`guard_fold::LANES`] at a time in one pass where
    /// the CPU allows (`guard_fold.rs`), which is what makes 512-byte blocks cheaper; otherwise,
    /// and always for CRC-32C, one block at a time through crc-fast.
    pub fn compute_many(self, blocks: &[(&[u8], &[u8])], out: &mut [u64]) {
        assert!(out.len() >= blocks.len(), "one output per block");
        for (batch, out) in blocks.chunks(guard_fold::LANES).zip(out.chunks_mut(guard_fold::LANES)) {
            let len = batch[0].0.len();
            if batch.iter().all(|(d, _)| d.len() == len) && self.folds_many(len) {
                guard_fold::guards(self, batch, out);
            } else {
                for ((data, md_before_pi), o) in batch.iter().zip(out) {
                    *o = self.compute(data, md_before_pi);
                }
            }
        }
    }
}

/// A guard CRC in progress over several slices (no copying). Cheap to create and to copy.
#[derive(Clone, Copy, Debug)]
pub struct GuardDigest {
    inner: Digest,
}

impl GuardDigest {
    /// Continues the CRC over `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    /// The guard value over everything fed so far (the digest stays usable).
    pub fn finalize(&self) -> u64 {
        self.inner.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crc::{Crc, NoTable, Table, CRC_16_T10_DIF, CRC_32_ISCSI, CRC_64_NVME};

    /// Bit-at-a-time reference, independent of crc-fast.
    fn reference_no_table(g: GuardFormat, bytes: &[u8]) -> u64 {
        match g {
            GuardFormat::Crc16T10Dif => Crc::<u16, NoTable>::new(&CRC_16_T10_DIF).checksum(bytes).into(),
            GuardFormat::Crc32c => Crc::<u32, NoTable>::new(&CRC_32_ISCSI).checksum(bytes).into(),
            GuardFormat::Crc64Nvme => Crc::<u64, NoTable>::new(&CRC_64_NVME).checksum(bytes),
        }
    }

    /// Byte-table reference, independent of crc-fast.
    fn reference_table1(g: GuardFormat, bytes: &[u8]) -> u64 {
        match g {
            GuardFormat::Crc16T10Dif => Crc::<u16, Table<1>>::new(&CRC_16_T10_DIF).checksum(bytes).into(),
            GuardFormat::Crc32c => Crc::<u32, Table<1>>::new(&CRC_32_ISCSI).checksum(bytes).into(),
            GuardFormat::Crc64Nvme => Crc::<u64, Table<1>>::new(&CRC_64_NVME).checksum(bytes),
        }
    }

    fn xorshift_bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn pattern(f: impl Fn(usize) -> u8) -> Vec<u8> {
        (0..4096).map(f).collect()
    }

    #[test]
    fn check_values() {
        let expect = [0xD0DB, 0xE306_9283, 0xAE8B_1486_0A79_9888];
        for (g, want) in GuardFormat::ALL.into_iter().zip(expect) {
            assert_eq!(g.compute(b"123456789", &[]), want, "{}", g.name());
            assert_eq!(reference_no_table(g, b"123456789"), want, "reference {}", g.name());
        }
    }

    #[test]
    fn nvm_command_set_4k_vectors() {
        // Figure 150 (32b) and Figure 155 (64b), 4 KiB logical block, no metadata.
        let zeros = pattern(|_| 0);
        let ones = pattern(|_| 0xFF);
        let inc = pattern(|i| i as u8);
        let dec = pattern(|i| 0xFF - i as u8);
        let c32 = GuardFormat::Crc32c;
        assert_eq!(c32.compute(&zeros, &[]), 0x98F9_4189);
        assert_eq!(c32.compute(&ones, &[]), 0x25C1_FE13);
        assert_eq!(c32.compute(&inc, &[]), 0x9C71_FE32);
        assert_eq!(c32.compute(&dec, &[]), 0x2149_41A8);
        let c64 = GuardFormat::Crc64Nvme;
        assert_eq!(c64.compute(&zeros, &[]), 0x6482_D367_EB22_B64E);
        assert_eq!(c64.compute(&ones, &[]), 0xC0DD_BA73_02EC_A3AC);
        assert_eq!(c64.compute(&inc, &[]), 0x3E72_9F5F_6750_449C);
        assert_eq!(c64.compute(&dec, &[]), 0x9A2D_F64B_8E9E_517E);
        // 16b: no published 4 KiB vector; values agree with every CRC-16/T10-DIF crate the
        // project measured for speed and with the reference below.
        let c16 = GuardFormat::Crc16T10Dif;
        assert_eq!(c16.compute(&zeros, &[]), 0x0000);
        assert_eq!(c16.compute(&ones, &[]), 0x8B5D);
    }

    #[test]
    fn random_data_matches_table_references() {
        for (n, len) in [0usize, 1, 7, 8, 15, 63, 64, 255, 512, 520, 4096, 4160, 9000].into_iter().enumerate() {
            let bytes = xorshift_bytes(0x9E37_79B9_7F4A_7C15 ^ n as u64, len);
            for g in GuardFormat::ALL {
                let fast = g.compute(&bytes, &[]);
                assert_eq!(fast, reference_no_table(g, &bytes), "{} len {len}", g.name());
                assert_eq!(fast, reference_table1(g, &bytes), "{} len {len}", g.name());
            }
        }
    }

    #[test]
    fn split_input_equals_contiguous_input() {
        let bytes = xorshift_bytes(42, 600);
        for g in GuardFormat::ALL {
            let whole = reference_table1(g, &bytes);
            for cut in [1usize, 2, 8, 63, 64, 65, 511, 512, 592, 599] {
                let (a, b) = bytes.split_at(cut);
                assert_eq!(g.compute(a, b), whole, "{} cut at {cut}", g.name());
                let mut d = g.digest();
                d.update(a);
                d.update(&[]);
                d.update(b);
                assert_eq!(d.finalize(), whole, "{} digest cut at {cut}", g.name());
            }
        }
    }

    /// Every block size a namespace may have up to 64 KiB (plus one the folding path does not
    /// take), 1..=19 blocks, metadata prefixes from none to longer than a tuple: the many-block
    /// path equals the table reference over data followed by prefix.
    #[test]
    fn compute_many_matches_reference() {
        let mut seed = 7u64;
        for lbs in [16usize, 512, 520, 1024, 2048, 4096, 8192, 16384, 65536] {
            let max_blocks = if lbs >= 16384 { 9 } else { 19 };
            for prefix_len in [0usize, 1, 8, 9, 24, 56] {
                for g in GuardFormat::ALL {
                    for n in (1..=max_blocks).filter(|n| lbs <= 4096 || n % 4 == 1) {
                        seed += 1;
                        let bytes = xorshift_bytes(seed, n * (lbs + prefix_len));
                        let blocks: Vec<(&[u8], &[u8])> =
                            bytes.chunks_exact(lbs + prefix_len).map(|b| b.split_at(lbs)).collect();
                        let mut out = vec![0u64; n];
                        g.compute_many(&blocks, &mut out);
                        for (i, ((d, p), got)) in blocks.iter().zip(&out).enumerate() {
                            let whole = [*d, *p].concat();
                            assert_eq!(
                                *got,
                                reference_table1(g, &whole),
                                "{} lbs {lbs} prefix {prefix_len} block {i}/{n}",
                                g.name()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn compute_many_with_mixed_sizes_and_check_strings() {
        // Unequal data sizes in one call take the one-block path; the result is the same.
        let a = xorshift_bytes(1, 512);
        let b = xorshift_bytes(2, 4096);
        let blocks: [(&[u8], &[u8]); 4] = [(&a, &[]), (&b, &[1, 2, 3]), (b"123456789", &[]), (b"12345678", b"9")];
        for g in GuardFormat::ALL {
            let mut out = [0u64; 4];
            g.compute_many(&blocks, &mut out);
            let want: Vec<u64> = blocks.iter().map(|(d, p)| reference_table1(g, &[*d, *p].concat())).collect();
            assert_eq!(out.to_vec(), want, "{}", g.name());
            assert_eq!(out[2], g.compute(b"123456789", &[]));
        }
    }

    #[test]
    fn pif_and_sizes() {
        for g in GuardFormat::ALL {
            assert_eq!(GuardFormat::from_pif(g.pif()), Some(g));
        }
        assert_eq!(GuardFormat::from_pif(3), None);
        let sizes: Vec<_> =
            GuardFormat::ALL.iter().map(|g| (g.guard_bytes(), g.tuple_bytes(), g.storage_ref_space_bits())).collect();
        assert_eq!(sizes, [(2, 8, 32), (4, 16, 80), (8, 16, 48)]);
    }
}
