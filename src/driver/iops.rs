//! `vnvme bench io`'s engine: one controller on one namespace, driven by the
//! in-process [`Driver`] through the real controller, worker threads, shadow
//! doorbells and DMA copies. A [`Bench`] measures one [`Workload`] at a time and
//! returns IOPS, a latency histogram, the I/O workers' CPU time, interrupts and
//! heap allocations.

use super::bench_format::BenchFormat;
use super::histogram::Histogram;
use super::workload::{Mix, Workload};
use super::{check, thread_cpu, CountingSink, Driver, HostQueue, PAGE};
use crate::controller::hooks::CommandHook;
use crate::controller::{Controller, ControllerConfig};
use crate::dma::GuestAddr;
use crate::nvm::namespace::{standard_formats, Namespace, Protection};
use crate::spec::opcode::nvm;
use crate::spec::SubmissionEntry;
use crate::storage::{BlockStore, FileStore};
use crate::transport::vfio_user::dma_map::DmaMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// What one workload measured.
#[derive(Clone)]
pub struct Measured {
    pub workload: Workload,
    pub ios: u64,
    pub seconds: f64,
    pub latency: Histogram,
    /// CPU time of the I/O queue workers (threads `vnvme-sq*`) during the test.
    pub worker_cpu_ns: u64,
    /// Interrupts signalled (None through the socket: the client polls).
    pub interrupts: Option<u64>,
    /// Heap allocations in the whole process during the test; None when the
    /// binary does not count them (see `alloc_count`).
    pub allocations: Option<u64>,
}

impl Measured {
    pub fn iops(&self) -> f64 {
        self.ios as f64 / self.seconds
    }
    pub fn mb_per_s(&self) -> f64 {
        self.iops() * self.workload.io_bytes as f64 / 1e6
    }
}

/// One host-side command slot: separate buffers for reads and writes (the write
/// buffer's content, and so its guards, never change), their PRP lists, and
/// separate metadata when the format has it.
struct Slot {
    read: u64,
    write: u64,
    read_prp2: u64,
    write_prp2: u64,
    md_read: u64,
    md_write: u64,
    md: Vec<u8>,
    submitted: Instant,
}

pub struct Bench {
    drv: Driver,
    /// The in-process controller's interrupt counter (None through the socket).
    sink: Option<Arc<CountingSink>>,
    /// The process whose `vnvme-sq*` threads are the workers (None: this one).
    server: Option<u32>,
    queues: Vec<HostQueue>,
    slots: Vec<Vec<Slot>>,
    format: BenchFormat,
    nlbas: u64,
    max_io: u32,
}

