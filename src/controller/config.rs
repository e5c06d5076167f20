//! Static controller parameters: identity strings and limits reported in CAP and
//! Identify Controller.

use crate::dma::sgl::SglLength;

/// How an I/O queue's worker moves data (`serve --engine`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// One command at a time, with blocking pread/pwrite.
    #[default]
    Sync,
    /// Reads and writes kept in flight together through io_uring, completed in
    /// the order they finish (`controller::uring_engine`).
    IoUring,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Sync, Engine::IoUring];
    /// The faster engine for a cache mode, as measured (docs/performance.md): with
    /// O_DIRECT, io_uring (several transfers in flight); through the page cache,
    /// where a read completes during its system call, sync.
    pub fn default_for(cache: crate::storage::CacheMode) -> Engine {
        if cache.direct() {
            Engine::IoUring
        } else {
            Engine::Sync
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sync => "sync",
            Engine::IoUring => "io_uring",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown engine `{s}` (one of: sync, io_uring)"))
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub serial: String,
    pub model: String,
    pub firmware: String,
    /// PCI vendor and subsystem vendor ids, echoed in Identify Controller.
    pub vid: u16,
    pub ssvid: u16,
    /// Maximum Data Transfer Size as 2^mdts minimum pages (Identify MDTS).
    pub mdts: u8,
    /// Number of I/O queue pairs offered.
    pub max_queues: u16,
    /// Maximum entries per queue (CAP.MQES + 1).
    pub max_queue_entries: u32,
    pub mpsmax: u8,
    /// Volatile write cache present and enabled at start.
    pub write_cache: bool,
    pub subnqn: String,
    /// MSI-X vectors the PCI function offers.
    pub msix_vectors: u16,
    /// Offer Doorbell Buffer Config (shadow doorbells with EventIdx, OACS bit 8).
    pub shadow_doorbells: bool,
    /// After a queue runs dry, keep looking at its shadow tail this long before
    /// publishing EventIdx and sleeping (0: sleep at once).
    pub poll_us: u32,
    /// Copy descriptor formats treated as enabled whatever Host Behavior Support
    /// CDFE says (bits 2 and 3: formats 2h and 3h). Linux keeps Host Behavior
    /// Support to itself (userspace Set Features of FID 16h is refused), so a
    /// Linux guest can only use cross-namespace Copy with this opt-in.
    pub copy_formats_always: u16,
    /// Whether a data or metadata SGL may describe more than the transfer
    /// (Identify Controller SGLS bit 18; `vnvme serve --strict-sgl-length` refuses it).
    pub sgl_length: SglLength,
    /// How the I/O queues' workers move data.
    pub engine: Engine,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            serial: "VNVME0001".into(),
            model: "vnvme PI controller".into(),
            firmware: env!("CARGO_PKG_VERSION").into(),
            vid: 0x1b36,
            ssvid: 0x1af4,
            mdts: 7,
            max_queues: 16,
            max_queue_entries: 1024,
            mpsmax: 0,
            write_cache: true,
            subnqn: "nqn.2026-11.io.vnvme:ctrl:VNVME0001".into(),
            msix_vectors: 17,
            shadow_doorbells: true,
            poll_us: 0,
            copy_formats_always: 0,
            sgl_length: SglLength::MayExceed,
            engine: Engine::Sync,
        }
    }
}

impl ControllerConfig {
    /// Memory page size in bytes (CC.MPS; only 4 KiB is offered: MPSMIN = MPSMAX = 0).
    pub fn page_size(&self) -> u64 {
        4096
    }
    /// MDTS in bytes.
    pub fn max_transfer(&self) -> u64 {
        self.page_size() << self.mdts
    }
}
