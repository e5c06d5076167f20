//! NVM commands that succeed (NVM-CS 3.3): Write / Read with FUA, Flush, Write
//! Zeroes, Dataset Management (Deallocate), and metadata without PI, both in a
//! separate buffer (MPTR) and interleaved (extended LBA). Every body runs over the
//! in-memory and the file store.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store, PAGE};
use crate::dma::sgl::Descriptor;
use crate::spec::Status;

fn write_and_read_back_with_fua(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512));
    let data = pattern(4 * 512, 1);
    let buf = h.alloc_with(&data);
    let fua = cmd::write(1, 20, 4).with_prps(buf, 0);
    let fua = fua.with_cdw(12, fua.cdw12() | 1 << 30);
    assert_eq!(h.io(1, fua).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 20, 4), (Status::SUCCESS, data));
}

fn write_without_cache_and_read_back(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(4096));
    assert_eq!(h.admin(cmd::set_features(0x06, 0)).status, Status::SUCCESS, "volatile write cache off");
    let data = pattern(3 * 4096, 2);
    assert_eq!(h.write_blocks(1, 5, &data), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 5, 3), (Status::SUCCESS, data));
}

fn flush_one_and_all_namespaces(store: Store) {
    let mut h = FakeHost::new(store, &[NsConfig::new(512), NsConfig::new(4096)]);
    h.enable();
    h.create_io_queues(1, 16);
    assert_eq!(h.write_blocks(1, 0, &pattern(512, 3)), Status::SUCCESS);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
    assert_eq!(h.io(1, cmd::flush(2)).status, Status::SUCCESS);
    assert_eq!(h.io(1, cmd::flush(0xffff_ffff)).status, Status::SUCCESS);
}

fn namespaces_do_not_share_blocks(store: Store) {
    let mut h = FakeHost::new(store, &[NsConfig::new(512), NsConfig::new(512)]);
    h.enable();
    h.create_io_queues(1, 16);
    let (a, b) = (pattern(512, 4), pattern(512, 5));
    assert_eq!(h.write_blocks(1, 3, &a), Status::SUCCESS);
    assert_eq!(h.write_blocks(2, 3, &b), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 3, 1), (Status::SUCCESS, a));
    assert_eq!(h.read_blocks(2, 3, 1), (Status::SUCCESS, b));
}

fn write_zeroes_then_read_zeroes(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512));
    let data = pattern(16 * 512, 6);
    assert_eq!(h.write_blocks(1, 0, &data), Status::SUCCESS);
    assert_eq!(h.io(1, cmd::write_zeroes(1, 2, 5)).status, Status::SUCCESS);
    // With DEAC (deallocate) too.
    let deac = cmd::write_zeroes(1, 10, 3);
    assert_eq!(h.io(1, deac.with_cdw(12, deac.cdw12() | 1 << 25)).status, Status::SUCCESS);
    let (s, back) = h.read_blocks(1, 0, 16);
    assert_eq!(s, Status::SUCCESS);
    let mut expect = data;
    expect[2 * 512..7 * 512].fill(0);
    expect[10 * 512..13 * 512].fill(0);
    assert!(back == expect, "zeroed blocks read as zeroes, the rest is intact");
}

fn deallocate_then_read_zeroes(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512));
    let data = pattern(32 * 512, 7);
    assert_eq!(h.write_blocks(1, 0, &data), Status::SUCCESS);
    let ranges: Vec<u8> = [cmd::dsm_range(1, 2), cmd::dsm_range(8, 16)].concat();
    let list = h.alloc_with(&ranges);
    assert_eq!(h.io(1, cmd::deallocate(1, 2, list)).status, Status::SUCCESS);
    let (s, back) = h.read_blocks(1, 0, 32);
    assert_eq!(s, Status::SUCCESS);
    let mut expect = data;
    expect[512..3 * 512].fill(0);
    expect[8 * 512..24 * 512].fill(0);
    assert!(back == expect, "deallocated blocks read as zeroes (DLFEAT 001b)");
}

fn deallocate_out_of_range_changes_nothing(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512));
    let nlbas = h.config(1).nlbas();
    let data = pattern(8 * 512, 8);
    assert_eq!(h.write_blocks(1, 0, &data), Status::SUCCESS);
    // A valid range first, then one that runs past the end.
    let ranges: Vec<u8> = [cmd::dsm_range(0, 8), cmd::dsm_range(nlbas - 2, 4)].concat();
    let list = h.alloc_with(&ranges);
    let c = h.io(1, cmd::deallocate(1, 2, list));
    assert_eq!(c.status, Status::LBA_OUT_OF_RANGE);
    assert!(c.status.dnr);
    assert_eq!(h.read_blocks(1, 0, 8), (Status::SUCCESS, data), "nothing deallocated");
}

