//! The Zoned Namespace Command Set's plain data (NVMe ZNS Command Set
//! Specification 1.1, "ZNS" below): opcodes, command-specific statuses, Zone
//! Management Send actions, Zone Management Receive actions and filters, the zone
//! states as Report Zones encodes them, and the Report Zones data layout.

use crate::spec::command::SubmissionEntry;

/// The Command Set Identifier of the Zoned Namespace Command Set (NVMe-Base
/// Figure 286 "Command Set Identifiers").
pub const CSI_ZNS: u8 = 0x02;

/// I/O opcodes the Zoned Namespace Command Set adds (ZNS 3.2, Figure 29).
pub mod opcode {
    pub const ZONE_MGMT_SEND: u8 = 0x79;
    pub const ZONE_MGMT_RECV: u8 = 0x7a;
    pub const ZONE_APPEND: u8 = 0x7d;
}

/// Command-specific statuses (SCT 1h) of the Zoned Namespace Command Set (ZNS
/// 3.1.2, Figure 30).
pub mod status {
    use crate::spec::status::{sct, Status};
    pub const ZONE_BOUNDARY_ERROR: Status = Status::new(sct::COMMAND_SPECIFIC, 0xb8).dnr();
    pub const ZONE_IS_FULL: Status = Status::new(sct::COMMAND_SPECIFIC, 0xb9).dnr();
    pub const ZONE_IS_READ_ONLY: Status = Status::new(sct::COMMAND_SPECIFIC, 0xba).dnr();
    pub const ZONE_IS_OFFLINE: Status = Status::new(sct::COMMAND_SPECIFIC, 0xbb).dnr();
    pub const ZONE_INVALID_WRITE: Status = Status::new(sct::COMMAND_SPECIFIC, 0xbc).dnr();
    /// Not DNR: the host may retry once it has finished or reset an active zone.
    pub const TOO_MANY_ACTIVE_ZONES: Status = Status::new(sct::COMMAND_SPECIFIC, 0xbd);
    /// Not DNR: the host may retry once it has closed an open zone.
    pub const TOO_MANY_OPEN_ZONES: Status = Status::new(sct::COMMAND_SPECIFIC, 0xbe);
    pub const INVALID_ZONE_STATE_TRANSITION: Status = Status::new(sct::COMMAND_SPECIFIC, 0xbf).dnr();
}

/// Zone Send Action (Zone Management Send CDW13 bits 7:0, ZNS 3.4.3, Figure 45).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendAction {
    Close,
    Finish,
    Open,
    Reset,
    Offline,
    SetDescriptorExtension,
}

impl SendAction {
    pub fn from_zsa(zsa: u8) -> Option<Self> {
        Some(match zsa {
            0x01 => SendAction::Close,
            0x02 => SendAction::Finish,
            0x03 => SendAction::Open,
            0x04 => SendAction::Reset,
            0x05 => SendAction::Offline,
            0x10 => SendAction::SetDescriptorExtension,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            SendAction::Close => "close",
            SendAction::Finish => "finish",
            SendAction::Open => "open",
            SendAction::Reset => "reset",
            SendAction::Offline => "offline",
            SendAction::SetDescriptorExtension => "set-descriptor-extension",
        }
    }
}

/// Zone Management Send CDW13 bit 8: Select All.
pub const SEND_SELECT_ALL: u32 = 1 << 8;

/// Zone Receive Action (Zone Management Receive CDW13 bits 7:0, ZNS 3.4.2).
pub const RECV_REPORT_ZONES: u8 = 0x00;
pub const RECV_EXTENDED_REPORT_ZONES: u8 = 0x01;
/// Zone Management Receive CDW13 bit 16: Partial Report.
pub const RECV_PARTIAL_REPORT: u32 = 1 << 16;

/// Zone State as a zone descriptor's ZS field encodes it (bits 7:4 of byte 1, ZNS
/// Figure 37).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneState {
    Empty,
    ImplicitlyOpened,
    ExplicitlyOpened,
    Closed,
    ReadOnly,
    Full,
    Offline,
}

impl ZoneState {
    pub fn zs(self) -> u8 {
        match self {
            ZoneState::Empty => 0x1,
            ZoneState::ImplicitlyOpened => 0x2,
            ZoneState::ExplicitlyOpened => 0x3,
            ZoneState::Closed => 0x4,
            ZoneState::ReadOnly => 0xd,
            ZoneState::Full => 0xe,
            ZoneState::Offline => 0xf,
        }
    }
    pub fn from_zs(zs: u8) -> Option<Self> {
        Some(match zs {
            0x1 => ZoneState::Empty,
            0x2 => ZoneState::ImplicitlyOpened,
            0x3 => ZoneState::ExplicitlyOpened,
            0x4 => ZoneState::Closed,
            0xd => ZoneState::ReadOnly,
            0xe => ZoneState::Full,
            0xf => ZoneState::Offline,
            _ => return None,
        })
    }
    /// Open zones (ZNS 2.1.1): implicitly or explicitly opened; they count
    /// against Maximum Open Resources.
    pub fn is_open(self) -> bool {
        matches!(self, ZoneState::ImplicitlyOpened | ZoneState::ExplicitlyOpened)
    }
    /// Active zones: the open ones and Closed; they count against Maximum Active
    /// Resources.
    pub fn is_active(self) -> bool {
        self.is_open() || self == ZoneState::Closed
    }
    pub fn name(self) -> &'static str {
        match self {
            ZoneState::Empty => "empty",
            ZoneState::ImplicitlyOpened => "implicitly-opened",
            ZoneState::ExplicitlyOpened => "explicitly-opened",
            ZoneState::Closed => "closed",
            ZoneState::ReadOnly => "read-only",
            ZoneState::Full => "full",
            ZoneState::Offline => "offline",
        }
    }
}

