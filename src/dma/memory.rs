//! [`VecMemory`]: guest memory backed by a vector, for tests and the QEMU-less
//! driver. Ranges can be poisoned to play a guest address outside the DMA map:
//! an access that touches one byte of a poisoned range, or one past the end, is
//! refused whole, reading and writing nothing ([`VecMemory::backing`] lets a test
//! check that the bytes behind a poisoned range were left alone).

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
    /// The bytes behind `[addr, addr+len)`, poisoned or not: for a test to
    /// check that a refused access left them as they were. Not a DMA path.
    pub fn backing(&self, addr: u64, len: u64) -> Vec<u8> {
        let b = self.bytes.lock().unwrap();
        b[addr as usize..(addr + len) as usize].to_vec()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_touching_a_poisoned_byte_or_the_end_is_refused_whole() {
        let m = VecMemory::new(3 * 4096);
        m.write(GuestAddr(4096), &[0xa5; 4096]).unwrap();
        m.poison(4096, 4096);
        for (addr, len) in [(4095, 2), (8191, 1), (0, 3 * 4096), (3 * 4096 - 1, 2), (u64::MAX, 1), (u64::MAX - 1, 4)] {
            let err = DmaError { addr: GuestAddr(addr), len };
            assert_eq!(m.write(GuestAddr(addr), &vec![0x5a; len as usize]), Err(err), "write {addr:#x}+{len}");
            assert_eq!(m.read(GuestAddr(addr), &mut vec![0; len as usize]), Err(err), "read {addr:#x}+{len}");
        }
        assert_eq!(m.backing(4096, 4096), vec![0xa5; 4096], "the poisoned page is as it was");
        assert_eq!(m.backing(4095, 1), [0], "the refused straddling write wrote nothing before the page");
        assert_eq!(m.backing(8192, 1), [0], "nor after it");
    }
}
