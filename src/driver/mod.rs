//! A minimal NVMe host driver that runs in-process against the [`Controller`],
//! without QEMU or a guest: it enables the controller through its registers,
//! creates I/O queue pairs, configures shadow doorbells as Linux does, and keeps a
//! queue depth of commands in flight by polling completion queues. Used by
//! `vnvme bench io` to measure what the device side can do on its own.
//!
//! Guest memory is a shared-memory file mapped through the same DMA map the
//! vfio-user transport uses, so the device's copies cost what they cost under QEMU.

#![forbid(unsafe_code)]

pub mod bench_format;
pub mod fio;
pub mod histogram;
pub mod iops;
pub mod thread_cpu;
pub mod workload;

use crate::controller::{Controller, InterruptSink};
use crate::dma::{DmaMemory, GuestAddr};
use crate::spec::opcode::admin;
use crate::spec::registers::{self as reg, csts};
use crate::spec::{CompletionEntry, Status, SubmissionEntry};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PAGE: u64 = 4096;

/// Interrupts are not used (the driver polls); they are only counted.
#[derive(Default)]
pub struct CountingSink(pub AtomicU64);

impl InterruptSink for CountingSink {
    fn signal(&self, _vector: u16) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn vectors(&self) -> u16 {
        65
    }
}

/// BAR0 as the driver reaches it: the controller itself (in-process), or a
/// vfio-user client talking to a `vnvme serve` process.
pub trait Registers: Send + Sync {
    fn read(&self, offset: u64, size: usize) -> u64;
    fn write(&self, offset: u64, size: usize, value: u64);
}

impl Registers for Mutex<Controller> {
    fn read(&self, offset: u64, size: usize) -> u64 {
        self.lock().unwrap().mmio_read(offset, size)
    }
    fn write(&self, offset: u64, size: usize, value: u64) {
        self.lock().unwrap().mmio_write(offset, size, value)
    }
}

/// Through the socket: doorbell writes posted (no reply), as QEMU posts them, or
/// stores when the doorbells are mapped;
/// other registers wait for the reply. A failed access reads as all ones, as a
/// gone PCI device does; the driver then times out with its own error.
impl Registers for crate::transport::vfio_user::client::Client {
    fn read(&self, offset: u64, size: usize) -> u64 {
        use crate::transport::vfio_user::protocol::region;
        match self.region_read(region::BAR0, offset, size) {
            Ok(b) => b.iter().rev().fold(0u64, |a, &x| a << 8 | x as u64),
            Err(_) => u64::MAX,
        }
    }
    fn write(&self, offset: u64, size: usize, value: u64) {
        use crate::controller::doorbell_area::DoorbellArea;
        use crate::transport::vfio_user::protocol::region;
        if let (Some(area), Some(i), 4) = (self.doorbells(), reg::doorbell_index(offset), size) {
            // Mapped doorbells (mmap-poll): a store, as a userspace driver does.
            area.store(i, value as u32);
            return;
        }
        let posted = offset >= reg::DOORBELL_BASE;
        let _ = self.region_write(region::BAR0, offset, &value.to_le_bytes()[..size], posted);
    }
}

/// One host-side queue pair.
pub struct HostQueue {
    pub qid: u16,
    pub sq: u64,
    pub cq: u64,
    pub size: u16,
    pub tail: u16,
    pub head: u16,
    pub phase: bool,
    /// Last tail value the device was told about (doorbell or shadow).
    pub rung: u16,
    /// Last CQ head value the device was told about.
    pub head_told: u16,
}

pub struct Driver {
    pub regs: Box<dyn Registers>,
    pub mem: Arc<dyn DmaMemory>,
    /// Shadow doorbell buffer and EventIdx buffer addresses, when the controller
    /// took them (it offers none with `serve --doorbells message` or `mmap-poll`).
    pub shadow: Option<(u64, u64)>,
    next_free: Mutex<u64>,
    admin: Mutex<HostQueue>,
}

fn err(s: &str) -> String {
    format!("driver: {s}")
}

impl Driver {
    /// Enable the controller behind `regs`; guest memory from `base` upwards is
    /// free for queues and buffers.
    pub fn start(regs: Box<dyn Registers>, mem: Arc<dyn DmaMemory>, base: u64) -> Result<Self, String> {
        let mut d = Self::enable(regs, mem, base)?;
        // Shadow doorbells as Linux sets them up, if the controller offers them
        // (OACS bit 8, Identify Controller bytes 257:256).
        let id = d.alloc(PAGE);
        d.admin(SubmissionEntry::new(admin::IDENTIFY, 0, 0).with_prps(id, 0).with_cdw(10, 1))?;
        let oacs = d.mem.read_u32(GuestAddr(id + 256)).map_err(|e| err(&e.to_string()))? & 0xffff;
        if oacs & (1 << 8) != 0 {
            let (db, ei) = (base + 2 * PAGE, base + 3 * PAGE);
            d.admin(SubmissionEntry::new(admin::DOORBELL_BUFFER_CONFIG, 0, 0).with_prps(db, ei))?;
            d.shadow = Some((db, ei));
        }
        Ok(d)
    }

