//! The io_uring engine (`serve --engine io_uring`): one queue's worker keeps up to
//! [`SLOTS`] Reads and Writes in flight at once and posts each completion when its
//! data has moved, in the order the transfers finish (NVMe does not order the
//! commands of a queue, NVMe-Base 3.4.4).
//!
//! The worker fetches while it has a free slot: a Read or Write is staged
//! (`nvm::staged`: checks, locks, the write's data and PI taken from the host, the
//! metadata moved) and its data transfer queued on the ring; every other command,
//! a Read or Write that cannot go asynchronously (a zoned namespace, a lock taken,
//! an O_DIRECT transfer that is not aligned), and one the control plane injects
//! something into (a fault rule fired, mutation detection on) runs through
//! `nvm::execute` once the queue has nothing in flight, exactly as on the sync
//! engine. The control plane sees every command either way (statistics, trace).
//! The worker stops fetching when the namespace set or the I/O features (volatile
//! write cache, CDFE) change, so no command runs with an old view of them. An
//! interrupt is raised before the worker blocks waiting for a transfer, after
//! every 32 completions, and when the queue runs dry.

use super::queue::{CompletionQueue, SubmissionQueue};
use super::worker::{
    count_posted, current_tail, delay, io_env, plain, post, report, run_watched, watch, Watch, MAX_BATCH,
};
use super::Shared;
use crate::dma::GuestAddr;
use crate::nvm::inject::IoOptions;
use crate::nvm::ns_table::CachedSet;
use crate::nvm::staged::{self, Stage, Staged};
use crate::nvm::{self, Buffers};
use crate::spec::{IoCommand, SubmissionEntry};
use crate::storage::uring::Ring;
use std::sync::atomic::{fence, Ordering};
use std::time::Instant;

/// Commands in flight per queue at most (each holds its own buffers, up to MDTS).
pub const SLOTS: usize = 32;

/// A queue's engine state: its ring, and a command already fetched that must run
/// synchronously once nothing is in flight.
pub struct UringQueue {
    ring: Ring<Buffers>,
    pending: Option<Fetched>,
}

/// A fetched command: its SQ entry is consumed and the control plane (when it
/// watches) has seen it, so it runs exactly once from here.
struct Fetched {
    sqe: SubmissionEntry,
    fetched: Instant,
    watch: Option<Watch>,
}

impl UringQueue {
    /// The engine of a queue of `entries` entries.
    pub fn new(entries: u16) -> std::io::Result<Self> {
        Ok(UringQueue { ring: Ring::new((entries as usize).clamp(1, SLOTS))?, pending: None })
    }

