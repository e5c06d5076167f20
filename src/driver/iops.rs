//! `vnvme bench io`: device-side IOPS with the in-process [`Driver`] (no guest):
//! 4 KiB random reads and writes at queue depth 1 and 32 against a namespace image,
//! through the real controller, worker threads, shadow doorbells and DMA copies.

use super::{check, Driver, PAGE};
use crate::controller::{Controller, ControllerConfig};
use crate::nvm::namespace::{standard_formats, Namespace, Protection};
use crate::spec::opcode::nvm;
use crate::spec::SubmissionEntry;
use crate::storage::{BlockStore, FileStore};
use crate::transport::vfio_user::dma_map::DmaMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Row {
    pub test: String,
    pub iops: f64,
    pub interrupts_per_io: f64,
}

const MEM: u64 = 256 << 20;

fn shared_memory() -> Result<std::fs::File, String> {
    let dir = if Path::new("/dev/shm").is_dir() { Path::new("/dev/shm").to_path_buf() } else { std::env::temp_dir() };
    let p = dir.join(format!("vnvme-bench-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    let _ = std::fs::remove_file(&p);
    f.set_len(MEM).map_err(|e| e.to_string())?;
    Ok(f)
}

/// The standard tests: (queue depth, queues, opcode).
pub const STANDARD: [(u16, usize, u8); 6] = [
    (1, 1, nvm::READ),
    (1, 1, nvm::WRITE),
    (32, 1, nvm::READ),
    (32, 1, nvm::WRITE),
    (32, 2, nvm::READ),
    (32, 2, nvm::WRITE),
];

/// Run the standard tests for `seconds` each on `image` (512-byte blocks, no metadata).
pub fn run(image: &Path, seconds: f64, poll_us: u32) -> Result<Vec<Row>, String> {
    run_with(image, seconds, poll_us, None, &STANDARD)
}

/// Run `tests` with an optional command hook (the control plane) installed.
pub fn run_with(
    image: &Path,
    seconds: f64,
    poll_us: u32,
    hook: Option<Arc<dyn crate::controller::hooks::CommandHook>>,
    tests: &[(u16, usize, u8)],
) -> Result<Vec<Row>, String> {
    let ns = namespace_on(image)?;
    let nlbas = ns.format().nlbas();
    if nlbas < 1024 {
        return Err("image too small for the benchmark (needs at least 512 KiB)".into());
    }
    let memfile = shared_memory()?;
    let dma = Arc::new(DmaMap::default());
    dma.map(0, MEM, 0, true, Some(&memfile)).map_err(|e| format!("mapping bench memory: {e}"))?;
    let sink = Arc::new(super::CountingSink::default());
    let cfg = ControllerConfig { poll_us, ..ControllerConfig::default() };
    let ctrl = Controller::new(cfg, dma.clone(), sink.clone(), vec![ns]);
    if let Some(h) = hook {
        let _ = ctrl.shared.hook.set(h);
    }
    let drv = Driver::start(ctrl, dma.clone(), 0x10000)?;
    let mut rows = Vec::new();
    let mut qid = 1u16;
    for &(qd, jobs, op) in tests {
        let before = sink.0.load(std::sync::atomic::Ordering::Relaxed);
        let mut queues = Vec::new();
        for _ in 0..jobs {
            queues.push(drv.create_queue(qid, 64)?);
            qid += 1;
        }
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = queues
                .into_iter()
                .enumerate()
                .map(|(j, q)| {
                    let drv = &drv;
                    s.spawn(move || job(drv, q, op, qd, nlbas, seconds, j as u64 + 1))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(Err("job panicked".into()))).sum::<Result<u64, String>>()
        })?;
        let irqs = sink.0.load(std::sync::atomic::Ordering::Relaxed) - before;
        let name = if op == nvm::READ { "randread" } else { "randwrite" };
        rows.push(Row {
            test: format!("4k-{name}-qd{qd}x{jobs}"),
            iops: total as f64 / seconds,
            interrupts_per_io: irqs as f64 / total.max(1) as f64,
        });
    }
    Ok(rows)
}

/// The benchmark's namespace: 512-byte blocks, no metadata, on `image`.
pub fn namespace_on(image: &Path) -> Result<Arc<Namespace>, String> {
    let store: Arc<dyn BlockStore> = Arc::new(FileStore::open(image).map_err(|e| format!("{}: {e}", image.display()))?);
    Ok(Arc::new(Namespace::new(1, store, standard_formats(0, 0), 0, false, Protection::NONE, 1)))
}

fn job(
    drv: &Driver,
    mut q: super::HostQueue,
    op: u8,
    qd: u16,
    nlbas: u64,
    seconds: f64,
    seed: u64,
) -> Result<u64, String> {
    let bufs: Vec<u64> = (0..qd).map(|_| drv.alloc(PAGE)).collect();
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let blocks = nlbas / 8;
    let mut next = |slot: u16| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let lba = (rng % blocks) * 8;
        SubmissionEntry::new(op, slot, 1)
            .with_prps(bufs[slot as usize], 0)
            .with_cdw(10, lba as u32)
            .with_cdw(11, (lba >> 32) as u32)
            .with_cdw(12, 7)
    };
    for slot in 0..qd {
        drv.push(&mut q, &next(slot))?;
    }
    drv.publish(&mut q);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut done = 0u64;
    let mut outstanding = qd as u64;
    while outstanding > 0 {
        let mut got = 0;
        while let Some(c) = drv.poll_one(&mut q, if got == 0 { Duration::from_secs(5) } else { Duration::ZERO })? {
            check(&c)?;
            got += 1;
            done += 1;
            outstanding -= 1;
            if Instant::now() < end {
                drv.push(&mut q, &next(c.cid))?;
                outstanding += 1;
            }
        }
        if got == 0 {
            return Err(format!("queue {}: no completion within 5 s", q.qid));
        }
        drv.consumed(&mut q);
        drv.publish(&mut q);
    }
    Ok(done)
}
