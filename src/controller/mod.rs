//! The transport-independent NVMe controller: registers and the enable / disable
//! / shutdown state machine (NVMe-Base 3.5), the admin queue, I/O queue workers,
//! and the hand-off of I/O commands to the NVM command set (`crate::nvm`).
//!
//! The controller takes guest memory ([`DmaMemory`]) and an interrupt sink as
//! parameters; it never sees vfio-user, so tests drive it with a fake host.
//!
//! Threads: `mmio_read`/`mmio_write` are called by the transport thread. Admin
//! commands run inline on that thread when the admin SQ doorbell is written.
//! Every I/O submission queue has its own worker thread ([`worker`]) that fetches,
//! executes and completes its commands; several queues run concurrently.

pub mod admin;
pub mod config;
pub mod doorbell_area;
pub mod error_log;
pub mod hooks;
pub mod interrupt;
pub mod queue;
pub mod registers;
pub mod shadow;
pub mod uring_engine;
pub mod worker;

pub use crate::nvm::namespace::Namespace;
pub use crate::nvm::ns_table::NamespaceTable;
pub use config::ControllerConfig;
pub use interrupt::InterruptSink;

use crate::counters::Counters;
use crate::dma::{DmaMemory, GuestAddr};
use crate::spec::registers::{self as reg, csts, Cc, Doorbell};
use crate::spec::{CompletionEntry, SubmissionEntry};
use admin::aer::{AerState, AsyncEvent};
use admin::features::{FeatureCell, Features};
use doorbell_area::DoorbellArea;
use error_log::ErrorLog;
use queue::{CompletionQueue, PostError, SubmissionQueue};
use shadow::{ShadowCell, ShadowDoorbells};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

/// A running I/O submission queue: its ring and its worker thread.
pub struct IoQueue {
    pub sq: Arc<SubmissionQueue>,
    pub thread: Option<JoinHandle<u16>>,
}

/// Queue tables, indexed by queue id. Entry 0 is the admin pair.
#[derive(Default)]
pub struct Queues {
    pub sqs: Vec<Option<IoQueue>>,
    pub cqs: Vec<Option<Arc<CompletionQueue>>>,
}

/// Admin queue state, owned by the thread that processes admin commands.
pub struct AdminQueue {
    pub sq_base: u64,
    pub sq_size: u16,
    pub sq_head: u16,
    pub sq_tail: u16,
    pub cq: Arc<CompletionQueue>,
}

/// State shared between the transport thread and the I/O workers.
pub struct Shared {
    pub config: ControllerConfig,
    pub mem: Arc<dyn DmaMemory>,
    pub irq: Arc<dyn InterruptSink>,
    /// The subsystem's namespaces; outlives the connection (see [`NamespaceTable`]).
    pub namespaces: Arc<NamespaceTable>,
    pub queues: RwLock<Queues>,
    pub shadow: ShadowCell,
    pub features: FeatureCell,
    pub aer: Mutex<AerState>,
    pub errors: Mutex<ErrorLog>,
    pub counters: Counters,
    /// Set when the controller hit a fatal condition (CSTS.CFS).
    pub fatal: AtomicBool,
    /// Set while the controller is enabled and ready; workers stop when it clears.
    pub running: AtomicBool,
    /// The admin SQ head, for completions posted outside the admin path (AER).
    pub admin_sq_head: std::sync::atomic::AtomicU16,
    /// Admin completions waiting for room in a full admin CQ, oldest first. The
    /// admin CQ's head doorbell is served by the transport thread, so nothing may
    /// wait for that room: the entries wait here instead and go out when the host
    /// moves the head ([`Shared::post_admin`]).
    pub admin_backlog: Mutex<std::collections::VecDeque<CompletionEntry>>,
    /// Fault injection, trace and statistics (the control plane); set once.
    pub hook: std::sync::OnceLock<Arc<dyn hooks::CommandHook>>,
    /// BAR0's doorbells as memory the host writes and the device polls
    /// (`serve --doorbells mmap-poll`); set once, before the controller is enabled.
    pub mapped: std::sync::OnceLock<Arc<dyn DoorbellArea>>,
}

