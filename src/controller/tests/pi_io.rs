//! End-to-end protection through Read and Write (NVM-CS 5.3): PRCHK guard,
//! application and reference tag checks with their Media statuses, the Type 1/2
//! escape, the Type 1 initial reference tag rule, PRACT insert and strip, blocks
//! never written, and the Error Information log entry naming the failing LBA.
//! Type 1 with 16b and 64b guards, and Type 3. Both stores.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store, PAGE};
use crate::pi::{GuardFormat, PiFormat, PiLocation, PiTuple, PiType};
use crate::spec::{Status, SubmissionEntry};

/// PRINFO bits in CDW12 (NVM-CS Figure 9).
pub(super) const PRACT: u32 = 1 << 29;
pub(super) const GUARD: u32 = 1 << 28;
pub(super) const APP: u32 = 1 << 27;
pub(super) const REF: u32 = 1 << 26;
pub(super) const ALL: u32 = GUARD | APP | REF;

pub(super) const APP_TAG: u16 = 0x1234;

/// The protection fields of one command.
#[derive(Clone, Copy)]
pub(super) struct Prinfo {
    pub bits: u32,
    pub ilbrt: u64,
    pub app: u16,
    pub mask: u16,
}

impl Prinfo {
    pub(super) fn check(bits: u32, ilbrt: u64) -> Self {
        Prinfo { bits, ilbrt, app: APP_TAG, mask: 0xffff }
    }
    pub(super) fn apply(&self, sqe: SubmissionEntry) -> SubmissionEntry {
        sqe.with_cdw(12, sqe.cdw12() | self.bits)
            .with_cdw(3, (self.ilbrt >> 32) as u32 & 0xffff)
            .with_cdw(14, self.ilbrt as u32)
            .with_cdw(15, self.app as u32 | (self.mask as u32) << 16)
    }
}

pub(super) fn type1_512() -> NsConfig {
    NsConfig::new(512).metadata(8).pi(1, 0)
}
fn type1_4k_crc64() -> NsConfig {
    NsConfig::new(4096).metadata(16).pi(1, 2)
}
fn type3_512() -> NsConfig {
    NsConfig::new(512).metadata(8).pi(3, 0)
}

fn pi_format(ns: NsConfig) -> PiFormat {
    let pi = [None, Some(PiType::Type1), Some(PiType::Type2), Some(PiType::Type3)][ns.pi as usize];
    let guard = GuardFormat::from_pif(ns.pif).unwrap();
    PiFormat { lbs: ns.lbs, ms: ns.ms, pi, guard, location: PiLocation::Last, sts: 0 }
}

/// Metadata for `data` as a correct host builds it: guard CRC, `app`, reference
/// tag `first_ref + i` (the tuple fills the metadata, so the guard covers data only).
pub(super) fn tuples(ns: NsConfig, data: &[u8], app: u16, first_ref: u64) -> Vec<u8> {
    let f = pi_format(ns);
    let (lbs, ms) = (ns.lbs as usize, ns.ms as usize);
    let mut md = vec![0u8; data.len() / lbs * ms];
    for (i, (blk, m)) in data.chunks(lbs).zip(md.chunks_mut(ms)).enumerate() {
        let t =
            PiTuple { guard: f.guard.compute(blk, &[]), app_tag: app, storage_tag: 0, ref_tag: first_ref + i as u64 };
        t.encode(&f, m);
    }
    md
}

pub(super) fn tuple_at(ns: NsConfig, md: &[u8], i: usize) -> PiTuple {
    PiTuple::decode(&pi_format(ns), &md[i * ns.ms as usize..])
}

/// Flip one bit of block `i`'s tuple at byte `at` (0 is the guard's first byte).
pub(super) fn corrupt(ns: NsConfig, md: &mut [u8], i: usize, at: usize) {
    md[i * ns.ms as usize + at] ^= 0x01;
}

fn host(store: Store, ns: NsConfig) -> FakeHost {
    FakeHost::with_io(store, ns)
}

fn write(h: &mut FakeHost, slba: u64, data: &[u8], md: &[u8], p: Prinfo) -> Status {
    let nlb = (data.len() / h.config(1).lbs as usize) as u64;
    let dbuf = h.alloc_with(data);
    let (p1, p2) = h.prps(dbuf, data.len() as u64);
    let mbuf = if md.is_empty() { 0 } else { h.alloc_with(md) };
    h.io(1, p.apply(cmd::write(1, slba, nlb).with_prps(p1, p2).with_mptr(mbuf))).status
}

