//! The worker thread of one I/O submission queue: fetch, execute, complete.
//!
//! The worker owns the queue's head. It sleeps when the queue is empty and is
//! woken by the SQ tail doorbell. With shadow doorbells it reads the tail from the
//! shadow buffer and, while busy, leaves its EventIdx behind so the host stops
//! ringing; before sleeping it publishes the tail it has seen and looks once more,
//! so no submission is missed. Interrupts are raised once per batch.

use super::hooks::{CommandView, Completed, MutationReport};
use super::queue::{CompletionQueue, SubmissionQueue};
use super::{doorbell_area, Shared};
use crate::dma::GuestAddr;
use crate::nvm::inject::IoOptions;
use crate::nvm::ns_table::CachedSet;
use crate::nvm::{self, Buffers, IoEnv};
use crate::spec::{CompletionEntry, IoCommand, SubmissionEntry};
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::Instant;

/// The most completions posted before an interrupt is raised, so a long batch does
/// not hold back its first completions.
pub(super) const MAX_BATCH: usize = 32;

pub fn spawn(shared: Arc<Shared>, sq: Arc<SubmissionQueue>, cq: Arc<CompletionQueue>) -> JoinHandle<u16> {
    std::thread::Builder::new()
        .name(format!("vnvme-sq{}", sq.id))
        .spawn(move || run(&shared, &sq, &cq))
        .expect("spawning an I/O queue worker thread")
}

/// The tail the host has published: the shadow doorbell when configured, else
/// the mapped doorbell in mmap-poll mode, else the last doorbell register write.
/// An out-of-range value is ignored (the register's last valid value stands).
pub fn current_tail(shared: &Shared, sq: &SubmissionQueue) -> u16 {
    match (shared.shadow(), shared.mapped()) {
        (Some(sh), _) => match sh.sq_tail(&*shared.mem, sq.id) {
            Some(t) if t < sq.size => t,
            _ => sq.doorbell_tail(),
        },
        (None, Some(area)) => match area.load(doorbell_area::sq_index(sq.id)) {
            // Kept, so that a later invalid value falls back to the last valid
            // one, which this worker has fetched up to (never to an older one).
            t if t < sq.size as u32 => {
                sq.note_tail(t as u16);
                t as u16
            }
            _ => sq.doorbell_tail(),
        },
        (None, None) => sq.doorbell_tail(),
    }
}

fn run(shared: &Shared, sq: &SubmissionQueue, cq: &CompletionQueue) -> u16 {
    let mut head = 0u16;
    let mut bufs = Buffers::default();
    let mut namespaces = shared.namespaces.cached();
    let mut uring = match shared.config.engine {
        super::config::Engine::Sync => None,
        super::config::Engine::IoUring => match super::uring_engine::UringQueue::new(sq.size) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!("queue {}: io_uring: {e}; this queue runs the sync engine", sq.id);
                None
            }
        },
    };
    let mapped = shared.mapped().is_some();
    let mut idle = doorbell_area::backoff(shared.config.poll_us);
    loop {
        if sq.stop.load(Ordering::SeqCst) || !shared.running.load(Ordering::SeqCst) {
            return head;
        }
        let tail = current_tail(shared, sq);
        fence(Ordering::Acquire);
        if head == tail {
            if let Some(sh) = shared.shadow() {
                if !mapped && shared.config.poll_us > 0 && poll_for_tail(shared, sq, head) {
                    continue;
                }
                sh.set_sq_event(&*shared.mem, sq.id, head);
                fence(Ordering::SeqCst);
                if current_tail(shared, sq) != head {
                    continue;
                }
            }
            if mapped {
                // No doorbell message will come: look again, spinning at first,
                // then after growing sleeps (the transport thread's scan of
                // the area may wake this one earlier).
                match idle.idle() {
                    d if d.is_zero() => std::hint::spin_loop(),
                    d => sq.wait(d),
                }
                continue;
            }
            sq.wait(Duration::from_millis(50));
            continue;
        }
        idle.busy();
        if let Some(engine) = uring.as_mut() {
            if !engine.run(shared, sq, cq, &mut head, &mut namespaces) {
                return head;
            }
            continue;
        }
        let mut posted = 0usize;
        while head != tail {
            if sq.stop.load(Ordering::SeqCst) {
                break;
            }
            let mut raw = [0u8; 64];
            if shared.mem.read(GuestAddr(sq.entry_addr(head)), &mut raw).is_err() {
                shared.fatal.store(true, Ordering::SeqCst);
                return head;
            }
            head = (head + 1) % sq.size;
            let sqe = SubmissionEntry::from_bytes(&raw);
            // Parsed once: the hook's view, the trace and the handler read this value.
            let cmd = IoCommand::parse(&sqe);
            let fetched = Instant::now();
            let watch = watch(shared, sq.id, &cmd);
            let c = run_watched(shared, watch.as_ref(), |opts| execute(shared, &mut namespaces, &mut bufs, &cmd, opts));
            delay(watch.as_ref());
            if !post(shared, sq, cq, &sqe, &c, head, &mut posted) {
                return head;
            }
            report(shared, sq.id, &sqe, watch, c.status, fetched, bufs.mutation.take());
            count_posted(shared, cq, &mut posted);
        }
        if !posted.is_multiple_of(MAX_BATCH) {
            shared.interrupt(cq);
        }
    }
}