    fn enable(regs: Box<dyn Registers>, mem: Arc<dyn DmaMemory>, base: u64) -> Result<Self, String> {
        let asq = base;
        let acq = base + PAGE;
        regs.write(reg::AQA, 4, (31 << 16 | 31) as u64);
        regs.write(reg::ASQ, 8, asq);
        regs.write(reg::ACQ, 8, acq);
        regs.write(reg::CC, 4, 0x0046_0001);
        let t = Instant::now();
        while regs.read(reg::CSTS, 4) as u32 & csts::RDY == 0 {
            if t.elapsed() > Duration::from_secs(5) {
                return Err(err("controller did not become ready"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let d = Driver {
            regs,
            mem,
            shadow: None,
            next_free: Mutex::new(base + 4 * PAGE),
            admin: Mutex::new(HostQueue {
                qid: 0,
                sq: asq,
                cq: acq,
                size: 32,
                tail: 0,
                head: 0,
                phase: true,
                rung: 0,
                head_told: 0,
            }),
        };
        Ok(d)
    }

    pub fn alloc(&self, bytes: u64) -> u64 {
        let mut n = self.next_free.lock().unwrap();
        let a = *n;
        *n += bytes.div_ceil(PAGE) * PAGE;
        a
    }

    /// Run one admin command to completion.
    pub fn admin(&self, mut sqe: SubmissionEntry) -> Result<CompletionEntry, String> {
        let mut q = self.admin.lock().unwrap();
        sqe.dw[0] = (sqe.dw[0] & 0xffff) | (q.tail as u32) << 16;
        self.mem.write(GuestAddr(q.sq + q.tail as u64 * 64), &sqe.to_bytes()).map_err(|e| err(&e.to_string()))?;
        q.tail = (q.tail + 1) % q.size;
        self.regs.write(reg::DOORBELL_BASE, 4, q.tail as u64);
        let c = self.poll_one(&mut q, Duration::from_secs(10))?.ok_or_else(|| err("admin command timed out"))?;
        self.regs.write(reg::DOORBELL_BASE + 4, 4, q.head as u64);
        if !c.status.is_success() {
            return Err(err(&format!("admin opcode {:#x} failed: {}", sqe.opcode(), c.status)));
        }
        Ok(c)
    }

    /// Create I/O queue pair `qid` with `size` entries.
    pub fn create_queue(&self, qid: u16, size: u16) -> Result<HostQueue, String> {
        let cq = self.alloc(size as u64 * 16);
        let sq = self.alloc(size as u64 * 64);
        let qsize = (size as u32 - 1) << 16;
        self.admin(
            SubmissionEntry::new(admin::CREATE_IO_CQ, 0, 0)
                .with_prps(cq, 0)
                .with_cdw(10, qsize | qid as u32)
                .with_cdw(11, 0b11),
        )?;
        self.admin(
            SubmissionEntry::new(admin::CREATE_IO_SQ, 0, 0)
                .with_prps(sq, 0)
                .with_cdw(10, qsize | qid as u32)
                .with_cdw(11, (qid as u32) << 16 | 1),
        )?;
        Ok(HostQueue { qid, sq, cq, size, tail: 0, head: 0, phase: true, rung: 0, head_told: 0 })
    }

    /// Place a command in the SQ (not yet visible to the device).
    pub fn push(&self, q: &mut HostQueue, sqe: &SubmissionEntry) -> Result<(), String> {
        self.mem.write(GuestAddr(q.sq + q.tail as u64 * 64), &sqe.to_bytes()).map_err(|e| err(&e.to_string()))?;
        q.tail = (q.tail + 1) % q.size;
        Ok(())
    }

    /// Publish the SQ tail as Linux does with shadow doorbells: write the shadow
    /// value, and ring the real doorbell only if the device's EventIdx asks for it.
    pub fn publish(&self, q: &mut HostQueue) {
        self.tell(q.qid as u64 * 8, q.tail, q.rung);
        q.rung = q.tail;
    }

    /// The shadow-doorbell write behind both doorbells of a queue: `off` selects
    /// the SQ tail (8 * qid) or the CQ head (8 * qid + 4) slot. Without shadow
    /// doorbells, the doorbell itself.
    fn tell(&self, off: u64, new: u16, old: u16) {
        let Some((db, ei)) = self.shadow else {
            if new != old {
                self.regs.write(reg::DOORBELL_BASE + off, 4, new as u64);
            }
            return;
        };
        let _ = self.mem.write_u32(GuestAddr(db + off), new as u32);
        std::sync::atomic::fence(Ordering::SeqCst);
        let ev = self.mem.read_u32(GuestAddr(ei + off)).unwrap_or(0) as u16;
        if need_event(ev, new, old) {
            self.regs.write(reg::DOORBELL_BASE + off, 4, new as u64);
        }
    }

    /// Take one completion if there is one, waiting up to `wait`.
    pub fn poll_one(&self, q: &mut HostQueue, wait: Duration) -> Result<Option<CompletionEntry>, String> {
        let deadline = Instant::now() + wait;
        loop {
            let mut b = [0u8; 16];
            self.mem.read(GuestAddr(q.cq + q.head as u64 * 16), &mut b).map_err(|e| err(&e.to_string()))?;
            let (c, phase) = CompletionEntry::parse(&b);
            if phase == q.phase {
                q.head += 1;
                if q.head == q.size {
                    q.head = 0;
                    q.phase = !q.phase;
                }
                return Ok(Some(c));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::hint::spin_loop();
        }
    }

    /// Tell the device how far the host consumed a CQ (shadow head; the real
    /// doorbell only when EventIdx asks, as for SQ tails).
    pub fn consumed(&self, q: &mut HostQueue) {
        self.tell(q.qid as u64 * 8 + 4, q.head, q.head_told);
        q.head_told = q.head;
    }
}

/// The shadow doorbell rule Linux uses: ring when EventIdx lies in [old, new).
pub fn need_event(event_idx: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event_idx).wrapping_sub(1) < new.wrapping_sub(old)
}

/// Fail on a non-success status.
pub fn check(c: &CompletionEntry) -> Result<(), String> {
    if c.status == Status::SUCCESS {
        Ok(())
    } else {
        Err(err(&format!("command {} failed: {}", c.cid, c.status)))
    }
}
