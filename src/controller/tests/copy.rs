//! Copy (NVM-CS 3.3.2): several ranges within a namespace and across namespaces
//! (formats 2h/3h, enabled by Host Behavior Support), every limit (MSRC, MSSRL,
//! MCL) and field check with its status, PI pass-through / replace / insert /
//! strip, partial failure reporting the failing range in DW0 with earlier ranges
//! written, and the counters showing the bytes moved inside the device.

use super::fake_host::{cmd, pattern, FakeHost, NsConfig, Store};
use super::pi_io::{corrupt, read, tuple_at, tuples, type1_512, Prinfo, ALL, APP_TAG, GUARD};
use crate::nvm::copy::{MCL, MSRC, MSSRL};
use crate::spec::opcode::nvm as iop;
use crate::spec::{CompletionEntry, Status, SubmissionEntry};
use std::sync::atomic::Ordering::Relaxed;

/// One source range entry (32 bytes for formats 0h/2h, 40 for 1h/3h).
pub(super) fn entry(format: u8, snsid: u32, slba: u64, nlb: u64, elbt: u64, elbat: u16, elbatm: u16) -> Vec<u8> {
    let size = if format.is_multiple_of(2) { 32 } else { 40 };
    let mut e = vec![0u8; size];
    if format >= 2 {
        e[0..4].copy_from_slice(&snsid.to_le_bytes());
    }
    e[8..16].copy_from_slice(&slba.to_le_bytes());
    e[16..18].copy_from_slice(&((nlb - 1) as u16).to_le_bytes());
    if format.is_multiple_of(2) {
        e[24..28].copy_from_slice(&(elbt as u32).to_le_bytes());
        e[28..30].copy_from_slice(&elbat.to_le_bytes());
        e[30..32].copy_from_slice(&elbatm.to_le_bytes());
    } else {
        e[28..36].copy_from_slice(&elbt.to_be_bytes());
        e[36..38].copy_from_slice(&elbat.to_le_bytes());
        e[38..40].copy_from_slice(&elbatm.to_le_bytes());
    }
    e
}

/// Copy to `sdlba` of `nsid` from `ranges` (slba, nlb), format 0h, no PI fields.
fn plain_ranges(ranges: &[(u64, u64)]) -> Vec<Vec<u8>> {
    ranges.iter().map(|&(s, n)| entry(0, 0, s, n, 0, 0, 0)).collect()
}

fn copy_cmd(
    h: &mut FakeHost,
    nsid: u32,
    sdlba: u64,
    format: u8,
    entries: &[Vec<u8>],
    cdw12_extra: u32,
) -> SubmissionEntry {
    let list: Vec<u8> = entries.concat();
    let buf = h.alloc_with(&list);
    let (p1, p2) = h.prps(buf, list.len() as u64);
    let cdw12 = (entries.len() as u32 - 1) | (format as u32) << 8 | cdw12_extra;
    SubmissionEntry::new(iop::COPY, 0, nsid)
        .with_prps(p1, p2)
        .with_cdw(10, sdlba as u32)
        .with_cdw(11, (sdlba >> 32) as u32)
        .with_cdw(12, cdw12)
}

fn copy(h: &mut FakeHost, nsid: u32, sdlba: u64, format: u8, entries: &[Vec<u8>], cdw12_extra: u32) -> CompletionEntry {
    let c = copy_cmd(h, nsid, sdlba, format, entries, cdw12_extra);
    h.io(1, c)
}

fn two_namespaces(a: NsConfig, b: NsConfig) -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[a, b]);
    h.enable();
    h.create_io_queues(1, 64);
    h
}

/// Host Behavior Support with CDFE = formats 2h and 3h enabled.
pub(super) fn enable_cross_namespace_formats(h: &mut FakeHost) {
    let mut hbs = vec![0u8; 512];
    hbs[4] = 0b1100;
    let buf = h.alloc_with(&hbs);
    let c = h.admin(cmd::set_features(0x16, 0).with_prps(buf, 0));
    assert_eq!(c.status, Status::SUCCESS);
}