/// Zone Receive Action Specific Field (CDW13 bits 15:8): which zones a report
/// lists (ZNS 3.4.2, Figure 35).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFilter {
    All,
    Only(ZoneState),
}

impl ReportFilter {
    pub fn from_zrasf(v: u8) -> Option<Self> {
        Some(match v {
            0x00 => ReportFilter::All,
            0x01 => ReportFilter::Only(ZoneState::Empty),
            0x02 => ReportFilter::Only(ZoneState::ImplicitlyOpened),
            0x03 => ReportFilter::Only(ZoneState::ExplicitlyOpened),
            0x04 => ReportFilter::Only(ZoneState::Closed),
            0x05 => ReportFilter::Only(ZoneState::Full),
            0x06 => ReportFilter::Only(ZoneState::ReadOnly),
            0x07 => ReportFilter::Only(ZoneState::Offline),
            _ => return None,
        })
    }
    pub fn matches(self, s: ZoneState) -> bool {
        match self {
            ReportFilter::All => true,
            ReportFilter::Only(x) => x == s,
        }
    }
}

/// Report Zones data (ZNS 3.4.2.2): a 64-byte header whose first 8 bytes are the
/// Number of Zones, then 64-byte zone descriptors (Figure 37), each followed in
/// an extended report by its descriptor extension.
pub mod report {
    pub const HEADER_SIZE: usize = 64;
    pub const DESCRIPTOR_SIZE: usize = 64;
    /// Zone Type: Sequential Write Required (byte 0 bits 3:0).
    pub const ZT_SEQUENTIAL_WRITE_REQUIRED: u8 = 0x2;
    pub const ZT: usize = 0;
    pub const ZS: usize = 1;
    pub const ZA: usize = 2;
    pub const ZCAP: usize = 8;
    pub const ZSLBA: usize = 16;
    pub const WP: usize = 24;
}

/// Zone Attributes (descriptor byte 2, ZNS Figure 37).
pub mod zone_attr {
    /// Zone Finished by Controller.
    pub const ZFC: u8 = 1 << 0;
    /// Finish Zone Recommended.
    pub const FZR: u8 = 1 << 1;
    /// Reset Zone Recommended.
    pub const RZR: u8 = 1 << 2;
    /// Zone Descriptor Extension Valid.
    pub const ZDEV: u8 = 1 << 7;
}

/// Zone Management Send's command dwords (ZNS 3.4.3, Figure 43).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSendCommand(pub SubmissionEntry);

impl ZoneSendCommand {
    pub fn sqe(&self) -> &SubmissionEntry {
        &self.0
    }
    /// Starting LBA (CDW11:CDW10): the zone's lowest LBA; ignored with Select All.
    pub fn slba(&self) -> u64 {
        self.0.cdw10() as u64 | (self.0.cdw11() as u64) << 32
    }
    /// Zone Send Action, CDW13 bits 7:0.
    pub fn zsa(&self) -> u8 {
        self.0.cdw13() as u8
    }
    pub fn select_all(&self) -> bool {
        self.0.cdw13() & SEND_SELECT_ALL != 0
    }
}

/// Zone Management Receive's command dwords (ZNS 3.4.2, Figure 33).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneRecvCommand(pub SubmissionEntry);

impl ZoneRecvCommand {
    pub fn sqe(&self) -> &SubmissionEntry {
        &self.0
    }
    /// Starting LBA (CDW11:CDW10): any LBA of the first zone to report.
    pub fn slba(&self) -> u64 {
        self.0.cdw10() as u64 | (self.0.cdw11() as u64) << 32
    }
    /// The host buffer in bytes: (NUMD + 1) dwords, CDW12 being 0's based.
    pub fn bytes(&self) -> u64 {
        (self.0.cdw12() as u64 + 1) * 4
    }
    /// Zone Receive Action, CDW13 bits 7:0.
    pub fn zra(&self) -> u8 {
        self.0.cdw13() as u8
    }
    /// Zone Receive Action Specific Field, CDW13 bits 15:8.
    pub fn zrasf(&self) -> u8 {
        (self.0.cdw13() >> 8) as u8
    }
    pub fn partial(&self) -> bool {
        self.0.cdw13() & RECV_PARTIAL_REPORT != 0
    }
}

/// Zone Append CDW12 bit 25: Protection Information Remap (ZNS 3.4.1, Figure 23).
pub const APPEND_PIREMAP: u32 = 1 << 25;