/// Post `c`, the completion of `sqe`, with SQ head `head`; a failed command goes to
/// the error log first. False when the worker must stop: the queue is being deleted
/// while its CQ is full, or guest memory failed. Follow with [`count_posted`].
pub(super) fn post(
    shared: &Shared,
    sq: &SubmissionQueue,
    cq: &CompletionQueue,
    sqe: &SubmissionEntry,
    c: &nvm::Completion,
    head: u16,
    posted: &mut usize,
) -> bool {
    if !c.status.is_success() {
        shared.errors.lock().unwrap().record(sq.id, sqe, c.status, c.lba);
    }
    let e = CompletionEntry::of(c, head, sq.id, sqe.cid());
    if !posted.is_multiple_of(MAX_BATCH) && cq.is_full() {
        // About to wait for the host to consume entries: signal the ones
        // already posted first, or an interrupt-driven host never looks.
        shared.interrupt(cq);
        *posted = 0;
    }
    // Delete I/O SQ waits for this thread on the transport thread, which also
    // takes the host's CQ head doorbell: while deleting, a full CQ ends the wait.
    shared.complete_or_abandon(cq, &e, &|| sq.stop.load(Ordering::SeqCst))
}

/// One more completion posted: interrupt after every [`MAX_BATCH`].
pub(super) fn count_posted(shared: &Shared, cq: &CompletionQueue, posted: &mut usize) {
    *posted += 1;
    if posted.is_multiple_of(MAX_BATCH) {
        shared.interrupt(cq);
    }
}

/// What the control plane made of a fetched command: what it sees of it, and what
/// its fault rules inject.
pub(super) type Watch = (CommandView, crate::controller::hooks::Injection);

/// Show a fetched command to the control plane, when it watches (this fires its
/// rules: call it once per command).
pub(super) fn watch(shared: &Shared, sqid: u16, cmd: &IoCommand) -> Option<Watch> {
    let h = shared.hook.get().filter(|h| h.active())?;
    let view = view_of(sqid, cmd);
    let inj = h.before(&view);
    Some((view, inj))
}

/// Run a command synchronously (`exec`) as the control plane's injection says:
/// an injected status instead, or stored tags spoiled first and the command run
/// with the injection's options (race widening, mutation detection, a spoiled
/// returned guard).
pub(super) fn run_watched(
    shared: &Shared,
    watch: Option<&Watch>,
    exec: impl FnOnce(IoOptions) -> nvm::Completion,
) -> nvm::Completion {
    let Some((view, inj)) = watch else { return exec(IoOptions::default()) };
    if let Some(status) = inj.status {
        return nvm::Completion::err(status);
    }
    apply_corruption(shared, view, inj);
    let detect_mutation = shared.hook.get().is_some_and(|h| h.detect_mutation());
    exec(IoOptions { widen: inj.widen, detect_mutation, transient_guard: inj.transient_guard })
}

/// Whether a watched command may run with plain options (nothing injected, and
/// no mutation detection for a write, whose data the detector looks at twice):
/// then it may go through the io_uring engine.
pub(super) fn plain(shared: &Shared, watch: Option<&Watch>) -> bool {
    let Some((view, inj)) = watch else { return true };
    let detecting =
        view.opcode != crate::spec::opcode::nvm::READ && shared.hook.get().is_some_and(|h| h.detect_mutation());
    inj.is_empty() && !detecting
}

/// An injected completion delay, before the completion is posted.
pub(super) fn delay(watch: Option<&Watch>) {
    if let Some((_, inj)) = watch {
        if !inj.delay.is_zero() {
            std::thread::sleep(inj.delay);
        }
    }
}