impl Shared {
    /// The namespace of an active NSID, as the set is now.
    pub fn namespace(&self, nsid: u32) -> Option<Arc<Namespace>> {
        self.namespaces.snapshot().active(nsid).cloned()
    }
    pub fn page_size(&self) -> u64 {
        self.config.page_size()
    }
    pub fn shadow(&self) -> Option<ShadowDoorbells> {
        self.shadow.get()
    }
    /// The mapped doorbell area, in mmap-poll mode.
    pub fn mapped(&self) -> Option<&Arc<dyn DoorbellArea>> {
        self.mapped.get()
    }

    /// Post a completion and count it; a failed write of the entry is fatal.
    pub fn complete(&self, cq: &CompletionQueue, entry: &CompletionEntry) -> bool {
        self.complete_or_abandon(cq, entry, &|| false)
    }

    /// [`complete`](Self::complete), giving up while the CQ is full once `give_up`
    /// says so (see [`CompletionQueue::post_or_abandon`]).
    pub fn complete_or_abandon(
        &self,
        cq: &CompletionQueue,
        entry: &CompletionEntry,
        give_up: &dyn Fn() -> bool,
    ) -> bool {
        let sh = if cq.id == 0 { None } else { self.shadow() };
        match cq.post_or_abandon(&*self.mem, entry, sh.as_ref(), give_up) {
            Ok(()) => true,
            Err(PostError::Memory) => {
                self.fatal.store(true, Ordering::SeqCst);
                false
            }
            Err(PostError::Closing | PostError::Abandoned) => false,
        }
    }

    /// Post an admin completion without waiting: into the admin CQ if it has room
    /// and nothing is queued before it, else at the end of the backlog. Returns
    /// whether it was posted now (then the caller interrupts).
    pub fn post_admin(&self, cq: &CompletionQueue, entry: &CompletionEntry) -> bool {
        let mut backlog = self.admin_backlog.lock().unwrap();
        if backlog.is_empty() {
            match cq.post_or_abandon(&*self.mem, entry, None, &|| true) {
                Ok(()) => return true,
                Err(PostError::Abandoned) => {}
                Err(PostError::Memory) => {
                    self.fatal.store(true, Ordering::SeqCst);
                    return false;
                }
                Err(PostError::Closing) => return false,
            }
        }
        backlog.push_back(*entry);
        false
    }

    /// Post what the admin backlog holds while the admin CQ has room; interrupts
    /// when anything went out. Called when the host moves the admin CQ head.
    pub fn drain_admin_backlog(&self, cq: &CompletionQueue) {
        let mut backlog = self.admin_backlog.lock().unwrap();
        let mut posted = false;
        while let Some(e) = backlog.front() {
            match cq.post_or_abandon(&*self.mem, e, None, &|| true) {
                Ok(()) => {
                    backlog.pop_front();
                    posted = true;
                }
                Err(PostError::Abandoned) => break,
                Err(PostError::Memory) => {
                    self.fatal.store(true, Ordering::SeqCst);
                    backlog.clear();
                    break;
                }
                Err(PostError::Closing) => {
                    backlog.clear();
                    break;
                }
            }
        }
        drop(backlog);
        if posted {
            self.interrupt(cq);
        }
    }

    pub fn interrupt(&self, cq: &CompletionQueue) {
        if cq.interrupts_enabled {
            self.irq.signal(cq.vector);
        }
    }

    /// Record an asynchronous event and complete a waiting AER command if any.
    pub fn raise_event(&self, ev: AsyncEvent) {
        let done = self.aer.lock().unwrap().raise(ev);
        self.complete_aers(done);
    }

