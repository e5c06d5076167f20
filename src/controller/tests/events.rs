//! Asynchronous events from bad doorbell writes (NVMe-Base 3.1.4.22, 5.1.2):
//! a value beyond the queue, or a doorbell of a queue that does not exist, is
//! ignored and reported through an outstanding Asynchronous Event Request
//! (Error type); the event type stays masked until the host reads the Error log.

use super::fake_host::{cmd, cq_doorbell, sq_doorbell, FakeHost, NsConfig, Store, TIMEOUT};
use crate::spec::{CompletionEntry, Status};
use std::time::Duration;

/// DW0 of an AER completion: type, information, log page (NVMe-Base Figure 146).
fn event(etype: u8, info: u8, lid: u8) -> u32 {
    etype as u32 | (info as u32) << 8 | (lid as u32) << 16
}
const INVALID_DOORBELL_REGISTER: u32 = 0x0001_0000;
const INVALID_DOORBELL_VALUE: u32 = 0x0001_0100;

fn host() -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    h.create_io_pair(1, 16, 16);
    h
}

/// Submit an AER; it must stay outstanding.
fn request_event(h: &mut FakeHost) -> u16 {
    let cid = h.submit(0, cmd::async_event_request());
    assert!(h.try_completion(0).is_none(), "AER waits for an event");
    cid
}

fn admin_completion(h: &mut FakeHost) -> CompletionEntry {
    let e = h.wait_completion(0, TIMEOUT).expect("admin completion");
    h.ring_cq(0);
    e
}

#[test]
fn sq_tail_beyond_queue_size_raises_error_event() {
    let mut h = host();
    let aer = request_event(&mut h);
    h.ctrl.mmio_write(sq_doorbell(1), 4, 16);
    let e = admin_completion(&mut h);
    assert_eq!((e.cid, e.status), (aer, Status::SUCCESS));
    assert_eq!(e.dw0, INVALID_DOORBELL_VALUE);
    assert_eq!(e.dw0, event(0, 1, 0x01));
    // The bad value was ignored: the queue still works from where it was.
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
}

#[test]
fn cq_head_beyond_queue_size_raises_error_event() {
    let mut h = host();
    let aer = request_event(&mut h);
    h.ctrl.mmio_write(cq_doorbell(1), 4, 0xffff);
    let e = admin_completion(&mut h);
    assert_eq!((e.cid, e.dw0), (aer, INVALID_DOORBELL_VALUE));
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
}

#[test]
fn doorbell_of_missing_queue_raises_error_event() {
    let mut h = host();
    let aer = request_event(&mut h);
    h.ctrl.mmio_write(sq_doorbell(5), 4, 1);
    let e = admin_completion(&mut h);
    assert_eq!((e.cid, e.dw0), (aer, INVALID_DOORBELL_REGISTER));
}

#[test]
fn event_raised_before_a_request_waits_for_it() {
    let mut h = host();
    h.ctrl.mmio_write(sq_doorbell(1), 4, 100);
    let aer = h.submit(0, cmd::async_event_request());
    let e = admin_completion(&mut h);
    assert_eq!((e.cid, e.dw0), (aer, INVALID_DOORBELL_VALUE));
}

#[test]
fn error_events_stay_masked_until_the_error_log_is_read() {
    let mut h = host();
    request_event(&mut h);
    h.ctrl.mmio_write(sq_doorbell(1), 4, 16);
    admin_completion(&mut h);
    let second = request_event(&mut h);
    h.ctrl.mmio_write(sq_doorbell(7), 4, 1);
    assert!(h.wait_completion(0, Duration::from_millis(50)).is_none(), "masked until the log is read");
    // Reading log 01h with RAE clear unmasks Error events: the AER completes,
    // then the Get Log Page itself.
    let buf = h.alloc(64);
    let log = h.submit(0, cmd::get_log_page(0x01, 0, 64).with_prps(buf, 0));
    let mut done = [admin_completion(&mut h), admin_completion(&mut h)];
    done.sort_by_key(|e| e.cid != second);
    assert_eq!((done[0].cid, done[0].dw0), (second, INVALID_DOORBELL_REGISTER));
    assert_eq!((done[1].cid, done[1].status), (log, Status::SUCCESS));
}

#[test]
fn more_requests_than_aerl_is_aer_limit_exceeded() {
    let mut h = host();
    let (_, id) = h.identify(0x01, 0);
    let aerl = id[crate::spec::identify::ctrl::AERL] as usize + 1;
    for _ in 0..aerl {
        request_event(&mut h);
    }
    let c = h.admin(cmd::async_event_request());
    assert_eq!(c.status, Status::AER_LIMIT_EXCEEDED);
    assert_eq!((c.status.sct, c.status.sc, c.status.dnr), (1, 0x05, true));
}
