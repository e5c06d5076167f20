//! Command-line interface: `vnvme serve`, `vnvme ctl`, `vnvme ns-spec`, `vnvme image create`,
//! `vnvme bench pi|csum|io`.
//! Argument parsing and human output only; no NVMe logic.

pub mod bench_chart;
pub mod bench_io;
pub mod ctl;
pub mod diagnostics;
pub mod ns_spec;
pub mod serve;
pub mod signals;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "vnvme",
    version,
    about = "Out-of-process NVMe controller with end-to-end Protection Information, for QEMU's vfio-user-pci"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve an NVMe controller on a vfio-user socket.
    Serve(serve::ServeArgs),
    /// Talk to a running server's control socket: stats, trace, fault rules, mutation detector.
    Ctl(ctl::CtlArgs),
    /// Parse one `--ns` SPEC (as `serve --ns` does; `path` may be left out) and print every
    /// property with its default filled in: `key=value` lines, or one JSON object with --json.
    /// Scripts ask this instead of parsing the grammar themselves.
    NsSpec {
        spec: String,
        #[arg(long)]
        json: bool,
    },
    /// Namespace images.
    Image {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
}

#[derive(Subcommand)]
enum ImageCmd {
    /// Create a namespace image in QEMU's nvme-ns layout (data, then metadata).
    Create {
        path: PathBuf,
        /// Image file size, e.g. 1G, 512M (the namespace holds size/(lbs+ms) blocks).
        #[arg(long, default_value = "1G")]
        size: String,
        /// Logical block size and metadata size, to initialise the metadata area
        /// as never written (all ones).
        #[arg(long, default_value_t = 512)]
        lbs: u32,
        #[arg(long, default_value_t = 0)]
        ms: u16,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// PI guard generate + verify throughput next to memcpy, per guard and block size.
    Pi {
        /// Bytes of data per measurement.
        #[arg(long, default_value = "8M")]
        bytes: String,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Checksum cost per 4 KiB on this CPU (btrfs's four and the PI guards), next to
    /// the btrfs documentation's table.
    Csum {
        #[arg(long, default_value_t = 2000)]
        rounds: usize,
    },
    /// Device-side figures without a guest: an in-process host driver against the
    /// controller, over a matrix of formats, transfer sizes, mixes, queue depths and
    /// queues, with fio on the same file beside each row.
    Io(Box<bench_io::IoArgs>),
}

/// Parse sizes like 4096, 512K, 64M, 1G, 2T (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("bad size '{s}': unknown unit '{c}' (use K, M, G or T)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size '{s}'"))?;
    n.checked_mul(mult).filter(|&v| v > 0).ok_or_else(|| format!("bad size '{s}'"))
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let r = match cli.cmd {
        Cmd::Serve(a) => serve::run(a),
        Cmd::Ctl(a) => ctl::run(a),
        Cmd::NsSpec { spec, json } => ns_spec::NsSpec::parse_format(&spec).map(|s| {
            if json {
                println!("{}", s.to_json());
            } else {
                print!("{}", s.to_lines());
            }
        }),
        Cmd::Image { cmd: ImageCmd::Create { path, size, lbs, ms, force } } => {
            image_create(&path, &size, lbs, ms, force)
        }
        Cmd::Bench { cmd: BenchCmd::Pi { bytes, runs } } => bench_pi(&bytes, runs),
        Cmd::Bench { cmd: BenchCmd::Csum { rounds } } => {
            bench_csum(rounds);
            Ok(())
        }
        Cmd::Bench { cmd: BenchCmd::Io(a) } => {
            if a.control_overhead {
                let image = a.image.first().cloned().unwrap_or_else(|| PathBuf::from("/var/tmp/vnvme-bench.img"));
                bench_control(&image, a.seconds)
            } else {
                bench_io::run(&a)
            }
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("vnvme: error: {e}");
            1
        }
    }
}

fn image_create(path: &std::path::Path, size: &str, lbs: u32, ms: u16, force: bool) -> Result<(), String> {
    let size = parse_size(size)?;
    if lbs != 512 && lbs != 4096 {
        return Err(format!("--lbs {lbs}: must be 512 or 4096"));
    }
    if size < (lbs + ms as u32) as u64 {
        return Err(format!("size {size} holds no block of {lbs}+{ms} bytes"));
    }
    if path.exists() && !force {
        return Err(format!("{} exists (use --force to replace it)", path.display()));
    }
    // A replaced image keeps none of the old one's state: no crash intents to
    // replay onto it and no Write Uncorrectable marks.
    for ext in ["intents", "uncor"] {
        let p = crate::storage::sidecar(path, ext);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(format!("{}: {e}", p.display())),
            _ => {}
        }
    }
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.set_len(size).map_err(|e| format!("{}: {e}", path.display()))?;
    drop(f);
    // Sparse: data and metadata read as zeroes; `vnvme serve` gives the PI
    // tuples of a PI namespace their never-written pattern when it opens it.
    let layout = crate::storage::ImageLayout::new(size, lbs as u64, ms as u64);
    println!("{}: {} bytes, {} blocks of {}+{}", path.display(), size, layout.nlbas, lbs, ms);
    Ok(())
}

fn bench_control(image: &std::path::Path, seconds: f64) -> Result<(), String> {
    use crate::spec::opcode::nvm;
    if !image.exists() {
        let f = std::fs::File::create(image).map_err(|e| format!("{}: {e}", image.display()))?;
        f.set_len(1 << 30).map_err(|e| format!("{}: {e}", image.display()))?;
    }
    diagnostics::init(diagnostics::Verbosity { diagnostics: false, trace: false });
    let tests = [(32u16, 1usize, nvm::READ), (32, 1, nvm::WRITE), (1, 1, nvm::READ), (1, 1, nvm::WRITE)];
    let ns = crate::driver::iops::namespace_on(image)?;
    let make = |rules: usize, detect: bool| -> Result<Arc<dyn crate::controller::hooks::CommandHook>, String> {
        let plane = crate::control::ControlPlane::new(
            Arc::new(crate::nvm::ns_table::NamespaceTable::fixed(vec![ns.clone()])),
            detect,
        );
        for i in 0..rules {
            // Never matches: a namespace-1 rule on an LBA range past the image.
            plane.add_rule(&format!(
                "ns=1,op=any,lba={}-{},action=guard",
                u64::MAX - 2 * i as u64 - 1,
                u64::MAX - 2 * i as u64
            ))?;
        }
        Ok(Arc::new(plane))
    };
    let configs: Vec<(&str, Option<Arc<dyn crate::controller::hooks::CommandHook>>)> = vec![
        ("plain vnvme", None),
        ("control plane, no rules", Some(make(0, false)?)),
        ("100 rules that never match", Some(make(100, false)?)),
        ("mutation detector on", Some(make(0, true)?)),
    ];
    println!(
        "control plane cost: in-process driver, {seconds} s per test, best of 3 interleaved rounds after a warm-up, IOPS (ratio to plain vnvme)"
    );
    // Warm-up: page cache, allocator, CPU frequency.
    crate::driver::iops::run_with(image, seconds, 0, None, &tests)?;
    let mut best = vec![vec![0f64; tests.len()]; configs.len()];
    for _ in 0..3 {
        for (c, (_, hook)) in configs.iter().enumerate() {
            for (i, r) in crate::driver::iops::run_with(image, seconds, 0, hook.clone(), &tests)?.iter().enumerate() {
                best[c][i] = best[c][i].max(r.iops);
            }
        }
    }
    print!("{:<30}", "configuration");
    for (qd, _, op) in tests {
        print!(" {:>22}", format!("4k-{}-qd{qd}", if op == nvm::READ { "randread" } else { "randwrite" }));
    }
    println!();
    for (c, (name, _)) in configs.iter().enumerate() {
        print!("{name:<30}");
        for (i, iops) in best[c].iter().enumerate() {
            print!(" {:>22}", format!("{:.0} ({:.2})", iops, iops / best[0][i]));
        }
        println!();
    }
    Ok(())
}

fn bench_csum(rounds: usize) {
    let (mhz, rows) = crate::csum_cost::run(rounds.max(1));
    println!(
        "checksum cost per 4 KiB block, warm cache, best of 5; cycles = ns x TSC {mhz:.0} MHz (from /proc/cpuinfo)"
    );
    println!("btrfs column: btrfs-progs' checksum documentation (11th gen Intel, 3.6 GHz TSC)");
    println!("{:<32} {:>10} {:>12} {:>14} {:>10}", "algorithm", "ns/4KiB", "cycles/4KiB", "btrfs cycles", "x btrfs");
    for r in rows {
        let (b, ratio) = match r.btrfs_cycles {
            Some(c) => (c.to_string(), format!("{:.2}", r.cycles_per_4k / c as f64)),
            None => ("-".into(), "-".into()),
        };
        println!("{:<32} {:>10.1} {:>12.0} {:>14} {:>10}", r.name, r.ns_per_4k, r.cycles_per_4k, b, ratio);
    }
}

fn bench_pi(bytes: &str, runs: usize) -> Result<(), String> {
    let total = parse_size(bytes)? as usize;
    println!("PI guard throughput (GB/s of data, best of {runs}) next to memcpy of the same bytes, one run");
    println!(
        "{:<26} {:>6} {:>10} {:>10} {:>12} {:>10} {:>14}",
        "guard", "block", "generate", "verify", "gen+verify", "memcpy", "verify/memcpy"
    );
    for r in crate::pi::bench(total, runs.max(1) as u32) {
        let note = if r.spec_valid { "" } else { "  (not a spec format: reference only)" };
        println!(
            "{:<26} {:>6} {:>10.2} {:>10.2} {:>12.2} {:>10.2} {:>14.2}{}",
            r.guard.name(),
            r.block_size,
            r.generate_gbps,
            r.verify_gbps,
            r.pi_gbps,
            r.memcpy_gbps,
            r.verify_gbps / r.memcpy_gbps,
            note
        );
    }
    Ok(())
}