    pub fn complete_aers(&self, done: Vec<CompletionEntry>) {
        if done.is_empty() {
            return;
        }
        let cq = self.queues.read().unwrap().cqs.first().cloned().flatten();
        if let Some(cq) = cq {
            // Completion entries always carry the SQ's current head (NVMe-Base 4.2.1).
            let head = self.admin_sq_head.load(Ordering::SeqCst);
            let mut posted = false;
            for e in &done {
                posted |= self.post_admin(&cq, &CompletionEntry { sq_head: head, ..*e });
            }
            if posted {
                self.interrupt(&cq);
            }
        }
    }
}

/// How a doorbell value reached the controller.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A BAR0 write (by message, or a test's `mmio_write`).
    Register,
    /// A changed value found in the mapped area by [`Controller::poll_mapped_doorbells`].
    Mapped,
}

/// The controller as the transport sees it.
pub struct Controller {
    pub shared: Arc<Shared>,
    regs: registers::Registers,
    admin: Option<AdminQueue>,
    /// The mapped doorbell values the transport thread last acted on, by dword
    /// index ([`Controller::poll_mapped_doorbells`]).
    mapped_seen: Vec<u32>,
}

impl Controller {
    pub fn new(
        config: ControllerConfig,
        mem: Arc<dyn DmaMemory>,
        irq: Arc<dyn InterruptSink>,
        namespaces: Vec<Arc<Namespace>>,
    ) -> Self {
        Self::with_table(config, mem, irq, Arc::new(NamespaceTable::fixed(namespaces)))
    }

    /// A controller over a namespace set that may change (and outlive it).
    pub fn with_table(
        config: ControllerConfig,
        mem: Arc<dyn DmaMemory>,
        irq: Arc<dyn InterruptSink>,
        namespaces: Arc<NamespaceTable>,
    ) -> Self {
        let features = Features::new(&config);
        let regs = registers::Registers::new(&config);
        Controller {
            shared: Arc::new(Shared {
                config,
                mem,
                irq,
                namespaces,
                queues: RwLock::new(Queues::default()),
                shadow: ShadowCell::default(),
                features: FeatureCell::new(features),
                aer: Mutex::new(AerState::default()),
                errors: Mutex::new(ErrorLog::default()),
                counters: Counters::default(),
                fatal: AtomicBool::new(false),
                running: AtomicBool::new(false),
                admin_sq_head: std::sync::atomic::AtomicU16::new(0),
                admin_backlog: Default::default(),
                hook: std::sync::OnceLock::new(),
                mapped: std::sync::OnceLock::new(),
            }),
            regs,
            admin: None,
            mapped_seen: Vec::new(),
        }
    }

    /// Read a BAR0 register. Unknown offsets read as zero.
    pub fn mmio_read(&self, offset: u64, size: usize) -> u64 {
        let mut v = self.regs.read(offset, size);
        if offset == reg::CSTS && self.shared.fatal.load(Ordering::SeqCst) {
            v |= csts::CFS as u64;
        }
        v
    }

    /// Serve BAR0's doorbells from `area`, memory the host writes directly
    /// (module [`doorbell_area`]). Once, before the controller is enabled; the
    /// caller then polls with [`Controller::poll_mapped_doorbells`].
    pub fn map_doorbells(&mut self, area: Arc<dyn DoorbellArea>) {
        self.mapped_seen = vec![0; area.len()];
        if self.shared.mapped.set(area).is_err() {
            tracing::warn!("doorbells were already mapped; keeping the first area");
        }
    }