/// Guest memory for queues and buffers: a shared-memory file, mapped as QEMU maps
/// guest RAM, so the device's copies cost what they cost under QEMU.
fn shared_memory(bytes: u64) -> Result<std::fs::File, String> {
    let dir = if Path::new("/dev/shm").is_dir() { Path::new("/dev/shm").to_path_buf() } else { std::env::temp_dir() };
    let p = dir.join(format!("vnvme-bench-{}-{:?}", std::process::id(), std::thread::current().id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    let _ = std::fs::remove_file(&p);
    f.set_len(bytes).map_err(|e| e.to_string())?;
    Ok(f)
}

/// Guest memory of `bytes`: the shared file (DMA_MAP passes it to a server) and
/// this process's map of it at IOVA 0.
fn guest_memory(bytes: u64) -> Result<(std::fs::File, Arc<DmaMap>), String> {
    let memfile = shared_memory(bytes)?;
    let dma = Arc::new(DmaMap::default());
    dma.map(0, bytes, 0, true, Some(&memfile)).map_err(|e| format!("mapping bench memory: {e}"))?;
    Ok((memfile, dma))
}

/// PRP2 for a transfer of `len` bytes from page-aligned `buf`: none, the second
/// page, or a PRP list written at `list`.
fn prp2(drv: &Driver, buf: u64, len: u64, list: u64) -> Result<u64, String> {
    let pages = len.div_ceil(PAGE);
    match pages {
        0 | 1 => Ok(0),
        2 => Ok(buf + PAGE),
        _ => {
            let entries: Vec<u8> = (1..pages).flat_map(|k| (buf + k * PAGE).to_le_bytes()).collect();
            drv.mem.write(GuestAddr(list), &entries).map_err(|e| format!("writing a PRP list: {e}"))?;
            Ok(list)
        }
    }
}

fn queue_entries(max_qd: u16) -> u64 {
    (max_qd as u64 + 1).next_power_of_two().max(64)
}

/// Blocks, host data bytes and host metadata bytes of one `max_io`-byte command.
fn command_bytes(format: BenchFormat, max_io: u32) -> Result<(u64, u64, u64), String> {
    let blocks = (max_io / format.lbs) as u64;
    if blocks == 0 || !max_io.is_multiple_of(format.lbs) {
        return Err(format!("{}: {max_io}-byte I/O is not whole {}-byte blocks", format.name, format.lbs));
    }
    Ok((blocks, blocks * format.host_data_per_block() as u64, blocks * format.host_md_per_block() as u64))
}

/// Guest memory for the admin queues, `max_queues` queues and their slots' buffers.
fn memory_bytes(format: BenchFormat, max_io: u32, max_qd: u16, max_queues: usize) -> Result<u64, String> {
    let (_, data, md) = command_bytes(format, max_io)?;
    let per_slot = 2 * data.div_ceil(PAGE) * PAGE + 2 * PAGE + 2 * md.div_ceil(PAGE).max(1) * PAGE;
    let qsize = queue_entries(max_qd);
    Ok(0x10000 + 8 * PAGE + max_queues as u64 * (qsize * 80 + 2 * PAGE + max_qd as u64 * per_slot) + 16 * PAGE)
}

/// Identify Namespace 1 through the driver: its size in blocks, after checking
/// that its LBA format is `f`'s (block size, metadata size, extended LBA, PI type).
fn identify_namespace(drv: &Driver, f: &BenchFormat) -> Result<u64, String> {
    let buf = drv.alloc(PAGE);
    let sqe = SubmissionEntry::new(crate::spec::opcode::admin::IDENTIFY, 0, 1).with_prps(buf, 0).with_cdw(10, 0);
    drv.admin(sqe)?;
    let mut id = vec![0u8; PAGE as usize];
    drv.mem.read(GuestAddr(buf), &mut id).map_err(|e| format!("reading Identify data: {e}"))?;
    use crate::spec::identify::ns;
    let nsze = u64::from_le_bytes(id[ns::NSZE..ns::NSZE + 8].try_into().unwrap());
    let flbas = id[ns::FLBAS];
    let index = (flbas & 0xf) as usize | ((flbas as usize >> 5) & 3) << 4;
    let lbaf = &id[ns::LBAF0 + 4 * index..ns::LBAF0 + 4 * index + 4];
    let (ms, lbs) = (u16::from_le_bytes([lbaf[0], lbaf[1]]), 1u32 << lbaf[2]);
    let (extended, pi) = (flbas & 0x10 != 0, id[ns::DPS] & 7);
    if (lbs, ms, extended, pi) != (f.lbs, f.ms, f.extended, f.pi) {
        return Err(format!(
            "the server's namespace 1 is {lbs}+{ms}{} PI type {pi}, not format {} ({}+{}{} PI type {})",
            if extended { " extended" } else { "" },
            f.name,
            f.lbs,
            f.ms,
            if f.extended { " extended" } else { "" },
            f.pi
        ));
    }
    Ok(nsze)
}

impl Bench {
    /// A controller configured as `cfg` on `ns` (formatted as `format` says), in
    /// this process, with `max_queues` I/O queues able to keep `max_qd` commands of
    /// up to `max_io` bytes in flight.
    pub fn new(
        ns: Arc<Namespace>,
        format: BenchFormat,
        cfg: ControllerConfig,
        hook: Option<Arc<dyn CommandHook>>,
        max_io: u32,
        max_qd: u16,
        max_queues: usize,
    ) -> Result<Self, String> {
        let nlbas = ns.format().nlbas();
        let (_memfile, dma) = guest_memory(memory_bytes(format, max_io, max_qd, max_queues)?)?;
        let sink = Arc::new(CountingSink::default());
        let ctrl = Controller::new(cfg, dma.clone(), sink.clone(), vec![ns]);
        if let Some(h) = hook {
            let _ = ctrl.shared.hook.set(h);
        }
        let drv = Driver::start(Box::new(std::sync::Mutex::new(ctrl)), dma, 0x10000)?;
        Self::set_up(drv, Some(sink), None, format, nlbas, max_io, max_qd, max_queues)
    }

    /// The same, driving a running `vnvme serve` through its vfio-user socket, as
    /// QEMU would: guest memory shared by DMA_MAP, registers by REGION_WRITE,
    /// doorbells posted. Its namespace 1 must have `format`'s LBA format.
    pub fn client(
        socket: &Path,
        format: BenchFormat,
        max_io: u32,
        max_qd: u16,
        max_queues: usize,
    ) -> Result<Self, String> {
        let mut client = crate::transport::vfio_user::client::Client::connect(socket)?;
        if client.map_doorbells()? {
            tracing::info!("the server offers BAR0's doorbells mapped (mmap-poll): ringing them with stores");
        }
        let mem = memory_bytes(format, max_io, max_qd, max_queues)?;
        let (memfile, dma) = guest_memory(mem)?;
        client.dma_map(&memfile, 0, mem)?;
        client.enable_bus_master()?;
        let pid = client.server_pid();
        let drv = Driver::start(Box::new(client), dma, 0x10000)?;
        let nlbas = identify_namespace(&drv, &format)?;
        Self::set_up(drv, None, Some(pid), format, nlbas, max_io, max_qd, max_queues)
    }

    #[allow(clippy::too_many_arguments)]
    fn set_up(
        drv: Driver,
        sink: Option<Arc<CountingSink>>,
        server: Option<u32>,
        format: BenchFormat,
        nlbas: u64,
        max_io: u32,
        max_qd: u16,
        max_queues: usize,
    ) -> Result<Self, String> {
        let (blocks, data, md) = command_bytes(format, max_io)?;
        if nlbas < blocks * 64 {
            return Err(format!("{}: image too small ({nlbas} blocks) for {max_io}-byte I/O", format.name));
        }
        let qsize = queue_entries(max_qd);
        let mut queues = Vec::new();
        let mut slots = Vec::new();
        let pattern: Vec<u8> =
            (0..data as usize).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
        for q in 0..max_queues {
            queues.push(drv.create_queue(q as u16 + 1, qsize as u16)?);
            let mut v = Vec::new();
            for _ in 0..max_qd {
                let read = drv.alloc(data);
                let write = drv.alloc(data);
                drv.mem.write(GuestAddr(write), &pattern).map_err(|e| format!("filling buffers: {e}"))?;
                let (lr, lw) = (drv.alloc(PAGE), drv.alloc(PAGE));
                let read_prp2 = prp2(&drv, read, data, lr)?;
                let write_prp2 = prp2(&drv, write, data, lw)?;
                let (md_read, md_write) = (drv.alloc(md.max(1)), drv.alloc(md.max(1)));
                v.push(Slot {
                    read,
                    write,
                    read_prp2,
                    write_prp2,
                    md_read,
                    md_write,
                    md: format.md_template(&pattern[..(blocks * format.lbs as u64) as usize]),
                    submitted: Instant::now(),
                });
            }
            slots.push(v);
        }
        Ok(Bench { drv, sink, server, queues, slots, format, nlbas, max_io })
    }

    pub fn format(&self) -> BenchFormat {
        self.format
    }

    /// Write every block once, sequentially, so reads find data and valid PI (the
    /// device generates it: PRACT) and the image's pages are in the page cache.
    pub fn prefill(&mut self) -> Result<(), String> {
        let f = self.format;
        let blocks = (self.max_io / f.lbs) as u64;
        let prinfo = if f.pi != 0 { 0b1000u32 << 26 } else { 0 };
        let (q, slots) = (&mut self.queues[0], &self.slots[0]);
        let depth = slots.len().min(16) as u64;
        // The last command writes what is left, so no block keeps never-written PI.
        let chunks = self.nlbas.div_ceil(blocks);
        let (mut next, mut done) = (0u64, 0u64);
        while done < chunks {
            while next < chunks && next - done < depth {
                let s = &slots[(next % depth) as usize];
                let lba = next * blocks;
                let nlb = blocks.min(self.nlbas - lba);
                let mut sqe = SubmissionEntry::new(nvm::WRITE, (next % depth) as u16, 1)
                    .with_prps(s.write, s.write_prp2)
                    .with_cdw(10, lba as u32)
                    .with_cdw(11, (lba >> 32) as u32)
                    .with_cdw(12, (nlb as u32 - 1) | prinfo)
                    .with_cdw(14, lba as u32);
                if f.host_md_per_block() > 0 && f.pi == 0 {
                    sqe = sqe.with_mptr(s.md_write);
                }
                self.drv.push(q, &sqe)?;
                next += 1;
            }
            self.drv.publish(q);
            let c = self.drv.poll_one(q, Duration::from_secs(10))?.ok_or("prefill: no completion within 10 s")?;
            check(&c).map_err(|e| format!("prefill: {e}"))?;
            done += 1;
            self.drv.consumed(q);
        }
        Ok(())
    }

    /// Run `w` for `seconds`.
    pub fn measure(&mut self, w: &Workload, seconds: f64) -> Result<Measured, String> {
        if w.io_bytes > self.max_io || !w.io_bytes.is_multiple_of(self.format.lbs) {
            return Err(format!("{}: {} bytes per I/O not possible here", self.format.name, w.io_bytes));
        }
        if w.queues > self.queues.len() || w.qd as usize > self.slots[0].len() {
            return Err(format!("{}: more queues or depth than set up", w.name()));
        }
        let irq_before = self.sink.as_ref().map(|s| s.0.load(Ordering::Relaxed));
        let cpu_before = thread_cpu::by_prefix_in(self.server, "vnvme-sq");
        let counting = crate::alloc_count::installed();
        let alloc_before = crate::alloc_count::allocations();
        let start_line = Barrier::new(w.queues + 1);
        let finish_line = Barrier::new(w.queues + 1);
        let (drv, format, nlbas) = (&self.drv, self.format, self.nlbas);
        let results: Vec<Result<(u64, Histogram, Duration), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .queues
                .iter_mut()
                .zip(self.slots.iter_mut())
                .take(w.queues)
                .enumerate()
                .map(|(j, (q, slots))| {
                    let (start_line, finish_line) = (&start_line, &finish_line);
                    s.spawn(move || {
                        let mut hist = Histogram::default();
                        start_line.wait();
                        let t0 = Instant::now();
                        let r = job(
                            drv,
                            q,
                            &mut slots[..w.qd as usize],
                            format,
                            *w,
                            nlbas,
                            seconds,
                            j as u64 + 1,
                            &mut hist,
                        );
                        let took = t0.elapsed();
                        finish_line.wait();
                        r.map(|n| (n, hist, took))
                    })
                })
                .collect();
            // Counted from when every job is ready to the last completion: thread
            // start-up is not the I/O path.
            start_line.wait();
            crate::alloc_count::set_counting(counting);
            finish_line.wait();
            crate::alloc_count::set_counting(false);
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("job panicked".into()))).collect()
        });
        // Through the socket the device is another process: this one's allocations are the driver's.
        let allocations = (counting && self.server.is_none()).then(|| crate::alloc_count::allocations() - alloc_before);
        let cpu = thread_cpu::spent(&cpu_before, &thread_cpu::by_prefix_in(self.server, "vnvme-sq"));
        let mut m = Measured {
            workload: *w,
            ios: 0,
            seconds: 0.0,
            latency: Histogram::default(),
            worker_cpu_ns: cpu,
            interrupts: self.sink.as_ref().zip(irq_before).map(|(s, b)| s.0.load(Ordering::Relaxed) - b),
            allocations,
        };
        for r in results {
            let (n, h, took) = r?;
            m.ios += n;
            m.latency.merge(&h);
            m.seconds = m.seconds.max(took.as_secs_f64());
        }
        Ok(m)
    }
}

