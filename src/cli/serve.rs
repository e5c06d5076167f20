//! `vnvme serve`: open the namespace images, listen on the vfio-user socket, and
//! serve one QEMU connection at a time until SIGINT/SIGTERM.

use super::ns_spec::NsSpec;
use super::signals;
use crate::controller::config::Engine;
use crate::controller::{Controller, ControllerConfig};
use crate::dma::sgl::SglLength;
use crate::nvm::metadata;
use crate::nvm::namespace::{standard_formats, LbaFormat, Namespace, Protection};
use crate::nvm::ns_dir::NsDir;
use crate::nvm::ns_table::NamespaceTable;
use crate::storage::{BlockStore, CacheMode, FileStore};
use crate::transport::vfio_user::dma_map::DmaMap;
use crate::transport::vfio_user::irq::Interrupts;
use crate::transport::vfio_user::{Listener, Session};
use clap::Args;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    /// Path of the vfio-user UNIX socket to create (mode 0600).
    #[arg(long)]
    pub socket: PathBuf,
    /// A namespace: path=IMG[,lbs=512|4096][,ms=N][,mset=0|1][,pi=0-3][,pil=0|1][,pif=0|1|2][,sts=N].
    /// Repeat for more namespaces (NSIDs 1, 2, ...).
    #[arg(long = "ns", required_unless_present = "ns_dir")]
    pub ns: Vec<String>,
    /// A directory in which the host may create and delete namespaces (Namespace
    /// Management and Attachment; docs/namespaces.md). Namespaces created there
    /// come back after a restart with the same directory.
    #[arg(long)]
    pub ns_dir: Option<PathBuf>,
    /// NVM capacity the --ns-dir directory offers (e.g. 8G; default: the
    /// filesystem's free space at start plus the images already there).
    #[arg(long, requires = "ns_dir")]
    pub ns_dir_capacity: Option<String>,
    /// Serial number reported in Identify Controller.
    #[arg(long, default_value = "VNVME0001")]
    pub serial: String,
    /// I/O queue pairs offered to the host.
    #[arg(long, default_value_t = 16)]
    pub max_queues: u16,
    /// Report no volatile write cache: every write is durable before it completes.
    #[arg(long)]
    pub no_write_cache: bool,
    /// How the images use the host's page cache, as QEMU names it: `writeback`
    /// (through the page cache), `none` (O_DIRECT), `writethrough` (through the page
    /// cache, no volatile write cache) or `directsync` (O_DIRECT, no volatile write
    /// cache). docs/design.md, "Durability".
    #[arg(long, default_value = "writeback", value_parser = str::parse::<CacheMode>)]
    pub cache: CacheMode,
    /// How each I/O queue moves data: `sync` (one command at a time, pread and
    /// pwrite) or `io_uring` (up to 32 reads and writes in flight per queue,
    /// completed as they finish). Default: io_uring with --cache none or
    /// directsync, sync otherwise (the faster of the two for each, as measured;
    /// docs/design.md, "I/O engines").
    #[arg(long, value_parser = str::parse::<Engine>)]
    pub engine: Option<Engine>,
    /// Exit after the first client disconnects.
    #[arg(long)]
    pub once: bool,
    /// Doorbell handling: `shadow` (posted doorbell messages plus shadow doorbells with
    /// EventIdx), `message` (posted doorbell messages only), `poll` (shadow doorbells,
    /// and a worker keeps polling its queue for --poll-us after it runs dry), or
    /// `mmap-poll` (BAR0's doorbell page mapped into the client, which writes it
    /// with plain stores; every worker polls its queue, spinning --poll-us after its
    /// last command, then sleeping up to 1 ms between looks; no shadow doorbells).
    /// mmap-poll is for hosts with a core to spare per busy queue and for
    /// userspace drivers such as SPDK's (docs/design.md, "Doorbells").
    #[arg(long, default_value = "shadow", value_parser = ["shadow", "message", "poll", "mmap-poll"])]
    pub doorbells: String,
    /// Polling time for --doorbells poll and mmap-poll, in microseconds.
    #[arg(long, default_value_t = 50)]
    pub poll_us: u32,
    /// Accept Copy descriptor formats 2h and 3h (cross-namespace) without the host
    /// enabling them in Host Behavior Support, which Linux does not let userspace
    /// set. Off by default, as the NVMe spec requires.
    #[arg(long)]
    pub cross_namespace_copy: bool,
    /// Refuse a data or metadata SGL that describes more bytes than the command
    /// transfers (Data/Metadata SGL Length Invalid) and clear SGLS bit 18 in Identify
    /// Controller. By default such an SGL is accepted and only its first bytes are used,
    /// as QEMU does and as nvme-cli users passing a larger --data-size expect.
    #[arg(long)]
    pub strict_sgl_length: bool,
    /// Open a control socket (JSON lines, mode 0600) for `vnvme ctl`.
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// A fault rule active from the start (same syntax as `vnvme ctl fault add`); repeatable.
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Fingerprint write data at fetch and at transfer and report buffers changed in flight.
    #[arg(long)]
    pub detect_mutation: bool,
    /// Print every completed command as a JSON trace event on stderr.
    #[arg(long)]
    pub trace_stderr: bool,
    /// Only print errors.
    #[arg(long, short)]
    pub quiet: bool,
}

