//! Verify (NVM-CS 3.3.5), Compare (3.3.1) and Write Uncorrectable (3.3.8):
//! PI checks without data transfer, Compare Failure on the first differing block,
//! and Unrecovered Read Error on marked blocks until they are written again.
//! Both stores.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store};
use super::pi_io::{corrupt, tuples, type1_512, Prinfo, ALL, APP_TAG, GUARD};
use crate::spec::opcode::nvm as iop;
use crate::spec::Status;

fn plain(store: Store) -> FakeHost {
    FakeHost::with_io(store, NsConfig::new(512))
}

fn verify_cmd(slba: u64, nlb: u64) -> crate::spec::SubmissionEntry {
    cmd::rw(iop::VERIFY, 1, slba, nlb)
}

fn write_uncor(h: &mut FakeHost, slba: u64, nlb: u64) -> Status {
    h.io(1, cmd::rw(iop::WRITE_UNCORRECTABLE, 1, slba, nlb)).status
}

fn compare_with(h: &mut FakeHost, slba: u64, data: &[u8]) -> Status {
    let nlb = data.len() as u64 / 512;
    let buf = h.alloc_with(data);
    let (p1, p2) = h.prps(buf, data.len() as u64);
    h.io(1, cmd::rw(iop::COMPARE, 1, slba, nlb).with_prps(p1, p2)).status
}

fn write_uncorrectable_fails_reads_until_rewritten(store: Store) {
    let mut h = plain(store);
    assert_eq!(h.write_blocks(1, 0, &pattern(8 * 512, 1)), Status::SUCCESS);
    assert_eq!(write_uncor(&mut h, 3, 2), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 0, 8).0, Status::UNRECOVERED_READ_ERROR);
    assert_eq!(h.read_blocks(1, 0, 3).0, Status::SUCCESS, "blocks before the mark read fine");
    assert_eq!(h.read_blocks(1, 5, 3).0, Status::SUCCESS, "blocks after the mark read fine");
    assert_eq!(h.io(1, verify_cmd(4, 1)).status, Status::UNRECOVERED_READ_ERROR);
    assert_eq!(compare_with(&mut h, 3, &[0u8; 512]), Status::UNRECOVERED_READ_ERROR);
    // Rewriting block 3 heals it; block 4 stays marked until written.
    assert_eq!(h.write_blocks(1, 3, &[9u8; 512]), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 3, 1), (Status::SUCCESS, vec![9u8; 512]));
    assert_eq!(h.read_blocks(1, 4, 1).0, Status::UNRECOVERED_READ_ERROR);
    assert_eq!(h.io(1, cmd::write_zeroes(1, 4, 1)).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 0, 8).0, Status::SUCCESS, "Write Zeroes heals too");
}

fn write_uncorrectable_error_log_names_the_first_marked_lba(store: Store) {
    let mut h = plain(store);
    assert_eq!(write_uncor(&mut h, 41, 3), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 40, 4).0, Status::UNRECOVERED_READ_ERROR);
    let (_, log) = h.admin_read(cmd::get_log_page(0x01, 0xffff_ffff, 64), 64);
    assert_eq!(u64::from_le_bytes(log[16..24].try_into().unwrap()), 41, "LBA of the error");
    assert_eq!(u16::from_le_bytes(log[12..14].try_into().unwrap()) >> 1 & 0x7ff, 0x281, "status in the entry");
}

fn write_uncorrectable_out_of_range(store: Store) {
    let mut h = plain(store);
    let n = h.config(1).nlbas();
    assert_eq!(write_uncor(&mut h, n - 1, 2), Status::LBA_OUT_OF_RANGE);
}

fn verify_checks_pi_without_touching_host_memory(store: Store) {
    let ns = type1_512();
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(4 * 512, 5);
    let mut md = tuples(ns, &data, APP_TAG, 20);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    let w = cmd::write(1, 20, 4).with_prps(p1, p2).with_mptr(m);
    assert_eq!(h.io(1, Prinfo::check(ALL, 20).apply(w)).status, Status::SUCCESS);
    // The data pointer of a Verify is unused: page 0 is poisoned and must not matter.
    let v = verify_cmd(20, 4).with_prps(0, 0);
    assert_eq!(h.io(1, Prinfo::check(ALL, 20).apply(v)).status, Status::SUCCESS);
    // Spoil block 22's guard on the medium (write without checks), then Verify.
    corrupt(ns, &mut md, 2, 0);
    let m2 = h.alloc_with(&md);
    let w2 = cmd::write(1, 20, 4).with_prps(p1, p2).with_mptr(m2);
    assert_eq!(h.io(1, Prinfo::check(0, 20).apply(w2)).status, Status::SUCCESS);
    let c = h.io(1, Prinfo::check(GUARD, 20).apply(verify_cmd(20, 4)));
    assert_eq!(c.status, Status::GUARD_CHECK_ERROR);
    assert_eq!(h.io(1, Prinfo::check(0, 20).apply(verify_cmd(20, 4))).status, Status::SUCCESS, "no check, no error");
}