/// One queue's share of a workload: keep `slots.len()` commands in flight until
/// `seconds` have passed, then drain. Allocates nothing.
#[allow(clippy::too_many_arguments)]
fn job(
    drv: &Driver,
    q: &mut HostQueue,
    slots: &mut [Slot],
    f: BenchFormat,
    w: Workload,
    nlbas: u64,
    seconds: f64,
    seed: u64,
    hist: &mut Histogram,
) -> Result<u64, String> {
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let bpi = (w.io_bytes / f.lbs) as u64;
    let places = nlbas / bpi;
    // Sequential: queue `seed` (1-based) walks its own share of the places.
    let share = (places / w.queues as u64).max(1);
    let first = ((seed - 1) * share).min(places - 1);
    let mut next_place = 0u64;
    let prinfo = f.prinfo_cdw12();
    let host_md = f.host_md_per_block() > 0;
    let mut submit = |slot: usize, slots: &mut [Slot], q: &mut HostQueue| -> Result<(), String> {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let lba = if w.mix.sequential() {
            let p = first + next_place % share.min(places - first);
            next_place += 1;
            p * bpi
        } else {
            (rng % places) * bpi
        };
        let read = match w.mix {
            Mix::Read | Mix::SeqRead => true,
            Mix::Write | Mix::SeqWrite => false,
            Mix::ReadWrite70 => (rng >> 40) % 100 < w.mix.read_percent(),
        };
        let s = &mut slots[slot];
        let (op, buf, p2, md) = if read {
            (nvm::READ, s.read, s.read_prp2, s.md_read)
        } else {
            (nvm::WRITE, s.write, s.write_prp2, s.md_write)
        };
        let mut sqe = SubmissionEntry::new(op, slot as u16, 1)
            .with_prps(buf, p2)
            .with_cdw(10, lba as u32)
            .with_cdw(11, (lba >> 32) as u32)
            .with_cdw(12, (bpi as u32 - 1) | prinfo)
            .with_cdw(14, if f.pi != 0 { lba as u32 } else { 0 });
        if host_md {
            sqe = sqe.with_mptr(md);
            if !read {
                let n = bpi as usize * f.host_md_per_block();
                f.set_ref_tags(&mut s.md[..n], lba);
                drv.mem.write(GuestAddr(md), &s.md[..n]).map_err(|e| format!("writing metadata: {e}"))?;
            }
        }
        s.submitted = Instant::now();
        drv.push(q, &sqe)
    };
    for slot in 0..slots.len() {
        submit(slot, slots, q)?;
    }
    drv.publish(q);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut done = 0u64;
    let mut outstanding = slots.len() as u64;
    while outstanding > 0 {
        let mut got = 0;
        while let Some(c) = drv.poll_one(q, if got == 0 { Duration::from_secs(5) } else { Duration::ZERO })? {
            check(&c)?;
            let slot = c.cid as usize;
            hist.record(slots[slot].submitted.elapsed().as_nanos() as u64);
            got += 1;
            done += 1;
            outstanding -= 1;
            if Instant::now() < end {
                submit(slot, slots, q)?;
                outstanding += 1;
            }
        }
        if got == 0 {
            return Err(format!("queue {}: no completion within 5 s", q.qid));
        }
        drv.consumed(q);
        drv.publish(q);
    }
    Ok(done)
}

