//! The I/O commands of the NVM Command Set as typed values: each command's dwords read by the
//! names the NVM Command Set Specification 1.1 (NVM-CS) gives them, so no handler shifts bits.
//!
//! A fetched [`SubmissionEntry`] is parsed once, by [`IoCommand::parse`], into the command its
//! opcode names; the controller's fault hook, the trace and the command's handler all read that
//! one value. Sections cited (all NVM-CS 1.1): Compare 3.3.1, Copy 3.3.2, Dataset Management
//! 3.3.3, Read 3.3.4, Verify 3.3.5, Write 3.3.6, Write Zeroes and Write Uncorrectable beside them
//! in 3.3; the PRINFO field and end-to-end protection 5.3. Flush is in the NVMe Base
//! Specification and has no command dwords of its own.
//!
//! Not here: the admin commands (still read from `SubmissionEntry::cdw10()..cdw15()`), and any
//! check that needs a namespace (ranges, formats): those belong to the `nvm` layer.

use super::command::SubmissionEntry;
use super::opcode::nvm as op;
use super::status::Status;
use super::zns::opcode as zop;

/// Protection Information field, PRINFO (NVM-CS 5.3, "Protection Information Field"): four bits,
/// PRACT in bit 3 and PRCHK in bits 2:0. Read, Write, Compare, Verify and Write Zeroes carry it
/// in CDW12 bits 29:26; Copy carries PRINFOW there and PRINFOR in CDW12 bits 15:12.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prinfo(u8);

impl Prinfo {
    /// From the four field bits; higher bits are dropped.
    pub const fn from_bits(bits: u8) -> Self {
        Prinfo(bits & 0xf)
    }
    /// The four field bits.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Bit 3, Protection Information Action: the controller inserts (writes) or strips (reads) PI.
    pub const fn pract(self) -> bool {
        self.0 & 0b1000 != 0
    }
    /// Bits 2:0, Protection Information Check, as the 3-bit field.
    pub const fn prchk(self) -> u8 {
        self.0 & 0b111
    }
    /// PRCHK bit 2: check the Guard field.
    pub const fn prchk_guard(self) -> bool {
        self.0 & 0b100 != 0
    }
    /// PRCHK bit 1: check the Application Tag field.
    pub const fn prchk_apptag(self) -> bool {
        self.0 & 0b010 != 0
    }
    /// PRCHK bit 0: check the Logical Block Reference Tag field.
    pub const fn prchk_reftag(self) -> bool {
        self.0 & 0b001 != 0
    }
}

/// The tag fields a command gives for its PI (NVM-CS 5.3.1.4.1): the variable-format Storage
/// and Reference Space (LBST/ILBRT on writes, ELBST/EILBRT on reads) over CDW2, CDW3 and CDW14,
/// whose split depends on the namespace's guard format and STS, and the application tag and
/// mask (LBAT/LBATM or ELBAT/ELBATM) in CDW15.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PiTags {
    pub cdw2: u32,
    pub cdw3: u32,
    /// ILBRT / EILBRT bits 31:0 (with a 16b guard the whole field).
    pub cdw14: u32,
    /// CDW15 bits 15:0: LBAT / ELBAT.
    pub lbat: u16,
    /// CDW15 bits 31:16: LBATM / ELBATM.
    pub lbatm: u16,
}

impl PiTags {
    fn of(sqe: &SubmissionEntry) -> Self {
        PiTags {
            cdw2: sqe.cdw2(),
            cdw3: sqe.cdw3(),
            cdw14: sqe.cdw14(),
            lbat: sqe.cdw15() as u16,
            lbatm: (sqe.cdw15() >> 16) as u16,
        }
    }
}

/// The fields Read, Write, Compare, Verify, Write Zeroes, Write Uncorrectable and Copy keep in
/// the same place: CDW12 bits 23:20 DTYPE, 30 FUA and 31 LR, CDW13 bits 31:16 DSPEC, and the PI
/// tags (CDW2, CDW3, CDW14, CDW15).
pub trait CommandFields {
    /// The entry the command was parsed from (NSID, CID, data pointers).
    fn sqe(&self) -> &SubmissionEntry;
    /// CDW12 bits 23:20: Directive Type.
    fn dtype(&self) -> u8 {
        ((self.sqe().cdw12() >> 20) & 0xf) as u8
    }
    /// CDW12 bit 30: Force Unit Access.
    fn fua(&self) -> bool {
        self.sqe().cdw12() & (1 << 30) != 0
    }
    /// CDW12 bit 31: Limited Retry.
    fn lr(&self) -> bool {
        self.sqe().cdw12() & (1 << 31) != 0
    }
    /// CDW13 bits 31:16: Directive Specific.
    fn dspec(&self) -> u16 {
        (self.sqe().cdw13() >> 16) as u16
    }
    /// Every PI tag field of the command.
    fn tags(&self) -> PiTags {
        PiTags::of(self.sqe())
    }
}