#[test]
fn copies_several_ranges_in_order_inside_the_device() {
    let mut h = FakeHost::with_io(Store::Mem, NsConfig::new(512));
    let a = pattern(4 * 512, 1);
    let b = pattern(2 * 512, 2);
    let c = pattern(512, 3);
    assert_eq!(h.write_blocks(1, 100, &a), Status::SUCCESS);
    assert_eq!(h.write_blocks(1, 300, &b), Status::SUCCESS);
    assert_eq!(h.write_blocks(1, 7, &c), Status::SUCCESS);
    let dma_before = h.ctrl.shared.counters.dma_to_device.load(Relaxed);
    let ns_dma_before = h.namespaces[0].counters.dma_to_device.load(Relaxed);
    let done = copy(&mut h, 1, 1000, 0, &plain_ranges(&[(100, 4), (300, 2), (7, 1)]), 0);
    assert_eq!((done.status, done.dw0), (Status::SUCCESS, 0));
    let (s, got) = h.read_blocks(1, 1000, 7);
    assert_eq!(s, Status::SUCCESS);
    assert_eq!(got, [a, b, c].concat(), "ranges land back to back at SDLBA");
    let sh = &h.ctrl.shared;
    assert_eq!(sh.counters.copy_bytes.load(Relaxed), 7 * 512, "moved inside the device");
    assert_eq!(sh.counters.dma_to_device.load(Relaxed) - dma_before, 3 * 32, "only the range list crossed DMA");
    assert_eq!(h.namespaces[0].counters.copy_written_bytes.load(Relaxed), 7 * 512);
    assert_eq!(
        h.namespaces[0].counters.dma_to_device.load(Relaxed) - ns_dma_before,
        3 * 32,
        "the destination namespace counts the range list"
    );
}

#[test]
fn limits_are_advertised_and_enforced() {
    let mut h = FakeHost::with_io(Store::Mem, NsConfig::new(512).bytes(48 << 20));
    let (_, id) = h.identify(0x00, 1);
    assert_eq!(u16::from_le_bytes([id[74], id[75]]), MSSRL);
    assert_eq!(u32::from_le_bytes(id[76..80].try_into().unwrap()), MCL);
    assert_eq!(id[80], MSRC);
    let too_many: Vec<_> = (0..MSRC as u64 + 2).map(|i| entry(0, 0, i, 1, 0, 0, 0)).collect();
    assert_eq!(copy(&mut h, 1, 5000, 0, &too_many, 0).status, Status::COMMAND_SIZE_LIMIT_EXCEEDED, "NR > MSRC");
    let long = plain_ranges(&[(0, MSSRL as u64 + 1)]);
    assert_eq!(copy(&mut h, 1, 20000, 0, &long, 0).status, Status::COMMAND_SIZE_LIMIT_EXCEEDED, "NLB > MSSRL");
    let n = MCL as u64 / MSSRL as u64 + 1;
    let total: Vec<_> = (0..n).map(|i| entry(0, 0, i * MSSRL as u64, MSSRL as u64, 0, 0, 0)).collect();
    assert_eq!(copy(&mut h, 1, 0, 0, &total, 0).status, Status::COMMAND_SIZE_LIMIT_EXCEEDED, "total > MCL");
}

#[test]
fn field_and_range_errors() {
    let mut h = FakeHost::with_io(Store::Mem, NsConfig::new(512));
    let n = h.config(1).nlbas();
    let one = plain_ranges(&[(0, 1)]);
    assert_eq!(copy(&mut h, 1, 0, 4, &[vec![0u8; 32]], 0).status, Status::INVALID_FIELD, "format 4h");
    let f2 = vec![entry(2, 1, 0, 1, 0, 0, 0)];
    assert_eq!(copy(&mut h, 1, 10, 2, &f2, 0).status, Status::INVALID_FIELD, "format 2h not enabled");
    let c = copy(&mut h, 1, n - 1, 0, &plain_ranges(&[(0, 2)]), 0);
    assert_eq!((c.status, c.dw0), (Status::LBA_OUT_OF_RANGE, 0), "destination beyond the namespace");
    assert_eq!(copy(&mut h, 1, 0, 0, &plain_ranges(&[(n - 1, 2)]), 0).status, Status::LBA_OUT_OF_RANGE);
    assert_eq!(copy(&mut h, 2, 0, 0, &one, 0).status, Status::INVALID_NAMESPACE);
}