/// The control-overhead benchmark's rows: 4 KiB IOPS and interrupts per I/O.
pub struct Row {
    pub test: String,
    pub iops: f64,
    pub interrupts_per_io: f64,
}

/// Run 4 KiB tests given as (queue depth, queues, opcode) on `image` (512-byte
/// blocks, no metadata) with an optional command hook (the control plane).
pub fn run_with(
    image: &Path,
    seconds: f64,
    poll_us: u32,
    hook: Option<Arc<dyn CommandHook>>,
    tests: &[(u16, usize, u8)],
) -> Result<Vec<Row>, String> {
    let ns = namespace_on(image)?;
    let format = super::bench_format::FORMATS[0];
    let max_qd = tests.iter().map(|t| t.0).max().unwrap_or(1);
    let max_queues = tests.iter().map(|t| t.1).max().unwrap_or(1);
    let mut b = Bench::new(
        ns,
        format,
        ControllerConfig { poll_us, ..ControllerConfig::default() },
        hook,
        4096,
        max_qd,
        max_queues,
    )?;
    let mut rows = Vec::new();
    for &(qd, queues, op) in tests {
        let mix = if op == nvm::READ { Mix::Read } else { Mix::Write };
        let m = b.measure(&Workload { io_bytes: 4096, mix, qd, queues }, seconds)?;
        rows.push(Row {
            test: m.workload.name(),
            iops: m.iops(),
            interrupts_per_io: m.interrupts.unwrap_or(0) as f64 / m.ios.max(1) as f64,
        });
    }
    Ok(rows)
}

/// The control-overhead benchmark's namespace: 512-byte blocks, no metadata, on `image`.
pub fn namespace_on(image: &Path) -> Result<Arc<Namespace>, String> {
    let store: Arc<dyn BlockStore> = Arc::new(FileStore::open(image).map_err(|e| format!("{}: {e}", image.display()))?);
    Ok(Arc::new(Namespace::new(1, store, standard_formats(0, 0), 0, false, Protection::NONE, 1)))
}
