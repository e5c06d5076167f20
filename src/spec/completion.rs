//! The 16-byte Completion Queue Entry (NVMe-Base 4.2.1, Figure 98), and [`Completion`]: what a
//! command finished with, before the queue adds its head, queue id, command id and phase.

use super::status::Status;

/// How a command finished: its status, DW0 (command specific), and the LBA an error concerns,
/// for the Error Information log entry (NVMe-Base 5.1.12.1.2, Figure 206 "LBA"). The one result
/// shape of admin and I/O commands; a failing step returns it as its error, so `?` works on
/// anything that converts into it (a [`Status`], a PI error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub dw0: u32,
    /// Command specific; Zone Append's Assigned LBA bits 63:32 (ZNS 3.4.1).
    pub dw1: u32,
    pub status: Status,
    /// The LBA the error concerns, for the Error Information log.
    pub lba: Option<u64>,
}

impl Completion {
    pub const fn ok() -> Self {
        Completion { dw0: 0, dw1: 0, status: Status::SUCCESS, lba: None }
    }
    /// Success with a command-specific DW0.
    pub const fn done(dw0: u32) -> Self {
        Completion { dw0, dw1: 0, status: Status::SUCCESS, lba: None }
    }
    pub const fn err(status: Status) -> Self {
        Completion { dw0: 0, dw1: 0, status, lba: None }
    }
    pub const fn err_at(status: Status, lba: u64) -> Self {
        Completion { dw0: 0, dw1: 0, status, lba: Some(lba) }
    }
}

impl From<Status> for Completion {
    fn from(status: Status) -> Self {
        Completion::err(status)
    }
}

/// A command body written as `Result<(), E>` finishes with success or its error.
impl<E: Into<Completion>> From<Result<(), E>> for Completion {
    fn from(r: Result<(), E>) -> Self {
        match r {
            Ok(()) => Completion::ok(),
            Err(e) => e.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompletionEntry {
    /// DW0: command specific.
    pub dw0: u32,
    /// DW1: command specific (reserved for most commands).
    pub dw1: u32,
    /// DW2 bits 15:0: SQ Head Pointer.
    pub sq_head: u16,
    /// DW2 bits 31:16: SQ Identifier.
    pub sq_id: u16,
    /// DW3 bits 15:0: Command Identifier.
    pub cid: u16,
    pub status: Status,
}

impl CompletionEntry {
    pub const SIZE: usize = 16;

    /// The entry that posts `c` for command `cid` of submission queue `sq_id`, whose head is now
    /// `sq_head` (DW1 is reserved for every command vnvme implements).
    pub fn of(c: &Completion, sq_head: u16, sq_id: u16, cid: u16) -> Self {
        CompletionEntry { dw0: c.dw0, dw1: c.dw1, sq_head, sq_id, cid, status: c.status }
    }

    /// The first 12 bytes (DW0-DW2). The controller writes these before DW3, which
    /// holds the phase tag, so a host never sees a valid phase with stale contents.
    pub fn low_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.dw0.to_le_bytes());
        b[4..8].copy_from_slice(&self.dw1.to_le_bytes());
        b[8..10].copy_from_slice(&self.sq_head.to_le_bytes());
        b[10..12].copy_from_slice(&self.sq_id.to_le_bytes());
        b
    }

    /// DW3 with the given phase tag.
    pub fn dw3(&self, phase: bool) -> u32 {
        self.cid as u32 | (phase as u32) << 16 | (self.status.field() as u32) << 17
    }

    pub fn parse(b: &[u8; 16]) -> (Self, bool) {
        let dw = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
        let dw3 = dw(3);
        (
            CompletionEntry {
                dw0: dw(0),
                dw1: dw(1),
                sq_head: dw(2) as u16,
                sq_id: (dw(2) >> 16) as u16,
                cid: dw3 as u16,
                status: Status::from_field((dw3 >> 17) as u16),
            },
            dw3 & (1 << 16) != 0,
        )
    }
}