pub(crate) fn open_namespace(nsid: u32, spec: &NsSpec, cache: CacheMode) -> Result<Arc<Namespace>, String> {
    let p = &spec.path;
    if !p.exists() {
        return Err(format!(
            "namespace {nsid}: image {} does not exist (create it with `vnvme image create`)",
            p.display()
        ));
    }
    let store = FileStore::open_with(p, cache)
        .map_err(|e| format!("namespace {nsid}: {} (--cache {cache}): {e}", p.display()))?;
    let block = (spec.lbs + spec.ms as u32) as u64;
    if store.size() < block {
        return Err(format!(
            "namespace {nsid}: {} is {} bytes, smaller than one {}+{} block",
            p.display(),
            store.size(),
            spec.lbs,
            spec.ms
        ));
    }
    let mut formats = standard_formats(spec.pif, spec.sts);
    let want = LbaFormat {
        lbs: spec.lbs,
        ms: spec.ms,
        pif: if spec.ms >= 16 || spec.pif != 0 { spec.pif } else { 0 },
        sts: spec.sts,
    };
    let index = match formats.iter().position(|f| *f == want) {
        Some(i) => i,
        None => {
            formats.push(want);
            formats.len() - 1
        }
    };
    let seed = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::fs::canonicalize(p).unwrap_or(p.clone()).hash(&mut h);
        h.finish()
    };
    let store: Arc<dyn BlockStore> = Arc::new(store);
    let prot = Protection::new(spec.pi, spec.pil).map_err(|e| format!("namespace {nsid}: {e}"))?;
    let ns = Namespace::new(nsid, store, formats, index as u8, spec.mset, prot, seed);
    let ns =
        crate::nvm::crash_recovery::with_log_beside(ns, p).map_err(|e| format!("namespace {nsid}: intent log: {e}"))?;
    let filled = metadata::fill_unwritten(&*ns.store, &ns.format())
        .map_err(|e| format!("namespace {nsid}: initialising metadata: {e}"))?;
    if filled > 0 {
        tracing::info!(
            "namespace {nsid}: gave {filled} bytes of never-written metadata the unwritten pattern (PI tuple all ones)"
        );
    }
    let marks =
        crate::nvm::uncorrectable_marks::UncorrectableMap::load(p).map_err(|e| format!("namespace {nsid}: {e}"))?;
    let ids =
        crate::nvm::ns_ids::NsIds::load_or_create(p).map_err(|e| format!("namespace {nsid}: identifiers: {e}"))?;
    let ns = ns.with_uncorrectable(marks).with_ids(ids);
    let ns = match &spec.zoned {
        None => ns,
        Some(z) => {
            let geo =
                zone_geometry(z, spec.lbs as u64, ns.format().nlbas()).map_err(|e| format!("namespace {nsid}: {e}"))?;
            let zones = crate::nvm::zoned::Zones::open(p, geo, z.zasl)
                .map_err(|e| format!("namespace {nsid}: zone state: {e}"))?;
            tracing::info!(
                "namespace {nsid}: zoned, {} zones of {} blocks ({} writable), at most {} open and {} active",
                geo.zones,
                geo.zone_size,
                geo.zone_capacity,
                limit_text(geo.max_open),
                limit_text(geo.max_active)
            );
            ns.with_zones(zones)
        }
    };
    Ok(Arc::new(ns))
}

fn limit_text(n: u32) -> String {
    if n == 0 {
        "any number".into()
    } else {
        n.to_string()
    }
}

/// The zones `z` asks for on an image of `nlbas` blocks of `lbs` bytes: as many
/// whole zones as fit (the blocks past the last one are not addressable, as in
/// QEMU's device).
fn zone_geometry(
    z: &super::ns_spec::ZonedSpec,
    lbs: u64,
    nlbas: u64,
) -> Result<crate::nvm::zoned::ZoneGeometry, String> {
    let zone_size = z.zone_size / lbs;
    let zones = nlbas / zone_size;
    if zones == 0 {
        return Err(format!(
            "the image holds {nlbas} blocks, less than one zone of {zone_size} (zoned.zone_size={})",
            z.zone_size
        ));
    }
    let zones = u32::try_from(zones).map_err(|_| format!("{zones} zones are too many"))?;
    Ok(crate::nvm::zoned::ZoneGeometry {
        zone_size,
        zone_capacity: z.zone_capacity / lbs,
        zones,
        max_open: z.max_open,
        max_active: z.max_active,
        ext_size: z.descr_ext_size as usize,
        cross_read: z.cross_read,
    })
}