    /// Look at every mapped doorbell once and act on those whose value changed
    /// since the last look, as if they had been written by message: the admin
    /// queue runs, invalid values raise their event, a sleeping worker wakes. An
    /// I/O queue's doorbells are only checked here; its worker reads them itself
    /// (module [`doorbell_area`] says why). Returns whether an admin doorbell
    /// changed: the caller looks again soon then, and backs off while only I/O
    /// doorbells move (their workers poll them).
    pub fn poll_mapped_doorbells(&mut self) -> bool {
        let Some(area) = self.shared.mapped().cloned() else { return false };
        let slots = self.shared.config.max_queues as usize * 2 + 2;
        let mut admin = false;
        for i in 0..slots.min(self.mapped_seen.len()) {
            let v = area.load(i);
            if v == self.mapped_seen[i] {
                continue;
            }
            self.mapped_seen[i] = v;
            admin |= i < 2;
            self.shared.counters.doorbells_mapped.fetch_add(1, Ordering::Relaxed);
            self.doorbell(reg::DOORBELL_BASE + 4 * i as u64, v, Source::Mapped);
        }
        admin
    }

    /// A queue's doorbells start at 0 (a new queue, a reset): clear them in the
    /// mapped area, where the last user of that queue id may have left a value.
    pub(crate) fn clear_mapped(&mut self, indexes: impl IntoIterator<Item = usize>) {
        let Some(area) = self.shared.mapped().cloned() else { return };
        for i in indexes {
            area.store(i, 0);
            if let Some(s) = self.mapped_seen.get_mut(i) {
                *s = 0;
            }
        }
    }

    /// Write a BAR0 register or doorbell.
    pub fn mmio_write(&mut self, offset: u64, size: usize, value: u64) {
        if offset >= reg::DOORBELL_BASE {
            if size == 4 {
                if let (Some(area), Some(i)) = (self.shared.mapped(), reg::doorbell_index(offset)) {
                    // A doorbell by message while the page is mapped: the
                    // workers read the area, so it goes there too.
                    area.store(i, value as u32);
                    if let Some(s) = self.mapped_seen.get_mut(i) {
                        *s = value as u32;
                    }
                }
                self.shared.counters.doorbell_messages.fetch_add(1, Ordering::Relaxed);
                self.doorbell(offset, value as u32, Source::Register);
            }
            return;
        }
        match self.regs.write(offset, size, value) {
            registers::Effect::None => {}
            registers::Effect::Enable => self.enable(),
            registers::Effect::Disable => self.reset(),
            registers::Effect::Shutdown => self.shutdown(),
        }
    }

    fn doorbell(&mut self, offset: u64, value: u32, source: Source) {
        let Some(db) = reg::doorbell_at(offset) else { return };
        if !self.regs.ready() {
            return;
        }
        let value16 = value as u16;
        let valid = match db {
            Doorbell::SqTail(0) => match self.admin.as_mut() {
                Some(a) if value < a.sq_size as u32 => {
                    a.sq_tail = value16;
                    self.process_admin();
                    true
                }
                _ => false,
            },
            Doorbell::CqHead(0) => match &self.admin {
                Some(a) if value < a.cq.size as u32 => {
                    let cq = a.cq.clone();
                    let ok = cq.set_head(value16);
                    // Room again: what waited goes out, then fetching resumes.
                    self.shared.drain_admin_backlog(&cq);
                    self.process_admin();
                    ok
                }
                _ => false,
            },
            Doorbell::SqTail(q) => {
                let qs = self.shared.queues.read().unwrap();
                match qs.sqs.get(q as usize).and_then(|e| e.as_ref()) {
                    Some(e) if source == Source::Mapped => {
                        // Its worker reads the tail itself; wake it if it sleeps.
                        e.sq.wake_if_sleeping();
                        value < e.sq.size as u32
                    }
                    Some(e) => value < e.sq.size as u32 && e.sq.ring(value16),
                    None => false,
                }
            }
            Doorbell::CqHead(q) => {
                let qs = self.shared.queues.read().unwrap();
                match qs.cqs.get(q as usize).and_then(|e| e.as_ref()) {
                    Some(cq) if source == Source::Mapped => {
                        // Its poster reads the head itself, under the ring lock
                        // (and looks again every 20 us while the queue is full).
                        value < cq.size as u32
                    }
                    Some(cq) => {
                        let shadow = self.shared.shadow();
                        value < cq.size as u32
                            && cq.head_doorbell(value16, shadow.as_ref().map(|sh| (sh, &*self.shared.mem)))
                    }
                    None => false,
                }
            }
        };
        if !valid {
            // NVMe-Base 5.1.2.1: Error event, "Invalid Doorbell Write Value" or
            // "Write to Invalid Doorbell Register".
            let exists = match db {
                Doorbell::SqTail(0) | Doorbell::CqHead(0) => true,
                Doorbell::SqTail(q) => {
                    self.shared.queues.read().unwrap().sqs.get(q as usize).is_some_and(|e| e.is_some())
                }
                Doorbell::CqHead(q) => {
                    self.shared.queues.read().unwrap().cqs.get(q as usize).is_some_and(|e| e.is_some())
                }
            };
            let info = if exists {
                admin::aer::ERROR_INVALID_DOORBELL_VALUE
            } else {
                admin::aer::ERROR_INVALID_DOORBELL_REGISTER
            };
            tracing::info!("invalid doorbell write at {offset:#x} value {value}");
            self.shared.raise_event(AsyncEvent::error(info));
        }
    }

