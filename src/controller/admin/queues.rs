//! Create / Delete I/O Submission and Completion Queue (NVMe-Base 5.2.1-5.2.4).
//! Creating an SQ starts its worker thread; deleting it stops the worker after its
//! current command and aborts what the host submitted but the worker never fetched.
//!
//! Queue identifiers: a QID of 0, past the queues granted by Number of Queues, or
//! already in use is Invalid Queue Identifier (1h/01h) for both create commands;
//! so is a CQID of 0 or past the granted completion queues in Create I/O SQ, while
//! an in-range CQID whose queue was never created is Completion Queue Invalid
//! (1h/00h). Deleting queue 0 or a queue that does not exist is Invalid Queue
//! Identifier; deleting a CQ that still has SQs is Invalid Queue Deletion (1h/0Ch).

use super::{done, fail, Outcome};
use crate::controller::queue::{CompletionQueue, SubmissionQueue};
use crate::controller::{doorbell_area, worker, Controller, IoQueue};
use crate::dma::GuestAddr;
use crate::spec::{CompletionEntry, Status, SubmissionEntry};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The number of I/O submission (`is_sq`) or completion queues granted: the
/// Number of Queues feature once the host set it, else the controller maximum.
fn granted(ctrl: &Controller, is_sq: bool) -> u16 {
    let sh = &ctrl.shared;
    let f = sh.features.lock();
    let (s, c) = f.queues_allocated.unwrap_or((sh.config.max_queues - 1, sh.config.max_queues - 1));
    if is_sq {
        s + 1
    } else {
        c + 1
    }
}

/// Shared checks of CDW10 (QID 15:0, QSIZE 31:16) and PRP1 for both create commands.
fn check_create(ctrl: &Controller, sqe: &SubmissionEntry, is_sq: bool) -> Result<(u16, u16, u64), Status> {
    let qid = sqe.cdw10() as u16;
    let qsize = (sqe.cdw10() >> 16) + 1;
    let sh = &ctrl.shared;
    let allocated = granted(ctrl, is_sq);
    let qs = sh.queues.read().unwrap();
    let table = if is_sq { qs.sqs.len() } else { qs.cqs.len() };
    let exists = if is_sq {
        qs.sqs.get(qid as usize).is_some_and(|q| q.is_some())
    } else {
        qs.cqs.get(qid as usize).is_some_and(|q| q.is_some())
    };
    if qid == 0 || qid > allocated || qid as usize >= table || exists {
        return Err(Status::INVALID_QUEUE_IDENTIFIER);
    }
    if qsize < 2 || qsize > sh.config.max_queue_entries {
        return Err(Status::INVALID_QUEUE_SIZE);
    }
    // Physically Contiguous is required (CAP.CQR = 1).
    if sqe.cdw11() & 1 == 0 {
        return Err(Status::INVALID_FIELD);
    }
    let base = sqe.prp1();
    if !base.is_multiple_of(sh.page_size()) || base == 0 {
        return Err(Status::PRP_OFFSET_INVALID);
    }
    Ok((qid, qsize as u16, base))
}

pub fn create_cq(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let (qid, size, base) = match check_create(ctrl, sqe, false) {
        Ok(v) => v,
        Err(s) => return fail(s),
    };
    let ien = sqe.cdw11() & 2 != 0;
    let iv = (sqe.cdw11() >> 16) as u16;
    if iv >= ctrl.shared.irq.vectors() {
        return fail(Status::INVALID_INTERRUPT_VECTOR);
    }
    let mut cq = CompletionQueue::new(qid, base, size, iv, ien);
    if let Some(area) = ctrl.shared.mapped().cloned() {
        cq = cq.with_mapped_head(area, doorbell_area::cq_index(qid));
    }
    ctrl.clear_mapped([doorbell_area::cq_index(qid)]);
    let cq = Arc::new(cq);
    if let Some(sh) = ctrl.shared.shadow() {
        sh.seed(&*ctrl.shared.mem, qid, 0, 0);
    }
    ctrl.shared.queues.write().unwrap().cqs[qid as usize] = Some(cq);
    done(0)
}

