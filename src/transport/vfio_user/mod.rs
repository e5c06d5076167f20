//! The vfio-user server: vnvme's own implementation of the ~11 messages QEMU's
//! `vfio-user-pci` client sends (see docs/design.md for why not the `vfio_user`
//! crate). It presents the PCI function (config space, BAR0, BAR4), maps guest
//! memory from DMA_MAP, wires MSI-X/INTx eventfds, and forwards BAR0 accesses to
//! the transport-independent [`Controller`](crate::controller::Controller).

pub mod bar0_doorbells;
pub mod client;
pub mod dma_map;
mod guest_copy;
pub mod irq;
pub mod pci;
pub mod protocol;
pub mod server;
pub mod socket;

pub use server::{Listener, Session};
