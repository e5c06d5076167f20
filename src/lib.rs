//! vnvme: an out-of-process NVMe controller with end-to-end Protection
//! Information, attached to QEMU over vfio-user.
//!
//! Layers, top to bottom (see docs/design.md; `tests/layers.rs` keeps the
//! arrows pointing down): `cli` and `csum_cost`, `driver`, `control`,
//! `transport::vfio_user`, `controller`, `nvm`, `counters`, `pi`, `dma`,
//! `storage`, `spec` and `alloc_count`. Diagnostics go through `tracing` (the subscriber is
//! installed by `cli::diagnostics`).

pub mod alloc_count;
pub mod cli;
pub mod control;
pub mod controller;
pub mod counters;
pub mod csum_cost;
pub mod dma;
pub mod driver;
pub mod nvm;
pub mod pi;
pub mod spec;
pub mod storage;
pub mod transport;
