//! Tests of the PI module as the command layer uses it: contexts over buffers of blocks, in
//! both layouts, for every format, type, location and a range of STS values.

use super::*;

mod checks;
use crc::{Crc, Table, CRC_16_T10_DIF, CRC_32_ISCSI, CRC_64_NVME};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 32) as u8).collect()
    }
}

/// Table-driven guard over a plain concatenation, independent of crc-fast.
fn reference_guard(g: GuardFormat, bytes: &[u8]) -> u64 {
    match g {
        GuardFormat::Crc16T10Dif => Crc::<u16, Table<1>>::new(&CRC_16_T10_DIF).checksum(bytes).into(),
        GuardFormat::Crc32c => Crc::<u32, Table<1>>::new(&CRC_32_ISCSI).checksum(bytes).into(),
        GuardFormat::Crc64Nvme => Crc::<u64, Table<1>>::new(&CRC_64_NVME).checksum(bytes),
    }
}

fn format(guard: GuardFormat, pi: PiType, location: PiLocation, sts: u8, extra_md: u16) -> PiFormat {
    let lbs = if guard == GuardFormat::Crc16T10Dif { 512 } else { 4096 };
    let ms = guard.tuple_bytes() as u16 + extra_md;
    PiFormat { lbs, ms, pi: Some(pi), guard, location, sts }
}

/// N blocks of random data and metadata, held separately; `interleave` builds the other layout.
struct Blocks {
    f: PiFormat,
    data: Vec<u8>,
    md: Vec<u8>,
}

impl Blocks {
    fn new(f: PiFormat, n: usize, rng: &mut Rng) -> Self {
        Self { f, data: rng.bytes(n * f.lbs as usize), md: rng.bytes(n * usize::from(f.ms)) }
    }
    fn interleave(&self) -> Vec<u8> {
        let (lbs, ms) = (self.f.lbs as usize, usize::from(self.f.ms));
        self.data.chunks(lbs).zip(self.md.chunks(ms)).flat_map(|(d, m)| d.iter().chain(m)).copied().collect()
    }
    fn tuple_mut(&mut self, block: usize) -> &mut [u8] {
        let start = block * usize::from(self.f.ms) + self.f.tuple_offset();
        &mut self.md[start..start + self.f.tuple_bytes()]
    }
    fn tuple(&self, block: usize) -> PiTuple {
        PiTuple::decode(&self.f, &self.md[block * usize::from(self.f.ms) + self.f.tuple_offset()..])
    }
    fn edit_tuple(&mut self, block: usize, edit: impl FnOnce(&mut PiTuple)) {
        let f = self.f;
        let mut t = self.tuple(block);
        edit(&mut t);
        t.encode(&f, self.tuple_mut(block));
    }
    /// Verifies in both layouts and checks they agree.
    fn verify(&self, ctx: &PiContext) -> Result<(), PiError> {
        let separate = ctx.verify(Layout::Separate { data: &self.data, md: &self.md });
        let interleaved = ctx.verify(Layout::Interleaved(&self.interleave()));
        assert_eq!(separate, interleaved, "layouts disagree");
        separate
    }
}

fn ctx_for(f: PiFormat, checks: PiChecks, first_lba: u64, ref_tag: u64) -> PiContext {
    PiContext::new(f, checks, ref_tag, 0x1234, 0xFFFF, 0xA5A5_5A5A_0F0F_F0F0, first_lba).expect("valid context")
}

fn sts_samples(guard: GuardFormat) -> [u8; 3] {
    let (min, max) = PiFormat::sts_range(guard);
    [min, (min + max) / 2 + 1, max]
}