#[test]
fn partial_failure_names_the_range_and_keeps_earlier_ranges() {
    let mut h = FakeHost::with_io(Store::Mem, NsConfig::new(512));
    let a = pattern(2 * 512, 4);
    assert_eq!(h.write_blocks(1, 10, &a), Status::SUCCESS);
    assert_eq!(h.write_blocks(1, 20, &a), Status::SUCCESS);
    assert_eq!(h.io(1, cmd::rw(iop::WRITE_UNCORRECTABLE, 1, 31, 1)).status, Status::SUCCESS);
    let c = copy(&mut h, 1, 500, 0, &plain_ranges(&[(10, 2), (20, 2), (30, 2), (10, 1)]), 0);
    assert_eq!((c.status, c.dw0), (Status::UNRECOVERED_READ_ERROR, 2), "range 2 failed");
    assert_eq!(h.read_blocks(1, 500, 4), (Status::SUCCESS, [a.clone(), a].concat()), "ranges 0 and 1 written");
}

#[test]
fn pi_pass_through_checks_source_tags_and_keeps_the_tuples() {
    let ns = type1_512();
    let mut h = FakeHost::with_io(Store::Mem, ns);
    let data = pattern(2 * 512, 5);
    let md = tuples(ns, &data, APP_TAG, 40);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    let w = cmd::write(1, 40, 2).with_prps(p1, p2).with_mptr(m);
    assert_eq!(h.io(1, Prinfo::check(ALL, 40).apply(w)).status, Status::SUCCESS);
    // PRINFOR = guard|app|ref checks against ELBT 40 / ELBAT; PRINFOW no checks, no PRACT.
    let e = vec![entry(0, 0, 40, 2, 40, APP_TAG, 0xffff)];
    let c = copy(&mut h, 1, 90, 0, &e, 0x7 << 12);
    assert_eq!(c.status, Status::SUCCESS);
    let (s, got, gmd) = read(&mut h, 90, 2, Prinfo::check(0, 90));
    assert_eq!((s, &got), (Status::SUCCESS, &data));
    assert_eq!(gmd, md, "pass-through keeps the source's tuples (ref tags 40, 41)");
    // Wrong expected ref tag in the range: reference tag check error on the source.
    let bad = vec![entry(0, 0, 40, 2, 41, APP_TAG, 0xffff)];
    assert_eq!(
        copy(&mut h, 1, 90, 0, &bad, 0x1 << 12).status,
        Status::INVALID_PROTECTION_INFORMATION,
        "Type 1 ELBT must be SLBA"
    );
    let wrong_app = vec![entry(0, 0, 40, 2, 40, APP_TAG ^ 1, 0xffff)];
    assert_eq!(copy(&mut h, 1, 90, 0, &wrong_app, 0x2 << 12).status, Status::APP_TAG_CHECK_ERROR);
}

#[test]
fn pi_replace_generates_destination_tags() {
    let ns = type1_512();
    let mut h = FakeHost::with_io(Store::Mem, ns);
    let data = pattern(3 * 512, 6);
    let md = tuples(ns, &data, APP_TAG, 60);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    assert_eq!(
        h.io(1, Prinfo::check(ALL, 60).apply(cmd::write(1, 60, 3).with_prps(p1, p2).with_mptr(m))).status,
        Status::SUCCESS
    );
    // Both PRACT set: new PI with ILBRT 200 (the SDLBA) and LBAT 0x7777.
    let e = vec![entry(0, 0, 60, 3, 60, APP_TAG, 0xffff)];
    let mut c = copy_cmd(&mut h, 1, 200, 0, &e, (0x8 | 0x4) << 12 | 1 << 29);
    c = c.with_cdw(14, 200).with_cdw(15, 0x7777);
    assert_eq!(h.io(1, c).status, Status::SUCCESS);
    let (s, got, gmd) = read(&mut h, 200, 3, Prinfo { bits: ALL, ilbrt: 200, app: 0x7777, mask: 0xffff });
    assert_eq!((s, got), (Status::SUCCESS, data));
    for i in 0..3 {
        let t = tuple_at(ns, &gmd, i);
        assert_eq!((t.app_tag, t.ref_tag), (0x7777, 200 + i as u64), "block {i}");
    }
    // PRACT differs between read and write parts: Invalid Field.
    let e = vec![entry(0, 0, 60, 1, 60, 0, 0)];
    assert_eq!(copy(&mut h, 1, 300, 0, &e, 0x8 << 12).status, Status::INVALID_FIELD);
}

