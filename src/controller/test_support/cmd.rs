//! Submission entry builders for the fake host: admin commands (NVMe-Base 5) and
//! NVM commands (NVM-CS 3). Sizes are counts (entries, blocks), converted to the
//! zero's based fields here; the CID is filled in when the host submits.

use crate::spec::opcode::{admin as aop, nvm as iop};
use crate::spec::SubmissionEntry;

pub fn identify(cns: u8, nsid: u32) -> SubmissionEntry {
    SubmissionEntry::new(aop::IDENTIFY, 0, nsid).with_cdw(10, cns as u32)
}
/// Get Log Page of `len` bytes (a multiple of 4), RAE clear.
pub fn get_log_page(lid: u8, nsid: u32, len: u32) -> SubmissionEntry {
    let numd = len / 4 - 1;
    SubmissionEntry::new(aop::GET_LOG_PAGE, 0, nsid)
        .with_cdw(10, lid as u32 | (numd & 0xffff) << 16)
        .with_cdw(11, numd >> 16)
}
pub fn get_features(fid: u8, sel: u32) -> SubmissionEntry {
    SubmissionEntry::new(aop::GET_FEATURES, 0, 0).with_cdw(10, fid as u32 | sel << 8)
}
pub fn set_features(fid: u8, cdw11: u32) -> SubmissionEntry {
    SubmissionEntry::new(aop::SET_FEATURES, 0, 0).with_cdw(10, fid as u32).with_cdw(11, cdw11)
}
/// Set Features Number of Queues with zero's based NSQR / NCQR.
pub fn number_of_queues(nsqr: u16, ncqr: u16) -> SubmissionEntry {
    set_features(0x07, nsqr as u32 | (ncqr as u32) << 16)
}
/// Create I/O CQ, physically contiguous.
pub fn create_cq(qid: u16, entries: u16, base: u64, iv: u16, ien: bool) -> SubmissionEntry {
    create_cq_raw(qid, entries as u32 - 1, base, 1 | (ien as u32) << 1 | (iv as u32) << 16)
}
pub fn create_cq_raw(qid: u16, qsize: u32, base: u64, cdw11: u32) -> SubmissionEntry {
    SubmissionEntry::new(aop::CREATE_IO_CQ, 0, 0)
        .with_prps(base, 0)
        .with_cdw(10, qid as u32 | qsize << 16)
        .with_cdw(11, cdw11)
}
/// Create I/O SQ, physically contiguous, on CQ `cqid`.
pub fn create_sq(qid: u16, entries: u16, base: u64, cqid: u16) -> SubmissionEntry {
    SubmissionEntry::new(aop::CREATE_IO_SQ, 0, 0)
        .with_prps(base, 0)
        .with_cdw(10, qid as u32 | (entries as u32 - 1) << 16)
        .with_cdw(11, 1 | (cqid as u32) << 16)
}
pub fn delete_sq(qid: u16) -> SubmissionEntry {
    SubmissionEntry::new(aop::DELETE_IO_SQ, 0, 0).with_cdw(10, qid as u32)
}
pub fn delete_cq(qid: u16) -> SubmissionEntry {
    SubmissionEntry::new(aop::DELETE_IO_CQ, 0, 0).with_cdw(10, qid as u32)
}
pub fn async_event_request() -> SubmissionEntry {
    SubmissionEntry::new(aop::ASYNC_EVENT_REQUEST, 0, 0)
}
pub fn doorbell_buffer_config(shadow: u64, event_idx: u64) -> SubmissionEntry {
    SubmissionEntry::new(aop::DOORBELL_BUFFER_CONFIG, 0, 0).with_prps(shadow, event_idx)
}
/// Namespace Management create (SEL 0h): the host-specified fields at `prp1`.
pub fn ns_create(prp1: u64) -> SubmissionEntry {
    SubmissionEntry::new(aop::NAMESPACE_MANAGEMENT, 0, 0).with_prps(prp1, 0)
}
/// Namespace Management delete (SEL 1h).
pub fn ns_delete(nsid: u32) -> SubmissionEntry {
    SubmissionEntry::new(aop::NAMESPACE_MANAGEMENT, 0, nsid).with_cdw(10, 1)
}
/// Namespace Attachment: SEL 0h attach, 1h detach; the controller list at `prp1`.
pub fn ns_attachment(nsid: u32, sel: u32, prp1: u64) -> SubmissionEntry {
    SubmissionEntry::new(aop::NAMESPACE_ATTACHMENT, 0, nsid).with_prps(prp1, 0).with_cdw(10, sel)
}

/// Read / Write of `nlb` blocks at `slba` (no data pointer yet).
pub fn rw(opcode: u8, nsid: u32, slba: u64, nlb: u64) -> SubmissionEntry {
    assert!((1..=0x10000).contains(&nlb));
    SubmissionEntry::new(opcode, 0, nsid)
        .with_cdw(10, slba as u32)
        .with_cdw(11, (slba >> 32) as u32)
        .with_cdw(12, (nlb - 1) as u32)
}
pub fn read(nsid: u32, slba: u64, nlb: u64) -> SubmissionEntry {
    rw(iop::READ, nsid, slba, nlb)
}
pub fn write(nsid: u32, slba: u64, nlb: u64) -> SubmissionEntry {
    rw(iop::WRITE, nsid, slba, nlb)
}
pub fn write_zeroes(nsid: u32, slba: u64, nlb: u64) -> SubmissionEntry {
    rw(iop::WRITE_ZEROES, nsid, slba, nlb)
}
pub fn flush(nsid: u32) -> SubmissionEntry {
    SubmissionEntry::new(iop::FLUSH, 0, nsid)
}
/// Dataset Management with `ranges` 16-byte range entries at `prp1`, Deallocate set.
pub fn deallocate(nsid: u32, ranges: u32, prp1: u64) -> SubmissionEntry {
    SubmissionEntry::new(iop::DATASET_MANAGEMENT, 0, nsid)
        .with_prps(prp1, 0)
        .with_cdw(10, ranges - 1)
        .with_cdw(11, 1 << 2)
}
/// A DSM range entry (NVM-CS Figure 39): context attributes 0, NLB, SLBA.
pub fn dsm_range(slba: u64, nlb: u32) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[4..8].copy_from_slice(&nlb.to_le_bytes());
    r[8..16].copy_from_slice(&slba.to_le_bytes());
    r
}