pub fn create_sq(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let (qid, size, base) = match check_create(ctrl, sqe, true) {
        Ok(v) => v,
        Err(s) => return fail(s),
    };
    // CQID (CDW11 31:16, NVMe-Base 5.2.2): 0h (the Admin CQ) or outside the range
    // the controller supports is Invalid Queue Identifier; in range but not
    // created is Completion Queue Invalid.
    let cqid = (sqe.cdw11() >> 16) as u16;
    let cqs_granted = granted(ctrl, false);
    let cq = {
        let qs = ctrl.shared.queues.read().unwrap();
        if cqid == 0 || cqid > cqs_granted || cqid as usize >= qs.cqs.len() {
            return fail(Status::INVALID_QUEUE_IDENTIFIER);
        }
        match qs.cqs[cqid as usize].clone() {
            Some(cq) => cq,
            None => return fail(Status::INVALID_COMPLETION_QUEUE),
        }
    };
    let sq = Arc::new(SubmissionQueue::new(qid, base, size, cqid));
    ctrl.clear_mapped([doorbell_area::sq_index(qid)]);
    if let Some(sh) = ctrl.shared.shadow() {
        sh.seed(&*ctrl.shared.mem, qid, 0, 0);
    }
    cq.sq_refs.fetch_add(1, Ordering::SeqCst);
    let thread = worker::spawn(ctrl.shared.clone(), sq.clone(), cq);
    ctrl.shared.queues.write().unwrap().sqs[qid as usize] = Some(IoQueue { sq, thread: Some(thread) });
    done(0)
}

pub fn delete_sq(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let qid = sqe.cdw10() as u16;
    let entry = {
        let mut qs = ctrl.shared.queues.write().unwrap();
        match qs.sqs.get_mut(qid as usize) {
            Some(slot) if qid != 0 && slot.is_some() => slot.take(),
            _ => None,
        }
    };
    let Some(mut q) = entry else { return fail(Status::INVALID_QUEUE_IDENTIFIER) };
    q.sq.stop.store(true, Ordering::SeqCst);
    q.sq.notify();
    let head = q.thread.take().and_then(|t| t.join().ok()).unwrap_or(0);
    let cq = ctrl.shared.queues.read().unwrap().cqs.get(q.sq.cqid as usize).cloned().flatten();
    if let Some(cq) = cq {
        // Commands the host submitted that were never fetched are aborted
        // (NVMe-Base 5.2.3: "Command Aborted due to SQ Deletion").
        let tail = worker::current_tail(&ctrl.shared, &q.sq);
        let mut h = head;
        let mut any = false;
        while h != tail {
            let mut raw = [0u8; 64];
            if ctrl.shared.mem.read(GuestAddr(q.sq.entry_addr(h)), &mut raw).is_err() {
                break;
            }
            h = (h + 1) % q.sq.size;
            let cmd = SubmissionEntry::from_bytes(&raw);
            let e = CompletionEntry {
                dw0: 0,
                dw1: 0,
                sq_head: h,
                sq_id: qid,
                cid: cmd.cid(),
                status: Status::ABORTED_SQ_DELETION,
            };
            // Posted only if the CQ has room: this runs on the thread that takes
            // the CQ head doorbell, so waiting for the host here would never end.
            if ctrl.shared.complete_or_abandon(&cq, &e, &|| true) {
                worker::report_unexecuted(&ctrl.shared, qid, &cmd, e.status);
                any = true;
            }
        }
        if any {
            ctrl.shared.interrupt(&cq);
        }
        cq.sq_refs.fetch_sub(1, Ordering::SeqCst);
    }
    done(0)
}

pub fn delete_cq(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let qid = sqe.cdw10() as u16;
    let mut qs = ctrl.shared.queues.write().unwrap();
    let cq = match qs.cqs.get(qid as usize) {
        Some(Some(cq)) if qid != 0 => cq.clone(),
        _ => return fail(Status::INVALID_QUEUE_IDENTIFIER),
    };
    if cq.sq_refs.load(Ordering::SeqCst) != 0 {
        return fail(Status::INVALID_QUEUE_DELETION);
    }
    cq.close();
    qs.cqs[qid as usize] = None;
    done(0)
}
