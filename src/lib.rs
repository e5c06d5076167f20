//! vnvme: an out-of-process NVMe controller with end-to-end Protection
//! Information, attached to QEMU over vfio-user.
//!
//! Layers, top to bottom (see docs/design.md): `cli`, `transport::vfio_user`,
//! `controller`, `nvm`, `pi`, `dma`, `storage`, `spec`.

pub mod bench;
pub mod cli;
pub mod control;
pub mod controller;
pub mod counters;
pub mod dma;
pub mod driver;
pub mod nvm;
pub mod pi;
pub mod spec;
pub mod storage;
pub mod transport;

use std::sync::atomic::{AtomicBool, Ordering};

static LOG: AtomicBool = AtomicBool::new(true);

/// Whether diagnostics go to stderr (`--quiet` turns them off).
pub fn log_enabled() -> bool {
    LOG.load(Ordering::Relaxed)
}
pub fn set_log(on: bool) {
    LOG.store(on, Ordering::Relaxed);
}
