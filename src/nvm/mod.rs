//! The NVM command set (NVM-CS 3): one file per command family. A command is
//! parsed and checked against its namespace, its data pointers are walked, then it
//! executes against the namespace's store. Every outcome is a [`Completion`]
//! (`spec::Completion`, the one result shape of admin and I/O commands).
//!
//! This layer sees guest memory only through [`DmaMemory`] and knows nothing of
//! queues or transports.

#![forbid(unsafe_code)]

pub mod aligned_buf;
pub mod block_locks;
pub mod compare;
pub mod copy;
pub mod crash_recovery;
pub mod dsm;
pub mod flush;
pub mod in_place;
pub mod inject;
pub mod intent_log;
pub mod medium;
pub mod metadata;
pub mod mutation;
pub mod namespace;
pub mod ns_dir;
pub mod ns_ids;
pub mod ns_manage;
pub mod ns_table;
pub mod prepare;
pub mod protection;
pub mod rw;
pub mod staged;
pub mod transfer;
pub mod uncorrectable_marks;
pub mod verify;
pub mod write_uncorrectable;
pub mod write_zeroes;
pub mod zoned;

use crate::counters::Counters;
use crate::dma::DmaMemory;
pub use crate::spec::Completion;
use crate::spec::{IoCommand, Status};
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

/// Reusable per-queue buffers, so the data path does not allocate per command.
/// The io_uring engine keeps one per command in flight; its transfers move `data`.
#[derive(Default)]
pub struct Buffers {
    /// Block data, 4 KiB-aligned (O_DIRECT transfers use it as it is).
    pub data: aligned_buf::AlignedBuf,
    pub md: Vec<u8>,
    /// The io_uring engine's read of a metadata span (aligned for O_DIRECT), from
    /// which `md` is taken.
    pub md_span: aligned_buf::AlignedBuf,
    pub host: Vec<u8>,
    /// Set by a write whose data changed in guest memory between fetch and
    /// transfer (with `IoOptions::detect_mutation`); block indexes are LBAs.
    pub mutation: Option<mutation::Mutation>,
}

/// Runs one parsed I/O command. Its reserved fields are checked first (a fused command is
/// Invalid Field and not counted); every other outcome is counted per opcode.
pub fn execute(env: &IoEnv, bufs: &mut Buffers, cmd: &IoCommand) -> Completion {
    if let Err(s) = cmd.check_reserved() {
        return Completion::err(s);
    }
    let c = match cmd {
        IoCommand::Read(c) => rw::read(env, bufs, c),
        IoCommand::Write(c) => rw::write(env, bufs, c),
        IoCommand::Flush(sqe) => flush::flush(env, sqe),
        IoCommand::WriteZeroes(c) => write_zeroes::write_zeroes(env, bufs, c),
        IoCommand::DatasetManagement(c) => dsm::dataset_management(env, bufs, c),
        IoCommand::Verify(c) => verify::verify(env, bufs, c),
        IoCommand::Compare(c) => compare::compare(env, bufs, c),
        IoCommand::WriteUncorrectable(c) => write_uncorrectable::write_uncorrectable(env, c),
        IoCommand::Copy(c) => copy::copy(env, bufs, c),
        IoCommand::ZoneAppend(c) => zoned::commands::zone_append(env, bufs, c),
        IoCommand::ZoneMgmtSend(c) => zoned::commands::zone_mgmt_send(env, bufs, c),
        IoCommand::ZoneMgmtRecv(c) => zoned::commands::zone_mgmt_recv(env, c),
        IoCommand::Unsupported(_) => Completion::err(Status::INVALID_OPCODE),
    };
    env.counters.io_command(cmd.sqe().opcode(), c.status);
    c
}

/// An LBA range against the namespace size: LBA Out of Range when it passes the end.
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

impl crate::storage::uring::IoRegion for Buffers {
    /// 0: the data; 1: the span of the image holding a read's metadata.
    fn io_region(&mut self, which: usize) -> &mut [u8] {
        if which == 0 {
            &mut self.data
        } else {
            &mut self.md_span
        }
    }
}
