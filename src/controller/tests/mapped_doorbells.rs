//! Doorbells in shared memory (mmap-poll, `controller::doorbell_area`): the host
//! stores doorbell values and never writes a register. The transport's poll runs
//! the admin queue; an I/O queue's worker finds its tail and, when its CQ is full,
//! its head in the area by itself. Invalid values still raise their events, and a
//! reset or a new queue starts from doorbells of 0.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store, TIMEOUT};
use crate::controller::doorbell_area::{cq_index, sq_index, DoorbellArea};
use crate::spec::Status;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

fn mapped_host(store: Store) -> FakeHost {
    let mut h = FakeHost::new(store, &[NsConfig::new(512)]);
    h.map_doorbells();
    h.enable();
    h
}

/// Store the host's SQ tail in the area only: no register write, no poll of the
/// area by the transport. Only the queue's own worker can notice it.
fn store_tail(h: &FakeHost, qid: u16) {
    h.mapped.as_ref().unwrap().store(sq_index(qid), h.queue(qid).sq_tail as u32);
}

fn admin_and_io_run_from_doorbells_stored_in_the_area(store: Store) {
    {
        let mut h = mapped_host(store);
        let (c, id) = h.identify(1, 0);
        assert_eq!(c.status, Status::SUCCESS);
        assert_eq!(&id[4..24], format!("{:<20}", "VNVME0001").as_bytes(), "Identify Controller's serial");
        h.create_io_queues(1, 16);
        let data = pattern(8 * 512, 3);
        assert_eq!(h.write_blocks(1, 40, &data), Status::SUCCESS);
        let (s, back) = h.read_blocks(1, 40, 8);
        assert_eq!((s, back), (Status::SUCCESS, data));
        // The worker finds a tail stored without any poll of the area.
        let cid = h.push(1, cmd::flush(1));
        store_tail(&h, 1);
        let e = h.wait_completion(1, TIMEOUT).expect("the worker polls its tail");
        assert_eq!((e.cid, e.status), (cid, Status::SUCCESS));
        let c = &h.ctrl.shared.counters;
        assert_eq!(c.doorbell_messages.load(Relaxed), 0, "no doorbell register was written");
        assert!(c.doorbells_mapped.load(Relaxed) >= 6, "the admin doorbells were found in the area");
    }
}

on_every_store!(admin_and_io_run_from_doorbells_stored_in_the_area);

#[test]
fn a_full_cq_waits_for_the_head_stored_in_the_area() {
    let mut h = mapped_host(Store::Mem);
    h.create_io_pair(1, 16, 4);
    let area = h.mapped.clone().unwrap();
    for _ in 0..8 {
        h.push(1, cmd::flush(1));
    }
    store_tail(&h, 1);
    // A CQ of 4 holds 3 completions; the rest wait for the host to consume.
    let mut got = 0;
    let t = Instant::now();
    while got < 8 {
        assert!(t.elapsed() < TIMEOUT, "only {got} of 8 completions arrived");
        match h.try_completion(1) {
            Some(e) => {
                assert_eq!(e.status, Status::SUCCESS);
                got += 1;
                // Consumed: say so in the area only (nothing polls it but the worker).
                area.store(cq_index(1), h.queue(1).cq_head as u32);
            }
            None => std::thread::sleep(Duration::from_micros(100)),
        }
    }
    assert!(h.try_completion(1).is_none(), "nothing more than submitted");
}

#[test]
fn invalid_values_in_the_area_raise_error_events() {
    let mut h = mapped_host(Store::Mem);
    h.create_io_pair(1, 16, 16);
    let area = h.mapped.clone().unwrap();
    let aer = h.submit(0, cmd::async_event_request());
    assert!(h.try_completion(0).is_none(), "AER waits for an event");
    // Three commands rung in the area only (no transport scan in between),
    // fetched and run, then a value beyond the queue.
    for _ in 0..3 {
        h.push(1, cmd::flush(1));
        store_tail(&h, 1);
        assert_eq!(h.wait_completion(1, TIMEOUT).expect("a completion").status, Status::SUCCESS);
    }
    area.store(sq_index(1), 16);
    assert!(!h.ctrl.poll_mapped_doorbells(), "only an I/O doorbell changed: no reason to look again soon");
    let e = h.wait_completion(0, TIMEOUT).expect("an Error event");
    h.ring_cq(0);
    assert_eq!((e.cid, e.dw0), (aer, 0x0001_0100), "Invalid Doorbell Write Value");
    // The bad value was ignored: the worker ran nothing more (it stays at the
    // last valid tail, 3, and never goes back to an older one), and the queue
    // goes on from there.
    assert!(h.wait_completion(1, Duration::from_millis(50)).is_none(), "no command run for the bad value");
    area.store(sq_index(1), 3);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
    assert!(!h.ctrl.poll_mapped_doorbells(), "nothing new since the last look");
}

#[test]
fn reset_and_queue_creation_clear_stale_doorbells() {
    let mut h = mapped_host(Store::Mem);
    h.create_io_pair(1, 16, 16);
    let area = h.mapped.clone().unwrap();
    // A value left behind, as a host that goes away mid-queue leaves it.
    area.store(sq_index(1), 5);
    area.store(sq_index(3), 7);
    h.disable();
    assert_eq!((area.load(sq_index(1)), area.load(sq_index(3))), (0, 0), "reset clears every doorbell");
    h.enable();
    area.store(sq_index(2), 9);
    area.store(cq_index(2), 9);
    // Creating queue 2 starts its doorbells at 0: the worker must not take the
    // stale 9 for a tail and run nine commands of zeroes.
    h.create_io_pair(2, 16, 16);
    assert_eq!((area.load(sq_index(2)), area.load(cq_index(2))), (0, 0));
    assert_eq!(h.io(2, cmd::flush(1)).status, Status::SUCCESS);
    assert!(h.wait_completion(2, Duration::from_millis(50)).is_none(), "no phantom commands");
}
