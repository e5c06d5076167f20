//! The set of namespaces in the NVM subsystem and which of them are attached to
//! the controller (NVMe-Base 3.2.1: allocated vs. active NSIDs), changeable at
//! run time by Namespace Management and Namespace Attachment.
//!
//! Concurrency: the current set is an immutable [`NsSet`] behind an `Arc`.
//! Readers (every I/O command on the queue workers, Identify, the control plane)
//! take a snapshot once per command, one uncontended read lock and an `Arc`
//! clone, and use it to the end: a command that started before a detach or
//! delete completes against the namespace it found (its image stays open until
//! the last snapshot is dropped), and every later command sees the new set and
//! gets Invalid Namespace or Format. Writers (the admin path on the transport
//! thread) hold `change` while they build a new set, then swap it in.
//!
//! The set outlives a connection: `vnvme serve` makes one table and hands it to
//! each controller, so attachment state is the subsystem's, not the session's.

use super::ns_dir::NsDir;
use super::Namespace;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Where a namespace came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Given with `--ns`: the image is the user's; deleting the namespace removes
    /// it from the subsystem for this run but never touches the file.
    Given,
    /// Created by Namespace Management in the `--ns-dir` directory; deleting it
    /// removes the image and its sidecars.
    Managed,
}

#[derive(Clone)]
pub struct NsEntry {
    pub ns: Arc<Namespace>,
    /// Attached to the controller (CNTLID [`CNTLID`]): an active NSID.
    pub attached: bool,
    pub origin: Origin,
}

/// The one controller of the subsystem, as Identify Controller CNTLID reports it.
pub const CNTLID: u16 = 1;

/// One version of the namespace set: slots for NSIDs 1..=NN.
#[derive(Clone)]
pub struct NsSet {
    slots: Vec<Option<NsEntry>>,
}

impl NsSet {
    /// Number of Namespaces (Identify Controller NN): the largest valid NSID.
    pub fn nn(&self) -> u32 {
        self.slots.len() as u32
    }
    /// An NSID the subsystem can use, allocated or not (1..=NN).
    pub fn valid(&self, nsid: u32) -> bool {
        nsid != 0 && nsid <= self.nn()
    }
    /// The allocated namespace `nsid`, attached or not.
    pub fn entry(&self, nsid: u32) -> Option<&NsEntry> {
        if nsid == 0 {
            return None;
        }
        self.slots.get(nsid as usize - 1)?.as_ref()
    }
    /// The namespace of an active NSID (allocated and attached).
    pub fn active(&self, nsid: u32) -> Option<&Arc<Namespace>> {
        self.entry(nsid).filter(|e| e.attached).map(|e| &e.ns)
    }
    /// Active namespaces in NSID order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Namespace>> {
        self.allocated().filter(|e| e.attached).map(|e| &e.ns)
    }
    /// Allocated namespaces in NSID order.
    pub fn allocated(&self) -> impl Iterator<Item = &NsEntry> {
        self.slots.iter().flatten()
    }
    /// Bytes of NVM the namespaces of `origin` hold (their image sizes).
    pub fn bytes(&self, origin: Origin) -> u64 {
        self.allocated().filter(|e| e.origin == origin).map(|e| e.ns.store.size()).sum()
    }
    /// The lowest NSID not allocated.
    pub fn free_nsid(&self) -> Option<u32> {
        self.slots.iter().position(|s| s.is_none()).map(|i| i as u32 + 1)
    }
    pub(super) fn put(&mut self, nsid: u32, e: Option<NsEntry>) {
        self.slots[nsid as usize - 1] = e;
    }
}

pub struct NamespaceTable {
    current: RwLock<Arc<NsSet>>,
    /// Held by a writer from reading the current set to swapping in the new one.
    change: Mutex<()>,
    /// Namespace Management's directory (`--ns-dir`); `None` when not offered.
    pub dir: Option<NsDir>,
    /// Bytes of the `--ns` images at start (part of TNVMCAP).
    given_bytes: u64,
    /// Bumped after every commit, so a [`CachedSet`] knows when to look again.
    generation: AtomicU64,
}

/// A reader's copy of the set (an I/O queue worker's), taken again only after
/// the table changed: the I/O path checks one atomic per command instead of
/// taking the table's lock and an `Arc` reference.
pub struct CachedSet {
    generation: u64,
    set: Arc<NsSet>,
}

impl CachedSet {
    /// The table's generation when this set was taken.
    pub fn generation(&self) -> u64 {
        self.generation
    }
    pub fn set(&self) -> &NsSet {
        &self.set
    }
}

impl NamespaceTable {
    /// Namespaces 1..=n, all attached, no management: NN = n.
    pub fn fixed(namespaces: Vec<Arc<Namespace>>) -> Self {
        let n = namespaces.len() as u32;
        Self::new(namespaces, n, None, Vec::new())
    }