    fn enable(&mut self) {
        let cc = Cc(self.regs.cc);
        let (sq_size, cq_size) = reg::aqa_sizes(self.regs.aqa);
        let page_ok = cc.mps() <= self.shared.config.mpsmax && cc.mps() == 0;
        let sizes_ok = cc.iosqes() == 6 && cc.iocqes() == 4;
        let css_ok = matches!(cc.css(), 0 | 6);
        let aligned = self.regs.asq.is_multiple_of(4096) && self.regs.acq.is_multiple_of(4096);
        if !page_ok || !sizes_ok || !css_ok || !aligned || sq_size < 2 || cq_size < 2 {
            // NVMe-Base 3.5.1: an invalid configuration at enable is reported by CFS.
            tracing::warn!(
                "enable refused: cc {:#x} aqa {:#x} asq {:#x} acq {:#x}",
                self.regs.cc,
                self.regs.aqa,
                self.regs.asq,
                self.regs.acq
            );
            self.shared.fatal.store(true, Ordering::SeqCst);
            return;
        }
        let cq = Arc::new(CompletionQueue::new(0, self.regs.acq, cq_size, 0, true));
        {
            let mut qs = self.shared.queues.write().unwrap();
            let n = self.shared.config.max_queues as usize + 1;
            qs.sqs = (0..n).map(|_| None).collect();
            qs.cqs = (0..n).map(|_| None).collect();
            qs.cqs[0] = Some(cq.clone());
        }
        self.admin = Some(AdminQueue { sq_base: self.regs.asq, sq_size, sq_head: 0, sq_tail: 0, cq });
        self.shared.running.store(true, Ordering::SeqCst);
        self.regs.csts |= csts::RDY;
        tracing::info!("controller enabled (admin SQ {} entries, CQ {} entries)", sq_size, cq_size);
    }

    /// Controller reset (CC.EN 1 -> 0, or transport reset): stop every queue, drop
    /// outstanding AERs, and return registers to their idle state. In-flight I/O
    /// commands finish first (workers are joined), so nothing acknowledged is lost.
    pub fn reset(&mut self) {
        if self.admin.is_some() {
            tracing::info!("controller reset");
        }
        self.stop_queues();
        self.admin = None;
        self.shared.admin_sq_head.store(0, Ordering::SeqCst);
        self.shared.admin_backlog.lock().unwrap().clear();
        self.shared.shadow.set(None);
        // Every doorbell reads 0 again (NVMe-Base 3.7.2: a reset deletes the queues).
        self.clear_mapped(0..self.mapped_seen.len());
        *self.shared.aer.lock().unwrap() = AerState::default();
        self.shared.features.lock().reset(&self.shared.config);
        self.shared.fatal.store(false, Ordering::SeqCst);
        self.regs.csts &= !(csts::RDY | csts::SHST_MASK);
    }

