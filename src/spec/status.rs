//! Completion status values (NVMe-Base 4.2.3, Figures 101-106; NVM-CS 4.1.2).
//!
//! A [`Status`] is the Status Field of a completion queue entry without the phase
//! tag: Status Code (SC), Status Code Type (SCT), More (M) and Do Not Retry (DNR).
//! The type is open: any SCT/SC pair can be represented, so an injected fault or a
//! status this table does not name still round-trips.

/// Status Code Type values (NVMe-Base Figure 101).
pub mod sct {
    pub const GENERIC: u8 = 0;
    pub const COMMAND_SPECIFIC: u8 = 1;
    pub const MEDIA: u8 = 2;
    pub const PATH: u8 = 3;
    pub const VENDOR: u8 = 7;
}

/// A completion status: SCT, SC and the DNR / More bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    pub sct: u8,
    pub sc: u8,
    pub dnr: bool,
    pub more: bool,
}

impl Status {
    pub const fn new(sct: u8, sc: u8) -> Self {
        Status { sct, sc, dnr: false, more: false }
    }
    /// Same status with Do Not Retry set: used where retrying the same command
    /// cannot succeed (malformed input).
    pub const fn dnr(self) -> Self {
        Status { dnr: true, ..self }
    }
    pub const fn is_success(&self) -> bool {
        self.sct == 0 && self.sc == 0
    }
    /// The 15-bit Status Field (CQE DW3 bits 31:17, shifted down by 17).
    pub const fn field(&self) -> u16 {
        (self.sc as u16) | ((self.sct as u16 & 0x7) << 8) | ((self.more as u16) << 13) | ((self.dnr as u16) << 14)
    }
    pub const fn from_field(f: u16) -> Self {
        Status { sc: (f & 0xff) as u8, sct: ((f >> 8) & 0x7) as u8, more: f & (1 << 13) != 0, dnr: f & (1 << 14) != 0 }
    }
    /// The value nvme-cli prints ("status 0x282" for SCT 2 / SC 0x82), i.e. the
    /// field without M and DNR, with DNR at bit 14.
    pub const fn code(&self) -> u16 {
        ((self.sct as u16) << 8) | self.sc as u16
    }