/// Tell the control plane how a watched command completed, once it is posted.
pub(super) fn report(
    shared: &Shared,
    sqid: u16,
    sqe: &SubmissionEntry,
    watch: Option<Watch>,
    status: crate::spec::Status,
    fetched: Instant,
    mutation: Option<nvm::mutation::Mutation>,
) {
    let (Some((view, inj)), Some(h)) = (watch, shared.hook.get()) else { return };
    let mutation =
        mutation.map(|m| MutationReport { sqid, cid: sqe.cid(), nsid: sqe.nsid(), blocks: m.blocks, window: m.window });
    h.completed(&Completed { view, status, latency: fetched.elapsed(), fired: inj.fired, mutation });
}

/// Adaptive polling: look at the shadow tail for up to `poll_us` after the queue
/// ran dry. True when new work arrived.
fn poll_for_tail(shared: &Shared, sq: &SubmissionQueue, head: u16) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_micros(shared.config.poll_us as u64);
    while std::time::Instant::now() < deadline {
        if current_tail(shared, sq) != head || sq.stop.load(Ordering::Relaxed) {
            return true;
        }
        std::hint::spin_loop();
    }
    false
}

/// A command completed without being run (Delete I/O SQ aborted it before it was
/// fetched): counted, and shown to the hook like every other completion, so
/// `ctl stats` and the trace see each completion the host receives.
pub fn report_unexecuted(shared: &Shared, sqid: u16, sqe: &SubmissionEntry, status: crate::spec::Status) {
    shared.counters.io_command(sqe.opcode(), status);
    if let Some(h) = shared.hook.get().filter(|h| h.active()) {
        let view = view_of(sqid, &IoCommand::parse(sqe));
        h.completed(&Completed { view, status, latency: Duration::ZERO, fired: Vec::new(), mutation: None });
    }
}

/// What the hook sees of a command: the LBA range for the commands that have one
/// (Copy: the destination start; its sources are in the range list) and PRINFO.
fn view_of(sqid: u16, cmd: &IoCommand) -> CommandView {
    let sqe = cmd.sqe();
    let (slba, nlb) = cmd.lba_range().unwrap_or((0, 0));
    CommandView { sqid, cid: sqe.cid(), opcode: sqe.opcode(), nsid: sqe.nsid(), slba, nlb, prinfo: cmd.prinfo().bits() }
}

/// Sticky corruption asked for by the hook: spoil the stored tags on the medium
/// before the command runs (a later write of those blocks heals them). Idempotent:
/// a block already spoiled is left as it is (`nvm::inject::corrupt`).
fn apply_corruption(shared: &Shared, view: &CommandView, inj: &crate::controller::hooks::Injection) {
    let Some(ns) = shared.namespace(view.nsid) else { return };
    for &(tag, first, last) in &inj.corrupt {
        if let Err(e) = nvm::inject::corrupt(&ns, tag, first, last) {
            tracing::warn!("fault injection: corrupting stored PI failed: {e}");
        }
    }
    for &(fault, first, last) in &inj.zones {
        let to = match fault {
            crate::controller::hooks::ZoneFault::ReadOnly => crate::spec::zns::ZoneState::ReadOnly,
            crate::controller::hooks::ZoneFault::Offline => crate::spec::zns::ZoneState::Offline,
        };
        match &ns.zoned {
            Some(z) => match z.fail(first, last, to) {
                Ok(0) => {}
                Ok(_) => crate::controller::admin::aer::zone_descriptor_changed(shared, ns.nsid),
                Err(e) => tracing::warn!("fault injection: saving the failed zone state failed: {e}"),
            },
            None => tracing::warn!("fault injection: namespace {} is not zoned; zone rule ignored", ns.nsid),
        }
    }
}

fn execute(
    shared: &Shared,
    namespaces: &mut CachedSet,
    bufs: &mut Buffers,
    cmd: &IoCommand,
    opts: IoOptions,
) -> nvm::Completion {
    let set = shared.namespaces.current(namespaces);
    nvm::execute(&io_env(shared, set, shared.features.io_view(), opts), bufs, cmd)
}

/// What a command runs with: the namespace set, and the features as `io_view`
/// (`Features::io_view`: volatile write cache, CDFE) gave them.
pub(super) fn io_env<'a>(
    shared: &'a Shared,
    set: &'a crate::nvm::ns_table::NsSet,
    (write_cache, cdfe): (bool, u16),
    opts: IoOptions,
) -> IoEnv<'a> {
    IoEnv {
        mem: &*shared.mem,
        namespaces: set,
        counters: &shared.counters,
        page_size: shared.page_size(),
        max_transfer: shared.config.max_transfer(),
        sgl_length: shared.config.sgl_length,
        write_cache,
        copy_formats_enabled: cdfe | shared.config.copy_formats_always,
        opts,
    }
}