fn compare_equal_and_different(store: Store) {
    let mut h = plain(store);
    let data = pattern(4 * 512, 7);
    assert_eq!(h.write_blocks(1, 100, &data), Status::SUCCESS);
    assert_eq!(compare_with(&mut h, 100, &data), Status::SUCCESS);
    let mut other = data.clone();
    other[2 * 512 + 17] ^= 1;
    assert_eq!(compare_with(&mut h, 100, &other), Status::COMPARE_FAILURE);
    let (_, log) = h.admin_read(cmd::get_log_page(0x01, 0xffff_ffff, 64), 64);
    assert_eq!(u64::from_le_bytes(log[16..24].try_into().unwrap()), 102, "first differing block");
}

fn compare_includes_separate_metadata(store: Store) {
    let ns = NsConfig::new(512).metadata(8);
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(512, 3);
    let md = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    assert_eq!(h.io(1, cmd::write(1, 9, 1).with_prps(d, 0).with_mptr(m)).status, Status::SUCCESS);
    assert_eq!(h.io(1, cmd::rw(iop::COMPARE, 1, 9, 1).with_prps(d, 0).with_mptr(m)).status, Status::SUCCESS);
    let m2 = h.alloc_with(&[1u8, 2, 3, 4, 5, 6, 7, 9]);
    let c = h.io(1, cmd::rw(iop::COMPARE, 1, 9, 1).with_prps(d, 0).with_mptr(m2));
    assert_eq!(c.status, Status::COMPARE_FAILURE, "metadata differs");
}

on_every_store!(
    write_uncorrectable_fails_reads_until_rewritten,
    write_uncorrectable_error_log_names_the_first_marked_lba,
    write_uncorrectable_out_of_range,
    verify_checks_pi_without_touching_host_memory,
    compare_equal_and_different,
    compare_includes_separate_metadata,
);

#[test]
fn verify_with_pract_is_invalid_field() {
    let mut h = FakeHost::with_io(Store::Mem, type1_512());
    let c = h.io(1, Prinfo::check(super::pi_io::PRACT, 0).apply(verify_cmd(0, 1)));
    assert_eq!(c.status, Status::INVALID_FIELD);
}

#[test]
fn compare_skips_the_pi_tuple_but_checks_the_host_pi() {
    // 512 + 16 metadata, Type 1, PI in the last 8 bytes: bytes 0..8 are host metadata.
    let ns = NsConfig::new(512).metadata(16).pi(1, 0);
    let mut h = FakeHost::with_io(Store::Mem, ns);
    let data = pattern(512, 4);
    let mut md = vec![0x5a; 16];
    md[8..].copy_from_slice(&tuples(NsConfig::new(512).metadata(8).pi(1, 0), &data, APP_TAG, 3));
    // With the PI last, the guard also covers the metadata bytes before it (NVM-CS 5.3.1).
    let guard = crate::pi::GuardFormat::Crc16T10Dif.compute(&data, &md[..8]) as u16;
    md[8..10].copy_from_slice(&guard.to_be_bytes());
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let w = cmd::write(1, 3, 1).with_prps(d, 0).with_mptr(m);
    assert_eq!(h.io(1, Prinfo::check(ALL, 3).apply(w)).status, Status::SUCCESS);
    // Same data and non-PI metadata, a different (but valid) app tag in the tuple.
    let mut other = md.clone();
    other[8 + 2..8 + 4].copy_from_slice(&0x4321u16.to_be_bytes());
    let m2 = h.alloc_with(&other);
    let cmp = cmd::rw(iop::COMPARE, 1, 3, 1).with_prps(d, 0).with_mptr(m2);
    assert_eq!(h.io(1, Prinfo::check(0, 3).apply(cmp)).status, Status::SUCCESS, "PI bytes are not compared");
    // A different non-PI metadata byte is a miscompare.
    let mut third = md.clone();
    third[0] ^= 1;
    let m3 = h.alloc_with(&third);
    let cmp = cmd::rw(iop::COMPARE, 1, 3, 1).with_prps(d, 0).with_mptr(m3);
    assert_eq!(h.io(1, Prinfo::check(0, 3).apply(cmp)).status, Status::COMPARE_FAILURE);
    // A bad guard in the host's buffer fails the guard check when PRCHK asks for it.
    let mut bad = md.clone();
    bad[8] ^= 1;
    let m4 = h.alloc_with(&bad);
    let cmp = cmd::rw(iop::COMPARE, 1, 3, 1).with_prps(d, 0).with_mptr(m4);
    assert_eq!(h.io(1, Prinfo::check(GUARD, 3).apply(cmp)).status, Status::GUARD_CHECK_ERROR);
}