/// 512+8 with metadata in a separate buffer, no PI.
fn separate_metadata_round_trips(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512).metadata(8));
    let data = pattern(4 * 512, 9);
    let md = pattern(4 * 8, 10);
    let (dbuf, mbuf) = (h.alloc_with(&data), h.alloc_with(&md));
    assert_eq!(h.io(1, cmd::write(1, 6, 4).with_prps(dbuf, 0).with_mptr(mbuf)).status, Status::SUCCESS);
    let (dout, mout) = (h.alloc(PAGE), h.alloc(PAGE));
    assert_eq!(h.io(1, cmd::read(1, 6, 4).with_prps(dout, 0).with_mptr(mout)).status, Status::SUCCESS);
    assert!(h.get(dout, 4 * 512) == data);
    assert!(h.get(mout, 32) == md);
    assert!(h.get(mout + 32, 32).iter().all(|&b| b == 0), "exactly 4 x 8 metadata bytes");
}

/// PSDT 10b: SGL data, MPTR names one SGL descriptor for the metadata.
fn separate_metadata_through_sgl_round_trips(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512).metadata(8));
    let data = pattern(2 * 512, 11);
    let md = pattern(16, 12);
    let (dbuf, mbuf) = (h.alloc_with(&data), h.alloc_with(&md));
    let mdesc = h.alloc_with(&Descriptor::data(mbuf, 16).encode());
    let w = cmd::write(1, 0, 2).with_sgl1(Descriptor::data(dbuf, 1024).encode()).with_mptr(mdesc);
    assert_eq!(h.io(1, w.with_psdt(2)).status, Status::SUCCESS);
    let (dout, mout) = (h.alloc(PAGE), h.alloc(PAGE));
    let mdesc = h.alloc_with(&Descriptor::data(mout, 16).encode());
    let r = cmd::read(1, 0, 2).with_sgl1(Descriptor::data(dout, 1024).encode()).with_mptr(mdesc);
    assert_eq!(h.io(1, r.with_psdt(2)).status, Status::SUCCESS);
    assert!(h.get(dout, 1024) == data);
    assert!(h.get(mout, 16) == md);
}

/// Place `bytes` at `first` (up to its page end) and continue at `second`.
fn split_put(h: &FakeHost, first: u64, second: u64, bytes: &[u8]) {
    let n = (PAGE - first % PAGE) as usize;
    h.put(first, &bytes[..n]);
    h.put(second, &bytes[n..]);
}

/// 512+8 extended LBA: the host buffer starts 460 bytes into a page, so block 6's
/// metadata (buffer bytes 3632..3640) straddles the end of the first PRP page.
fn extended_lba_round_trips_across_a_page_boundary(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512).metadata(8).extended());
    let ext = pattern(8 * 520, 13);
    let (a, b) = (h.alloc(PAGE), h.alloc(2 * PAGE) + PAGE);
    assert!(a % PAGE + 460 + 6 * 520 + 512 < PAGE && 460 + 6 * 520 + 520 > PAGE, "block 6 metadata straddles");
    split_put(&h, a + 460, b, &ext);
    assert_eq!(h.io(1, cmd::write(1, 30, 8).with_prps(a + 460, b)).status, Status::SUCCESS);

    // The medium holds data and metadata apart (QEMU's image layout).
    let ns = h.namespaces[0].clone();
    let layout = ns.format().layout;
    let mut md = [0u8; 8];
    ns.store.read_at(layout.meta_offset(36), &mut md).unwrap();
    assert_eq!(md, ext[6 * 520 + 512..7 * 520], "straddling metadata stored intact");
    let mut blk = vec![0u8; 512];
    ns.store.read_at(layout.data_offset(36), &mut blk).unwrap();
    assert!(blk == ext[6 * 520..6 * 520 + 512]);

    let (c, d) = (h.alloc(PAGE), h.alloc(2 * PAGE) + PAGE);
    assert_eq!(h.io(1, cmd::read(1, 30, 8).with_prps(c + 460, d)).status, Status::SUCCESS);
    let mut back = h.get(c + 460, PAGE - 460);
    back.extend(h.get(d, 8 * 520 - (PAGE - 460)));
    assert!(back == ext, "interleaved data and metadata read back intact");
}

on_every_store!(
    write_and_read_back_with_fua,
    write_without_cache_and_read_back,
    flush_one_and_all_namespaces,
    namespaces_do_not_share_blocks,
    write_zeroes_then_read_zeroes,
    deallocate_then_read_zeroes,
    deallocate_out_of_range_changes_nothing,
    separate_metadata_round_trips,
    separate_metadata_through_sgl_round_trips,
    extended_lba_round_trips_across_a_page_boundary,
);