/// Read with metadata to a separate buffer (unless PRACT strips it).
pub(super) fn read(h: &mut FakeHost, slba: u64, nlb: u64, p: Prinfo) -> (Status, Vec<u8>, Vec<u8>) {
    let ns = h.config(1);
    let (dlen, mlen) = (nlb * ns.lbs as u64, nlb * ns.ms as u64);
    let dbuf = h.alloc(dlen);
    let (p1, p2) = h.prps(dbuf, dlen);
    let mbuf = h.alloc(mlen);
    let s = h.io(1, p.apply(cmd::read(1, slba, nlb).with_prps(p1, p2).with_mptr(mbuf))).status;
    (s, h.get(dbuf, dlen), h.get(mbuf, mlen))
}

fn correct_pi_write_succeeds_and_reads_back(store: Store, ns: NsConfig) {
    let mut h = host(store, ns);
    let data = pattern(4 * ns.lbs as usize, 1);
    let md = tuples(ns, &data, APP_TAG, 100);
    assert_eq!(write(&mut h, 100, &data, &md, Prinfo::check(ALL, 100)), Status::SUCCESS);
    assert_eq!(read(&mut h, 100, 4, Prinfo::check(ALL, 100)), (Status::SUCCESS, data, md));
}

fn type1_correct_pi_round_trips(store: Store) {
    correct_pi_write_succeeds_and_reads_back(store, type1_512());
}
fn type1_crc64_correct_pi_round_trips(store: Store) {
    correct_pi_write_succeeds_and_reads_back(store, type1_4k_crc64());
}
fn type3_correct_pi_round_trips(store: Store) {
    correct_pi_write_succeeds_and_reads_back(store, type3_512());
}

/// A write whose block 2 fails `check` completes with `expect` and stores nothing.
fn bad_write_fails_and_leaves_medium(
    store: Store,
    ns: NsConfig,
    tamper: impl Fn(&mut [u8]),
    check: u32,
    expect: Status,
) {
    let mut h = host(store, ns);
    let old = pattern(4 * ns.lbs as usize, 2);
    let old_md = tuples(ns, &old, APP_TAG, 8);
    assert_eq!(write(&mut h, 8, &old, &old_md, Prinfo::check(ALL, 8)), Status::SUCCESS);
    let new = pattern(4 * ns.lbs as usize, 3);
    let mut md = tuples(ns, &new, APP_TAG, 8);
    tamper(&mut md);
    let s = write(&mut h, 8, &new, &md, Prinfo::check(check, 8));
    assert_eq!(s, expect);
    assert!(!s.dnr, "a PI check failure may be retried");
    assert_eq!(read(&mut h, 8, 4, Prinfo::check(ALL, 8)), (Status::SUCCESS, old, old_md), "medium unchanged");
}

fn type1_wrong_guard_is_guard_check_error(store: Store) {
    let ns = type1_512();
    bad_write_fails_and_leaves_medium(store, ns, |md| corrupt(ns, md, 2, 1), GUARD, Status::GUARD_CHECK_ERROR);
    assert_eq!(Status::GUARD_CHECK_ERROR.code(), 0x282);
}
fn type1_crc64_wrong_guard_is_guard_check_error(store: Store) {
    let ns = type1_4k_crc64();
    bad_write_fails_and_leaves_medium(store, ns, |md| corrupt(ns, md, 2, 7), GUARD, Status::GUARD_CHECK_ERROR);
}
fn type3_wrong_guard_is_guard_check_error(store: Store) {
    let ns = type3_512();
    bad_write_fails_and_leaves_medium(store, ns, |md| corrupt(ns, md, 2, 0), ALL, Status::GUARD_CHECK_ERROR);
}
fn type1_wrong_app_tag_is_app_tag_check_error(store: Store) {
    let ns = type1_512();
    // Byte 2 is the application tag's high byte.
    bad_write_fails_and_leaves_medium(store, ns, |md| corrupt(ns, md, 2, 2), APP, Status::APP_TAG_CHECK_ERROR);
    assert_eq!(Status::APP_TAG_CHECK_ERROR.code(), 0x283);
}
fn type1_wrong_ref_tag_is_ref_tag_check_error(store: Store) {
    let ns = type1_512();
    bad_write_fails_and_leaves_medium(store, ns, |md| corrupt(ns, md, 2, 7), REF, Status::REF_TAG_CHECK_ERROR);
    assert_eq!(Status::REF_TAG_CHECK_ERROR.code(), 0x284);
}
fn type1_crc64_wrong_ref_tag_is_ref_tag_check_error(store: Store) {
    let ns = type1_4k_crc64();
    // Byte 10 is the top byte of the 48-bit reference tag.
    bad_write_fails_and_leaves_medium(store, ns, |md| corrupt(ns, md, 2, 10), REF, Status::REF_TAG_CHECK_ERROR);
}

