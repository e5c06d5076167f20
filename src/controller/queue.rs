//! Queue ring mechanics (NVMe-Base 3.3.1): head/tail arithmetic, the phase tag,
//! completion posting order, and waiting for completion queue space. Nothing here
//! knows what a command means.
//!
//! Ownership: a [`SubmissionQueue`]'s head belongs to the one thread that fetches
//! from it (the admin path or that queue's worker); its tail is written by the
//! doorbell path. A [`CompletionQueue`] may be shared by several submission queues,
//! so its tail and phase live under a mutex.

use super::doorbell_area::DoorbellArea;
use super::shadow::ShadowDoorbells;
use crate::dma::{DmaMemory, GuestAddr};
use crate::spec::CompletionEntry;
use std::sync::atomic::{fence, AtomicBool, AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Why a completion could not be posted.
#[derive(Debug, PartialEq, Eq)]
pub enum PostError {
    /// Writing the entry to guest memory failed: a controller fatal condition.
    Memory,
    /// The queue is being deleted or the controller reset.
    Closing,
    /// The queue was full and the caller's `give_up` said to stop waiting.
    Abandoned,
}

pub struct CompletionQueue {
    pub id: u16,
    pub base: u64,
    pub size: u16,
    pub vector: u16,
    pub interrupts_enabled: bool,
    ring: Mutex<CqRing>,
    space: Condvar,
    closing: AtomicBool,
    /// Number of submission queues that post here (for Delete I/O CQ checks).
    pub sq_refs: AtomicU32,
    /// In mmap-poll mode, where the host writes this queue's head doorbell:
    /// the area and the dword index. Read while the queue is full.
    mapped_head: Option<(Arc<dyn DoorbellArea>, usize)>,
}

#[derive(Debug)]
struct CqRing {
    tail: u16,
    head: u16,
    phase: bool,
}

impl CompletionQueue {
    pub fn new(id: u16, base: u64, size: u16, vector: u16, interrupts_enabled: bool) -> Self {
        CompletionQueue {
            id,
            base,
            size,
            vector,
            interrupts_enabled,
            ring: Mutex::new(CqRing { tail: 0, head: 0, phase: true }),
            space: Condvar::new(),
            closing: AtomicBool::new(false),
            sq_refs: AtomicU32::new(0),
            mapped_head: None,
        }
    }

    /// The host writes this queue's head doorbell into `area` at dword `index`
    /// (mmap-poll): a full queue looks there for room, as no message will come.
    pub fn with_mapped_head(mut self, area: Arc<dyn DoorbellArea>, index: usize) -> Self {
        self.mapped_head = Some((area, index));
        self
    }

    /// Host consumed entries up to `head` (CQ head doorbell). Returns false for an
    /// invalid value (beyond the queue), which is ignored.
    pub fn set_head(&self, head: u16) -> bool {
        self.head_doorbell(head, None)
    }

    /// The CQ head doorbell register was written with `value`. With shadow
    /// doorbells the head is taken from the shadow buffer instead, read under the
    /// ring lock: the host writes the shadow before the register, so the shadow
    /// is never older than the register write, while the register write reaches
    /// us as a message that may arrive after a worker has already taken a newer
    /// head from the shadow. Applying that stale value would move the head back
    /// and, on a full queue, make room that is not there: the next entries would
    /// overwrite ones the host has not consumed. Returns false (changing nothing)
    /// for a value beyond the queue.
    pub fn head_doorbell(&self, value: u16, shadow: Option<(&ShadowDoorbells, &dyn DmaMemory)>) -> bool {
        if value >= self.size {
            return false;
        }
        let mut r = self.ring.lock().unwrap();
        r.head = shadow.and_then(|(sh, mem)| sh.cq_head(mem, self.id)).filter(|&h| h < self.size).unwrap_or(value);
        drop(r);
        self.space.notify_all();
        true
    }

    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.space.notify_all();
    }

    /// No room for another entry until the host moves the head.
    pub fn is_full(&self) -> bool {
        let r = self.ring.lock().unwrap();
        (r.tail + 1) % self.size == r.head
    }

    /// Number of entries posted and not yet consumed by the host.
    pub fn pending(&self) -> u16 {
        let r = self.ring.lock().unwrap();
        (r.tail + self.size - r.head) % self.size
    }

    /// Post one entry, waiting for space if the queue is full. The entry's low 12
    /// bytes are written first, then DW3 (status and phase tag) as one 32-bit
    /// store with Release ordering, so the host never sees the new phase with old
    /// contents.
    pub fn post(
        &self,
        mem: &dyn DmaMemory,
        entry: &CompletionEntry,
        shadow: Option<&ShadowDoorbells>,
    ) -> Result<(), PostError> {
        self.post_or_abandon(mem, entry, shadow, &|| false)
    }

    /// [`post`](Self::post), but while the queue is full, stop waiting once
    /// `give_up` returns true. A waiter that cannot be woken by the host (the host's
    /// head doorbell is served by the thread that is waiting, or the submission
    /// queue is being deleted) must not wait forever.
    pub fn post_or_abandon(
        &self,
        mem: &dyn DmaMemory,
        entry: &CompletionEntry,
        shadow: Option<&ShadowDoorbells>,
        give_up: &dyn Fn() -> bool,
    ) -> Result<(), PostError> {
        let mut r = self.ring.lock().unwrap();
        loop {
            if self.closing.load(Ordering::SeqCst) {
                return Err(PostError::Closing);
            }
            if (r.tail + 1) % self.size != r.head {
                break;
            }
            // Full. With shadow doorbells the host may have moved the head without
            // ringing: look there, and ask to be rung (EventIdx) before sleeping.
            if let Some(sh) = shadow {
                if let Some(h) = sh.cq_head(mem, self.id).filter(|&h| h < self.size) {
                    if h != r.head {
                        r.head = h;
                        continue;
                    }
                }
                sh.set_cq_event(mem, self.id, r.head);
                fence(Ordering::SeqCst);
                if let Some(h) = sh.cq_head(mem, self.id).filter(|&h| h < self.size) {
                    if h != r.head {
                        r.head = h;
                        continue;
                    }
                }
            }
            // Mapped doorbells, without shadow ones (the host writes the shadow
            // first, so with both the mapped value may be the older one).
            let mapped = self.mapped_head.as_ref().filter(|_| shadow.is_none());
            if let Some((area, index)) = mapped {
                let h = area.load(*index);
                if h < self.size as u32 && h as u16 != r.head {
                    r.head = h as u16;
                    continue;
                }
            }
            if give_up() {
                return Err(PostError::Abandoned);
            }
            // Nothing tells the device that a mapped head moved: look again soon.
            let wait = if mapped.is_some() { Duration::from_micros(20) } else { Duration::from_millis(5) };
            r = self.space.wait_timeout(r, wait).unwrap().0;
        }
        let addr = self.base + r.tail as u64 * CompletionEntry::SIZE as u64;
        mem.write(GuestAddr(addr), &entry.low_bytes()).map_err(|_| PostError::Memory)?;
        mem.write_u32_release(GuestAddr(addr + 12), entry.dw3(r.phase)).map_err(|_| PostError::Memory)?;
        r.tail += 1;
        if r.tail == self.size {
            r.tail = 0;
            r.phase = !r.phase;
        }
        Ok(())
    }
}

