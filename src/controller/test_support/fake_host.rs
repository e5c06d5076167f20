//! [`FakeHost`]: plays the host side of an NVMe controller without QEMU.
//!
//! Guest memory is a [`VecMemory`] (page 0 poisoned, so a controller that follows a
//! null or garbage pointer gets a DMA error instead of silently reading zeroes),
//! interrupts go to a [`RecordingSink`], namespaces sit on a [`MemStore`] or on a
//! [`FileStore`] over a temporary file ([`Store`]). The harness enables the
//! controller through its registers, creates queues with admin commands, writes
//! submission entries into rings in guest memory, rings doorbells, and reads
//! completions back by their phase tag, as a driver does.
//!
//! Admin commands run inline on the doorbell write; I/O queues are served by worker
//! threads, so completions are polled with a deadline ([`TIMEOUT`]), never assumed
//! after a fixed sleep. Command builders live in `cmd.rs`.

pub use super::cmd;
#[cfg(test)]
pub(crate) use super::fixtures::on_every_store;
use super::fixtures::TempImage;
pub use super::fixtures::{pattern, u16_at, u32_at, u64_at, watchdog, NsConfig, Store};
use crate::controller::doorbell_area::{DoorbellArea, LocalDoorbells};
use crate::controller::interrupt::RecordingSink;
use crate::controller::{Controller, ControllerConfig, NamespaceTable};
use crate::dma::{DmaMemory, GuestAddr, VecMemory};
use crate::nvm::namespace::Namespace;
use crate::spec::registers::{self as reg, csts};
use crate::spec::{CompletionEntry, Status, SubmissionEntry};
use crate::storage::{BlockStore, FileStore, MemStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PAGE: u64 = 4096;
/// Guest memory size.
pub const MEM_SIZE: usize = 16 << 20;
/// How long a completion may take before a test fails.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Admin queue entries.
pub const ADMIN_ENTRIES: u16 = 32;

/// The host's view of one queue pair.
#[derive(Clone, Copy, Debug)]
pub struct HostQueue {
    pub sq_base: u64,
    pub cq_base: u64,
    pub sq_size: u16,
    pub cq_size: u16,
    pub sq_tail: u16,
    pub cq_head: u16,
    pub phase: bool,
}

impl HostQueue {
    fn new(sq_base: u64, sq_size: u16, cq_base: u64, cq_size: u16) -> Self {
        HostQueue { sq_base, cq_base, sq_size, cq_size, sq_tail: 0, cq_head: 0, phase: true }
    }
}

pub struct FakeHost {
    // Dropped first: stops the worker threads before the images go away.
    pub ctrl: Controller,
    pub mem: Arc<VecMemory>,
    pub irq: Arc<RecordingSink>,
    pub namespaces: Vec<Arc<Namespace>>,
    pub configs: Vec<NsConfig>,
    queues: Vec<Option<HostQueue>>,
    next_free: u64,
    next_cid: u16,
    /// Doorbells in shared memory (mmap-poll), once [`FakeHost::map_doorbells`] ran.
    pub mapped: Option<Arc<LocalDoorbells>>,
    _images: Vec<TempImage>,
}

pub fn sq_doorbell(qid: u16) -> u64 {
    reg::DOORBELL_BASE + 8 * qid as u64
}
pub fn cq_doorbell(qid: u16) -> u64 {
    reg::DOORBELL_BASE + 8 * qid as u64 + 4
}

impl FakeHost {
    /// A host with these namespaces on `store`, controller not yet enabled.
    pub fn new(store: Store, namespaces: &[NsConfig]) -> Self {
        Self::with_config(store, namespaces, ControllerConfig::default())
    }

    /// [`FakeHost::new`], then [`FakeHost::enable`]: ready for admin commands.
    pub fn enabled(store: Store, namespaces: &[NsConfig]) -> Self {
        let mut h = Self::new(store, namespaces);
        h.enable();
        h
    }

    /// [`FakeHost::new`] with the controller configured by `config`.
    /// A store without a volatile write cache (writethrough, directsync) turns the
    /// controller's write cache off, as `vnvme serve --cache` does.
    pub fn with_config(store: Store, namespaces: &[NsConfig], mut config: ControllerConfig) -> Self {
        config.write_cache &= store.volatile_write_cache();
        config.engine = store.engine();
        let mut images = Vec::new();
        let built = namespaces
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s: Arc<dyn BlockStore> = match store {
                    Store::Mem => Arc::new(MemStore::new(c.bytes)),
                    Store::File(cache) | Store::Uring(cache) => {
                        let img = TempImage::create(c.bytes);
                        let s = FileStore::open_with(img.path(), cache).expect("opening a temporary image");
                        images.push(img);
                        Arc::new(s)
                    }
                };
                c.build(i as u32 + 1, s)
            })
            .collect();
        let mut host = Self::with_namespaces_and_config(built, config);
        host.configs = namespaces.to_vec();
        host._images = images;
        host
    }

    /// A host around namespaces the test built itself.
    pub fn with_namespaces(namespaces: Vec<Arc<Namespace>>) -> Self {
        Self::with_table(Arc::new(NamespaceTable::fixed(namespaces)))
    }

    fn with_namespaces_and_config(namespaces: Vec<Arc<Namespace>>, config: ControllerConfig) -> Self {
        Self::with_table_and_config(Arc::new(NamespaceTable::fixed(namespaces)), config)
    }

    /// A host around a namespace set that may change (Namespace Management);
    /// `namespaces` holds the ones allocated at the start.
    pub fn with_table(table: Arc<NamespaceTable>) -> Self {
        Self::with_table_and_config(table, ControllerConfig::default())
    }

    fn with_table_and_config(table: Arc<NamespaceTable>, config: ControllerConfig) -> Self {
        let namespaces = table.snapshot().allocated().map(|e| e.ns.clone()).collect();
        let mem = Arc::new(VecMemory::new(MEM_SIZE));
        mem.poison(0, PAGE);
        let irq = Arc::new(RecordingSink::new(config.msix_vectors));
        let ctrl = Controller::with_table(config, mem.clone(), irq.clone(), table);
        FakeHost {
            ctrl,
            mem,
            irq,
            configs: Vec::new(),
            namespaces,
            queues: Vec::new(),
            next_free: 0x10000,
            next_cid: 1,
            mapped: None,
            _images: Vec::new(),
        }
    }

    /// Enabled, with I/O queue pair 1 (64 entries) on one namespace.
    pub fn with_io(store: Store, ns: NsConfig) -> Self {
        let mut h = Self::new(store, &[ns]);
        h.enable();
        h.create_io_queues(1, 64);
        h
    }

    // ---- guest memory ----

    /// Page-aligned, zeroed guest memory of at least `len` bytes.
    pub fn alloc(&mut self, len: u64) -> u64 {
        let addr = self.next_free;
        let len = len.max(1).div_ceil(PAGE) * PAGE;
        assert!(addr + len <= MEM_SIZE as u64, "fake host out of guest memory");
        self.next_free += len;
        self.mem.write(GuestAddr(addr), &vec![0u8; len as usize]).unwrap();
        addr
    }
    /// Where the next [`FakeHost::alloc`] starts: a mark to hand back to
    /// [`FakeHost::free_to`] (a host that re-creates its queues over and over,
    /// as the fuzz target does, would otherwise run out of guest memory).
    pub fn alloc_mark(&self) -> u64 {
        self.next_free
    }
    /// Forget every allocation made since `mark` (from [`FakeHost::alloc_mark`]).
    pub fn free_to(&mut self, mark: u64) {
        assert!(mark >= 0x10000 && mark <= self.next_free, "a mark from alloc_mark");
        self.next_free = mark;
    }
    /// A buffer holding `data`.
    pub fn alloc_with(&mut self, data: &[u8]) -> u64 {
        let a = self.alloc(data.len() as u64);
        self.put(a, data);
        a
    }
    pub fn put(&self, addr: u64, data: &[u8]) {
        self.mem.write(GuestAddr(addr), data).unwrap();
    }
    pub fn get(&self, addr: u64, len: u64) -> Vec<u8> {
        let mut b = vec![0u8; len as usize];
        self.mem.read(GuestAddr(addr), &mut b).unwrap();
        b
    }
    pub fn put_u64s(&self, addr: u64, entries: &[u64]) {
        let bytes: Vec<u8> = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
        self.put(addr, &bytes);
    }

    /// PRP1/PRP2 for a contiguous buffer, with a PRP list when it spans more than
    /// two pages.
    pub fn prps(&mut self, addr: u64, len: u64) -> (u64, u64) {
        let first = PAGE - addr % PAGE;
        if len <= first {
            return (addr, 0);
        }
        let next = addr - addr % PAGE + PAGE;
        if len <= first + PAGE {
            return (addr, next);
        }
        let pages: Vec<u64> = (0..(len - first).div_ceil(PAGE)).map(|i| next + i * PAGE).collect();
        assert!(pages.len() <= 512, "one PRP list page only");
        let list = self.alloc(PAGE);
        self.put_u64s(list, &pages);
        (addr, list)
    }

    // ---- registers ----

    pub fn csts(&self) -> u32 {
        self.ctrl.mmio_read(reg::CSTS, 4) as u32
    }

    /// Program the admin queue and set CC.EN; asserts CSTS.RDY.
    pub fn enable(&mut self) {
        let n = ADMIN_ENTRIES as u64;
        let asq = self.alloc(n * 64);
        let acq = self.alloc(n * 16);
        let aqa = (n - 1) | (n - 1) << 16;
        self.ctrl.mmio_write(reg::AQA, 4, aqa);
        self.ctrl.mmio_write(reg::ASQ, 8, asq);
        self.ctrl.mmio_write(reg::ACQ, 8, acq);
        self.ctrl.mmio_write(reg::CC, 4, 0x0046_0001);
        assert_eq!(self.csts() & (csts::RDY | csts::CFS), csts::RDY, "controller ready, no fatal status");
        self.queues = vec![Some(HostQueue::new(asq, ADMIN_ENTRIES, acq, ADMIN_ENTRIES))];
    }

    /// Clear CC.EN (controller reset); asserts CSTS.RDY clears. Host queue state is forgotten.
    pub fn disable(&mut self) {
        self.ctrl.mmio_write(reg::CC, 4, 0x0046_0000);
        assert_eq!(self.csts() & csts::RDY, 0, "RDY clears on CC.EN = 0");
        self.queues.clear();
    }

    // ---- queues ----

    pub fn queue(&self, qid: u16) -> HostQueue {
        self.queues[qid as usize].expect("no such host queue")
    }

    /// Create I/O CQ and SQ `qid` (CQ vector `qid`, interrupts on) with `entries` each.
    pub fn create_io_pair(&mut self, qid: u16, sq_entries: u16, cq_entries: u16) {
        let cq = self.alloc(cq_entries as u64 * 16);
        let sq = self.alloc(sq_entries as u64 * 64);
        let c = self.admin(cmd::create_cq(qid, cq_entries, cq, qid, true));
        assert_eq!(c.status, Status::SUCCESS, "create I/O CQ {qid}");
        let c = self.admin(cmd::create_sq(qid, sq_entries, sq, qid));
        assert_eq!(c.status, Status::SUCCESS, "create I/O SQ {qid}");
        self.adopt_queue(qid, HostQueue::new(sq, sq_entries, cq, cq_entries));
    }

    /// Create I/O queue pairs 1..=n of `entries` entries each.
    pub fn create_io_queues(&mut self, n: u16, entries: u16) {
        for qid in 1..=n {
            self.create_io_pair(qid, entries, entries);
        }
    }

    /// Track a queue pair the test created with its own admin commands.
    pub fn adopt_queue(&mut self, qid: u16, q: HostQueue) {
        let i = qid as usize;
        if self.queues.len() <= i {
            self.queues.resize(i + 1, None);
        }
        self.queues[i] = Some(q);
    }

    pub fn forget_queue(&mut self, qid: u16) {
        self.queues[qid as usize] = None;
    }

    /// Write `sqe` (with a fresh CID) at the SQ tail without ringing; returns the CID.
    pub fn push(&mut self, qid: u16, mut sqe: SubmissionEntry) -> u16 {
        let cid = self.next_cid;
        self.next_cid = self.next_cid.wrapping_add(1).max(1);
        sqe.dw[0] = (sqe.dw[0] & 0xffff) | (cid as u32) << 16;
        let q = self.queues[qid as usize].as_mut().expect("no such host queue");
        self.mem.write(GuestAddr(q.sq_base + q.sq_tail as u64 * 64), &sqe.to_bytes()).unwrap();
        q.sq_tail = (q.sq_tail + 1) % q.sq_size;
        cid
    }

    /// Ring doorbells by storing into a shared area from now on, as a host with
    /// BAR0's doorbell page mapped does (mmap-poll); before [`FakeHost::enable`].
    pub fn map_doorbells(&mut self) -> Arc<LocalDoorbells> {
        let area = Arc::new(LocalDoorbells::new(1024));
        self.ctrl.map_doorbells(area.clone());
        self.mapped = Some(area.clone());
        area
    }

    /// Write a doorbell: to the register, or with mapped doorbells a store into
    /// the area, after which the transport's poll of the area runs once (a real
    /// transport thread polls on its own; the I/O queues' workers poll for
    /// themselves either way).
    fn write_doorbell(&mut self, offset: u64, value: u16) {
        match &self.mapped {
            Some(area) => {
                area.store(reg::doorbell_index(offset).expect("a doorbell offset"), value as u32);
                self.ctrl.poll_mapped_doorbells();
            }
            None => self.ctrl.mmio_write(offset, 4, value as u64),
        }
    }

    /// Write the host's SQ tail to the doorbell register.
    pub fn ring_sq(&mut self, qid: u16) {
        let tail = self.queue(qid).sq_tail;
        self.write_doorbell(sq_doorbell(qid), tail);
    }

    /// Write the host's CQ head to the doorbell register.
    pub fn ring_cq(&mut self, qid: u16) {
        let head = self.queue(qid).cq_head;
        self.write_doorbell(cq_doorbell(qid), head);
    }

    pub fn submit(&mut self, qid: u16, sqe: SubmissionEntry) -> u16 {
        let cid = self.push(qid, sqe);
        self.ring_sq(qid);
        cid
    }

    /// The entry at the host's CQ head if its phase tag is current, consuming it
    /// (the head doorbell is not written).
    pub fn try_completion(&mut self, qid: u16) -> Option<CompletionEntry> {
        let q = self.queues[qid as usize].as_mut().expect("no such host queue");
        let mut raw = [0u8; 16];
        self.mem.read(GuestAddr(q.cq_base + q.cq_head as u64 * 16), &mut raw).unwrap();
        let (e, phase) = CompletionEntry::parse(&raw);
        if phase != q.phase {
            return None;
        }
        q.cq_head += 1;
        if q.cq_head == q.cq_size {
            q.cq_head = 0;
            q.phase = !q.phase;
        }
        Some(e)
    }

    /// Poll for the next completion until `timeout`.
    pub fn wait_completion(&mut self, qid: u16, timeout: Duration) -> Option<CompletionEntry> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.try_completion(qid) {
                return Some(e);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// The next completion (failing the test after [`TIMEOUT`]), head doorbell written.
    pub fn complete(&mut self, qid: u16) -> CompletionEntry {
        let e = self
            .wait_completion(qid, TIMEOUT)
            .unwrap_or_else(|| panic!("no completion on queue {qid} within {TIMEOUT:?}"));
        assert_eq!(e.sq_id, qid, "completion names its submission queue");
        self.ring_cq(qid);
        e
    }

    /// Submit one command and wait for its completion.
    pub fn exec(&mut self, qid: u16, sqe: SubmissionEntry) -> CompletionEntry {
        let cid = self.submit(qid, sqe);
        let e = self.complete(qid);
        assert_eq!(e.cid, cid, "completion for the command just submitted");
        e
    }

    pub fn admin(&mut self, sqe: SubmissionEntry) -> CompletionEntry {
        self.exec(0, sqe)
    }
    pub fn io(&mut self, qid: u16, sqe: SubmissionEntry) -> CompletionEntry {
        self.exec(qid, sqe)
    }

    // ---- data helpers ----

    pub fn config(&self, nsid: u32) -> NsConfig {
        self.configs[nsid as usize - 1]
    }

    /// An admin command that returns `len` bytes: the completion and the data.
    pub fn admin_read(&mut self, sqe: SubmissionEntry, len: u64) -> (CompletionEntry, Vec<u8>) {
        let buf = self.alloc(len);
        let (p1, p2) = self.prps(buf, len);
        let c = self.admin(sqe.with_prps(p1, p2));
        (c, self.get(buf, len))
    }

    pub fn identify(&mut self, cns: u8, nsid: u32) -> (CompletionEntry, Vec<u8>) {
        self.admin_read(cmd::identify(cns, nsid), PAGE)
    }

    /// Write `data` (whole blocks, data only) at `slba` through PRPs on queue 1.
    pub fn write_blocks(&mut self, nsid: u32, slba: u64, data: &[u8]) -> Status {
        let nlb = data.len() as u64 / self.config(nsid).lbs as u64;
        let buf = self.alloc_with(data);
        let (p1, p2) = self.prps(buf, data.len() as u64);
        self.io(1, cmd::write(nsid, slba, nlb).with_prps(p1, p2)).status
    }

    /// Read `nlb` blocks (data only) at `slba` through PRPs on queue 1.
    pub fn read_blocks(&mut self, nsid: u32, slba: u64, nlb: u64) -> (Status, Vec<u8>) {
        let len = nlb * self.config(nsid).lbs as u64;
        let buf = self.alloc(len);
        let (p1, p2) = self.prps(buf, len);
        let s = self.io(1, cmd::read(nsid, slba, nlb).with_prps(p1, p2)).status;
        (s, self.get(buf, len))
    }
}
