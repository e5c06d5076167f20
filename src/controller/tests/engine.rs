//! The io_uring engine with many commands of one queue in flight: completions in
//! any order, each block whole, commands on the same blocks in submission order,
//! and the sync engine's answers (the data-path bodies of the other files run on
//! it too, through `on_every_store!`).

use super::fake_host::{cmd, pattern, FakeHost, NsConfig, Store};
use super::pi_io::{tuples, type1_512, Prinfo, ALL, APP_TAG, PRACT};
use crate::spec::Status;
use crate::storage::CacheMode;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

const N: u64 = 48;
const NLB: u64 = 8;

/// Push `N` writes of distinct patterns (PI checked: guard, application and
/// reference tags) at once, then `N` reads of them at once; every completion
/// arrives, each read returns its own blocks and tuples.
fn in_flight_together(store: Store) {
    let ns = type1_512();
    let mut h = FakeHost::with_io(store, ns);
    let lbs = ns.lbs as u64;
    let mut sent = HashMap::new();
    for i in 0..N {
        let slba = i * 3 * NLB; // apart, so no two share a block
        let data = pattern((NLB * lbs) as usize, i as u8 + 1);
        let md = tuples(ns, &data, APP_TAG, slba);
        let d = h.alloc_with(&data);
        let (p1, p2) = h.prps(d, data.len() as u64);
        let m = h.alloc_with(&md);
        let sqe = Prinfo::check(ALL, slba).apply(cmd::write(1, slba, NLB).with_prps(p1, p2).with_mptr(m));
        sent.insert(h.push(1, sqe), (slba, data, md));
    }
    h.ring_sq(1);
    for _ in 0..N {
        let e = h.complete(1);
        assert_eq!(e.status, Status::SUCCESS, "write cid {}", e.cid);
        assert!(sent.contains_key(&e.cid));
    }
    let sh = &h.ctrl.shared;
    if store.engine() == crate::controller::config::Engine::IoUring {
        assert_eq!(sh.counters.uring_transfers.load(Relaxed), N, "every write's data moved through io_uring");
        assert!(sh.counters.uring_peak.load(Relaxed) > 1, "more than one write in flight at once");
    }
    let mut reads = HashMap::new();
    for (slba, data, md) in sent.values() {
        let d = h.alloc(NLB * lbs);
        let (p1, p2) = h.prps(d, NLB * lbs);
        let m = h.alloc(NLB * 8);
        let sqe = Prinfo::check(ALL, *slba).apply(cmd::read(1, *slba, NLB).with_prps(p1, p2).with_mptr(m));
        reads.insert(h.push(1, sqe), (d, m, data.clone(), md.clone()));
    }
    h.ring_sq(1);
    for _ in 0..N {
        let e = h.complete(1);
        assert_eq!(e.status, Status::SUCCESS, "read cid {}", e.cid);
        let (d, m, data, md) = reads.remove(&e.cid).expect("a read's completion, once");
        assert!(h.get(d, NLB * lbs) == data, "read cid {}: data", e.cid);
        assert_eq!(h.get(m, NLB * 8), md, "read cid {}: tuples", e.cid);
    }
}

#[test]
fn in_flight_together_uring_writeback() {
    in_flight_together(Store::Uring(CacheMode::Writeback))
}
#[test]
fn in_flight_together_uring_none() {
    in_flight_together(Store::Uring(CacheMode::None))
}
#[test]
fn in_flight_together_uring_directsync() {
    in_flight_together(Store::Uring(CacheMode::Directsync))
}
#[test]
fn in_flight_together_sync() {
    in_flight_together(Store::File(CacheMode::Writeback))
}

/// A write, a read and a write of the same blocks pushed at once: the read sees
/// the first write whole and the second write lands last. The engine runs a
/// command whose blocks a command in flight holds only after that one finished.
fn same_blocks_in_one_batch(store: Store) {
    let ns = NsConfig::new(512).metadata(8).pi(1, 0);
    let mut h = FakeHost::with_io(store, ns);
    let (a, b) = (pattern(8 * 512, 0xa), pattern(8 * 512, 0xb));
    let write = |h: &mut FakeHost, data: &[u8]| {
        let d = h.alloc_with(data);
        let (p1, p2) = h.prps(d, data.len() as u64);
        // PRACT: the device generates the tuples.
        h.push(1, Prinfo::check(PRACT, 40).apply(cmd::write(1, 40, 8).with_prps(p1, p2)))
    };
    let wa = write(&mut h, &a);
    let d = h.alloc(8 * 512);
    let (p1, p2) = h.prps(d, 8 * 512);
    let m = h.alloc(64);
    let r = h.push(1, Prinfo::check(ALL, 40).apply(cmd::read(1, 40, 8).with_prps(p1, p2).with_mptr(m)));
    let wb = write(&mut h, &b);
    h.ring_sq(1);
    let mut done = Vec::new();
    for _ in 0..3 {
        let e = h.complete(1);
        assert_eq!(e.status, Status::SUCCESS, "cid {}", e.cid);
        done.push(e.cid);
    }
    done.sort();
    let mut want = vec![wa, r, wb];
    want.sort();
    assert_eq!(done, want);
    assert!(h.get(d, 8 * 512) == a, "the read saw the first write, whole");
    let (s, back, _) = super::pi_io::read(&mut h, 40, 8, Prinfo::check(ALL, 40));
    assert_eq!(s, Status::SUCCESS);
    assert!(back == b, "the second write landed last");
}

