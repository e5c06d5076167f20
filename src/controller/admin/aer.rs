//! Asynchronous Event Request (NVMe-Base 5.1.2) and the event queue behind it.
//!
//! Events wait in a queue until an AER command is outstanding; an event type
//! stays masked after it was reported until the host reads the log page named in
//! the completion (with RAE cleared), as the spec requires.

use super::{fail, Outcome};
use crate::controller::Controller;
use crate::spec::{CompletionEntry, Status, SubmissionEntry};

/// Asynchronous Event Types (NVMe-Base Figure 146).
pub const TYPE_ERROR: u8 = 0;
pub const TYPE_SMART: u8 = 1;
pub const TYPE_NOTICE: u8 = 2;

/// Error status information (Figure 147).
pub const ERROR_INVALID_DOORBELL_REGISTER: u8 = 0x00;
pub const ERROR_INVALID_DOORBELL_VALUE: u8 = 0x01;
/// SMART / health information (Figure 148).
pub const SMART_TEMPERATURE: u8 = 0x01;
/// Notice information (Figure 149).
pub const NOTICE_NS_ATTRIBUTE_CHANGED: u8 = 0x00;
/// Zone Descriptor Changed (ZNS Figure 43), reported with log page BFh and the
/// namespace in DW1.
pub const NOTICE_ZONE_DESCRIPTOR_CHANGED: u8 = 0xef;
/// Asynchronous Event Configuration bit 27: Zone Descriptor Changed Notices
/// (ZNS Figure 42); Identify Controller OAES bit 27 advertises them.
pub const AEC_ZONE_DESCRIPTOR_CHANGED: u32 = 1 << 27;

/// Limit on outstanding AER commands (Identify AERL is zero's based).
pub const AERL: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncEvent {
    pub etype: u8,
    pub info: u8,
    pub log_page: u8,
    /// Completion DW1: the namespace, for the events that name one (0 otherwise).
    pub nsid: u32,
}

impl AsyncEvent {
    pub fn error(info: u8) -> Self {
        AsyncEvent { etype: TYPE_ERROR, info, log_page: 0x01, nsid: 0 }
    }
    pub fn smart(info: u8) -> Self {
        AsyncEvent { etype: TYPE_SMART, info, log_page: 0x02, nsid: 0 }
    }
    pub fn notice(info: u8, log_page: u8) -> Self {
        AsyncEvent { etype: TYPE_NOTICE, info, log_page, nsid: 0 }
    }
    fn dw0(&self) -> u32 {
        self.etype as u32 | (self.info as u32) << 8 | (self.log_page as u32) << 16
    }
}

#[derive(Default)]
pub struct AerState {
    /// CIDs of outstanding AER commands.
    pub outstanding: Vec<u16>,
    pub pending: Vec<AsyncEvent>,
    /// Event types reported and not yet cleared by reading their log page.
    pub masked_types: u8,
    /// Async Event Configuration (Set Features FID 0Bh) bits.
    pub config: u32,
    /// Namespaces whose attributes changed since the host last read log 04h.
    pub changed_namespaces: Vec<u32>,
}

impl AerState {
    /// Queue an event; return completions for AERs that can complete now.
    pub fn raise(&mut self, ev: AsyncEvent) -> Vec<CompletionEntry> {
        if !self.pending.contains(&ev) {
            self.pending.push(ev);
        }
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<CompletionEntry> {
        let mut out = Vec::new();
        while !self.outstanding.is_empty() {
            let Some(i) = self.pending.iter().position(|e| self.masked_types & (1 << e.etype) == 0) else { break };
            let ev = self.pending.remove(i);
            self.masked_types |= 1 << ev.etype;
            let cid = self.outstanding.remove(0);
            out.push(CompletionEntry {
                dw0: ev.dw0(),
                dw1: ev.nsid,
                sq_head: 0,
                sq_id: 0,
                cid,
                status: Status::SUCCESS,
            });
        }
        out
    }

    /// The host read log page `lid` with RAE clear: unmask the types it reports.
    pub fn log_read(&mut self, lid: u8) -> Vec<CompletionEntry> {
        let t = match lid {
            0x01 => TYPE_ERROR,
            0x02 => TYPE_SMART,
            0x04 | 0xbf => TYPE_NOTICE,
            _ => return Vec::new(),
        };
        self.masked_types &= !(1 << t);
        self.drain()
    }
}

/// Namespace Attribute Changed (NVMe-Base 5.1.2.1, notice 00h): add `nsids` to
/// the Changed Namespace List (log 04h), then send the event unless the host
/// masked it (Asynchronous Event Configuration bit 8, Namespace Attribute Notices).
pub fn namespace_attribute_changed(sh: &crate::controller::Shared, nsids: &[u32]) {
    if nsids.is_empty() {
        return;
    }
    let enabled = {
        let mut a = sh.aer.lock().unwrap();
        for &n in nsids {
            if !a.changed_namespaces.contains(&n) {
                a.changed_namespaces.push(n);
            }
        }
        a.config & (1 << 8) != 0
    };
    if enabled {
        sh.raise_event(AsyncEvent::notice(NOTICE_NS_ATTRIBUTE_CHANGED, 0x04));
    }
}

pub fn request(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let sh = ctrl.shared.clone();
    let done = {
        let mut a = sh.aer.lock().unwrap();
        if a.outstanding.len() > AERL as usize {
            return fail(Status::AER_LIMIT_EXCEEDED);
        }
        a.outstanding.push(sqe.cid());
        a.drain()
    };
    sh.complete_aers(done);
    Outcome::Deferred
}

/// Zone Descriptor Changed (ZNS 4.1.1): the controller changed a zone of
/// namespace `nsid` on its own (here: a fault rule made it Read Only or
/// Offline). The zone is on the Changed Zone List already; the notice goes out
/// only if the host enabled it (AEC bit 27; Linux does not).
pub fn zone_descriptor_changed(sh: &crate::controller::Shared, nsid: u32) {
    if sh.aer.lock().unwrap().config & AEC_ZONE_DESCRIPTOR_CHANGED != 0 {
        sh.raise_event(AsyncEvent { nsid, ..AsyncEvent::notice(NOTICE_ZONE_DESCRIPTOR_CHANGED, 0xbf) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_waits_for_request_and_type_masks_until_log_read() {
        let mut a = AerState::default();
        assert!(a.raise(AsyncEvent::error(1)).is_empty());
        a.outstanding.push(10);
        let c = a.drain();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].dw0, 0x0001_0100);
        a.outstanding.push(11);
        assert!(a.raise(AsyncEvent::error(0)).is_empty(), "error type masked until log read");
        assert_eq!(a.log_read(0x01).len(), 1);
    }
}
