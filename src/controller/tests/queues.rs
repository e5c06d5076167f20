//! Queue behaviour under pressure (NVMe-Base 3.3.1, 3.5, 5.2.3): a full CQ makes
//! the worker wait for the host, Delete I/O SQ aborts what the worker never
//! fetched and never hangs, and controller reset and shutdown finish while queues
//! are busy.

use super::fake_host::{cmd, pattern, watchdog, FakeHost, NsConfig, Store};
use crate::spec::registers::{self as reg, csts};
use crate::spec::Status;
use crate::storage::mem::{Access, TappedStore};
use crate::storage::MemStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Long enough for a worker that is not blocked to post a completion.
const SETTLE: Duration = Duration::from_millis(100);

fn host_with_pair(sq_entries: u16, cq_entries: u16) -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    h.create_io_pair(1, sq_entries, cq_entries);
    h
}

fn push_flushes(h: &mut FakeHost, n: usize) -> Vec<u16> {
    (0..n).map(|_| h.push(1, cmd::flush(1))).collect()
}

#[test]
fn full_cq_makes_the_worker_wait_for_the_head_doorbell() {
    let _w = watchdog(Duration::from_secs(30), "full CQ");
    // Four entries hold three completions.
    let mut h = host_with_pair(16, 4);
    let cids = push_flushes(&mut h, 6);
    h.ring_sq(1);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(h.wait_completion(1, super::fake_host::TIMEOUT).expect("completion while the CQ has room"));
    }
    // An interrupt-driven host only looks at the CQ when told to.
    wait_for("an interrupt for the completions posted before the CQ filled", || h.irq.count(1) >= 1);
    assert!(h.wait_completion(1, SETTLE).is_none(), "no completion overwrites an unconsumed entry");
    h.ring_cq(1);
    for _ in 0..3 {
        seen.push(h.complete(1));
    }
    let got: Vec<u16> = seen.iter().map(|e| e.cid).collect();
    assert_eq!(got, cids, "all six, in order");
    assert!(seen.iter().all(|e| e.status == Status::SUCCESS));
    assert_eq!(seen[5].sq_head, 6, "SQ head pointer reported");
    assert!(h.irq.count(1) >= 2, "and again for the rest");
}

/// A gate the test opens and closes; a store's writes wait at it (see `gated_store`), to hold a
/// worker inside a command.
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    entered: AtomicBool,
}

impl Gate {
    fn set(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.cv.notify_all();
    }
}

/// A store of `bytes` whose every write waits at the (open) gate returned with it.
fn gated_store(bytes: u64) -> (Arc<TappedStore>, Arc<Gate>) {
    let gate = Arc::new(Gate { open: Mutex::new(true), cv: Condvar::new(), entered: AtomicBool::new(false) });
    let g = gate.clone();
    let store = TappedStore::new(MemStore::new(bytes), move |a| {
        if a == Access::Write {
            g.entered.store(true, Ordering::SeqCst);
            let open = g.open.lock().unwrap();
            drop(g.cv.wait_while(open, |open| !*open).unwrap());
        }
    });
    (Arc::new(store), gate)
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + super::fake_host::TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn delete_sq_aborts_commands_the_worker_never_fetched() {
    let _w = watchdog(Duration::from_secs(30), "Delete I/O SQ with queued commands");
    let cfg = NsConfig::new(512);
    let (store, gate) = gated_store(cfg.bytes);
    let mut h = FakeHost::with_namespaces(vec![cfg.build(1, store)]);
    h.configs = vec![cfg];
    let hook = Arc::new(Recorder::default());
    assert!(h.ctrl.shared.hook.set(hook.clone()).is_ok());
    h.enable();
    h.create_io_pair(1, 16, 16);

    gate.set(false);
    gate.entered.store(false, Ordering::SeqCst);
    let buf = h.alloc_with(&pattern(512, 1));
    let write = h.push(1, cmd::write(1, 0, 1).with_prps(buf, 0));
    let queued = push_flushes(&mut h, 3);
    h.ring_sq(1);
    wait_for("the worker to block inside the write", || gate.entered.load(Ordering::SeqCst));

    // Open the gate once Delete I/O SQ has told the worker to stop.
    let sq = h.ctrl.shared.queues.read().unwrap().sqs[1].as_ref().unwrap().sq.clone();
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            wait_for("Delete I/O SQ to stop the worker", || sq.stop.load(Ordering::SeqCst));
            gate.set(true);
        })
    };
    assert_eq!(h.admin(cmd::delete_sq(1)).status, Status::SUCCESS);
    opener.join().unwrap();

    let first = h.complete(1);
    assert_eq!((first.cid, first.status), (write, Status::SUCCESS), "the command in flight completes");
    for &cid in &queued {
        let e = h.complete(1);
        assert_eq!((e.cid, e.status), (cid, Status::ABORTED_SQ_DELETION));
        assert_eq!((e.status.sct, e.status.sc), (0, 0x08));
    }
    assert!(h.wait_completion(1, SETTLE).is_none(), "nothing else");
    assert_eq!(h.admin(cmd::delete_cq(1)).status, Status::SUCCESS);
    // Statistics and trace (the hook) see the aborted completions too.
    let seen: Vec<_> = hook.0.lock().unwrap().iter().map(|c| (c.view.cid, c.status)).collect();
    let mut want = vec![(write, Status::SUCCESS)];
    want.extend(queued.iter().map(|&cid| (cid, Status::ABORTED_SQ_DELETION)));
    assert_eq!(seen, want, "the hook saw every completion the host received");
}

