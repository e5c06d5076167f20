//! The NVM command set (NVM-CS 3): one file per command family. A command is
//! parsed and checked against its namespace, its data pointers are walked, then it
//! executes against the namespace's store. Every outcome is a [`Completion`]
//! (`spec::Completion`, the one result shape of admin and I/O commands).
//!
//! This layer sees guest memory only through [`DmaMemory`] and knows nothing of
//! queues or transports.

#![forbid(unsafe_code)]

pub mod compare;
pub mod copy;
pub mod dsm;
pub mod flush;
pub mod inject;
pub mod medium;
pub mod metadata;
pub mod mutation;
pub mod namespace;
pub mod ns_dir;
pub mod ns_ids;
pub mod ns_manage;
pub mod ns_table;
pub mod protection;
pub mod rw;
pub mod transfer;
pub mod uncorrectable;
pub mod verify;
pub mod write_uncorrectable;
pub mod write_zeroes;

use crate::counters::Counters;
use crate::dma::DmaMemory;
use crate::spec::opcode::nvm as op;
pub use crate::spec::Completion;
use crate::spec::{Status, SubmissionEntry};
pub use namespace::Namespace;
use std::sync::Arc;

/// Everything an I/O command needs from its surroundings.
pub struct IoEnv<'a> {
    pub mem: &'a dyn DmaMemory,
    /// The namespace set as this command found it (one snapshot per command).
    pub namespaces: &'a ns_table::NsSet,
    pub counters: &'a Counters,
    pub page_size: u64,
    pub max_transfer: u64,
    /// Whether a data or metadata SGL may be longer than the transfer (SGLS bit 18).
    pub sgl_length: crate::dma::sgl::SglLength,
    /// Volatile write cache enabled (Set Features 06h): when clear, every write is
    /// durable before it completes.
    pub write_cache: bool,
    /// Copy descriptor formats the host enabled (Host Behavior Support CDFE; bits
    /// 2 and 3 for formats 2h and 3h).
    pub copy_formats_enabled: u16,
    /// Fault-injection and detection options for this command.
    pub opts: inject::IoOptions,
}

impl IoEnv<'_> {
    /// The namespace of an active NSID; any other NSID (0, unallocated, detached,
    /// above NN, FFFFFFFFh) is Invalid Namespace or Format (NVMe-Base 3.2.1).
    pub fn namespace(&self, nsid: u32) -> Result<&Arc<Namespace>, Status> {
        self.namespaces.active(nsid).ok_or(Status::INVALID_NAMESPACE)
    }
}

/// The namespace, its format and the checked LBA range (CDW10-12) of a command
/// that names one.
pub fn range_target<'a>(
    env: &'a IoEnv,
    sqe: &SubmissionEntry,
) -> Result<(&'a Arc<Namespace>, namespace::ActiveFormat, u64, u64), Status> {
    let ns = env.namespace(sqe.nsid())?;
    let f = ns.format();
    let (slba, nlb) = lba_range(sqe, f.nlbas())?;
    Ok((ns, f, slba, nlb))
}

/// Reusable per-queue buffers, so the data path does not allocate per command.
#[derive(Default)]
pub struct Buffers {
    pub data: Vec<u8>,
    pub md: Vec<u8>,
    pub host: Vec<u8>,
    /// Set by a write whose data changed in guest memory between fetch and
    /// transfer (with `IoOptions::detect_mutation`); block indexes are LBAs.
    pub mutation: Option<mutation::Mutation>,
}

pub fn execute(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Completion {
    if sqe.fuse() != 0 {
        return Completion::err(Status::INVALID_FIELD);
    }
    let c = match sqe.opcode() {
        op::READ => rw::read(env, bufs, sqe),
        op::WRITE => rw::write(env, bufs, sqe),
        op::FLUSH => flush::flush(env, sqe),
        op::WRITE_ZEROES => write_zeroes::write_zeroes(env, bufs, sqe),
        op::DATASET_MANAGEMENT => dsm::dataset_management(env, sqe),
        op::VERIFY => verify::verify(env, bufs, sqe),
        op::COMPARE => compare::compare(env, bufs, sqe),
        op::WRITE_UNCORRECTABLE => write_uncorrectable::write_uncorrectable(env, sqe),
        op::COPY => copy::copy(env, bufs, sqe),
        _ => Completion::err(Status::INVALID_OPCODE),
    };
    env.counters.io_command(sqe.opcode(), c.status);
    c
}

/// Starting LBA (CDW11:CDW10) and number of logical blocks (CDW12 15:0, zero's
/// based), checked against the namespace size.
pub fn lba_range(sqe: &SubmissionEntry, nlbas: u64) -> Result<(u64, u64), Status> {
    let slba = sqe.cdw10() as u64 | (sqe.cdw11() as u64) << 32;
    let nlb = (sqe.cdw12() & 0xffff) as u64 + 1;
    check_range(slba, nlb, nlbas)?;
    Ok((slba, nlb))
}

pub fn check_range(slba: u64, nlb: u64, nlbas: u64) -> Result<(), Status> {
    match slba.checked_add(nlb) {
        Some(end) if end <= nlbas => Ok(()),
        _ => Err(Status::LBA_OUT_OF_RANGE),
    }
}

/// Store errors are reported to the host as media errors on write and read.
pub fn store_error(write: bool, e: &std::io::Error) -> Status {
    tracing::warn!("backing store error: {e}");
    if write {
        Status::WRITE_FAULT
    } else {
        Status::UNRECOVERED_READ_ERROR
    }
}