    /// Transport-level reset (vfio-user DEVICE_RESET, a new connection): a
    /// controller reset plus every register back to its power-on value.
    pub fn hard_reset(&mut self) {
        self.reset();
        self.regs = registers::Registers::new(&self.shared.config);
    }

    fn stop_queues(&mut self) {
        self.shared.running.store(false, Ordering::SeqCst);
        let (sqs, cqs) = {
            let mut qs = self.shared.queues.write().unwrap();
            (std::mem::take(&mut qs.sqs), std::mem::take(&mut qs.cqs))
        };
        for cq in cqs.iter().flatten() {
            cq.close();
        }
        for mut q in sqs.into_iter().flatten() {
            q.sq.stop.store(true, Ordering::SeqCst);
            q.sq.notify();
            if let Some(t) = q.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// CC.SHN: make everything durable, then report shutdown complete.
    fn shutdown(&mut self) {
        self.regs.csts = (self.regs.csts & !csts::SHST_MASK) | csts::SHST_OCCURRING;
        self.stop_queues();
        self.admin = None;
        for ns in self.shared.namespaces.snapshot().allocated().map(|e| &e.ns) {
            if let Err(e) = ns.store.flush() {
                tracing::warn!("flush of namespace {} at shutdown failed: {e}", ns.nsid);
            }
            // ZNS 2.1.1.3: a shutdown starts the zone state machine again (open
            // zones come back Closed, or Empty if unwritten), and it is saved.
            if let Some(Err(e)) = ns.zoned.as_ref().map(|z| z.shutdown()) {
                tracing::warn!("saving the zones of namespace {} at shutdown failed: {e}", ns.nsid);
            }
        }
        self.regs.csts = (self.regs.csts & !csts::SHST_MASK) | csts::SHST_COMPLETE;
        tracing::info!("shutdown complete: namespaces flushed");
    }

    /// Fetch and run admin commands up to the tail. While the admin CQ has no room
    /// (full, or completions wait in the backlog), fetching pauses: the commands
    /// stay in the SQ until the host moves the CQ head, and this thread, which
    /// also serves every doorbell and DMA message, never waits for the host.
    fn process_admin(&mut self) {
        loop {
            let Some(a) = self.admin.as_mut() else { return };
            if a.sq_head == a.sq_tail {
                break;
            }
            if a.cq.is_full() || !self.shared.admin_backlog.lock().unwrap().is_empty() {
                break;
            }
            let addr = a.sq_base + a.sq_head as u64 * 64;
            a.sq_head = (a.sq_head + 1) % a.sq_size;
            let head = a.sq_head;
            self.shared.admin_sq_head.store(head, Ordering::SeqCst);
            let cq = a.cq.clone();
            let mut raw = [0u8; 64];
            if self.shared.mem.read(GuestAddr(addr), &mut raw).is_err() {
                self.shared.fatal.store(true, Ordering::SeqCst);
                return;
            }
            let sqe = SubmissionEntry::from_bytes(&raw);
            let outcome = admin::execute(self, &sqe);
            if let admin::Outcome::Done(c) = outcome {
                if !c.status.is_success() {
                    self.shared.errors.lock().unwrap().record(0, &sqe, c.status, c.lba);
                }
                self.shared.counters.admin_command(sqe.opcode(), c.status);
                let e = CompletionEntry::of(&c, head, 0, sqe.cid());
                if self.shared.post_admin(&cq, &e) {
                    self.shared.interrupt(&cq);
                }
            }
        }
    }

    pub fn registers(&self) -> &registers::Registers {
        &self.regs
    }

    /// Stop everything and flush; called when the transport goes away.
    pub fn close(&mut self) {
        self.stop_queues();
        for e in self.shared.namespaces.snapshot().allocated() {
            let _ = e.ns.store.flush();
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop_queues();
    }
}

#[cfg(any(test, feature = "fuzzing"))]
pub mod test_support;
#[cfg(test)]
mod tests;
