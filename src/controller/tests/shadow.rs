//! Shadow doorbells and EventIdx (NVMe-Base 5.2.5 Doorbell Buffer Config): the
//! host publishes SQ tails and CQ heads in guest memory and rings the real
//! doorbell only when the new value passes the controller's EventIdx, as Linux's
//! `nvme_dbbuf_update_and_check_event` does; everything published gets processed.

use super::fake_host::{cmd, pattern, FakeHost, NsConfig, Store, PAGE, TIMEOUT};
use crate::dma::{DmaMemory, GuestAddr};
use crate::spec::Status;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

/// The two host pages given to Doorbell Buffer Config.
#[derive(Clone, Copy)]
struct Shadow {
    db: u64,
    ei: u64,
}

impl Shadow {
    fn configure(h: &mut FakeHost) -> Shadow {
        let s = Shadow { db: h.alloc(PAGE), ei: h.alloc(PAGE) };
        assert_eq!(h.admin(cmd::doorbell_buffer_config(s.db, s.ei)).status, Status::SUCCESS);
        s
    }
    fn sq_tail(&self, h: &FakeHost, qid: u16) -> u16 {
        h.mem.read_u32(GuestAddr(self.db + 8 * qid as u64)).unwrap() as u16
    }
    fn sq_event(&self, h: &FakeHost, qid: u16) -> u16 {
        h.mem.read_u32(GuestAddr(self.ei + 8 * qid as u64)).unwrap() as u16
    }

    /// Publish the host's SQ tail in the shadow buffer only.
    fn publish_sq(&self, h: &FakeHost, qid: u16) -> (u16, u16) {
        let old = self.sq_tail(h, qid);
        let new = h.queue(qid).sq_tail;
        h.mem.write_u32(GuestAddr(self.db + 8 * qid as u64), new as u32).unwrap();
        (old, new)
    }
    /// Publish the host's CQ head in the shadow buffer only.
    fn publish_cq(&self, h: &FakeHost, qid: u16) {
        h.mem.write_u32(GuestAddr(self.db + 8 * qid as u64 + 4), h.queue(qid).cq_head as u32).unwrap();
    }

    /// Publish the SQ tail and ring the doorbell only if EventIdx asks for it.
    /// Returns whether it rang.
    fn submit_with_event_idx(&self, h: &mut FakeHost, qid: u16) -> bool {
        let (old, new) = self.publish_sq(h, qid);
        fence(Ordering::SeqCst);
        let ring = need_event(self.sq_event(h, qid), new, old);
        if ring {
            h.ring_sq(qid);
        }
        ring
    }
}

/// Linux's `nvme_dbbuf_need_event`: did `new` pass `event_idx` since `old`?
fn need_event(event_idx: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event_idx).wrapping_sub(1) < new.wrapping_sub(old)
}

fn host() -> (FakeHost, Shadow) {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    let s = Shadow::configure(&mut h);
    (h, s)
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn doorbell_buffer_config_needs_two_aligned_pages() {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    let p = h.alloc(2 * PAGE);
    for (db, ei) in [(0, p), (p, 0), (p + 8, p + PAGE), (p, p + PAGE + 0x800)] {
        let c = h.admin(cmd::doorbell_buffer_config(db, ei));
        assert_eq!(c.status, Status::INVALID_FIELD, "buffers {db:#x} {ei:#x}");
    }
}

#[test]
fn submissions_published_only_in_the_shadow_buffer_are_processed() {
    let (mut h, s) = host();
    h.create_io_pair(1, 16, 16);
    let cids: Vec<u16> = (0..3).map(|_| h.push(1, cmd::flush(1))).collect();
    s.publish_sq(&h, 1);
    for cid in cids {
        let e = h.wait_completion(1, TIMEOUT).expect("a command published only in the shadow buffer");
        assert_eq!((e.cid, e.status), (cid, Status::SUCCESS));
        s.publish_cq(&h, 1);
    }
}

#[test]
fn idle_worker_publishes_event_idx_at_its_head() {
    let (mut h, s) = host();
    h.create_io_pair(1, 16, 16);
    for _ in 0..5 {
        h.push(1, cmd::flush(1));
    }
    assert!(s.submit_with_event_idx(&mut h, 1), "an idle queue asks to be rung");
    for _ in 0..5 {
        h.wait_completion(1, TIMEOUT).expect("completion");
    }
    s.publish_cq(&h, 1);
    wait_until("EventIdx to reach the tail", || s.sq_event(&h, 1) == 5);
    // The next submission passes the EventIdx, so the host rings.
    h.push(1, cmd::flush(1));
    assert!(s.submit_with_event_idx(&mut h, 1));
    assert_eq!(h.wait_completion(1, TIMEOUT).expect("completion").status, Status::SUCCESS);
}

#[test]
fn event_idx_protocol_loses_no_submission_across_wraps() {
    let (mut h, s) = host();
    h.create_io_pair(1, 16, 16);
    let data = pattern(512, 1);
    let buf = h.alloc_with(&data);
    let mut expect = Vec::new();
    for burst in 1..=12u64 {
        for i in 0..burst % 5 + 1 {
            let slba = burst * 8 + i;
            expect.push(h.push(1, cmd::write(1, slba, 1).with_prps(buf, 0)));
        }
        s.submit_with_event_idx(&mut h, 1);
        while expect.len() > 8 {
            let e = h.wait_completion(1, TIMEOUT).expect("completion under EventIdx");
            assert_eq!((e.cid, e.status), (expect.remove(0), Status::SUCCESS));
            s.publish_cq(&h, 1);
        }
    }
    for cid in expect {
        let e = h.wait_completion(1, TIMEOUT).expect("completion under EventIdx");
        assert_eq!((e.cid, e.status), (cid, Status::SUCCESS));
        s.publish_cq(&h, 1);
    }
}

#[test]
fn cq_head_published_in_shadow_frees_a_full_cq() {
    let (mut h, s) = host();
    // Four entries hold three completions.
    h.create_io_pair(1, 16, 4);
    let cids: Vec<u16> = (0..6).map(|_| h.push(1, cmd::flush(1))).collect();
    s.submit_with_event_idx(&mut h, 1);
    for &cid in &cids[..3] {
        assert_eq!(h.wait_completion(1, TIMEOUT).expect("completion").cid, cid);
    }
    // Only the shadow buffer learns the new head; no doorbell write.
    s.publish_cq(&h, 1);
    for &cid in &cids[3..] {
        assert_eq!(h.wait_completion(1, TIMEOUT).expect("completion after the shadow head moved").cid, cid);
    }
}

#[test]
fn doorbell_buffer_config_after_queue_creation_keeps_the_tail() {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    h.create_io_pair(1, 16, 16);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS);
    let s = Shadow::configure(&mut h);
    assert_eq!(s.sq_tail(&h, 1), 2, "shadow seeded with the doorbell value");
    let cid = h.push(1, cmd::flush(1));
    s.publish_sq(&h, 1);
    let e = h.wait_completion(1, TIMEOUT).expect("completion through the shadow tail");
    assert_eq!((e.cid, e.status), (cid, Status::SUCCESS));
}