    pub const SUCCESS: Status = Status::new(sct::GENERIC, 0x00);
    // Generic Command Status (NVMe-Base Figure 102).
    pub const INVALID_OPCODE: Status = Status::new(sct::GENERIC, 0x01).dnr();
    pub const INVALID_FIELD: Status = Status::new(sct::GENERIC, 0x02).dnr();
    pub const CID_CONFLICT: Status = Status::new(sct::GENERIC, 0x03).dnr();
    pub const DATA_TRANSFER_ERROR: Status = Status::new(sct::GENERIC, 0x04);
    pub const INTERNAL_ERROR: Status = Status::new(sct::GENERIC, 0x06);
    pub const ABORT_REQUESTED: Status = Status::new(sct::GENERIC, 0x07);
    pub const ABORTED_SQ_DELETION: Status = Status::new(sct::GENERIC, 0x08);
    pub const INVALID_NAMESPACE: Status = Status::new(sct::GENERIC, 0x0b).dnr();
    pub const COMMAND_SEQUENCE_ERROR: Status = Status::new(sct::GENERIC, 0x0c).dnr();
    pub const INVALID_SGL_SEGMENT_DESCRIPTOR: Status = Status::new(sct::GENERIC, 0x0d).dnr();
    pub const INVALID_SGL_DESCRIPTOR_COUNT: Status = Status::new(sct::GENERIC, 0x0e).dnr();
    pub const DATA_SGL_LENGTH_INVALID: Status = Status::new(sct::GENERIC, 0x0f).dnr();
    pub const METADATA_SGL_LENGTH_INVALID: Status = Status::new(sct::GENERIC, 0x10).dnr();
    pub const SGL_DESCRIPTOR_TYPE_INVALID: Status = Status::new(sct::GENERIC, 0x11).dnr();
    pub const PRP_OFFSET_INVALID: Status = Status::new(sct::GENERIC, 0x13).dnr();
    pub const SGL_OFFSET_INVALID: Status = Status::new(sct::GENERIC, 0x16).dnr();
    // NVM Command Set generic statuses (NVM-CS Figure 20 / NVMe-Base Figure 102, 80h-).
    pub const LBA_OUT_OF_RANGE: Status = Status::new(sct::GENERIC, 0x80).dnr();
    pub const CAPACITY_EXCEEDED: Status = Status::new(sct::GENERIC, 0x81).dnr();
    pub const NAMESPACE_NOT_READY: Status = Status::new(sct::GENERIC, 0x82);
    // Command Specific Status (NVMe-Base Figure 103).
    pub const INVALID_COMPLETION_QUEUE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x00).dnr();
    pub const INVALID_QUEUE_IDENTIFIER: Status = Status::new(sct::COMMAND_SPECIFIC, 0x01).dnr();
    pub const INVALID_QUEUE_SIZE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x02).dnr();
    pub const ABORT_LIMIT_EXCEEDED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x03).dnr();
    pub const AER_LIMIT_EXCEEDED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x05).dnr();
    pub const INVALID_INTERRUPT_VECTOR: Status = Status::new(sct::COMMAND_SPECIFIC, 0x08).dnr();
    pub const INVALID_LOG_PAGE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x09).dnr();
    pub const INVALID_FORMAT: Status = Status::new(sct::COMMAND_SPECIFIC, 0x0a).dnr();
    pub const INVALID_QUEUE_DELETION: Status = Status::new(sct::COMMAND_SPECIFIC, 0x0c).dnr();
    pub const FEATURE_NOT_SAVEABLE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x0d).dnr();
    pub const FEATURE_NOT_CHANGEABLE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x0e).dnr();
    // Namespace Management / Attachment (NVMe-Base Figure 103).
    pub const NS_INSUFFICIENT_CAPACITY: Status = Status::new(sct::COMMAND_SPECIFIC, 0x15).dnr();
    pub const NS_ID_UNAVAILABLE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x16).dnr();
    pub const NS_ALREADY_ATTACHED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x18).dnr();
    pub const NS_IS_PRIVATE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x19).dnr();
    pub const NS_NOT_ATTACHED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x1a).dnr();
    pub const THIN_PROVISIONING_NOT_SUPPORTED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x1b).dnr();
    pub const CONTROLLER_LIST_INVALID: Status = Status::new(sct::COMMAND_SPECIFIC, 0x1c).dnr();
    pub const IO_COMMAND_SET_NOT_SUPPORTED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x29).dnr();
    // NVM Command Set command specific (NVM-CS Figure 21).
    pub const CONFLICTING_ATTRIBUTES: Status = Status::new(sct::COMMAND_SPECIFIC, 0x80).dnr();
    pub const INVALID_PROTECTION_INFORMATION: Status = Status::new(sct::COMMAND_SPECIFIC, 0x81).dnr();
    pub const COMMAND_SIZE_LIMIT_EXCEEDED: Status = Status::new(sct::COMMAND_SPECIFIC, 0x83).dnr();
    pub const INCOMPATIBLE_NS_OR_FORMAT: Status = Status::new(sct::COMMAND_SPECIFIC, 0x85).dnr();
    pub const OVERLAPPING_IO_RANGE: Status = Status::new(sct::COMMAND_SPECIFIC, 0x87).dnr();
    // Media and Data Integrity Errors (NVMe-Base Figure 104, NVM-CS Figure 22).
    pub const WRITE_FAULT: Status = Status::new(sct::MEDIA, 0x80);
    pub const UNRECOVERED_READ_ERROR: Status = Status::new(sct::MEDIA, 0x81);
    pub const GUARD_CHECK_ERROR: Status = Status::new(sct::MEDIA, 0x82);
    pub const APP_TAG_CHECK_ERROR: Status = Status::new(sct::MEDIA, 0x83);
    pub const REF_TAG_CHECK_ERROR: Status = Status::new(sct::MEDIA, 0x84);
    pub const COMPARE_FAILURE: Status = Status::new(sct::MEDIA, 0x85);
    pub const STORAGE_TAG_CHECK_ERROR: Status = Status::new(sct::MEDIA, 0x88);

    /// A short name for logs and traces; unknown codes print numerically.
    pub fn name(&self) -> &'static str {
        match (self.sct, self.sc) {
            (0, 0x00) => "success",
            (0, 0x01) => "invalid opcode",
            (0, 0x02) => "invalid field",
            (0, 0x04) => "data transfer error",
            (0, 0x06) => "internal error",
            (0, 0x07) => "abort requested",
            (0, 0x08) => "aborted: SQ deletion",
            (0, 0x0b) => "invalid namespace or format",
            (0, 0x0c) => "command sequence error",
            (0, 0x0d) => "invalid SGL segment descriptor",
            (0, 0x0e) => "invalid number of SGL descriptors",
            (0, 0x0f) => "data SGL length invalid",
            (0, 0x10) => "metadata SGL length invalid",
            (0, 0x11) => "SGL descriptor type invalid",
            (0, 0x13) => "PRP offset invalid",
            (0, 0x16) => "SGL offset invalid",
            (0, 0x80) => "LBA out of range",
            (0, 0x81) => "capacity exceeded",
            (1, 0x00) => "invalid completion queue",
            (1, 0x01) => "invalid queue identifier",
            (1, 0x02) => "invalid queue size",
            (1, 0x05) => "AER limit exceeded",
            (1, 0x08) => "invalid interrupt vector",
            (1, 0x09) => "invalid log page",
            (1, 0x0a) => "invalid format",
            (1, 0x0c) => "invalid queue deletion",
            (1, 0x0d) => "feature not saveable",
            (1, 0x0e) => "feature not changeable",
            (1, 0x15) => "namespace insufficient capacity",
            (1, 0x16) => "namespace identifier unavailable",
            (1, 0x18) => "namespace already attached",
            (1, 0x19) => "namespace is private",
            (1, 0x1a) => "namespace not attached",
            (1, 0x1b) => "thin provisioning not supported",
            (1, 0x1c) => "controller list invalid",
            (1, 0x29) => "I/O command set not supported",
            (1, 0x81) => "invalid protection information",
            (1, 0x83) => "command size limit exceeded",
            (1, 0x85) => "incompatible namespace or format",
            (1, 0x87) => "overlapping I/O range",
            (2, 0x80) => "write fault",
            (2, 0x81) => "unrecovered read error",
            (2, 0x82) => "end-to-end guard check error",
            (2, 0x83) => "end-to-end application tag check error",
            (2, 0x84) => "end-to-end reference tag check error",
            (2, 0x85) => "compare failure",
            (2, 0x88) => "end-to-end storage tag check error",
            _ => "unnamed status",
        }
    }
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Status(sct {} sc {:#04x} {}{})", self.sct, self.sc, self.name(), if self.dnr { ", DNR" } else { "" })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (sct {:#x} sc {:#04x})", self.name(), self.sct, self.sc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_round_trips_and_places_bits() {
        let s = Status::GUARD_CHECK_ERROR.dnr();
        assert_eq!(s.field(), 0x82 | (2 << 8) | (1 << 14));
        assert_eq!(Status::from_field(s.field()), s);
        assert_eq!(Status::GUARD_CHECK_ERROR.code(), 0x282);
    }
}