/// The CDW10-15 layout Read, Write, Compare, Verify, Write Zeroes and Write Uncorrectable
/// share (NVM-CS 3.3.4 Figure "Read - Command Dword 12" and its siblings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RwCommand(SubmissionEntry);

impl RwCommand {
    /// Starting LBA, CDW11:CDW10.
    pub fn slba(&self) -> u64 {
        self.0.cdw10() as u64 | (self.0.cdw11() as u64) << 32
    }
    /// Number of Logical Blocks, CDW12 bits 15:0, a 0's based value.
    pub fn nlb(&self) -> u16 {
        self.0.cdw12() as u16
    }
    /// The number of blocks the command names: NLB + 1.
    pub fn blocks(&self) -> u64 {
        self.nlb() as u64 + 1
    }
    /// CDW12 bit 24: Storage Tag Check.
    pub fn stc(&self) -> bool {
        self.0.cdw12() & (1 << 24) != 0
    }
    /// CDW12 bit 25: Deallocate (Write Zeroes only; reserved elsewhere).
    pub fn deac(&self) -> bool {
        self.0.cdw12() & (1 << 25) != 0
    }
    /// CDW12 bits 29:26: Protection Information field.
    pub fn prinfo(&self) -> Prinfo {
        Prinfo::from_bits((self.0.cdw12() >> 26) as u8)
    }
    /// CDW13 bits 7:0: Dataset Management hints.
    pub fn dsm(&self) -> u8 {
        self.0.cdw13() as u8
    }
    /// CDW14 bits 31:0: ILBRT (writes) or EILBRT (reads), the low bits of the tag field.
    pub fn ilbrt(&self) -> u32 {
        self.0.cdw14()
    }
    /// CDW15 bits 15:0: LBAT (writes) or ELBAT (reads).
    pub fn lbat(&self) -> u16 {
        self.0.cdw15() as u16
    }
    /// CDW15 bits 31:16: LBATM (writes) or ELBATM (reads).
    pub fn lbatm(&self) -> u16 {
        (self.0.cdw15() >> 16) as u16
    }
}

impl CommandFields for RwCommand {
    fn sqe(&self) -> &SubmissionEntry {
        &self.0
    }
}

/// Copy's command dwords (NVM-CS 3.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyCommand(SubmissionEntry);

impl CopyCommand {
    /// Starting Destination LBA, CDW11:CDW10.
    pub fn sdlba(&self) -> u64 {
        self.0.cdw10() as u64 | (self.0.cdw11() as u64) << 32
    }
    /// Number of Ranges, CDW12 bits 7:0, a 0's based value.
    pub fn nr(&self) -> u8 {
        self.0.cdw12() as u8
    }
    /// The number of source ranges: NR + 1.
    pub fn ranges(&self) -> usize {
        self.nr() as usize + 1
    }
    /// Descriptor Format, CDW12 bits 11:8.
    pub fn desc_format(&self) -> u8 {
        ((self.0.cdw12() >> 8) & 0xf) as u8
    }
    /// Protection Information Field Read, CDW12 bits 15:12: PRACT and PRCHK for the sources.
    pub fn prinfor(&self) -> Prinfo {
        Prinfo::from_bits((self.0.cdw12() >> 12) as u8)
    }
    /// CDW12 bit 24: Storage Tag Check Write.
    pub fn stcw(&self) -> bool {
        self.0.cdw12() & (1 << 24) != 0
    }
    /// CDW12 bit 25: Storage Tag Check Read.
    pub fn stcr(&self) -> bool {
        self.0.cdw12() & (1 << 25) != 0
    }
    /// Protection Information Field Write, CDW12 bits 29:26: PRACT and PRCHK for the destination.
    pub fn prinfow(&self) -> Prinfo {
        Prinfo::from_bits((self.0.cdw12() >> 26) as u8)
    }
}

/// Copy's `tags()` are the destination's: LBST/ILBRT and LBAT/LBATM.
impl CommandFields for CopyCommand {
    fn sqe(&self) -> &SubmissionEntry {
        &self.0
    }
}

/// Dataset Management's command dwords (NVM-CS 3.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsmCommand(SubmissionEntry);

impl DsmCommand {
    pub fn sqe(&self) -> &SubmissionEntry {
        &self.0
    }
    /// Number of Ranges, CDW10 bits 7:0, a 0's based value.
    pub fn nr(&self) -> u8 {
        self.0.cdw10() as u8
    }
    /// The number of ranges: NR + 1.
    pub fn ranges(&self) -> usize {
        self.nr() as usize + 1
    }
    /// CDW11 bit 0: Attribute - Integral Dataset for Read.
    pub fn idr(&self) -> bool {
        self.0.cdw11() & 1 != 0
    }
    /// CDW11 bit 1: Attribute - Integral Dataset for Write.
    pub fn idw(&self) -> bool {
        self.0.cdw11() & (1 << 1) != 0
    }
    /// CDW11 bit 2: Attribute - Deallocate.
    pub fn ad(&self) -> bool {
        self.0.cdw11() & (1 << 2) != 0
    }
}