/// A hook that only records completions.
#[derive(Default)]
struct Recorder(Mutex<Vec<crate::controller::hooks::Completed>>);

impl crate::controller::hooks::CommandHook for Recorder {
    fn active(&self) -> bool {
        true
    }
    fn before(&self, _: &crate::controller::hooks::CommandView) -> crate::controller::hooks::Injection {
        Default::default()
    }
    fn completed(&self, done: &crate::controller::hooks::Completed) {
        self.0.lock().unwrap().push(done.clone());
    }
}

#[test]
fn delete_sq_while_its_cq_is_full_does_not_hang() {
    let _w = watchdog(Duration::from_secs(30), "Delete I/O SQ while the CQ is full");
    // Two entries hold one completion; the worker blocks posting the second.
    let mut h = host_with_pair(16, 2);
    push_flushes(&mut h, 4);
    h.ring_sq(1);
    h.wait_completion(1, super::fake_host::TIMEOUT).expect("first completion");
    // The host does not reap the CQ before deleting the SQ (the admin command runs
    // on the thread that would take the CQ head doorbell).
    assert_eq!(h.admin(cmd::delete_sq(1)).status, Status::SUCCESS);
    h.ring_cq(1);
    assert_eq!(h.admin(cmd::delete_cq(1)).status, Status::SUCCESS);
    h.forget_queue(1);
    h.create_io_pair(1, 16, 16);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS, "a new queue pair works");
}

#[test]
fn reset_while_a_queue_is_busy_clears_rdy() {
    let _w = watchdog(Duration::from_secs(30), "controller reset with a busy queue");
    let mut h = host_with_pair(32, 2);
    push_flushes(&mut h, 20);
    h.ring_sq(1);
    h.wait_completion(1, super::fake_host::TIMEOUT).expect("first completion");
    h.disable();
    assert_eq!(h.csts() & csts::CFS, 0);
    // The controller comes back clean.
    h.enable();
    h.create_io_queues(1, 16);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
}

#[test]
fn shutdown_reports_complete_and_keeps_data() {
    let _w = watchdog(Duration::from_secs(30), "shutdown with a busy queue");
    let mut h = host_with_pair(32, 2);
    h.create_io_pair(2, 16, 16);
    let data = pattern(1024, 2);
    let buf = h.alloc_with(&data);
    assert_eq!(h.io(2, cmd::write(1, 11, 2).with_prps(buf, 0)).status, Status::SUCCESS);
    // Queue 1 is stuck on a full CQ when the shutdown notification comes.
    push_flushes(&mut h, 8);
    h.ring_sq(1);
    h.wait_completion(1, super::fake_host::TIMEOUT).expect("first completion");
    h.ctrl.mmio_write(reg::CC, 4, 0x0046_0001 | 1 << 14);
    assert_eq!(h.csts() & csts::SHST_MASK, csts::SHST_COMPLETE);
    h.disable();
    assert_eq!(h.csts() & csts::SHST_MASK, 0, "reset clears SHST");
    h.enable();
    h.create_io_queues(1, 16);
    assert_eq!(h.read_blocks(1, 11, 2), (Status::SUCCESS, data));
}

/// Issue 15: a host that lets the admin CQ fill must not stall the transport
/// thread, which also serves every doorbell and DMA message. The admin commands
/// beyond the CQ's room wait (in the SQ or as held completions) until the host
/// moves the admin CQ head; I/O goes on meanwhile; nothing is lost or reordered.
#[test]
fn a_full_admin_cq_does_not_stall_the_transport_thread() {
    use super::fake_host::ADMIN_ENTRIES;
    let mut h = FakeHost::with_io(Store::Mem, NsConfig::new(512));
    // Fill the admin CQ (it holds ADMIN_ENTRIES - 1) and submit as many again.
    let total = 2 * (ADMIN_ENTRIES as usize - 1);
    let mut cids = Vec::new();
    for round in 0..2 {
        for _ in 0..ADMIN_ENTRIES - 1 {
            cids.push(h.push(0, cmd::get_features(0x07, 0)));
        }
        // The doorbell write is the transport thread's work: it must come back.
        let t = std::thread::spawn(move || {
            h.ring_sq(0);
            h
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !t.is_finished() {
            assert!(
                Instant::now() < deadline,
                "round {round}: the admin SQ doorbell did not return: the transport thread waits on a full admin CQ"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        h = t.join().unwrap();
    }
    // The transport still serves I/O doorbells while the admin CQ is full.
    let c = h.io(1, cmd::flush(1));
    assert_eq!(c.status, Status::SUCCESS);
    // The host drains: every admin command completes once, in submission order.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < total {
        assert!(Instant::now() < deadline, "only {} of {total} admin completions arrived", got.len());
        match h.try_completion(0) {
            Some(e) => {
                assert_eq!(e.status, Status::SUCCESS);
                got.push(e.cid);
            }
            None => {
                h.ring_cq(0);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    h.ring_cq(0);
    assert_eq!(got, cids, "admin completions lost or reordered");
    // And the admin queue works as before.
    assert_eq!(h.admin(cmd::get_features(0x07, 0)).status, Status::SUCCESS);
}