/// The wake-up side of a submission queue: the doorbell path stores the tail and
/// notifies; the fetching thread sleeps here when the queue is empty.
pub struct SubmissionQueue {
    pub id: u16,
    pub base: u64,
    pub size: u16,
    pub cqid: u16,
    tail: AtomicU16,
    wake: Mutex<bool>,
    cv: Condvar,
    /// Set while the fetching thread sleeps in [`SubmissionQueue::wait`].
    sleeping: AtomicBool,
    pub stop: AtomicBool,
}

impl SubmissionQueue {
    pub fn new(id: u16, base: u64, size: u16, cqid: u16) -> Self {
        SubmissionQueue {
            id,
            base,
            size,
            cqid,
            tail: AtomicU16::new(0),
            wake: Mutex::new(false),
            cv: Condvar::new(),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    /// SQ tail doorbell. Returns false (and changes nothing) for a value beyond the queue.
    pub fn ring(&self, tail: u16) -> bool {
        if tail >= self.size {
            return false;
        }
        self.tail.store(tail, Ordering::Release);
        self.notify();
        true
    }

    pub fn notify(&self) {
        let mut w = self.wake.lock().unwrap();
        *w = true;
        drop(w);
        self.cv.notify_one();
    }

    pub fn doorbell_tail(&self) -> u16 {
        self.tail.load(Ordering::Acquire)
    }

    /// Keep a valid tail read from a mapped doorbell (mmap-poll) as the last
    /// valid one, which an invalid value written later falls back to.
    pub fn note_tail(&self, tail: u16) {
        if self.tail.load(Ordering::Relaxed) != tail {
            self.tail.store(tail, Ordering::Release);
        }
    }

    /// Wake the fetching thread only if it sleeps: a mapped doorbell found by
    /// the transport's scan (mmap-poll), where a busy worker is already looking.
    pub fn wake_if_sleeping(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            self.notify();
        }
    }

    /// Sleep until the doorbell rings (or `timeout` passes).
    pub fn wait(&self, timeout: Duration) {
        let mut w = self.wake.lock().unwrap();
        if !*w {
            self.sleeping.store(true, Ordering::SeqCst);
            w = self.cv.wait_timeout(w, timeout).unwrap().0;
            self.sleeping.store(false, Ordering::SeqCst);
        }
        *w = false;
    }

    pub fn entry_addr(&self, index: u16) -> u64 {
        self.base + index as u64 * 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dma::VecMemory;
    use crate::spec::Status;

    #[test]
    fn phase_flips_on_wrap_and_full_queue_waits_for_head() {
        let mem = VecMemory::new(1 << 16);
        let cq = CompletionQueue::new(1, 0x1000, 2, 0, true);
        let e = CompletionEntry { dw0: 0, dw1: 0, sq_head: 1, sq_id: 1, cid: 7, status: Status::SUCCESS };
        cq.post(&mem, &e, None).unwrap();
        let mut b = [0u8; 16];
        mem.read(GuestAddr(0x1000), &mut b).unwrap();
        let (got, phase) = CompletionEntry::parse(&b);
        assert!(phase);
        assert_eq!(got.cid, 7);
        // Size 2: one entry makes it full until the host moves the head.
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                assert!(cq.set_head(1));
            });
            cq.post(&mem, &e, None).unwrap();
        });
        mem.read(GuestAddr(0x1010), &mut b).unwrap();
        assert!(CompletionEntry::parse(&b).1);
        assert!(cq.set_head(0));
        cq.post(&mem, &e, None).unwrap();
        mem.read(GuestAddr(0x1000), &mut b).unwrap();
        assert!(!CompletionEntry::parse(&b).1, "phase flips after the wrap");
    }

    /// Guest memory that records each write: (address, length, released dword?).
    struct RecordingMemory {
        inner: VecMemory,
        writes: Mutex<Vec<(u64, usize, bool)>>,
    }

    impl DmaMemory for RecordingMemory {
        fn read(&self, gpa: GuestAddr, buf: &mut [u8]) -> Result<(), crate::dma::DmaError> {
            self.inner.read(gpa, buf)
        }
        fn write(&self, gpa: GuestAddr, data: &[u8]) -> Result<(), crate::dma::DmaError> {
            self.writes.lock().unwrap().push((gpa.0, data.len(), false));
            self.inner.write(gpa, data)
        }
        fn write_u32_release(&self, gpa: GuestAddr, v: u32) -> Result<(), crate::dma::DmaError> {
            self.writes.lock().unwrap().push((gpa.0, 4, true));
            self.inner.write_u32(gpa, v)
        }
    }

    /// With shadow doorbells, a CQ head register write reaches the device as a
    /// message, possibly after a worker took a newer head from the shadow buffer.
    /// Taking the message's stale value made a full queue look half empty, and the
    /// next completion overwrote one the host had not consumed.
    #[test]
    fn a_stale_head_doorbell_never_makes_room_the_host_has_not_given() {
        let mem = VecMemory::new(1 << 16);
        let sh = ShadowDoorbells { doorbells: 0x8000, event_idx: 0x9000 };
        sh.seed(&mem, 1, 0, 0);
        let cq = CompletionQueue::new(1, 0x1000, 4, 0, true);
        let e = |cid| CompletionEntry { dw0: 0, dw1: 0, sq_head: 0, sq_id: 1, cid, status: Status::SUCCESS };
        for cid in 0..3 {
            cq.post(&mem, &e(cid), Some(&sh)).unwrap();
        }
        // The host consumes one entry, writes the shadow head and rings the
        // register (the message is slow); then it consumes the other two, shadow only.
        mem.write_u32(GuestAddr(0x8000 + 12), 1).unwrap();
        mem.write_u32(GuestAddr(0x8000 + 12), 3).unwrap();
        // The worker finds the queue full, takes head 3 from the shadow and fills it again.
        for cid in 3..6 {
            cq.post(&mem, &e(cid), Some(&sh)).unwrap();
        }
        assert!(cq.is_full());
        // Now the register write of 1 arrives.
        assert!(cq.head_doorbell(1, Some((&sh, &mem))));
        assert!(cq.is_full(), "the stale head made room the host has not given");
        assert_eq!(cq.post_or_abandon(&mem, &e(6), Some(&sh), &|| true), Err(PostError::Abandoned));
        let mut b = [0u8; 16];
        mem.read(GuestAddr(0x1000 + 3 * 16), &mut b).unwrap();
        assert_eq!(CompletionEntry::parse(&b).0.cid, 3, "the entry the host reads next is intact");
        // Without shadow doorbells the register value is the head.
        let plain = CompletionQueue::new(2, 0x2000, 4, 0, true);
        for cid in 0..3 {
            plain.post(&mem, &e(cid), None).unwrap();
        }
        assert!(plain.head_doorbell(2, None));
        assert_eq!(plain.pending(), 1);
        assert!(!plain.head_doorbell(4, None), "beyond the queue");
    }

    #[test]
    fn entry_is_posted_as_twelve_bytes_then_the_released_phase_dword() {
        let mem = RecordingMemory { inner: VecMemory::new(1 << 16), writes: Mutex::new(Vec::new()) };
        let cq = CompletionQueue::new(1, 0x2000, 4, 0, true);
        let e = CompletionEntry { dw0: 5, dw1: 6, sq_head: 1, sq_id: 1, cid: 9, status: Status::SUCCESS };
        cq.post(&mem, &e, None).unwrap();
        cq.post(&mem, &e, None).unwrap();
        let w = mem.writes.lock().unwrap().clone();
        assert_eq!(w, [(0x2000, 12, false), (0x200c, 4, true), (0x2010, 12, false), (0x201c, 4, true)]);
        let mut b = [0u8; 16];
        mem.read(GuestAddr(0x2010), &mut b).unwrap();
        let (got, phase) = CompletionEntry::parse(&b);
        assert_eq!((got, phase), (e, true));
    }

    #[test]
    fn closing_unblocks_a_full_queue() {
        let mem = VecMemory::new(1 << 16);
        let cq = CompletionQueue::new(1, 0x1000, 2, 0, true);
        let e = CompletionEntry { dw0: 0, dw1: 0, sq_head: 0, sq_id: 1, cid: 1, status: Status::SUCCESS };
        cq.post(&mem, &e, None).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                cq.close();
            });
            assert_eq!(cq.post(&mem, &e, None), Err(PostError::Closing));
        });
    }

    #[test]
    fn invalid_doorbell_values_are_refused() {
        let sq = SubmissionQueue::new(1, 0, 16, 1);
        assert!(!sq.ring(16));
        assert!(sq.ring(15));
        assert_eq!(sq.doorbell_tail(), 15);
        let cq = CompletionQueue::new(1, 0, 4, 0, true);
        assert!(!cq.set_head(4));
    }
}