/// NSIDs a `--ns-dir` subsystem offers (Identify Controller NN), unless more
/// `--ns` namespaces are given.
const MANAGED_NN: u32 = 32;

/// The namespace set: the `--ns` namespaces as NSIDs 1.., plus, with `--ns-dir`,
/// the namespaces recorded in that directory.
fn namespace_table(a: &ServeArgs, given: Vec<Arc<Namespace>>) -> Result<NamespaceTable, String> {
    let Some(path) = &a.ns_dir else { return Ok(NamespaceTable::fixed(given)) };
    let capacity = a.ns_dir_capacity.as_deref().map(super::parse_size).transpose()?;
    let (dir, managed) = NsDir::open(path, capacity, a.cache)?;
    for e in &managed {
        if (e.ns.nsid as usize) <= given.len() {
            return Err(format!(
                "--ns-dir {}: namespace {} there has the NSID of --ns number {}; give fewer --ns or move the directory",
                path.display(),
                e.ns.nsid,
                e.ns.nsid
            ));
        }
    }
    tracing::info!(
        "namespace management in {}: {} namespaces, {} bytes of capacity",
        path.display(),
        managed.len(),
        dir.capacity
    );
    Ok(NamespaceTable::new(given, MANAGED_NN, Some(dir), managed))
}