#[test]
fn same_blocks_in_one_batch_uring() {
    same_blocks_in_one_batch(Store::Uring(CacheMode::Writeback))
}
#[test]
fn same_blocks_in_one_batch_uring_none() {
    same_blocks_in_one_batch(Store::Uring(CacheMode::None))
}

/// A hook that fails reads of one LBA with an injected status, optionally turns
/// on mutation detection, and records every completion.
struct Watcher {
    fail_read_at: u64,
    detect: bool,
    done: std::sync::Mutex<Vec<crate::controller::hooks::Completed>>,
}

impl crate::controller::hooks::CommandHook for Watcher {
    fn active(&self) -> bool {
        true
    }
    fn detect_mutation(&self) -> bool {
        self.detect
    }
    fn before(&self, cmd: &crate::controller::hooks::CommandView) -> crate::controller::hooks::Injection {
        let mut inj = crate::controller::hooks::Injection::default();
        if cmd.opcode == crate::spec::opcode::nvm::READ && cmd.slba == self.fail_read_at {
            inj.status = Some(Status::UNRECOVERED_READ_ERROR);
            inj.fired.push("test".into());
        }
        inj
    }
    fn completed(&self, done: &crate::controller::hooks::Completed) {
        self.done.lock().unwrap().push(done.clone());
    }
}

/// With the control plane watching, plain commands still go through io_uring and
/// it sees every one of them; the command a rule fires on gets the injection.
/// With mutation detection on, every write runs synchronously (the detector
/// needs the write's two looks at guest memory).
fn watched(detect: bool) {
    let ns = NsConfig::new(4096);
    let mut h = FakeHost::with_io(Store::Uring(CacheMode::Writeback), ns);
    let hook = std::sync::Arc::new(Watcher { fail_read_at: 5 * 8, detect, done: Default::default() });
    assert!(h.ctrl.shared.hook.set(hook.clone()).is_ok());
    let mut cids = Vec::new();
    for i in 0..16u64 {
        let d = h.alloc_with(&pattern(4096, i as u8));
        let (p1, p2) = h.prps(d, 4096);
        cids.push(h.push(1, cmd::write(1, i * 8, 1).with_prps(p1, p2)));
    }
    h.ring_sq(1);
    for _ in 0..16 {
        assert_eq!(h.complete(1).status, Status::SUCCESS);
    }
    let mut bufs = Vec::new();
    for i in 0..16u64 {
        let d = h.alloc(4096);
        let (p1, p2) = h.prps(d, 4096);
        bufs.push((h.push(1, cmd::read(1, i * 8, 1).with_prps(p1, p2)), d, i));
    }
    h.ring_sq(1);
    let mut statuses = HashMap::new();
    for _ in 0..16 {
        let e = h.complete(1);
        statuses.insert(e.cid, e.status);
    }
    for (cid, d, i) in bufs {
        if i == 5 {
            assert_eq!(statuses[&cid], Status::UNRECOVERED_READ_ERROR, "the injected status");
        } else {
            assert_eq!(statuses[&cid], Status::SUCCESS);
            assert!(h.get(d, 4096) == pattern(4096, i as u8), "read {i}");
        }
    }
    let done = hook.done.lock().unwrap();
    assert_eq!(done.len(), 32, "the control plane saw every completion");
    assert_eq!(done.iter().filter(|c| !c.fired.is_empty()).count(), 1);
    let moved = h.ctrl.shared.counters.uring_transfers.load(Relaxed);
    let want = if detect { 15 } else { 31 }; // no transfer for the injected read; writes synchronous when detecting
    assert_eq!(moved, want, "transfers through io_uring");
}

#[test]
fn watched_commands_go_through_io_uring_and_injected_ones_do_not() {
    watched(false)
}

#[test]
fn mutation_detection_runs_writes_synchronously() {
    watched(true)
}