#[test]
fn corrupt_source_guard_fails_and_leaves_destination() {
    let ns = type1_512();
    let mut h = FakeHost::with_io(Store::Mem, ns);
    let data = pattern(2 * 512, 7);
    let mut md = tuples(ns, &data, APP_TAG, 70);
    corrupt(ns, &mut md, 1, 0);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    assert_eq!(
        h.io(1, Prinfo::check(0, 70).apply(cmd::write(1, 70, 2).with_prps(p1, p2).with_mptr(m))).status,
        Status::SUCCESS
    );
    let e = vec![entry(0, 0, 70, 2, 70, APP_TAG, 0xffff)];
    let c = copy(&mut h, 1, 400, 0, &e, (GUARD >> 26) << 12);
    assert_eq!((c.status, c.dw0), (Status::GUARD_CHECK_ERROR, 0));
    let (s, got, _) = read(&mut h, 400, 2, Prinfo::check(ALL, 400));
    assert_eq!((s, got), (Status::SUCCESS, vec![0u8; 1024]), "destination untouched: still never written");
}

#[test]
fn format_must_match_the_destination_guard() {
    let mut h = FakeHost::with_io(Store::Mem, type1_512());
    let e = vec![entry(1, 0, 0, 1, 0, 0, 0)];
    assert_eq!(copy(&mut h, 1, 10, 1, &e, 0).status, Status::INVALID_NAMESPACE, "format 1h on a 16b-guard namespace");
}

#[test]
fn cross_namespace_plain_and_overlap() {
    let mut h = two_namespaces(NsConfig::new(512), NsConfig::new(512));
    enable_cross_namespace_formats(&mut h);
    let a = pattern(3 * 512, 8);
    assert_eq!(h.write_blocks(2, 5, &a), Status::SUCCESS);
    let e = vec![entry(2, 2, 5, 3, 0, 0, 0)];
    assert_eq!(copy(&mut h, 1, 50, 2, &e, 0).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 50, 3), (Status::SUCCESS, a));
    let ns2 = &h.namespaces[1];
    assert_eq!(ns2.counters.copy_read_bytes.load(Relaxed), 3 * 512, "source namespace counted");
    // A source range in the destination namespace overlapping the destination.
    let e = vec![entry(2, 1, 48, 4, 0, 0, 0)];
    assert_eq!(copy(&mut h, 1, 50, 2, &e, 0).status, Status::OVERLAPPING_IO_RANGE);
    let e = vec![entry(2, 0, 0, 1, 0, 0, 0), entry(2, 7, 0, 1, 0, 0, 0)];
    assert_eq!(copy(&mut h, 1, 50, 2, &e, 0).status, Status::INVALID_NAMESPACE, "SNSID 0 / beyond NN");
}

#[test]
fn cross_namespace_strip_insert_and_incompatible() {
    let pi = type1_512();
    let plain = NsConfig::new(512);
    let mut h = two_namespaces(pi, plain);
    enable_cross_namespace_formats(&mut h);
    let data = pattern(2 * 512, 9);
    let md = tuples(pi, &data, APP_TAG, 10);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    assert_eq!(
        h.io(1, Prinfo::check(ALL, 10).apply(cmd::write(1, 10, 2).with_prps(p1, p2).with_mptr(m))).status,
        Status::SUCCESS
    );
    // PI -> no PI: strip needs PRINFOR.PRACT; without it the formats are incompatible.
    let e = vec![entry(2, 1, 10, 2, 10, APP_TAG, 0xffff)];
    assert_eq!(copy(&mut h, 2, 0, 2, &e, 0).status, Status::INCOMPATIBLE_NS_OR_FORMAT);
    assert_eq!(copy(&mut h, 2, 0, 2, &e, (0x8 | 0x7) << 12).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(2, 0, 2), (Status::SUCCESS, data.clone()));
    // no PI -> PI: insert with PRINFOW.PRACT, ILBRT = SDLBA.
    let e = vec![entry(2, 2, 0, 2, 0, 0, 0)];
    let c = copy_cmd(&mut h, 1, 30, 2, &e, 1 << 29).with_cdw(14, 30).with_cdw(15, 0x5151);
    assert_eq!(h.io(1, c).status, Status::SUCCESS);
    let (s, got, gmd) = read(&mut h, 30, 2, Prinfo { bits: ALL, ilbrt: 30, app: 0x5151, mask: 0xffff });
    assert_eq!((s, got), (Status::SUCCESS, data));
    assert_eq!(tuple_at(pi, &gmd, 1).ref_tag, 31);
    let c = copy_cmd(&mut h, 1, 40, 2, &e, 0);
    assert_eq!(h.io(1, c).status, Status::INCOMPATIBLE_NS_OR_FORMAT, "insert needs PRINFOW.PRACT");
}
