//! Interrupt delivery through the eventfds QEMU hands over with SET_IRQS: one per
//! MSI-X vector, and a trigger for INTx. Masking of MSI-X vectors happens in QEMU
//! (it emulates the table); the device only writes the eventfd.
//!
//! An MSI-X message is a memory write, so while Bus Master Enable is clear none
//! is sent: the vector is remembered as pending and signalled when bus mastering
//! comes back, so a completion posted just before the bit was cleared still gets
//! its interrupt. INTx is a PCIe message, not a memory request, and is not gated.

use crate::controller::InterruptSink;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

pub struct Interrupts {
    msix: RwLock<Vec<Option<File>>>,
    intx: RwLock<Option<File>>,
    pub msix_enabled: AtomicBool,
    pub intx_disabled: AtomicBool,
    /// Bus Master Enable and the MSI-X vectors held back while it was clear.
    /// A signal holds the lock while it writes the eventfd, so none is sent
    /// after `set_bus_master(false)` returns.
    bus_master: Mutex<BusMaster>,
    vectors: u16,
}

struct BusMaster {
    on: bool,
    pending: Vec<bool>,
}

impl Interrupts {
    pub fn new(vectors: u16) -> Self {
        Interrupts {
            msix: RwLock::new((0..vectors).map(|_| None).collect()),
            intx: RwLock::new(None),
            msix_enabled: AtomicBool::new(false),
            intx_disabled: AtomicBool::new(false),
            bus_master: Mutex::new(BusMaster { on: true, pending: vec![false; vectors as usize] }),
            vectors,
        }
    }

    /// Follow the PCI Command register's Bus Master Enable; turning it on sends
    /// the MSI-X vectors held back while it was off.
    pub fn set_bus_master(&self, on: bool) {
        let mut bm = self.bus_master.lock().unwrap();
        bm.on = on;
        if on {
            for v in 0..self.vectors {
                if std::mem::take(&mut bm.pending[v as usize]) {
                    self.send_msix(v);
                }
            }
        }
    }

    fn send_msix(&self, vector: u16) {
        if let Some(Some(f)) = self.msix.read().unwrap().get(vector as usize) {
            Self::kick(f);
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
            let mut bm = self.bus_master.lock().unwrap();
            if bm.on {
                self.send_msix(vector);
            } else if let Some(p) = bm.pending.get_mut(vector as usize) {
                *p = true;
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

    /// Whether MSI-X vectors `start..start + count` all exist. SET_IRQS over a
    /// range past the last vector is EINVAL, as VFIO answers it; a count taken
    /// as given would size a vector of up to 2^32 slots.
    pub fn msix_range_valid(&self, start: u32, count: u32) -> bool {
        start.checked_add(count).is_some_and(|end| end <= self.vectors as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::io::FromRawFd;

    fn pipe() -> (File, File) {
        let mut fds = [0i32; 2];
        // SAFETY: pipe2(2) fills the two-element array with fds we then own.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) }, 0);
        // SAFETY: both fds were just created and are owned by nobody else.
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }
    fn kicks(r: &mut File) -> usize {
        let mut b = [0u8; 64];
        r.read(&mut b).map(|n| n / 8).unwrap_or(0)
    }

    #[test]
    fn msix_held_while_bus_mastering_is_off_and_sent_when_it_returns() {
        let irqs = Interrupts::new(4);
        let (mut r, w) = pipe();
        irqs.set_msix(2, vec![Some(w)]);
        irqs.msix_enabled.store(true, Ordering::Release);
        irqs.signal(2);
        assert_eq!(kicks(&mut r), 1);
        irqs.set_bus_master(false);
        irqs.signal(2);
        irqs.signal(2);
        assert_eq!(kicks(&mut r), 0, "no MSI-X while Bus Master Enable is clear");
        irqs.set_bus_master(true);
        assert_eq!(kicks(&mut r), 1, "the held vector is sent once");
        irqs.set_bus_master(false);
        irqs.set_bus_master(true);
        assert_eq!(kicks(&mut r), 0, "nothing pending, nothing sent");
    }

    #[test]
    fn intx_is_not_a_memory_request() {
        let irqs = Interrupts::new(1);
        let (mut r, w) = pipe();
        irqs.set_intx(Some(w));
        irqs.set_bus_master(false);
        irqs.signal(0);
        assert_eq!(kicks(&mut r), 1);
    }

    /// Found by the vfio_user_messages fuzz target: SET_IRQS with a count of
    /// ~600 million made the server allocate gigabytes before looking at it.
    #[test]
    fn msix_range_past_the_last_vector_is_invalid() {
        let irqs = Interrupts::new(4);
        assert!(irqs.msix_range_valid(0, 4) && irqs.msix_range_valid(3, 1) && irqs.msix_range_valid(4, 0));
        for (start, count) in [(0, 5), (4, 1), (0, u32::MAX), (u32::MAX, 2), (608_174_082, 608_174_082)] {
            assert!(!irqs.msix_range_valid(start, count), "{start}+{count}");
        }
    }
}