fn app_tag_outside_the_mask_is_not_compared(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(1024, 4);
    let md = tuples(ns, &data, 0xab34, 0);
    let p = Prinfo { bits: APP, ilbrt: 0, app: 0x1234, mask: 0x00ff };
    assert_eq!(write(&mut h, 0, &data, &md, p), Status::SUCCESS);
    let p = Prinfo { mask: 0xff00, ..p };
    assert_eq!(write(&mut h, 0, &data, &md, p), Status::APP_TAG_CHECK_ERROR);
}

fn type1_app_tag_ffff_escapes_every_check(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(2048, 5);
    let mut md = tuples(ns, &data, 0xffff, 999);
    corrupt(ns, &mut md, 1, 0);
    assert_eq!(write(&mut h, 16, &data, &md, Prinfo::check(ALL, 16)), Status::SUCCESS);
    assert_eq!(read(&mut h, 16, 4, Prinfo::check(ALL, 16)), (Status::SUCCESS, data, md));
}

fn type3_escape_needs_all_ones_ref_tag(store: Store) {
    let ns = type3_512();
    let mut h = host(store, ns);
    let data = pattern(512, 6);
    let mut md = tuples(ns, &data, 0xffff, 0x1111);
    corrupt(ns, &mut md, 0, 0);
    assert_eq!(write(&mut h, 0, &data, &md, Prinfo::check(GUARD, 0)), Status::GUARD_CHECK_ERROR);
    let mut md = tuples(ns, &data, 0xffff, 0xffff_ffff);
    corrupt(ns, &mut md, 0, 0);
    assert_eq!(write(&mut h, 0, &data, &md, Prinfo::check(GUARD, 0)), Status::SUCCESS);
}

fn type3_reference_tag_is_not_checked(store: Store) {
    let ns = type3_512();
    let mut h = host(store, ns);
    let data = pattern(1024, 7);
    // Any ILBRT, any tuple reference tags: Type 3 has no reference tag to check.
    let md = tuples(ns, &data, APP_TAG, 0x7777);
    assert_eq!(write(&mut h, 50, &data, &md, Prinfo::check(ALL, 3)), Status::SUCCESS);
    assert_eq!(read(&mut h, 50, 2, Prinfo::check(ALL, 0)), (Status::SUCCESS, data, md));
}

fn type1_ilbrt_not_slba_is_invalid_protection_information(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(512, 8);
    let md = tuples(ns, &data, APP_TAG, 61);
    let s = write(&mut h, 60, &data, &md, Prinfo::check(REF, 61));
    assert_eq!(s, Status::INVALID_PROTECTION_INFORMATION);
    assert_eq!((s.sct, s.sc, s.dnr), (1, 0x81, true));
    assert_eq!(read(&mut h, 60, 1, Prinfo::check(ALL, 0)).0, Status::INVALID_PROTECTION_INFORMATION);
    // Without the reference tag check the ILBRT is not tied to the SLBA.
    assert_eq!(write(&mut h, 60, &data, &md, Prinfo::check(GUARD, 61)), Status::SUCCESS);
}

fn pract_write_inserts_a_valid_tuple(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(4 * 512, 9);
    let p = Prinfo { bits: PRACT, ilbrt: 70, app: 0xbeef, mask: 0 };
    // No metadata buffer: MPTR stays 0, which is unmapped.
    assert_eq!(write(&mut h, 70, &data, &[], p), Status::SUCCESS);
    let (s, back, md) = read(&mut h, 70, 4, Prinfo { bits: ALL, ilbrt: 70, app: 0xbeef, mask: 0xffff });
    assert_eq!((s, back), (Status::SUCCESS, data.clone()));
    for i in 0..4 {
        let t = tuple_at(ns, &md, i);
        assert_eq!(t.guard, GuardFormat::Crc16T10Dif.compute(&data[i * 512..(i + 1) * 512], &[]), "guard {i}");
        assert_eq!(t.app_tag, 0xbeef, "app tag = LBAT");
        assert_eq!(t.ref_tag, 70 + i as u64, "ref tag = SLBA + i");
    }
}

