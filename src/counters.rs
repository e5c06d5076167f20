//! Controller counters as named atomics: commands by opcode and status, bytes
//! moved across the guest DMA boundary per direction, and SMART-relevant totals.
//! Read by the SMART log and by the control plane (`vnvme ctl stats`).

use crate::spec::Status;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct Counters {
    pub admin_commands: AtomicU64,
    pub io_commands: AtomicU64,
    pub errors: AtomicU64,
    pub host_reads: AtomicU64,
    pub host_writes: AtomicU64,
    /// Bytes copied from guest memory into the device (host to controller).
    pub dma_to_device: AtomicU64,
    /// Bytes copied from the device into guest memory (controller to host).
    pub dma_to_host: AtomicU64,
    /// 512-byte units read and written (SMART Data Units, counted in bytes here).
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub by_opcode: [AtomicU64; 256],
    pub media_errors: AtomicU64,
    pub pract_inserts: AtomicU64,
    pub pract_strips: AtomicU64,
    /// Copy commands completed, and bytes (data and metadata) they moved inside
    /// the device without crossing the DMA boundary.
    pub copies: AtomicU64,
    pub copy_bytes: AtomicU64,
    /// Reads and writes whose data moved through io_uring (`--engine io_uring`),
    /// and the most a queue had in flight at once.
    pub uring_transfers: AtomicU64,
    pub uring_peak: AtomicU64,
    /// Reads and writes whose data moved between the guest's pages and the image
    /// with no copy through the device's buffers (`nvm/in_place.rs`).
    pub in_place: AtomicU64,
    /// Doorbell writes that arrived as BAR0 register writes (messages), and
    /// doorbell changes the transport found in the mapped page (mmap-poll).
    pub doorbell_messages: AtomicU64,
    pub doorbells_mapped: AtomicU64,
}

/// Per-namespace traffic: what crossed the guest DMA boundary per direction, and
/// what Copy moved inside the device (read from this namespace as a source,
/// written to it as a destination).
#[derive(Default)]
pub struct NsCounters {
    pub dma_to_device: AtomicU64,
    pub dma_to_host: AtomicU64,
    pub copy_read_bytes: AtomicU64,
    pub copy_written_bytes: AtomicU64,
}

/// A namespace's byte counters read at one moment (see [`NsCounters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NsTraffic {
    pub dma_to_device: u64,
    pub dma_to_host: u64,
    pub copy_read: u64,
    pub copy_written: u64,
}

impl NsTraffic {
    /// What was counted after `base` (an earlier reading of the same counters).
    pub fn since(&self, base: &NsTraffic) -> NsTraffic {
        NsTraffic {
            dma_to_device: self.dma_to_device - base.dma_to_device,
            dma_to_host: self.dma_to_host - base.dma_to_host,
            copy_read: self.copy_read - base.copy_read,
            copy_written: self.copy_written - base.copy_written,
        }
    }
}

impl NsCounters {
    pub fn snapshot(&self) -> NsTraffic {
        NsTraffic {
            dma_to_device: self.dma_to_device.load(Relaxed),
            dma_to_host: self.dma_to_host.load(Relaxed),
            copy_read: self.copy_read_bytes.load(Relaxed),
            copy_written: self.copy_written_bytes.load(Relaxed),
        }
    }

    pub fn summary(&self) -> String {
        let NsTraffic { dma_to_device, dma_to_host, copy_read, copy_written } = self.snapshot();
        format!("DMA to device {dma_to_device} B, to host {dma_to_host} B; Copy read {copy_read} B, written {copy_written} B inside the device")
    }
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            admin_commands: AtomicU64::new(0),
            io_commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            host_reads: AtomicU64::new(0),
            host_writes: AtomicU64::new(0),
            dma_to_device: AtomicU64::new(0),
            dma_to_host: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            by_opcode: std::array::from_fn(|_| AtomicU64::new(0)),
            media_errors: AtomicU64::new(0),
            pract_inserts: AtomicU64::new(0),
            pract_strips: AtomicU64::new(0),
            copies: AtomicU64::new(0),
            copy_bytes: AtomicU64::new(0),
            uring_transfers: AtomicU64::new(0),
            uring_peak: AtomicU64::new(0),
            in_place: AtomicU64::new(0),
            doorbell_messages: AtomicU64::new(0),
            doorbells_mapped: AtomicU64::new(0),
        }
    }
}

impl Counters {
    pub fn admin_command(&self, _opcode: u8, status: Status) {
        self.admin_commands.fetch_add(1, Relaxed);
        if !status.is_success() {
            self.errors.fetch_add(1, Relaxed);
        }
    }
    pub fn io_command(&self, opcode: u8, status: Status) {
        self.io_commands.fetch_add(1, Relaxed);
        self.by_opcode[opcode as usize].fetch_add(1, Relaxed);
        if !status.is_success() {
            self.errors.fetch_add(1, Relaxed);
            if status.sct == crate::spec::status::sct::MEDIA {
                self.media_errors.fetch_add(1, Relaxed);
            }
        }
    }
    /// One line for logs: what crossed the DMA boundary and what PI work was done.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Relaxed);
        format!(
            "admin {} io {} (reads {} writes {}) errors {} media-errors {}; DMA to device {} B, to host {} B; PRACT inserts {} strips {}; Copy {} commands, {} B moved inside the device; io_uring {} transfers, at most {} in flight; {} moved in place; doorbells: {} by message, {} found in the mapped page",
            g(&self.admin_commands),
            g(&self.io_commands),
            g(&self.host_reads),
            g(&self.host_writes),
            g(&self.errors),
            g(&self.media_errors),
            g(&self.dma_to_device),
            g(&self.dma_to_host),
            g(&self.pract_inserts),
            g(&self.pract_strips),
            g(&self.copies),
            g(&self.copy_bytes),
            g(&self.uring_transfers),
            g(&self.uring_peak),
            g(&self.in_place),
            g(&self.doorbell_messages),
            g(&self.doorbells_mapped)
        )
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}
