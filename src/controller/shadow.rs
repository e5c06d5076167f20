//! Shadow doorbells and EventIdx (NVMe-Base 5.2.5 Doorbell Buffer Config).
//!
//! The host writes each new SQ tail / CQ head into the shadow doorbell buffer and
//! rings the real (trapped) doorbell only when the value passes the EventIdx the
//! controller published. A worker that is busy leaves its EventIdx behind, so the
//! host stops ringing; before it sleeps it publishes the value it has seen, so the
//! next submission rings. Both buffers use the doorbell register layout
//! (stride 4: SQ y tail at 8y, CQ y head at 8y+4).

use crate::dma::{DmaMemory, GuestAddr};

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
