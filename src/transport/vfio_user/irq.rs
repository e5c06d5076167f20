//! Interrupt delivery through the eventfds QEMU hands over with SET_IRQS: one per
//! MSI-X vector, and a trigger for INTx. Masking of MSI-X vectors happens in QEMU
//! (it emulates the table); the device only writes the eventfd.

use crate::controller::InterruptSink;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

pub struct Interrupts {
    msix: RwLock<Vec<Option<File>>>,
    intx: RwLock<Option<File>>,
    pub msix_enabled: AtomicBool,
    pub intx_disabled: AtomicBool,
    vectors: u16,
}

impl Interrupts {
    pub fn new(vectors: u16) -> Self {
        Interrupts {
            msix: RwLock::new((0..vectors).map(|_| None).collect()),
            intx: RwLock::new(None),
            msix_enabled: AtomicBool::new(false),
            intx_disabled: AtomicBool::new(false),
            vectors,
        }
    }

    /// Assign (Some) or release (None) eventfds for vectors start.. .
    pub fn set_msix(&self, start: u32, fds: Vec<Option<File>>) {
        let mut v = self.msix.write().unwrap();
        for (i, f) in fds.into_iter().enumerate() {
            if let Some(slot) = v.get_mut(start as usize + i) {
                *slot = f;
            }
        }
    }
    pub fn clear_msix(&self) {
        self.msix.write().unwrap().iter_mut().for_each(|s| *s = None);
    }
    pub fn set_intx(&self, f: Option<File>) {
        *self.intx.write().unwrap() = f;
    }

    fn kick(f: &File) {
        let mut f = f;
        let _ = f.write_all(&1u64.to_ne_bytes());
    }
}

impl InterruptSink for Interrupts {
    fn signal(&self, vector: u16) {
        if self.msix_enabled.load(Ordering::Acquire) {
            if let Some(Some(f)) = self.msix.read().unwrap().get(vector as usize) {
                Self::kick(f);
            }
            return;
        }
        if !self.intx_disabled.load(Ordering::Acquire) {
            if let Some(f) = &*self.intx.read().unwrap() {
                Self::kick(f);
            }
        }
    }
    fn vectors(&self) -> u16 {
        self.vectors
    }
}

impl Interrupts {
    pub fn vectors_count(&self) -> u16 {
        self.vectors
    }
}
