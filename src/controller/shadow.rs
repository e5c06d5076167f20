//! Shadow doorbells and EventIdx (NVMe-Base 5.2.5 Doorbell Buffer Config).
//!
//! The host writes each new SQ tail / CQ head into the shadow doorbell buffer and
//! rings the real (trapped) doorbell only when the value passes the EventIdx the
//! controller published. A worker that is busy leaves its EventIdx behind, so the
//! host stops ringing; before it sleeps it publishes the value it has seen, so the
//! next submission rings. Both buffers use the doorbell register layout
//! (stride 4: SQ y tail at 8y, CQ y head at 8y+4).

use crate::dma::{DmaMemory, GuestAddr};
use std::sync::atomic::{fence, AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowDoorbells {
    pub doorbells: u64,
    pub event_idx: u64,
}

impl ShadowDoorbells {
    fn sq_off(qid: u16) -> u64 {
        qid as u64 * 8
    }
    fn cq_off(qid: u16) -> u64 {
        qid as u64 * 8 + 4
    }
    pub fn sq_tail(&self, mem: &dyn DmaMemory, qid: u16) -> Option<u16> {
        mem.read_u32(GuestAddr(self.doorbells + Self::sq_off(qid))).ok().map(|v| v as u16)
    }
    pub fn cq_head(&self, mem: &dyn DmaMemory, qid: u16) -> Option<u16> {
        mem.read_u32(GuestAddr(self.doorbells + Self::cq_off(qid))).ok().map(|v| v as u16)
    }
    pub fn set_sq_event(&self, mem: &dyn DmaMemory, qid: u16, v: u16) {
        let _ = mem.write_u32(GuestAddr(self.event_idx + Self::sq_off(qid)), v as u32);
    }
    pub fn set_cq_event(&self, mem: &dyn DmaMemory, qid: u16, v: u16) {
        let _ = mem.write_u32(GuestAddr(self.event_idx + Self::cq_off(qid)), v as u32);
    }
    /// Seed the shadow buffer with the current doorbell values when the feature is
    /// enabled, so the first shadow read does not see stale zeroes.
    pub fn seed(&self, mem: &dyn DmaMemory, qid: u16, sq_tail: u16, cq_head: u16) {
        let _ = mem.write_u32(GuestAddr(self.doorbells + Self::sq_off(qid)), sq_tail as u32);
        let _ = mem.write_u32(GuestAddr(self.doorbells + Self::cq_off(qid)), cq_head as u32);
        self.set_sq_event(mem, qid, sq_tail);
        self.set_cq_event(mem, qid, cq_head);
    }
}

/// Where the shadow buffers are, readable by every queue worker without a lock:
/// a sequence lock over two atomics. Written only by the controller thread
/// (Doorbell Buffer Config, reset), read on every pass of a worker's loop.
#[derive(Default)]
pub struct ShadowCell {
    /// Odd while a write is in progress; bumped twice per write.
    seq: AtomicU64,
    /// Shadow doorbell buffer address, 0 when not configured (the buffer is
    /// page aligned and never at address 0 when configured: `set` refuses it).
    doorbells: AtomicU64,
    event_idx: AtomicU64,
}

impl ShadowCell {
    /// The configuration as one consistent pair.
    pub fn get(&self) -> Option<ShadowDoorbells> {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                let doorbells = self.doorbells.load(Ordering::Acquire);
                let event_idx = self.event_idx.load(Ordering::Acquire);
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == s1 {
                    return (doorbells != 0).then_some(ShadowDoorbells { doorbells, event_idx });
                }
            }
            std::hint::spin_loop();
        }
    }

    /// Configure or clear; one writer at a time (the controller thread). A
    /// doorbell buffer at guest address 0 is kept as "not configured".
    pub fn set(&self, v: Option<ShadowDoorbells>) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let (d, e) = v.map_or((0, 0), |v| (v.doorbells, v.event_idx));
        self.doorbells.store(d, Ordering::Release);
        self.event_idx.store(e, Ordering::Release);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn readers_never_see_half_a_change() {
        let c = Arc::new(ShadowCell::default());
        assert_eq!(c.get(), None);
        let a = ShadowDoorbells { doorbells: 0x1000, event_idx: 0x2000 };
        let b = ShadowDoorbells { doorbells: 0x7000, event_idx: 0x9000 };
        c.set(Some(a));
        assert_eq!(c.get(), Some(a));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let writer = {
            let (c, stop, writes) = (c.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    c.set(match i % 3 {
                        0 => Some(b),
                        1 => None,
                        _ => Some(a),
                    });
                    i += 1;
                    writes.store(i, Ordering::Relaxed);
                }
            })
        };
        // Read while the writer changes the value, until it has changed it often.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut reads = 0u64;
        while (writes.load(Ordering::Relaxed) < 100_000 || reads < 100_000) && std::time::Instant::now() < deadline {
            let v = c.get();
            assert!(v == Some(a) || v == Some(b) || v.is_none(), "torn: {v:?}");
            reads += 1;
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(writes.load(Ordering::Relaxed) >= 100_000, "the writer barely ran");
    }
}