    /// Run the queue until it is empty with nothing in flight, or until it stops.
    /// False when the worker must exit (guest memory failed, or the queue was
    /// deleted while its CQ was full).
    pub fn run(
        &mut self,
        shared: &Shared,
        sq: &SubmissionQueue,
        cq: &CompletionQueue,
        head: &mut u16,
        namespaces: &mut CachedSet,
    ) -> bool {
        let UringQueue { ring, pending } = self;
        let features = shared.features.io_view();
        // Taken again if a commit happened, then held for this run.
        shared.namespaces.current(namespaces);
        let generation = namespaces.generation();
        let env = io_env(shared, namespaces.set(), features, IoOptions::default());
        // Each command in flight, with its transfers' results as they come in.
        let mut flight: [Option<(Staged, Fetched, [i32; 2])>; SLOTS] = std::array::from_fn(|_| None);
        let mut posted = 0usize;
        let mut alive = true;
        loop {
            // Fetch while a slot is free.
            let mut done_fetching = false;
            while alive {
                let Some(slot) = ring.free_slot() else { break };
                let f = match pending.take() {
                    Some(f) => f,
                    None => {
                        let fresh =
                            shared.namespaces.generation() == generation && shared.features.io_view() == features;
                        if sq.stop.load(Ordering::SeqCst) || !shared.running.load(Ordering::SeqCst) || !fresh {
                            done_fetching = true;
                            break;
                        }
                        let tail = current_tail(shared, sq);
                        fence(Ordering::Acquire);
                        if *head == tail {
                            done_fetching = true;
                            break;
                        }
                        let mut raw = [0u8; 64];
                        if shared.mem.read(GuestAddr(sq.entry_addr(*head)), &mut raw).is_err() {
                            shared.fatal.store(true, Ordering::SeqCst);
                            alive = false;
                            break;
                        }
                        *head = (*head + 1) % sq.size;
                        let sqe = SubmissionEntry::from_bytes(&raw);
                        let watch = watch(shared, sq.id, &IoCommand::parse(&sqe));
                        Fetched { sqe, fetched: Instant::now(), watch }
                    }
                };
                let cmd = IoCommand::parse(&f.sqe);
                let stage = match plain(shared, f.watch.as_ref()) {
                    true => staged::stage(&env, ring.slot_mut(slot), &cmd),
                    false => Stage::Sync,
                };
                let c = match stage {
                    Stage::Io(s) => {
                        match s.transfers().try_for_each(|(which, w, fd, off)| ring.start(slot, which, w, fd, off)) {
                            Ok(()) => {
                                flight[slot] = Some((s, f, [0; 2]));
                                shared.counters.uring_transfers.fetch_add(1, Ordering::Relaxed);
                                shared.counters.uring_peak.fetch_max(ring.in_flight() as u64, Ordering::Relaxed);
                                continue;
                            }
                            Err(e) if ring.in_flight() > 0 && !ring.slot_idle(slot) => {
                                // The first transfer is queued: finish when it is done.
                                tracing::warn!("io_uring: queueing a transfer: {e}");
                                flight[slot] = Some((s, f, [0, -libc::EIO]));
                                continue;
                            }
                            Err(e) => {
                                tracing::warn!("io_uring: queueing a transfer: {e}");
                                staged::finish(&env, ring.slot_mut(slot), s, [-libc::EIO; 2])
                            }
                        }
                    }
                    Stage::Done(c) => c,
                    // Only with nothing in flight: it may need a lock a command in flight holds.
                    Stage::Sync if ring.in_flight() > 0 => {
                        *pending = Some(f);
                        break;
                    }
                    Stage::Sync => run_watched(shared, f.watch.as_ref(), |opts| {
                        let env = io_env(shared, namespaces.set(), features, opts);
                        nvm::execute(&env, ring.slot_mut(slot), &cmd)
                    }),
                };
                delay(f.watch.as_ref());
                if !post(shared, sq, cq, &f.sqe, &c, *head, &mut posted) {
                    alive = false;
                    break;
                }
                let mutation = ring.slot_mut(slot).mutation.take();
                report(shared, sq.id, &f.sqe, f.watch, c.status, f.fetched, mutation);
                count_posted(shared, cq, &mut posted);
            }
            if ring.in_flight() == 0 {
                if !posted.is_multiple_of(MAX_BATCH) {
                    shared.interrupt(cq);
                }
                if done_fetching || !alive {
                    return alive;
                }
                continue;
            }
            let next = ring.ready().and_then(|done| match done {
                Some(done) => Ok(done),
                None => {
                    // Tell the host what is done before waiting for more.
                    if posted > 0 {
                        shared.interrupt(cq);
                        posted = 0;
                    }
                    ring.wait()
                }
            });
            let done = match next {
                Ok(d) => d,
                Err(e) => {
                    // The ring is broken: the transfers in flight never complete here.
                    // The ring's Drop keeps their buffers; the queue stops.
                    tracing::error!("queue {}: io_uring wait: {e}", sq.id);
                    shared.fatal.store(true, Ordering::SeqCst);
                    return false;
                }
            };
            let Some(entry) = flight[done.slot].as_mut() else { continue };
            entry.2[done.which] = done.res;
            if !done.slot_done {
                continue;
            }
            let Some((s, f, res)) = flight[done.slot].take() else { continue };
            let c = staged::finish(&env, ring.slot_mut(done.slot), s, res);
            if alive && post(shared, sq, cq, &f.sqe, &c, *head, &mut posted) {
                report(shared, sq.id, &f.sqe, f.watch, c.status, f.fetched, None);
                count_posted(shared, cq, &mut posted);
            } else {
                alive = false;
            }
        }
    }
}
