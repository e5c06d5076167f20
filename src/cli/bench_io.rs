//! `vnvme bench io`: the device-side matrix (formats x transfer sizes x mixes x
//! queue depths x queues, on each image given), with fio on the same file beside
//! each row, printed as a table and optionally written as JSON and an SVG chart.

use super::ns_spec::NsSpec;
use crate::controller::config::Engine;
use crate::controller::ControllerConfig;
use crate::driver::bench_format::{self, BenchFormat};
use crate::driver::fio::{self, FioResult};
use crate::driver::iops::{Bench, Measured};
use crate::driver::workload::{self, Mix, Workload};
use crate::storage::{CacheMode, ImageLayout};
use clap::Args;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct IoArgs {
    /// Image to run on; give it more than once to compare file systems (tmpfs,
    /// the host's). Default: one on /dev/shm (tmpfs) and one on /var/tmp. A
    /// missing image is created for the run and removed after it, with its sidecars.
    #[arg(long)]
    pub image: Vec<PathBuf>,
    /// Cache modes to open each image with (as `serve --cache`), comma-separated.
    /// Default: writeback, and on the default /var/tmp image none as well; fio's
    /// rows beside an O_DIRECT mode use --direct=1.
    #[arg(long, value_delimiter = ',', value_parser = str::parse::<CacheMode>)]
    pub cache: Vec<CacheMode>,
    /// Size of an image the benchmark creates.
    #[arg(long, default_value = "1G")]
    pub image_size: String,
    /// Seconds per row (and as long again for fio's row).
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Formats, comma-separated (default: all; see `--list-formats`).
    #[arg(long, value_delimiter = ',')]
    pub formats: Vec<String>,
    /// Transfer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4K,128K")]
    pub sizes: Vec<String>,
    /// Mixes: randread, randwrite, randrw70.
    #[arg(long, value_delimiter = ',', default_value = "randread,randwrite,randrw70")]
    pub mix: Vec<String>,
    /// Queue depths per queue.
    #[arg(long, value_delimiter = ',', default_value = "1,32,128")]
    pub qd: Vec<u16>,
    /// Numbers of queues (one driver thread each).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub queues: Vec<usize>,
    /// A short matrix: 4 KiB random read and write, QD 1 and 32, one queue.
    #[arg(long)]
    pub quick: bool,
    /// I/O engine of the in-process controller (as `serve --engine`; default as
    /// there: io_uring with an O_DIRECT cache mode, sync otherwise).
    #[arg(long, value_parser = str::parse::<Engine>)]
    pub engine: Option<Engine>,
    /// Worker polling time after a queue runs dry (as `serve --doorbells poll`).
    #[arg(long, default_value_t = 0)]
    pub poll_us: u32,
    /// Leave out the fio reference rows.
    #[arg(long)]
    pub no_fio: bool,
    /// Write every row (with its latency histogram) as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a chart (SVG): IOPS per row beside fio's, and each row's latency histogram.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Print the formats and exit.
    #[arg(long)]
    pub list_formats: bool,
    /// Drive a running `vnvme serve` through its vfio-user socket instead of an
    /// in-process controller (as QEMU would: DMA_MAP, REGION_WRITE, posted
    /// doorbells). Give the one format its namespace 1 has (`--formats`); with
    /// `--image` (its image file) fio runs beside it.
    #[arg(long)]
    pub client: Option<PathBuf>,
    /// Measure the control plane's cost instead: plain, control plane with no rules,
    /// with 100 rules that never match, and with the mutation detector on.
    #[arg(long)]
    pub control_overhead: bool,
}

/// One printed row.
pub struct Row {
    pub image: String,
    pub fs: String,
    pub cache: CacheMode,
    pub format: BenchFormat,
    pub m: Measured,
    pub fio: Option<FioResult>,
}

