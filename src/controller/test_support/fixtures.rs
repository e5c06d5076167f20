//! Fixtures under the fake host: the backing store choice ([`Store`]), namespace
//! configurations ([`NsConfig`]) built the way `vnvme serve` builds them, temporary
//! image files, data patterns, a hang [`watchdog`], and [`on_every_store!`], which
//! runs one test body over the in-memory store and the file store in each way it
//! can meet the page cache.

use crate::nvm::metadata;
use crate::nvm::namespace::{standard_formats, LbaFormat, Namespace, Protection};
use crate::storage::{BlockStore, CacheMode};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Default namespace image size.
pub const NS_BYTES: u64 = 4 << 20;

/// The backing store under every namespace of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Mem,
    /// A temporary image file opened with this cache mode.
    File(CacheMode),
    /// The same, with the controller's io_uring engine.
    Uring(CacheMode),
}

impl Store {
    /// Whether the controller may report a volatile write cache over this store.
    pub fn volatile_write_cache(self) -> bool {
        match self {
            Store::Mem => true,
            Store::File(m) | Store::Uring(m) => m.volatile_write_cache(),
        }
    }
    /// The I/O engine the controller runs over this store.
    pub fn engine(self) -> crate::controller::config::Engine {
        match self {
            Store::Uring(_) => crate::controller::config::Engine::IoUring,
            _ => crate::controller::config::Engine::Sync,
        }
    }
}

/// One namespace: its format (an entry of `standard_formats(pif, 0)`, or an extra
/// one), protection settings and image size.
#[derive(Clone, Copy, Debug)]
pub struct NsConfig {
    pub lbs: u32,
    pub ms: u16,
    pub pif: u8,
    pub pi: u8,
    pub pi_first: bool,
    pub extended: bool,
    pub bytes: u64,
}

impl NsConfig {
    pub const fn new(lbs: u32) -> Self {
        NsConfig { lbs, ms: 0, pif: 0, pi: 0, pi_first: false, extended: false, bytes: NS_BYTES }
    }
    pub const fn metadata(self, ms: u16) -> Self {
        NsConfig { ms, ..self }
    }
    pub const fn pi(self, pi: u8, pif: u8) -> Self {
        NsConfig { pi, pif, ..self }
    }
    pub const fn extended(self) -> Self {
        NsConfig { extended: true, ..self }
    }
    pub const fn bytes(self, bytes: u64) -> Self {
        NsConfig { bytes, ..self }
    }
    /// Number of logical blocks the image holds (QEMU's layout).
    pub fn nlbas(&self) -> u64 {
        self.bytes / (self.lbs as u64 + self.ms as u64)
    }

    /// Build the namespace on `store`, marking never-written metadata as
    /// `vnvme serve` does.
    pub fn build(&self, nsid: u32, store: Arc<dyn BlockStore>) -> Arc<Namespace> {
        let mut formats = standard_formats(self.pif, 0);
        let want = LbaFormat { lbs: self.lbs, ms: self.ms, pif: if self.ms >= 16 { self.pif } else { 0 }, sts: 0 };
        let index = formats.iter().position(|f| *f == want).unwrap_or_else(|| {
            formats.push(want);
            formats.len() - 1
        });
        let prot = Protection::new(self.pi, self.pi_first).unwrap();
        let ns = Namespace::new(nsid, store, formats, index as u8, self.extended, prot, 0x5eed);
        metadata::fill_unwritten(&*ns.store, &ns.format()).expect("marking unwritten metadata");
        Arc::new(ns)
    }
}

/// A temporary image file, removed on drop.
pub struct TempImage(PathBuf);

impl TempImage {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
    pub fn create(bytes: u64) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("vnvme-fake-host-{}-{}.img", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::File::create(&path).and_then(|f| f.set_len(bytes)).expect("creating a temporary image");
        TempImage(path)
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Little-endian fields of a structure read back from guest memory (Identify data, log pages).
pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// Deterministic, position-dependent bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32 * 7 + (i >> 9) as u32) as u8).collect()
}

/// Aborts the process when a test hangs, so a deadlock fails loudly instead of
/// stalling the run. Disarmed on drop.
pub struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

pub fn watchdog(limit: Duration, what: &'static str) -> Watchdog {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            // Straight to stderr: the test harness's output capture dies with the process.
            let msg = format!("watchdog: `{what}` did not finish within {limit:?}: the controller hangs\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Run a test body once per backing store: `on_every_store!(name, ...)` expects
/// `fn name(store: Store)` and makes `name::mem_store`, and one test per cache
/// mode of the file store and engine: `name::file_writeback`, `name::file_none`
/// (O_DIRECT), `name::file_writethrough` and `name::file_directsync` (O_DIRECT, no
/// volatile write cache: every write durable before it completes) on the sync
/// engine, and `name::uring_*` for the same four on the io_uring engine.
#[cfg(test)]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::storage::CacheMode;
            #[test]
            fn mem_store() {
                super::$name(super::Store::Mem)
            }
            #[test]
            fn file_writeback() {
                super::$name(super::Store::File(CacheMode::Writeback))
            }
            #[test]
            fn file_none() {
                super::$name(super::Store::File(CacheMode::None))
            }
            #[test]
            fn file_writethrough() {
                super::$name(super::Store::File(CacheMode::Writethrough))
            }
            #[test]
            fn file_directsync() {
                super::$name(super::Store::File(CacheMode::Directsync))
            }
            #[test]
            fn uring_writeback() {
                super::$name(super::Store::Uring(CacheMode::Writeback))
            }
            #[test]
            fn uring_none() {
                super::$name(super::Store::Uring(CacheMode::None))
            }
            #[test]
            fn uring_writethrough() {
                super::$name(super::Store::Uring(CacheMode::Writethrough))
            }
            #[test]
            fn uring_directsync() {
                super::$name(super::Store::Uring(CacheMode::Directsync))
            }
        }
    )*};
}
#[cfg(test)]
pub(crate) use on_every_store;
