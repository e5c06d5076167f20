//! [`VecMemory`]: guest memory backed by a vector, for tests and the QEMU-less
//! driver. Ranges can be poisoned to play a guest address outside the DMA map.

use super::{DmaError, DmaMemory, GuestAddr};
use std::sync::Mutex;

pub struct VecMemory {
    bytes: Mutex<Vec<u8>>,
    poisoned: Mutex<Vec<(u64, u64)>>,
}

impl VecMemory {
    pub fn new(size: usize) -> Self {
        VecMemory { bytes: Mutex::new(vec![0u8; size]), poisoned: Mutex::new(Vec::new()) }
    }
    /// Make `[addr, addr+len)` behave as unmapped.
    pub fn poison(&self, addr: u64, len: u64) {
        self.poisoned.lock().unwrap().push((addr, len));
    }
    fn check(&self, gpa: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>, DmaError> {
        let err = DmaError { addr: GuestAddr(gpa), len: len as u64 };
        let end = gpa.checked_add(len as u64).ok_or(err)?;
        if end > size as u64 {
            return Err(err);
        }
        let hit = self.poisoned.lock().unwrap().iter().any(|&(a, l)| gpa < a + l && a < end);
        if hit {
            return Err(err);
        }
        Ok(gpa as usize..end as usize)
    }
}

impl DmaMemory for VecMemory {
    fn read(&self, gpa: GuestAddr, buf: &mut [u8]) -> Result<(), DmaError> {
        let b = self.bytes.lock().unwrap();
        let r = self.check(gpa.0, buf.len(), b.len())?;
        buf.copy_from_slice(&b[r]);
        Ok(())
    }
    fn write(&self, gpa: GuestAddr, data: &[u8]) -> Result<(), DmaError> {
        let mut b = self.bytes.lock().unwrap();
        let size = b.len();
        let r = self.check(gpa.0, data.len(), size)?;
        b[r].copy_from_slice(data);
        Ok(())
    }
}
