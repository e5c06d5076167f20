//! The Error Information log (NVMe-Base 5.1.12.1.2): a ring of the most recent
//! failed commands, each naming the queue, command id, status and, for media
//! errors, the LBA and namespace.

use crate::spec::{Status, SubmissionEntry};

pub const ENTRIES: usize = 64;

#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorEntry {
    pub count: u64,
    pub sqid: u16,
    pub cid: u16,
    pub status: u16,
    pub lba: u64,
    pub nsid: u32,
}

impl ErrorEntry {
    /// The 64-byte log entry (NVMe-Base Figure 206).
    pub fn encode(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&self.count.to_le_bytes());
        b[8..10].copy_from_slice(&self.sqid.to_le_bytes());
        b[10..12].copy_from_slice(&self.cid.to_le_bytes());
        // Status field, with the phase tag bit (bit 0) cleared.
        b[12..14].copy_from_slice(&(self.status << 1).to_le_bytes());
        b[14..16].copy_from_slice(&0xffffu16.to_le_bytes()); // parameter error location: n/a
        b[16..24].copy_from_slice(&self.lba.to_le_bytes());
        b[24..28].copy_from_slice(&self.nsid.to_le_bytes());
        b
    }
}

#[derive(Default)]
pub struct ErrorLog {
    pub total: u64,
    pub entries: std::collections::VecDeque<ErrorEntry>,
    /// Entries added since the host last read the log (for the AER Error event).
    pub unread: u64,
}

impl ErrorLog {
    pub fn record(&mut self, sqid: u16, sqe: &SubmissionEntry, status: Status, lba: Option<u64>) {
        self.total += 1;
        self.unread += 1;
        let e = ErrorEntry {
            count: self.total,
            sqid,
            cid: sqe.cid(),
            status: status.field(),
            lba: lba.unwrap_or(0),
            nsid: sqe.nsid(),
        };
        self.entries.push_front(e);
        self.entries.truncate(ENTRIES);
    }
}