impl IoArgs {
    fn workloads(&self) -> Result<Vec<Workload>, String> {
        if self.quick {
            return Ok(workload::matrix(&[4096], &[Mix::Read, Mix::Write], &[1, 32], &[1]));
        }
        let sizes = self
            .sizes
            .iter()
            .map(|s| super::parse_size(s).and_then(|v| u32::try_from(v).map_err(|_| format!("size {s} too large"))))
            .collect::<Result<Vec<_>, _>>()?;
        for &s in &sizes {
            if s == 0 || !s.is_multiple_of(4096) || s > 512 * 1024 {
                return Err(format!("--sizes: {s} must be a multiple of 4 KiB up to 512 KiB (MDTS)"));
            }
        }
        let mixes = self.mix.iter().map(|m| Mix::parse(m)).collect::<Result<Vec<_>, _>>()?;
        for &qd in &self.qd {
            if !(1..=512).contains(&qd) {
                return Err(format!("--qd {qd}: must be 1..512"));
            }
        }
        for &q in &self.queues {
            if !(1..=16).contains(&q) {
                return Err(format!("--queues {q}: must be 1..16 (the I/O queues `serve` offers by default)"));
            }
        }
        Ok(workload::matrix(&sizes, &mixes, &self.qd, &self.queues))
    }

    fn formats(&self) -> Result<Vec<BenchFormat>, String> {
        if self.formats.is_empty() {
            return Ok(bench_format::FORMATS.to_vec());
        }
        self.formats.iter().map(|f| bench_format::by_name(f)).collect()
    }

    /// Each image with each cache mode it runs in.
    fn images(&self) -> Vec<(PathBuf, CacheMode)> {
        let given = |p: &PathBuf, default: &[CacheMode]| {
            let modes = if self.cache.is_empty() { default } else { &self.cache[..] };
            modes.iter().map(|m| (p.clone(), *m)).collect::<Vec<_>>()
        };
        if !self.image.is_empty() {
            return self.image.iter().flat_map(|p| given(p, &[CacheMode::Writeback])).collect();
        }
        let mut v = Vec::new();
        if Path::new("/dev/shm").is_dir() {
            v.extend(given(&PathBuf::from("/dev/shm/vnvme-bench.img"), &[CacheMode::Writeback]));
        }
        v.extend(given(&PathBuf::from("/var/tmp/vnvme-bench.img"), &[CacheMode::Writeback, CacheMode::None]));
        v
    }
}

/// An image the benchmark created: removed with its sidecars when the benchmark
/// is done with it (or fails), so no gigabyte stays behind on a tmpfs.
struct Created(PathBuf);

impl Drop for Created {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        for ext in ["ids", "intents", "uncor"] {
            let _ = std::fs::remove_file(crate::storage::sidecar(&self.0, ext));
        }
    }
}