#[test]
fn generate_then_verify_round_trips_everywhere() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let mut combos = 0;
    for guard in GuardFormat::ALL {
        for pi in PiType::ALL {
            for location in [PiLocation::First, PiLocation::Last] {
                for sts in sts_samples(guard) {
                    for extra_md in [0u16, 8] {
                        let f = format(guard, pi, location, sts, extra_md);
                        let first_lba = rng.next() >> 8;
                        let ilbrt = if pi == PiType::Type1 { first_lba } else { rng.next() };
                        let ctx = ctx_for(f, PiChecks::ALL, first_lba, ilbrt);
                        let mut b = Blocks::new(f, 5, &mut rng);
                        let mut inter = b.interleave();
                        let before = (b.data.clone(), b.md.clone());
                        ctx.generate(LayoutMut::Separate { data: &b.data, md: &mut b.md }).unwrap();
                        ctx.generate(LayoutMut::Interleaved(&mut inter)).unwrap();
                        assert_eq!(inter, b.interleave(), "layouts generate the same bytes");
                        assert_eq!(b.data, before.0, "data untouched");
                        for i in 0..5 {
                            let (ms, off) = (usize::from(f.ms), f.tuple_offset());
                            let md = &b.md[i * ms..(i + 1) * ms];
                            let old = &before.1[i * ms..(i + 1) * ms];
                            assert_eq!(&md[..off], &old[..off], "metadata before the tuple untouched");
                            assert_eq!(&md[off + f.tuple_bytes()..], &old[off + f.tuple_bytes()..]);
                            let t = b.tuple(i);
                            let covered: Vec<u8> = b.data[i * f.lbs as usize..][..f.lbs as usize]
                                .iter()
                                .chain(&md[..off])
                                .copied()
                                .collect();
                            assert_eq!(t.guard, reference_guard(guard, &covered));
                            assert_eq!(t.app_tag, 0x1234);
                            assert_eq!(t.storage_tag, 0xA5A5_5A5A_0F0F_F0F0 & f.storage_tag_mask());
                            assert_eq!(t.ref_tag, ctx.expected_ref_tag(i as u64));
                        }
                        assert_eq!(b.verify(&ctx), Ok(()), "{f:?}");
                        combos += 1;
                    }
                }
            }
        }
    }
    assert_eq!(combos, 3 * 3 * 2 * 3 * 2);
}

/// The batched guard path (8 blocks folded together) in both layouts: block counts across batch
/// boundaries, several block sizes, metadata before the tuple or not; every guard equals the
/// table reference, and a corrupted block is the one reported, also when it is not the first
/// of its batch.
#[test]
fn batched_guards_match_reference_in_both_layouts() {
    let mut rng = Rng(0x0BAD_5EED_1234_5678);
    for guard in GuardFormat::ALL {
        for lbs in [512u32, 4096, 8192] {
            for (location, extra_md) in
                [(PiLocation::Last, 0u16), (PiLocation::Last, 8), (PiLocation::Last, 24), (PiLocation::First, 8)]
            {
                let f =
                    PiFormat { lbs, ..format(guard, PiType::Type1, location, PiFormat::sts_range(guard).0, extra_md) };
                // `build`: 512-byte blocks with the 32b and 64b guards too (not a spec format).
                let ctx = PiContext::build(f, PiChecks::ALL, 0, 0x1234, 0xFFFF, 0, 0).unwrap();
                for n in [1usize, 2, 7, 8, 9, 15, 16, 17] {
                    let mut b = Blocks::new(f, n, &mut rng);
                    let mut inter = b.interleave();
                    ctx.generate(LayoutMut::Separate { data: &b.data, md: &mut b.md }).unwrap();
                    ctx.generate(LayoutMut::Interleaved(&mut inter)).unwrap();
                    assert_eq!(inter, b.interleave(), "layouts generate the same bytes");
                    let (lbs, ms, off) = (lbs as usize, usize::from(f.ms), f.tuple_offset());
                    for i in 0..n {
                        let covered = [&b.data[i * lbs..(i + 1) * lbs], &b.md[i * ms..i * ms + off]].concat();
                        assert_eq!(b.tuple(i).guard, reference_guard(guard, &covered), "{f:?} n {n} block {i}");
                    }
                    assert_eq!(b.verify(&ctx), Ok(()));
                    let bad = n * 5 / 8; // 0 for one block, else inside the batch
                    b.data[bad * lbs + 100] ^= 0x40;
                    let err = ctx.verify(Layout::Separate { data: &b.data, md: &b.md }).unwrap_err();
                    assert_eq!((err.kind, err.block_index), (PiErrorKind::Guard, bad as u64), "{f:?} n {n}");
                    let err = ctx.verify(Layout::Interleaved(&b.interleave())).unwrap_err();
                    assert_eq!((err.kind, err.block_index), (PiErrorKind::Guard, bad as u64), "{f:?} n {n}");
                }
            }
        }
    }
}

/// A generated 6-block buffer for error tests.
fn generated(f: PiFormat, ctx: &PiContext) -> Blocks {
    let mut b = Blocks::new(f, 6, &mut Rng(7));
    ctx.generate(LayoutMut::Separate { data: &b.data, md: &mut b.md }).unwrap();
    b
}