fn pract_read_strips_metadata(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(2 * 512, 10);
    let md = tuples(ns, &data, APP_TAG, 5);
    assert_eq!(write(&mut h, 5, &data, &md, Prinfo::check(ALL, 5)), Status::SUCCESS);
    let dbuf = h.alloc(PAGE);
    let sentinel = h.alloc_with(&[0xa5; 64]);
    let r = Prinfo::check(PRACT | ALL, 5).apply(cmd::read(1, 5, 2).with_prps(dbuf, 0).with_mptr(sentinel));
    assert_eq!(h.io(1, r).status, Status::SUCCESS);
    assert!(h.get(dbuf, 1024) == data);
    assert!(h.get(dbuf + 1024, 512).iter().all(|&b| b == 0), "only data in the host buffer");
    assert!(h.get(sentinel, 64).iter().all(|&b| b == 0xa5), "no metadata transferred");
}

fn pract_read_still_checks(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(512, 11);
    let mut md = tuples(ns, &data, APP_TAG, 9);
    corrupt(ns, &mut md, 0, 0);
    assert_eq!(write(&mut h, 9, &data, &md, Prinfo::check(0, 9)), Status::SUCCESS, "unchecked write stores bad PI");
    let dbuf = h.alloc(PAGE);
    let r = Prinfo::check(PRACT | GUARD, 9).apply(cmd::read(1, 9, 1).with_prps(dbuf, 0));
    assert_eq!(h.io(1, r).status, Status::GUARD_CHECK_ERROR);
}

fn never_written_blocks_pass_every_check(store: Store, ns: NsConfig) {
    let mut h = host(store, ns);
    let (s, data, md) = read(&mut h, 200, 3, Prinfo::check(ALL, 200));
    assert_eq!(s, Status::SUCCESS);
    assert!(data.iter().all(|&b| b == 0));
    assert!(md.iter().all(|&b| b == 0xff), "unwritten metadata is all ones");
}
fn type1_never_written_blocks_pass_every_check(store: Store) {
    never_written_blocks_pass_every_check(store, type1_512());
}
fn type3_never_written_blocks_pass_every_check(store: Store) {
    never_written_blocks_pass_every_check(store, type3_512());
}
fn type1_crc64_never_written_blocks_pass_every_check(store: Store) {
    never_written_blocks_pass_every_check(store, type1_4k_crc64());
}

fn error_log_names_the_failing_lba(store: Store) {
    let ns = type1_512();
    let mut h = host(store, ns);
    let data = pattern(4 * 512, 12);
    let mut md = tuples(ns, &data, APP_TAG, 40);
    corrupt(ns, &mut md, 2, 1);
    assert_eq!(write(&mut h, 40, &data, &md, Prinfo::check(0, 40)), Status::SUCCESS);
    let dbuf = h.alloc(4 * 512);
    let r = Prinfo::check(GUARD, 40).apply(cmd::read(1, 40, 4).with_prps(dbuf, 0));
    let cid = h.submit(1, r);
    let c = h.complete(1);
    assert_eq!((c.cid, c.status), (cid, Status::GUARD_CHECK_ERROR));
    let (c, log) = h.admin_read(cmd::get_log_page(0x01, 0, 64), 64);
    assert_eq!(c.status, Status::SUCCESS);
    let le = |r: std::ops::Range<usize>| log[r].iter().rev().fold(0u64, |a, &b| a << 8 | b as u64);
    assert_eq!(le(8..10), 1, "SQID");
    assert_eq!(le(10..12), cid as u64, "CID");
    assert_eq!(le(12..14) >> 1, Status::GUARD_CHECK_ERROR.field() as u64, "status");
    assert_eq!(le(16..24), 42, "LBA of the block that failed");
    assert_eq!(le(24..28), 1, "NSID");
}

on_every_store!(
    type1_correct_pi_round_trips,
    type1_crc64_correct_pi_round_trips,
    type3_correct_pi_round_trips,
    type1_wrong_guard_is_guard_check_error,
    type1_crc64_wrong_guard_is_guard_check_error,
    type3_wrong_guard_is_guard_check_error,
    type1_wrong_app_tag_is_app_tag_check_error,
    type1_wrong_ref_tag_is_ref_tag_check_error,
    type1_crc64_wrong_ref_tag_is_ref_tag_check_error,
    app_tag_outside_the_mask_is_not_compared,
    type1_app_tag_ffff_escapes_every_check,
    type3_escape_needs_all_ones_ref_tag,
    type3_reference_tag_is_not_checked,
    type1_ilbrt_not_slba_is_invalid_protection_information,
    pract_write_inserts_a_valid_tuple,
    pract_read_strips_metadata,
    pract_read_still_checks,
    type1_never_written_blocks_pass_every_check,
    type3_never_written_blocks_pass_every_check,
    type1_crc64_never_written_blocks_pass_every_check,
    error_log_names_the_failing_lba,
);
