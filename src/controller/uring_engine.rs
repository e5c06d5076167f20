//! The io_uring engine (`serve --engine io_uring`): one queue's worker keeps up to
//! [`SLOTS`] Reads and Writes in flight at once and posts each completion when its
//! data has moved, in the order the transfers finish (NVMe does not order the
//! commands of a queue, NVMe-Base 3.4.4).
//!
//! The worker fetches while it has a free slot: a Read or Write is staged
//! (`nvm::staged`: checks, locks, the write's data and PI taken from the host, the
//! metadata moved) and its data transfer queued on the ring; every other command,
//! and a Read or Write that cannot go asynchronously (a zoned namespace, a lock
//! taken, an O_DIRECT transfer that is not aligned), runs through `nvm::execute`
//! once the queue has nothing in flight, exactly as on the sync engine. Fetching
//! stops while the namespace set or the I/O features (volatile write cache, CDFE)
//! change, so no command runs with an old view of them, and when the control plane
//! wants to see each command (the worker then runs commands one at a time). An
//! interrupt is raised before the worker blocks waiting for a transfer, after
//! every 32 completions, and when the queue runs dry.

use super::queue::{CompletionQueue, SubmissionQueue};
use super::worker::{count_posted, current_tail, hook_active, io_env, post};
use super::Shared;
use crate::dma::GuestAddr;
use crate::nvm::inject::IoOptions;
use crate::nvm::ns_table::CachedSet;
use crate::nvm::staged::{self, Stage, Staged};
use crate::nvm::{self, Buffers};
use crate::spec::{IoCommand, SubmissionEntry};
use crate::storage::uring::Ring;
use std::sync::atomic::{fence, Ordering};

/// Commands in flight per queue at most (each holds its own buffers, up to MDTS).
pub const SLOTS: usize = 32;

/// The ring of a queue of `entries` entries.
pub fn ring_for(entries: u16) -> std::io::Result<Ring<Buffers>> {
    Ring::new((entries as usize).clamp(1, SLOTS))
}

/// Run the queue until it is empty with nothing in flight, or until the control
/// plane wants each command, or the queue stops. False when the worker must exit
/// (guest memory failed, or the queue was deleted while its CQ was full).
pub fn run(
    shared: &Shared,
    sq: &SubmissionQueue,
    cq: &CompletionQueue,
    ring: &mut Ring<Buffers>,
    head: &mut u16,
    namespaces: &mut CachedSet,
) -> bool {
    // Taken again if a commit happened, then held for this run.
    let features = shared.features.io_view();
    shared.namespaces.current(namespaces);
    let generation = namespaces.generation();
    let env = io_env(shared, namespaces.set(), features, IoOptions::default());
    let mut flight: [Option<(Staged, SubmissionEntry)>; SLOTS] = std::array::from_fn(|_| None);
    let mut posted = 0usize;
    let mut alive = true;
    loop {
        // Fetch while a slot is free.
        let mut done_fetching = false;
        while alive {
            let Some(slot) = ring.free_slot() else { break };
            let fresh = shared.namespaces.generation() == generation && shared.features.io_view() == features;
            if sq.stop.load(Ordering::SeqCst) || !shared.running.load(Ordering::SeqCst) || !fresh || hook_active(shared)
            {
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
            let sqe = SubmissionEntry::from_bytes(&raw);
            let cmd = IoCommand::parse(&sqe);
            let c = match staged::stage(&env, ring.slot_mut(slot), &cmd) {
                Stage::Io(s) => {
                    *head = (*head + 1) % sq.size;
                    match ring.start(slot, s.is_write(), s.fd, s.off) {
                        Ok(()) => {
                            flight[slot] = Some((s, sqe));
                            shared.counters.uring_transfers.fetch_add(1, Ordering::Relaxed);
                            shared.counters.uring_peak.fetch_max(ring.in_flight() as u64, Ordering::Relaxed);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!("io_uring: queueing a transfer: {e}");
                            staged::finish(&env, ring.slot_mut(slot), s, -libc::EIO)
                        }
                    }
                }
                Stage::Done(c) => {
                    *head = (*head + 1) % sq.size;
                    c
                }
                // Only with nothing in flight: it may need a lock a command in flight holds.
                Stage::Sync if ring.in_flight() > 0 => break,
                Stage::Sync => {
                    *head = (*head + 1) % sq.size;
                    nvm::execute(&env, ring.slot_mut(slot), &cmd)
                }
            };
            if !post(shared, sq, cq, &sqe, &c, *head, &mut posted) {
                alive = false;
                break;
            }
            count_posted(shared, cq, &mut posted);
        }
        if ring.in_flight() == 0 {
            if !posted.is_multiple_of(32) {
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
        let (slot, res) = match next {
            Ok(r) => r,
            Err(e) => {
                // The ring is broken: the transfers in flight never complete here.
                // The ring's Drop keeps their buffers; the queue stops.
                tracing::error!("queue {}: io_uring wait: {e}", sq.id);
                shared.fatal.store(true, Ordering::SeqCst);
                return false;
            }
        };
        let Some((s, sqe)) = flight[slot].take() else { continue };
        let c = staged::finish(&env, ring.slot_mut(slot), s, res);
        if alive && post(shared, sq, cq, &sqe, &c, *head, &mut posted) {
            count_posted(shared, cq, &mut posted);
        } else {
            alive = false;
        }
    }
}