pub fn run(a: ServeArgs) -> Result<(), String> {
    let trace_stderr = a.trace_stderr || std::env::var_os("VNVME_TRACE").is_some_and(|v| v == "1");
    super::diagnostics::init(super::diagnostics::Verbosity { diagnostics: !a.quiet, trace: trace_stderr });
    if a.max_queues == 0 || a.max_queues > 64 {
        return Err(format!("--max-queues {}: must be 1-64", a.max_queues));
    }
    let engine = a.engine.unwrap_or(Engine::default_for(a.cache));
    if engine == Engine::IoUring {
        crate::controller::uring_engine::UringQueue::new(1)
            .map_err(|e| format!("--engine io_uring: this kernel refuses io_uring ({e}); use --engine sync"))?;
    }
    let specs: Vec<NsSpec> = a.ns.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let namespaces: Vec<Arc<Namespace>> =
        specs.iter().enumerate().map(|(i, s)| open_namespace(i as u32 + 1, s, a.cache)).collect::<Result<_, _>>()?;
    let table = Arc::new(namespace_table(&a, namespaces)?);
    let plane = if a.control.is_some() || !a.faults.is_empty() || a.detect_mutation || trace_stderr {
        let plane = Arc::new(crate::control::ControlPlane::new(table.clone(), a.detect_mutation));
        for rule in &a.faults {
            let id = plane.add_rule(rule).map_err(|e| format!("--fault {rule}: {e}"))?;
            tracing::info!("fault rule {id}: {rule}");
        }
        Some(plane)
    } else {
        None
    };
    signals::block();
    let listener = Listener::bind(&a.socket).map_err(|e| format!("socket {}: {e}", a.socket.display()))?;
    let _control = match (&a.control, &plane) {
        (Some(path), Some(plane)) => Some(
            crate::control::server::start(path, plane.clone())
                .map_err(|e| format!("control socket {}: {e}", path.display()))?,
        ),
        _ => None,
    };
    let config = ControllerConfig {
        serial: a.serial.clone(),
        subnqn: format!("nqn.2026-11.io.vnvme:ctrl:{}", a.serial),
        vid: crate::transport::vfio_user::pci::VENDOR_ID,
        ssvid: crate::transport::vfio_user::pci::VENDOR_ID,
        max_queues: a.max_queues,
        msix_vectors: a.max_queues + 1,
        write_cache: !a.no_write_cache && a.cache.volatile_write_cache(),
        shadow_doorbells: matches!(a.doorbells.as_str(), "shadow" | "poll"),
        poll_us: if matches!(a.doorbells.as_str(), "poll" | "mmap-poll") { a.poll_us } else { 0 },
        copy_formats_always: if a.cross_namespace_copy { 0b1100 } else { 0 },
        sgl_length: if a.strict_sgl_length { SglLength::Exact } else { SglLength::MayExceed },
        engine,
        ..ControllerConfig::default()
    };
    let stopping = Arc::new(AtomicBool::new(false));
    let conn_fd = Arc::new(AtomicI32::new(-1));
    let listen_fd = listener.listener.as_raw_fd();
    {
        let conn_fd = conn_fd.clone();
        signals::spawn_waiter(stopping.clone(), move |sig| {
            tracing::info!("signal {sig}: finishing in-flight commands and flushing");
            // SAFETY: shutdown(2) on fds this process owns; it only wakes blocked
            // accept/recv calls, the owners close the fds.
            unsafe {
                libc::shutdown(listen_fd, libc::SHUT_RDWR);
                let c = conn_fd.load(Ordering::SeqCst);
                if c >= 0 {
                    libc::shutdown(c, libc::SHUT_RDWR);
                }
            }
        });
    }
    for e in table.snapshot().allocated() {
        let (ns, f) = (&e.ns, e.ns.format());
        tracing::info!(
            "namespace {}{}: {} blocks of {}+{} (pi {}, pif {}, {})",
            ns.nsid,
            if e.attached { "" } else { " (detached)" },
            f.nlbas(),
            f.lbs(),
            f.ms(),
            f.protection.pit(),
            f.lbaf.pif,
            if f.extended { "extended LBA" } else { "separate metadata" }
        );
    }
    tracing::info!("engine {engine}");
    tracing::info!("doorbells: {}", a.doorbells);
    tracing::info!(
        "cache mode {}: {}, {}",
        a.cache,
        if a.cache.direct() { "O_DIRECT, past the host's page cache" } else { "through the host's page cache" },
        if config.write_cache {
            "volatile write cache reported"
        } else {
            "no volatile write cache: every write durable before it completes"
        }
    );
    tracing::info!("listening on {}", a.socket.display());
    let attached = Arc::new(AtomicBool::new(false));
    let clients = spawn_acceptor(&listener, stopping.clone(), attached.clone())?;
    loop {
        let mut stream = match clients.recv() {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(format!("accept: {e}")),
            Err(_) => break, // the acceptor stopped: a signal
        };
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        conn_fd.store(stream.as_raw_fd(), Ordering::SeqCst);
        tracing::info!("client connected");
        let dma = Arc::new(DmaMap::default());
        let irqs = Arc::new(Interrupts::new(config.msix_vectors));
        let ctrl = Controller::with_table(config.clone(), dma.clone(), irqs.clone(), table.clone());
        if let Some(plane) = &plane {
            let _ = ctrl.shared.hook.set(plane.clone());
            plane.attach(ctrl.shared.clone());
        }
        let mut session = Session::new(dma.clone(), irqs, ctrl);
        if a.doorbells == "mmap-poll" {
            session.map_doorbells().map_err(|e| format!("--doorbells mmap-poll: {e}"))?;
        }
        let r = session.run(&mut stream);
        conn_fd.store(-1, Ordering::SeqCst);
        session.ctrl.close();
        dma.unmap_all();
        tracing::info!("counters: {}", session.ctrl.shared.counters.summary());
        if let Some((user, system)) = crate::driver::thread_cpu::process_seconds() {
            tracing::info!("cpu: {:.2} s (user {user:.2}, system {system:.2}) since the server started", user + system);
        }
        for ns in table.snapshot().allocated().map(|e| &e.ns) {
            tracing::info!("namespace {} traffic: {}", ns.nsid, ns.counters.summary());
        }
        match r {
            Ok(()) => tracing::info!("client disconnected"),
            Err(e) if stopping.load(Ordering::SeqCst) => {
                let _ = e;
            }
            Err(e) => tracing::warn!("connection error: {e}"),
        }
        attached.store(false, Ordering::SeqCst);
        if a.once || stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    for ns in table.snapshot().allocated().map(|e| &e.ns) {
        ns.store.flush().map_err(|e| format!("flushing namespace {}: {e}", ns.nsid))?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Accept clients on a thread of their own: the first one goes to the serving
/// loop, which clears `attached` when it is done; one that connects meanwhile is
/// refused (EBUSY to its first message) and logged, and the attached client is
/// not disturbed. The channel ends when a signal shuts the listener down.
fn spawn_acceptor(
    listener: &Listener,
    stopping: Arc<AtomicBool>,
    attached: Arc<AtomicBool>,
) -> Result<std::sync::mpsc::Receiver<std::io::Result<UnixStream>>, String> {
    let listener = listener.listener.try_clone().map_err(|e| format!("socket: {e}"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(0);
    std::thread::Builder::new()
        .name("vnvme-accept".into())
        .spawn(move || loop {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if !stopping.load(Ordering::SeqCst) {
                        let _ = tx.send(Err(e));
                    }
                    return;
                }
            };
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            if attached.swap(true, Ordering::SeqCst) {
                tracing::warn!(
                    "refused a second client: a VM is attached (one client per server; start another `vnvme serve` for another VM)"
                );
                // Inline, not on a thread of its own: refusing waits at most a
                // second, and the thread count stays that of one client.
                crate::transport::vfio_user::server::refuse(stream);
                continue;
            }
            if tx.send(Ok(stream)).is_err() {
                return;
            }
        })
        .map_err(|e| format!("spawning the accept thread: {e}"))?;
    Ok(rx)
}
