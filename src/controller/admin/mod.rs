//! Admin command set (NVMe-Base 5): dispatch, and the helpers every admin command
//! uses to move its data. One file per command family.

pub mod aer;
pub mod dbbuf;
pub mod features;
pub mod format;
pub mod identify;
pub mod identify_lists;
pub mod log;
pub mod ns_attach;
pub mod ns_mgmt;
pub mod queues;

use super::Controller;
use crate::dma::prp;
use crate::spec::command::Psdt;
use crate::spec::opcode::admin as op;
use crate::spec::{Completion, Status, SubmissionEntry};

/// The result of an admin command: a [`Completion`] as I/O commands have, or none yet. The
/// admin path needs the second case, which I/O commands never have: an Asynchronous Event
/// Request completes later, when an event occurs (NVMe-Base 5.1.2).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done(Completion),
    /// Completed later (Asynchronous Event Request).
    Deferred,
}

pub fn done(dw0: u32) -> Outcome {
    Outcome::Done(Completion::done(dw0))
}
pub fn fail(status: Status) -> Outcome {
    Outcome::Done(Completion::err(status))
}

pub fn execute(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    // Admin commands on PCIe use PRPs only (NVMe-Base 4.1.2); fused operations are
    // not supported (FUSES = 0).
    if sqe.psdt() != Psdt::Prp || sqe.fuse() != 0 {
        return fail(Status::INVALID_FIELD);
    }
    match sqe.opcode() {
        op::IDENTIFY => identify::identify(ctrl, sqe),
        op::GET_LOG_PAGE => log::get_log_page(ctrl, sqe),
        op::SET_FEATURES => features::set_features(ctrl, sqe),
        op::GET_FEATURES => features::get_features(ctrl, sqe),
        op::CREATE_IO_CQ => queues::create_cq(ctrl, sqe),
        op::CREATE_IO_SQ => queues::create_sq(ctrl, sqe),
        op::DELETE_IO_SQ => queues::delete_sq(ctrl, sqe),
        op::DELETE_IO_CQ => queues::delete_cq(ctrl, sqe),
        op::ABORT => abort(sqe),
        op::ASYNC_EVENT_REQUEST => aer::request(ctrl, sqe),
        op::DOORBELL_BUFFER_CONFIG if ctrl.shared.config.shadow_doorbells => dbbuf::config(ctrl, sqe),
        op::FORMAT_NVM => format::format_nvm(ctrl, sqe),
        op::NAMESPACE_MANAGEMENT if ctrl.shared.namespaces.managed() => ns_mgmt::namespace_management(ctrl, sqe),
        op::NAMESPACE_ATTACHMENT if ctrl.shared.namespaces.managed() => ns_attach::namespace_attachment(ctrl, sqe),
        _ => fail(Status::INVALID_OPCODE),
    }
}

/// Abort (NVMe-Base 5.1.1). Commands run to completion once fetched, and the
/// controller fetches a queue's commands in order as soon as the doorbell names
/// them, so there is never a command left to abort: DW0 bit 0 set says "not aborted".
fn abort(sqe: &SubmissionEntry) -> Outcome {
    let _sqid = sqe.cdw10() & 0xffff;
    let _cid = sqe.cdw10() >> 16;
    done(1)
}

/// Copy `data` to the host buffer named by the command's PRPs.
pub fn write_to_host(ctrl: &Controller, sqe: &SubmissionEntry, data: &[u8]) -> Result<(), Status> {
    let sh = &ctrl.shared;
    let list = prp::walk(&*sh.mem, sqe.prp1(), sqe.prp2(), data.len() as u64, sh.page_size())?;
    list.scatter(&*sh.mem, 0, data)?;
    sh.counters.dma_to_host.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Copy `len` bytes from the host buffer named by the command's PRPs.
pub fn read_from_host(ctrl: &Controller, sqe: &SubmissionEntry, len: usize) -> Result<Vec<u8>, Status> {
    let sh = &ctrl.shared;
    let list = prp::walk(&*sh.mem, sqe.prp1(), sqe.prp2(), len as u64, sh.page_size())?;
    let mut buf = vec![0u8; len];
    list.gather(&*sh.mem, 0, &mut buf)?;
    sh.counters.dma_to_device.fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(buf)
}

/// Map a data-transfer result to an outcome with DW0.
pub fn transfer(r: Result<(), Status>, dw0: u32) -> Outcome {
    match r {
        Ok(()) => done(dw0),
        Err(s) => fail(s),
    }
}
