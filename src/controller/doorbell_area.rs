//! Doorbells in shared memory (`serve --doorbells mmap-poll`).
//!
//! In this mode BAR0's doorbell page is memory the host maps and writes with plain
//! stores: no message, no trap, no notification reaches the device. The device
//! polls it instead, as SPDK's vfio-user target does. The area uses the register
//! layout (DSTRD 0: SQ y tail at dword 2y, CQ y head at dword 2y+1).
//!
//! Who reads what, so that no value is applied out of order:
//! - an I/O queue's worker reads its SQ tail from the area (unless shadow
//!   doorbells are configured: then the shadow buffer is the newer value, as the
//!   host writes it first) and, while its CQ is full, its CQ head, under the CQ's
//!   ring lock (`CompletionQueue::post_or_abandon`);
//! - the transport thread scans the whole area for changed values
//!   (`Controller::poll_mapped_doorbells`): it runs the admin queue's doorbells,
//!   reports invalid values and doorbells of queues that do not exist (Invalid
//!   Doorbell events, NVMe-Base 5.1.2.1) and wakes a sleeping worker early. It
//!   never moves an I/O CQ head: a value it read may be older than one a worker
//!   already took, and moving the head back would hand the device slots the host
//!   has not consumed.
//!
//! Not implemented: a doorbell stride other than 4 bytes, and notification of any
//! kind (the mapped page has none; an idle worker backs off, see [`IdleBackoff`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Doorbell dwords the host writes into memory the device can read.
pub trait DoorbellArea: Send + Sync {
    /// Number of doorbell dwords the area holds.
    fn len(&self) -> usize;
    /// The dword at `index` (offset `0x1000 + 4 * index` in BAR0), read with
    /// Acquire so the queue entries the host wrote before it are visible.
    fn load(&self, index: usize) -> u32;
    /// Store a dword: a doorbell that arrived by message, or a reset to 0.
    fn store(&self, index: usize, value: u32);
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The dword index of SQ `qid`'s tail doorbell.
pub fn sq_index(qid: u16) -> usize {
    qid as usize * 2
}

/// The dword index of CQ `qid`'s head doorbell.
pub fn cq_index(qid: u16) -> usize {
    qid as usize * 2 + 1
}

/// An area in this process's own memory: for the in-process driver and tests.
pub struct LocalDoorbells(Box<[AtomicU32]>);

impl LocalDoorbells {
    pub fn new(dwords: usize) -> Self {
        LocalDoorbells((0..dwords).map(|_| AtomicU32::new(0)).collect())
    }
}

impl DoorbellArea for LocalDoorbells {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn load(&self, index: usize) -> u32 {
        self.0.get(index).map_or(0, |d| d.load(Ordering::Acquire))
    }
    fn store(&self, index: usize, value: u32) {
        if let Some(d) = self.0.get(index) {
            d.store(value, Ordering::Release);
        }
    }
}

/// How a poller waits when it finds nothing to do: it keeps looking for `spin`
/// after its last work, then sleeps for growing intervals, from 1 us up to `cap`.
/// The longest a new doorbell waits for an idle device is therefore about `cap`.
pub struct IdleBackoff {
    spin: Duration,
    cap: Duration,
    idle_since: Option<Instant>,
    sleep: Duration,
}

impl IdleBackoff {
    pub fn new(spin: Duration, cap: Duration) -> Self {
        IdleBackoff { spin, cap, idle_since: None, sleep: Duration::from_micros(1) }
    }

    /// Work was found: spin again next time.
    pub fn busy(&mut self) {
        self.idle_since = None;
        self.sleep = Duration::from_micros(1);
    }

    /// Nothing was found. Returns how long to sleep before looking again (zero
    /// while still spinning).
    pub fn idle(&mut self) -> Duration {
        let since = *self.idle_since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.spin {
            return Duration::ZERO;
        }
        let s = self.sleep;
        self.sleep = (self.sleep * 2).min(self.cap);
        s
    }
}

/// The back-off of mmap-poll workers and of the transport thread's admin poll:
/// spin `spin_us` (`serve --poll-us`) after the last command, then sleep up to 1 ms.
pub fn backoff(spin_us: u32) -> IdleBackoff {
    IdleBackoff::new(Duration::from_micros(spin_us as u64), MAX_IDLE_SLEEP)
}

/// The longest an idle poller sleeps between looks.
pub const MAX_IDLE_SLEEP: Duration = Duration::from_millis(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_area_keeps_dwords_and_ignores_indexes_beyond_it() {
        let a = LocalDoorbells::new(8);
        a.store(sq_index(1), 5);
        a.store(cq_index(1), 7);
        a.store(100, 9);
        assert_eq!((a.load(2), a.load(3), a.load(100), a.len()), (5, 7, 0, 8));
    }

    #[test]
    fn backoff_spins_then_doubles_up_to_its_cap() {
        let mut b = IdleBackoff::new(Duration::ZERO, Duration::from_micros(8));
        let got: Vec<u64> = (0..6).map(|_| b.idle().as_micros() as u64).collect();
        assert_eq!(got, [1, 2, 4, 8, 8, 8]);
        b.busy();
        assert_eq!(b.idle(), Duration::from_micros(1), "work resets the back-off");
        let mut s = IdleBackoff::new(Duration::from_secs(60), Duration::from_micros(8));
        assert_eq!(s.idle(), Duration::ZERO, "spinning first");
    }
}
