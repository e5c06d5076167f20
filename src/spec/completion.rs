//! The 16-byte Completion Queue Entry (NVMe-Base 4.2.1, Figure 98).

use super::status::Status;

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