/// An I/O command, parsed once from its submission entry by opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoCommand {
    Flush(SubmissionEntry),
    Write(RwCommand),
    Read(RwCommand),
    WriteUncorrectable(RwCommand),
    Compare(RwCommand),
    WriteZeroes(RwCommand),
    DatasetManagement(DsmCommand),
    Verify(RwCommand),
    Copy(CopyCommand),
    /// Zone Append (ZNS 3.4.1): a write's dwords, SLBA naming the zone.
    ZoneAppend(RwCommand),
    ZoneMgmtSend(crate::spec::zns::ZoneSendCommand),
    ZoneMgmtRecv(crate::spec::zns::ZoneRecvCommand),
    /// An opcode vnvme does not implement (Invalid Command Opcode).
    Unsupported(SubmissionEntry),
}

impl IoCommand {
    pub fn parse(sqe: &SubmissionEntry) -> Self {
        let rw = RwCommand(*sqe);
        match sqe.opcode() {
            op::FLUSH => IoCommand::Flush(*sqe),
            op::WRITE => IoCommand::Write(rw),
            op::READ => IoCommand::Read(rw),
            op::WRITE_UNCORRECTABLE => IoCommand::WriteUncorrectable(rw),
            op::COMPARE => IoCommand::Compare(rw),
            op::WRITE_ZEROES => IoCommand::WriteZeroes(rw),
            op::DATASET_MANAGEMENT => IoCommand::DatasetManagement(DsmCommand(*sqe)),
            op::VERIFY => IoCommand::Verify(rw),
            op::COPY => IoCommand::Copy(CopyCommand(*sqe)),
            zop::ZONE_APPEND => IoCommand::ZoneAppend(rw),
            zop::ZONE_MGMT_SEND => IoCommand::ZoneMgmtSend(crate::spec::zns::ZoneSendCommand(*sqe)),
            zop::ZONE_MGMT_RECV => IoCommand::ZoneMgmtRecv(crate::spec::zns::ZoneRecvCommand(*sqe)),
            _ => IoCommand::Unsupported(*sqe),
        }
    }

    pub fn sqe(&self) -> &SubmissionEntry {
        match self {
            IoCommand::Flush(s) | IoCommand::Unsupported(s) => s,
            IoCommand::Write(c)
            | IoCommand::Read(c)
            | IoCommand::WriteUncorrectable(c)
            | IoCommand::Compare(c)
            | IoCommand::WriteZeroes(c)
            | IoCommand::Verify(c)
            | IoCommand::ZoneAppend(c) => c.sqe(),
            IoCommand::DatasetManagement(c) => c.sqe(),
            IoCommand::Copy(c) => c.sqe(),
            IoCommand::ZoneMgmtSend(c) => c.sqe(),
            IoCommand::ZoneMgmtRecv(c) => c.sqe(),
        }
    }

    /// The reserved-field checks of every I/O command, made before it executes: CDW0 FUSE
    /// (NVMe-Base 4.2, Figure 92) must be 00b, as vnvme supports no fused operation (FUSES 0).
    pub fn check_reserved(&self) -> Result<(), Status> {
        if self.sqe().fuse() != 0 {
            return Err(Status::INVALID_FIELD);
        }
        Ok(())
    }

    /// The blocks the command names, (SLBA, NLB + 1), for the commands with one LBA range;
    /// Copy's destination start with no count (its sources are in the range list).
    pub fn lba_range(&self) -> Option<(u64, u64)> {
        match self {
            IoCommand::Write(c)
            | IoCommand::Read(c)
            | IoCommand::WriteUncorrectable(c)
            | IoCommand::Compare(c)
            | IoCommand::WriteZeroes(c)
            | IoCommand::Verify(c)
            | IoCommand::ZoneAppend(c) => Some((c.slba(), c.blocks())),
            IoCommand::Copy(c) => Some((c.sdlba(), 0)),
            IoCommand::ZoneMgmtSend(c) => Some((c.slba(), 0)),
            IoCommand::ZoneMgmtRecv(c) => Some((c.slba(), 0)),
            _ => None,
        }
    }

    /// CDW12 bits 29:26: PRINFO, or Copy's PRINFOW (the same bits). Reserved, usually zero, in
    /// the other commands.
    pub fn prinfo(&self) -> Prinfo {
        Prinfo::from_bits((self.sqe().cdw12() >> 26) as u8)
    }
}

#[cfg(test)]
#[path = "io_command_tests.rs"]
mod tests;