#[test]
fn buffer_length_mismatches_are_errors_not_panics() {
    let f = format(GuardFormat::Crc16T10Dif, PiType::Type2, PiLocation::Last, 0, 0);
    let ctx = ctx_for(f, PiChecks::ALL, 0, 0);
    let b = generated(f, &ctx);
    let short = |e: Result<(), PiError>| e.map_err(|e| (e.kind, e.block_index, e.expected, e.found));
    let len = PiErrorKind::BufferLength;
    assert_eq!(short(ctx.verify(Layout::Separate { data: &b.data[..1000], md: &b.md })), Err((len, 1, 1024, 1000)));
    assert_eq!(short(ctx.verify(Layout::Separate { data: &b.data, md: &b.md[..40] })), Err((len, 0, 48, 40)));
    let inter = b.interleave();
    assert_eq!(short(ctx.verify(Layout::Interleaved(&inter[..1100]))), Err((len, 2, 1560, 1100)));
    assert_eq!(short(ctx.verify_block(&b.data[..511], &b.md[..8], 0)), Err((len, 0, 512, 511)));
    let mut md = vec![0u8; 9];
    assert_eq!(short(ctx.generate_block(&b.data[..512], &mut md, 4)), Err((len, 4, 8, 9)));
    assert_eq!(
        Status::from(&PiError { kind: len, block_index: 0, lba: 0, expected: 0, found: 0 }),
        Status::INTERNAL_ERROR
    );
    assert_eq!(ctx.verify(Layout::Separate { data: &[], md: &[] }), Ok(()), "zero blocks");
}

#[test]
fn pieces_with_block_offsets_equal_the_whole() {
    let f = format(GuardFormat::Crc32c, PiType::Type1, PiLocation::Last, 32, 8);
    let ctx = ctx_for(f, PiChecks::ALL, 0x1_0000_0000, 0x1_0000_0000);
    let whole = generated(f, &ctx);
    let mut parts = Blocks::new(f, 6, &mut Rng(7));
    let (d0, d1) = parts.data.split_at(2 * f.lbs as usize);
    let (m0, m1) = parts.md.split_at_mut(2 * usize::from(f.ms));
    ctx.generate_from(0, LayoutMut::Separate { data: d0, md: m0 }).unwrap();
    ctx.generate_from(2, LayoutMut::Separate { data: d1, md: m1 }).unwrap();
    let e = ctx.verify_from(3, Layout::Separate { data: d1, md: m1 }).unwrap_err();
    assert_eq!(parts.md, whole.md);
    assert_eq!((e.kind, e.block_index, e.lba), (PiErrorKind::RefTag, 3, 0x1_0000_0003));
}

#[test]
fn status_codes_and_prchk_decoding() {
    let statuses: Vec<_> = [PiErrorKind::Guard, PiErrorKind::AppTag, PiErrorKind::RefTag, PiErrorKind::StorageTag]
        .iter()
        .map(|&kind| Status::from(&PiError { kind, block_index: 0, lba: 0, expected: 0, found: 0 }).code())
        .collect();
    assert_eq!(statuses, [0x282, 0x283, 0x284, 0x288]);
    // PRINFO: PRACT 3, PRCHK 2:0 (guard, app, ref); STC beside it.
    let p = |bits: u8, stc: bool| PiChecks::from_prinfo(crate::spec::Prinfo::from_bits(bits), stc);
    assert_eq!(p(0b0100, false), PiChecks { guard: true, ..PiChecks::NONE });
    assert_eq!(p(0b0010, false), PiChecks { app_tag: true, ..PiChecks::NONE });
    assert_eq!(p(0b0001, false), PiChecks { ref_tag: true, ..PiChecks::NONE });
    assert_eq!(p(0b0000, true), PiChecks { storage_tag: true, ..PiChecks::NONE });
    assert_eq!(p(0b1000, false), PiChecks::NONE, "PRACT is not a check");
    let e = PiError { kind: PiErrorKind::RefTag, block_index: 2, lba: 0x42, expected: 0x42, found: 0x7 };
    let text = "end-to-end reference tag check error at LBA 0x42 (block 2 of the command): \
                expected 0x42, found 0x7";
    assert_eq!(e.to_string(), text);
}