    /// `given` as NSIDs 1..; `managed` entries from `dir` at their own NSIDs; NN
    /// is at least `nn`. Callers check that NSIDs do not collide.
    pub fn new(given: Vec<Arc<Namespace>>, nn: u32, dir: Option<NsDir>, managed: Vec<NsEntry>) -> Self {
        let top = managed.iter().map(|e| e.ns.nsid).chain(given.iter().map(|n| n.nsid)).max().unwrap_or(0);
        let mut set = NsSet { slots: vec![None; nn.max(top) as usize] };
        let given_bytes = given.iter().map(|n| n.store.size()).sum();
        for ns in given {
            let nsid = ns.nsid;
            set.put(nsid, Some(NsEntry { ns, attached: true, origin: Origin::Given }));
        }
        for e in managed {
            let nsid = e.ns.nsid;
            set.put(nsid, Some(e));
        }
        NamespaceTable {
            current: RwLock::new(Arc::new(set)),
            change: Mutex::new(()),
            dir,
            given_bytes,
            generation: AtomicU64::new(0),
        }
    }

    /// The set as it is now; hold it for one command.
    pub fn snapshot(&self) -> Arc<NsSet> {
        self.current.read().unwrap().clone()
    }

    /// A copy of the set for [`current`](Self::current).
    pub fn cached(&self) -> CachedSet {
        let generation = self.generation.load(Ordering::Acquire);
        CachedSet { generation, set: self.snapshot() }
    }

    /// The set as it is now, through `cache`: the same set as
    /// [`snapshot`](Self::snapshot) would give, taken again only when a commit
    /// happened since.
    pub fn current<'c>(&self, cache: &'c mut CachedSet) -> &'c NsSet {
        let g = self.generation.load(Ordering::Acquire);
        if g != cache.generation {
            // Loaded before the snapshot: the set is at least as new as `g`.
            cache.set = self.snapshot();
            cache.generation = g;
        }
        &cache.set
    }

    /// The commit count: a [`CachedSet`] of an older generation is out of date.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether Namespace Management and Attachment are offered (OACS bit 3).
    pub fn managed(&self) -> bool {
        self.dir.is_some()
    }

    /// Start a change: the set to modify, and the guard that keeps other writers out.
    pub fn begin(&self) -> (MutexGuard<'_, ()>, NsSet) {
        let g = self.change.lock().unwrap();
        let set = (*self.snapshot()).clone();
        (g, set)
    }

    /// Publish a changed set (from [`begin`](Self::begin), guard still held).
    pub fn commit(&self, _guard: MutexGuard<'_, ()>, set: NsSet) {
        *self.current.write().unwrap() = Arc::new(set);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Total NVM capacity (TNVMCAP): the directory's capacity plus the `--ns`
    /// images'. Unallocated capacity (UNVMCAP): what the directory has left.
    pub fn capacity(&self) -> (u64, u64) {
        match &self.dir {
            None => (0, 0),
            Some(d) => {
                let used = self.snapshot().bytes(Origin::Managed);
                (d.capacity.saturating_add(self.given_bytes), d.capacity.saturating_sub(used))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvm::namespace::{standard_formats, Protection};
    use crate::storage::MemStore;

    fn ns(nsid: u32) -> Arc<Namespace> {
        let store = Arc::new(MemStore::new(1 << 20));
        Arc::new(Namespace::new(nsid, store, standard_formats(0, 0), 0, false, Protection::NONE, 1))
    }

    #[test]
    fn a_cached_set_is_taken_again_after_each_commit_only() {
        let t = NamespaceTable::new(vec![ns(1), ns(2)], 4, None, Vec::new());
        let mut c = t.cached();
        let first: *const NsSet = t.current(&mut c);
        assert!(std::ptr::eq(first, t.current(&mut c)), "no commit: the same set");
        let (g, mut set) = t.begin();
        set.put(2, None);
        t.commit(g, set);
        assert!(t.current(&mut c).active(2).is_none(), "the commit is seen by the next command");
        assert!(t.current(&mut c).active(1).is_some());
    }

    #[test]
    fn snapshots_survive_changes_and_changes_are_seen_after() {
        let t = NamespaceTable::new(vec![ns(1), ns(2)], 4, None, Vec::new());
        let before = t.snapshot();
        assert_eq!((before.nn(), before.iter().count(), before.free_nsid()), (4, 2, Some(3)));
        let (g, mut set) = t.begin();
        let mut e = set.entry(2).unwrap().clone();
        e.attached = false;
        set.put(2, Some(e));
        t.commit(g, set);
        assert!(before.active(2).is_some(), "an old snapshot keeps its namespaces");
        let after = t.snapshot();
        assert!(after.active(2).is_none() && after.entry(2).is_some(), "detached: allocated, not active");
        assert_eq!(after.iter().map(|n| n.nsid).collect::<Vec<_>>(), [1]);
        assert!(!after.valid(0) && after.valid(4) && !after.valid(5));
    }
}
