//! The I/O path allocates nothing in steady state: with the counting allocator
//! installed in this test binary, the in-process benchmark driver runs reads,
//! writes and a mix, with and without PI, 4 KiB and 128 KiB (a PRP list), and the
//! process must make no heap allocation while the I/O runs. (Before, every
//! command built its scatter list in a `Vec`: one allocation per I/O, two with
//! separate metadata, and a list page for PRP lists.)

use std::sync::Arc;
use vnvme::controller::config::Engine;
use vnvme::controller::ControllerConfig;
use vnvme::driver::bench_format::{by_name, BenchFormat};
use vnvme::driver::iops::Bench;
use vnvme::driver::workload::{Mix, Workload};
use vnvme::nvm::namespace::{standard_formats, Namespace, Protection};
use vnvme::storage::{BlockStore, CacheMode, FileStore};

#[global_allocator]
static ALLOC: vnvme::alloc_count::CountingAlloc = vnvme::alloc_count::CountingAlloc;

fn namespace(path: &std::path::Path, f: &BenchFormat, cache: CacheMode) -> Arc<Namespace> {
    let file = std::fs::File::create(path).unwrap();
    file.set_len(64 << 20).unwrap();
    let store: Arc<dyn BlockStore> = Arc::new(FileStore::open_with(path, cache).unwrap());
    let formats = standard_formats(f.pif, 0);
    let index = formats.iter().position(|l| l.lbs == f.lbs && l.ms == f.ms).unwrap();
    let ns = Namespace::new(1, store, formats, index as u8, f.extended, Protection::new(f.pi, false).unwrap(), 1);
    Arc::new(vnvme::nvm::crash_recovery::with_log_beside(ns, path).unwrap())
}

#[test]
fn no_heap_allocation_per_io() {
    assert!(vnvme::alloc_count::installed());
    let dir = std::env::temp_dir().join(format!("vnvme-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The sync engine through the page cache, and the io_uring engine with O_DIRECT.
    let setups = [(Engine::Sync, CacheMode::Writeback), (Engine::IoUring, CacheMode::None)];
    for ((engine, cache), name) in
        setups.into_iter().flat_map(|s| ["512", "512+8-t1", "4096+16-64b", "512+8-ext-pract"].map(|n| (s, n)))
    {
        let f = by_name(name).unwrap();
        let image = dir.join(format!("{name}.img"));
        let cfg = ControllerConfig { engine, ..Default::default() };
        let name = format!("{name} {engine} cache={cache}");
        let mut b = Bench::new(namespace(&image, &f, cache), f, cfg, None, 128 << 10, 8, 1).unwrap();
        b.prefill().unwrap();
        for io_bytes in [4096u32, 128 << 10] {
            for mix in [Mix::Read, Mix::Write, Mix::ReadWrite70] {
                let w = Workload { io_bytes, mix, qd: 8, queues: 1 };
                b.measure(&w, 0.05).unwrap_or_else(|e| panic!("{name} {}: {e}", w.name())); // warm-up: lazily grown buffers
                let m = b.measure(&w, 0.3).unwrap_or_else(|e| panic!("{name} {}: {e}", w.name()));
                assert!(m.ios >= 20, "{name} {}: only {} I/Os", w.name(), m.ios);
                assert_eq!(m.allocations, Some(0), "{name} {}: heap allocations during {} I/Os", w.name(), m.ios);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
