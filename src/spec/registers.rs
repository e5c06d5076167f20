//! Controller registers in BAR0 (NVMe-Base 3.1.4, Figure 33) and their fields.

pub const CAP: u64 = 0x00;
pub const VS: u64 = 0x08;
pub const INTMS: u64 = 0x0c;
pub const INTMC: u64 = 0x10;
pub const CC: u64 = 0x14;
pub const CSTS: u64 = 0x1c;
pub const NSSR: u64 = 0x20;
pub const AQA: u64 = 0x24;
pub const ASQ: u64 = 0x28;
pub const ACQ: u64 = 0x30;
pub const CMBLOC: u64 = 0x38;
pub const CMBSZ: u64 = 0x3c;
/// Start of the doorbell registers (NVMe-Base 3.1.4.22-23).
pub const DOORBELL_BASE: u64 = 0x1000;

/// NVMe version 2.1.0 (VS register layout: MJR 31:16, MNR 15:8, TER 7:0).
pub const VERSION_2_1: u32 = 0x0002_0100;

/// Controller Capabilities (NVMe-Base 3.1.4.1).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cap {
    /// Maximum Queue Entries Supported, zero's based.
    pub mqes: u16,
    /// Contiguous Queues Required.
    pub cqr: bool,
    /// Timeout, in 500 ms units.
    pub to: u8,
    /// Doorbell Stride: 2^(2+DSTRD) bytes.
    pub dstrd: u8,
    /// NVM Subsystem Reset Supported.
    pub nssrs: bool,
    /// Command Sets Supported (bit 0 NVM, bit 6 I/O command sets, bit 7 admin only).
    pub css: u8,
    /// Memory Page Size Minimum / Maximum: 2^(12+x).
    pub mpsmin: u8,
    pub mpsmax: u8,
}

impl Cap {
    pub fn to_u64(&self) -> u64 {
        self.mqes as u64
            | (self.cqr as u64) << 16
            | (self.to as u64) << 24
            | (self.dstrd as u64 & 0xf) << 32
            | (self.nssrs as u64) << 36
            | (self.css as u64) << 37
            | (self.mpsmin as u64 & 0xf) << 48
            | (self.mpsmax as u64 & 0xf) << 52
    }
}

/// Controller Configuration (NVMe-Base 3.1.4.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cc(pub u32);

impl Cc {
    pub fn en(self) -> bool {
        self.0 & 1 != 0
    }
    /// I/O Command Set Selected, bits 6:4.
    pub fn css(self) -> u8 {
        ((self.0 >> 4) & 7) as u8
    }
    /// Memory Page Size, bits 10:7: page = 2^(12+MPS).
    pub fn mps(self) -> u8 {
        ((self.0 >> 7) & 0xf) as u8
    }
    /// Arbitration Mechanism Selected, bits 13:11.
    pub fn ams(self) -> u8 {
        ((self.0 >> 11) & 7) as u8
    }
    /// Shutdown Notification, bits 15:14 (01b normal, 10b abrupt).
    pub fn shn(self) -> u8 {
        ((self.0 >> 14) & 3) as u8
    }
    /// I/O SQ Entry Size, bits 19:16 (2^n bytes).
    pub fn iosqes(self) -> u8 {
        ((self.0 >> 16) & 0xf) as u8
    }
    /// I/O CQ Entry Size, bits 23:20.
    pub fn iocqes(self) -> u8 {
        ((self.0 >> 20) & 0xf) as u8
    }
}

/// Controller Status bits (NVMe-Base 3.1.4.6).
pub mod csts {
    pub const RDY: u32 = 1 << 0;
    pub const CFS: u32 = 1 << 1;
    pub const SHST_MASK: u32 = 3 << 2;
    pub const SHST_OCCURRING: u32 = 1 << 2;
    pub const SHST_COMPLETE: u32 = 2 << 2;
    pub const NSSRO: u32 = 1 << 4;
}

/// Admin Queue Attributes (NVMe-Base 3.1.4.8): ASQS bits 11:0, ACQS bits 27:16,
/// both zero's based.
pub fn aqa_sizes(aqa: u32) -> (u16, u16) {
    ((aqa & 0xfff) as u16 + 1, ((aqa >> 16) & 0xfff) as u16 + 1)
}

/// Which queue a doorbell offset names, for a doorbell stride of 4 bytes (DSTRD 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doorbell {
    SqTail(u16),
    CqHead(u16),
}

/// The dword index of the doorbell at BAR0 `offset` (DSTRD 0: SQ y tail at 2y,
/// CQ y head at 2y + 1); None below the doorbells or off a dword boundary.
pub fn doorbell_index(offset: u64) -> Option<usize> {
    if offset < DOORBELL_BASE || !offset.is_multiple_of(4) {
        return None;
    }
    usize::try_from((offset - DOORBELL_BASE) / 4).ok()
}

pub fn doorbell_at(offset: u64) -> Option<Doorbell> {
    let idx = doorbell_index(offset)?;
    let qid = u16::try_from(idx / 2).ok()?;
    Some(if idx.is_multiple_of(2) { Doorbell::SqTail(qid) } else { Doorbell::CqHead(qid) })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn doorbell_offsets() {
        assert_eq!(doorbell_at(0x1000), Some(Doorbell::SqTail(0)));
        assert_eq!(doorbell_at(0x1004), Some(Doorbell::CqHead(0)));
        assert_eq!(doorbell_at(0x1008), Some(Doorbell::SqTail(1)));
        assert_eq!(doorbell_at(0x100c), Some(Doorbell::CqHead(1)));
        assert_eq!(doorbell_at(0x1002), None);
        assert_eq!(doorbell_at(0x0ffc), None);
    }
    #[test]
    fn cc_fields() {
        // What Linux writes: EN, CSS 0, MPS 0, AMS 0, IOSQES 6, IOCQES 4.
        let cc = Cc(0x0046_0001);
        assert!(cc.en());
        assert_eq!(cc.iosqes(), 6);
        assert_eq!(cc.iocqes(), 4);
        assert_eq!(cc.shn(), 0);
    }
}