/// Write a new image whole, so fio's reads (which run before any format's prefill)
/// find allocated blocks, not holes: a hole read with O_DIRECT never reaches the medium.
fn create_image(path: &Path, size: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

/// The file system type `path` is on, from /proc/self/mountinfo.
pub fn fs_type(path: &Path) -> String {
    let p = std::fs::canonicalize(path).unwrap_or(path.to_path_buf());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else { continue };
        let (Some(mnt), Some(fs)) = (f.get(4), f.get(dash + 1)) else { continue };
        if p.starts_with(mnt) && best.as_ref().is_none_or(|(l, _)| mnt.len() >= *l) {
            best = Some((mnt.len(), fs.to_string()));
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| "?".into())
}

fn ns_spec(path: &Path, f: &BenchFormat) -> NsSpec {
    NsSpec {
        path: path.to_path_buf(),
        lbs: f.lbs,
        pbs: f.lbs,
        ms: f.ms,
        mset: f.extended,
        pi: f.pi,
        pil: false,
        pif: f.pif,
        sts: 0,
        zoned: None,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model =
        cpu.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{model}, {cores} cores")
}

pub fn run(a: &IoArgs) -> Result<(), String> {
    if a.list_formats {
        for f in bench_format::FORMATS {
            println!(
                "{:<20} lbs {} ms {} pi {} pif {} {}{}{}",
                f.name,
                f.lbs,
                f.ms,
                f.pi,
                f.pif,
                if f.extended { "extended " } else { "" },
                if f.pract { "PRACT " } else { "" },
                if f.check { "PRCHK guard+ref" } else { "" }
            );
        }
        return Ok(());
    }
    if !(0.1..=600.0).contains(&a.seconds) {
        return Err(format!("--seconds {}: must be between 0.1 and 600", a.seconds));
    }
    let workloads = a.workloads()?;
    let formats = a.formats()?;
    let image_size = super::parse_size(&a.image_size)?;
    let fio_version = if a.no_fio { None } else { fio::version() };
    super::diagnostics::init(super::diagnostics::Verbosity { diagnostics: false, trace: false });
    let counting = crate::alloc_count::installed();
    println!("vnvme bench io: in-process host driver, {} s per row", a.seconds);
    println!("machine: {}; vnvme {}", machine(), env!("CARGO_PKG_VERSION"));
    match (&fio_version, a.no_fio) {
        (Some(v), _) => println!("reference: {v}, io_uring, same file, same pattern, --invalidate=0"),
        (None, false) => println!("reference: fio not found (install fio for the ratio column)"),
        (None, true) => println!("reference: left out (--no-fio)"),
    }
    println!(
        "cpu/IO: the I/O workers' CPU time per I/O; IOPS/core: IOPS per second of worker CPU; alloc/IO: heap allocations per I/O{}",
        if counting { "" } else { " (not counted: allocator not installed)" }
    );
    let mut rows = Vec::new();
    let max_io = workloads.iter().map(|w| w.io_bytes).max().unwrap_or(4096);
    let max_qd = workloads.iter().map(|w| w.qd).max().unwrap_or(1);
    let max_queues = workloads.iter().map(|w| w.queues).max().unwrap_or(1);
    if let Some(socket) = &a.client {
        let [f] = formats[..] else {
            return Err("--client: give the one format of the server's namespace 1 with --formats".into());
        };
        let image = a.image.first();
        let fs = image.map_or("-".to_string(), |p| fs_type(p));
        println!();
        println!("server {} (through the vfio-user socket; worker CPU from the server's threads)", socket.display());
        let reference = match (image, &fio_version) {
            (Some(img), Some(_)) => fio_reference(img, &[f], &workloads, a.seconds, false)?,
            _ => HashMap::new(),
        };
        header();
        let b = Bench::client(socket, f, max_io, max_qd, max_queues)?;
        let label = socket.display().to_string();
        let site = Site { label: &label, fs: &fs, cache: CacheMode::Writeback };
        measure_rows(b, site, &workloads, &reference, a.seconds, &mut rows)?;
        return write_outputs(a, &rows);
    }
    let mut _created = Vec::new();
    for (image, cache) in a.images() {
        if !image.exists() {
            _created.push(Created(image.clone()));
            create_image(&image, image_size).map_err(|e| format!("creating {}: {e}", image.display()))?;
        }
        let fs = fs_type(&image);
        let size = std::fs::metadata(&image).map_err(|e| format!("{}: {e}", image.display()))?.len();
        println!();
        let engine = a.engine.unwrap_or(Engine::default_for(cache));
        let device = ControllerConfig { poll_us: a.poll_us, engine, ..ControllerConfig::default() };
        let fio_mode = if cache.direct() { ", fio with --direct=1" } else { "" };
        println!("image {} ({fs}, {} MiB), cache {cache}, engine {engine}{fio_mode}", image.display(), size >> 20);
        // fio first: its writes leave data without valid PI, which each format's
        // prefill then rewrites. Its rows do not depend on the format.
        let reference = match fio_version {
            Some(_) => fio_reference(&image, &formats, &workloads, a.seconds, cache.direct())?,
            None => HashMap::new(),
        };
        header();
        let label = format!("{} cache={cache} engine={engine}", image.display());
        for f in &formats {
            let ns =
                super::serve::open_namespace(1, &ns_spec(&image, f), cache).map_err(|e| format!("{}: {e}", f.name))?;
            let b = Bench::new(ns, *f, device.clone(), None, max_io, max_qd, max_queues)?;
            measure_rows(b, Site { label: &label, fs: &fs, cache }, &workloads, &reference, a.seconds, &mut rows)?;
        }
    }
    write_outputs(a, &rows)
}

/// fio's figure for each workload on `image`, over the smallest data area of
/// `formats`, so every row covers the same bytes.
fn fio_reference(
    image: &Path,
    formats: &[BenchFormat],
    workloads: &[Workload],
    seconds: f64,
    direct: bool,
) -> Result<HashMap<Workload, FioResult>, String> {
    let size = std::fs::metadata(image).map_err(|e| format!("{}: {e}", image.display()))?.len();
    let data_bytes = |f: &BenchFormat| ImageLayout::new(size, f.lbs as u64, f.ms as u64).nlbas * f.lbs as u64;
    let bytes = formats.iter().map(data_bytes).min().unwrap_or(size);
    workloads.iter().map(|w| Ok((*w, fio::run(image, bytes, w, seconds, direct)?))).collect()
}

/// Where rows run: the image's label, its filesystem and cache mode.
#[derive(Clone, Copy)]
struct Site<'a> {
    label: &'a str,
    fs: &'a str,
    cache: CacheMode,
}

/// Prefill `b`'s namespace, then measure and print each workload, beside fio's figure.
fn measure_rows(
    mut b: Bench,
    site: Site,
    workloads: &[Workload],
    reference: &HashMap<Workload, FioResult>,
    seconds: f64,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let f = b.format();
    b.prefill().map_err(|e| format!("{}: {e}", f.name))?;
    for w in workloads {
        let m = b.measure(w, seconds).map_err(|e| format!("{} {}: {e}", f.name, w.name()))?;
        let row = Row {
            image: site.label.to_string(),
            fs: site.fs.to_string(),
            cache: site.cache,
            format: f,
            m,
            fio: reference.get(w).copied(),
        };
        print_row(&row);
        rows.push(row);
    }
    Ok(())
}

fn write_outputs(a: &IoArgs, rows: &[Row]) -> Result<(), String> {
    if let Some(p) = &a.json {
        std::fs::write(p, to_json(rows)).map_err(|e| format!("{}: {e}", p.display()))?;
        println!("JSON: {}", p.display());
    }
    if let Some(p) = &a.chart {
        std::fs::write(p, super::bench_chart::svg(rows)).map_err(|e| format!("{}: {e}", p.display()))?;
        println!("chart: {}", p.display());
    }
    Ok(())
}

fn header() {
    println!(
        "{:<18} {:<22} {:>9} {:>8} {:>7} {:>7} {:>8} {:>7} {:>9} {:>6} {:>8} {:>9} {:>6}",
        "format",
        "test",
        "IOPS",
        "MB/s",
        "p50us",
        "p99us",
        "p99.9us",
        "cpu/IO",
        "IOPS/core",
        "irq/IO",
        "alloc/IO",
        "fio IOPS",
        "ratio"
    );
}

fn print_row(r: &Row) {
    let m = &r.m;
    let ios = m.ios.max(1) as f64;
    let core = if m.worker_cpu_ns > 0 { m.ios as f64 / (m.worker_cpu_ns as f64 / 1e9) } else { 0.0 };
    let alloc = m.allocations.map_or("-".to_string(), |a| format!("{:.3}", a as f64 / ios));
    let irq = m.interrupts.map_or("-".to_string(), |n| format!("{:.3}", n as f64 / ios));
    let (fio, ratio) = match r.fio {
        Some(f) => (format!("{:.0}", f.iops), format!("{:.2}", m.iops() / f.iops)),
        None => ("-".into(), "-".into()),
    };
    println!(
        "{:<18} {:<22} {:>9.0} {:>8.1} {:>7.1} {:>7.1} {:>8.1} {:>6.2}u {:>9.0} {:>6} {:>8} {:>9} {:>6}",
        r.format.name,
        m.workload.name(),
        m.iops(),
        m.mb_per_s(),
        m.latency.quantile(0.5) as f64 / 1e3,
        m.latency.quantile(0.99) as f64 / 1e3,
        m.latency.quantile(0.999) as f64 / 1e3,
        m.worker_cpu_ns as f64 / ios / 1e3,
        core,
        irq,
        alloc,
        fio,
        ratio
    );
    let _ = std::io::stdout().flush();
}

fn to_json(rows: &[Row]) -> String {
    let v: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let m = &r.m;
            let ios = m.ios.max(1) as f64;
            serde_json::json!({
                "image": r.image,
                "fs": r.fs,
                "cache": r.cache.name(),
                "format": r.format.name,
                "test": m.workload.name(),
                "io_bytes": m.workload.io_bytes,
                "mix": m.workload.mix.name(),
                "qd": m.workload.qd,
                "queues": m.workload.queues,
                "ios": m.ios,
                "seconds": m.seconds,
                "iops": m.iops(),
                "mb_per_s": m.mb_per_s(),
                "p50_ns": m.latency.quantile(0.5),
                "p99_ns": m.latency.quantile(0.99),
                "p999_ns": m.latency.quantile(0.999),
                "worker_cpu_ns_per_io": m.worker_cpu_ns as f64 / ios,
                "interrupts_per_io": m.interrupts.map(|n| n as f64 / ios),
                "allocations_per_io": m.allocations.map(|a| a as f64 / ios),
                "fio_iops": r.fio.map(|f| f.iops),
                "fio_p50_us": r.fio.map(|f| f.p50_us),
                "ratio_to_fio": r.fio.map(|f| m.iops() / f.iops),
                "latency_histogram_ns": m.latency.buckets(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
