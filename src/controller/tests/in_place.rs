//! Reads and writes that move between the guest's pages and the image with no copy of
//! the device's own (`nvm/in_place.rs`): which commands take that path on which store,
//! that they move the same bytes as the buffered path, and that a bad guest range
//! stores nothing.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store, PAGE};
use super::pi_io::{read, tuples, type1_512, Prinfo, ALL, APP_TAG, PRACT};
use crate::spec::Status;
use crate::storage::CacheMode;
use std::sync::atomic::Ordering::Relaxed;

/// Whether plain reads and writes go in place over `store`: a file through the page
/// cache, with the synchronous engine (the io_uring engine moves them through its ring).
fn in_place_store(store: Store) -> bool {
    matches!(store, Store::File(CacheMode::Writeback | CacheMode::Writethrough))
}

fn moved_in_place(h: &FakeHost) -> u64 {
    h.ctrl.shared.counters.in_place.load(Relaxed)
}

fn plain_reads_and_writes_go_in_place_where_the_store_takes_ranges(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512));
    let data = pattern(24 * 512, 3);
    assert_eq!(h.write_blocks(1, 40, &data), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 40, 24), (Status::SUCCESS, data.clone()));
    // Across three pages at an odd offset in the first (PRP1 offset, PRP list).
    let buf = h.alloc(3 * PAGE) + 512;
    h.put(buf, &data[..8 * 512]);
    let (p1, p2) = h.prps(buf, 8 * 512);
    assert_eq!(h.io(1, cmd::write(1, 100, 8).with_prps(p1, p2)).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 100, 8), (Status::SUCCESS, data[..8 * 512].to_vec()));
    let expect = if in_place_store(store) { 4 } else { 0 };
    assert_eq!(moved_in_place(&h), expect, "{store:?}: commands moved in place");
}

fn checked_pi_keeps_the_buffers_and_unchecked_reads_do_not(store: Store) {
    let ns = type1_512();
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(8 * 512, 4);
    let md = tuples(ns, &data, APP_TAG, 16);
    let dbuf = h.alloc_with(&data);
    let mbuf = h.alloc_with(&md);
    let w = Prinfo::check(ALL, 16).apply(cmd::write(1, 16, 8).with_prps(dbuf, 0).with_mptr(mbuf));
    assert_eq!(h.io(1, w).status, Status::SUCCESS);
    assert_eq!(moved_in_place(&h), 0, "a checked PI write keeps its snapshot");
    assert_eq!(read(&mut h, 16, 8, Prinfo::check(ALL, 16)), (Status::SUCCESS, data.clone(), md.clone()));
    assert_eq!(moved_in_place(&h), 0, "a checked PI read goes through the buffers");
    assert_eq!(read(&mut h, 16, 8, Prinfo::check(PRACT | ALL, 16)).0, Status::SUCCESS);
    assert_eq!(moved_in_place(&h), 0, "a stripped PI read goes through the buffers");
    // No PRCHK: the data in place, the metadata as stored.
    assert_eq!(read(&mut h, 16, 8, Prinfo::check(0, 16)), (Status::SUCCESS, data, md));
    assert_eq!(moved_in_place(&h), in_place_store(store) as u64, "{store:?}: an unchecked read");
}

fn a_bad_guest_range_stores_and_returns_nothing_of_it(store: Store) {
    let mut h = FakeHost::with_io(store, NsConfig::new(512));
    let old = pattern(16 * 512, 5);
    assert_eq!(h.write_blocks(1, 0, &old), Status::SUCCESS);
    // Page 0 is outside the DMA map: the second page of the transfer points there.
    let buf = h.alloc_with(&pattern(PAGE as usize, 6));
    let w = cmd::write(1, 0, 16).with_prps(buf, 0);
    assert_eq!(h.io(1, w).status, Status::DATA_TRANSFER_ERROR);
    assert_eq!(h.read_blocks(1, 0, 16), (Status::SUCCESS, old.clone()), "nothing of the failed write was stored");
    let r = cmd::read(1, 0, 16).with_prps(buf, 0);
    assert_eq!(h.io(1, r).status, Status::DATA_TRANSFER_ERROR);
    let expect = if in_place_store(store) { 2 } else { 0 };
    assert_eq!(moved_in_place(&h), expect, "{store:?}: only the good write and read moved in place");
}

on_every_store!(
    plain_reads_and_writes_go_in_place_where_the_store_takes_ranges,
    checked_pi_keeps_the_buffers_and_unchecked_reads_do_not,
    a_bad_guest_range_stores_and_returns_nothing_of_it,
);
