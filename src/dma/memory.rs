//! [`VecMemory`]: guest memory backed by a vector, for tests and the QEMU-less
//! driver. Ranges can be poisoned to play a guest address outside the DMA map:
//! an access that touches one byte of a poisoned range, or one past the end, is
//! refused whole, reading and writing nothing ([`VecMemory::backing`] lets a test
//! check that the bytes behind a poisoned range were left alone).

use super::{Direction, DmaError, DmaMemory, GuestAddr, RangeBatch, RangesIo, SgList};
use crate::spec::Status;
use crate::storage::IoRanges;
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
    /// The vector's own bytes, under its lock for the whole call: the same checks
    /// as `read` and `write`, so tests of the controller run the path that hands guest
    /// pages to the medium.
    #[allow(unsafe_code)]
    fn ranges(&self, sg: &SgList, len: u64, _dir: Direction, io: &mut RangesIo<'_>) -> Result<bool, Status> {
        if sg.has_bit_bucket(len) {
            return Ok(false);
        }
        let mut b = self.bytes.lock().unwrap();
        let size = b.len();
        let fail = |_| Status::DATA_TRANSFER_ERROR;
        sg.walk(0, len, |addr, _, n| self.check(addr.unwrap_or(0), n, size).map(|_| ()).map_err(fail))?;
        let base = b.as_mut_ptr();
        let mut flush = |at: u64, iovs: &mut [libc::iovec]| {
            // SAFETY: every iovec lies inside the vector (checked above), which the
            // lock held by `b` keeps alive and unborrowed for the whole call.
            let mut r = unsafe { IoRanges::new(iovs) };
            io(at, &mut r)
        };
        let mut batch = RangeBatch::default();
        sg.walk(0, len, |addr, _, n| {
            batch.push(base.wrapping_add(addr.unwrap_or(0) as usize), n, &mut flush);
            Ok(())
        })?;
        batch.finish(&mut flush);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_come_in_batches_with_their_offsets_and_stop_when_asked() {
        let m = VecMemory::new(1 << 20);
        let mut sg = SgList::default();
        // 150 pieces of 100 bytes, 4 KiB apart: batches of 64, 64 and 22.
        for i in 0..150u64 {
            sg.segments.push(super::super::Segment::Mem { addr: 0x1000 + i * 4096, len: 100 });
        }
        let mut seen = Vec::new();
        let ran = m.ranges(&sg, 150 * 100, Direction::ControllerToHost, &mut |at, r| {
            seen.push((at, r.len()));
            true
        });
        assert_eq!(ran, Ok(true));
        assert_eq!(seen, [(0, 6400), (6400, 6400), (12800, 2200)]);
        // Only the first 250 bytes: three pieces, the last cut short.
        seen.clear();
        m.ranges(&sg, 250, Direction::ControllerToHost, &mut |at, r| {
            seen.push((at, r.len()));
            true
        })
        .unwrap();
        assert_eq!(seen, [(0, 250)]);
        let mut calls = 0;
        m.ranges(&sg, 150 * 100, Direction::HostToController, &mut |_, _| {
            calls += 1;
            false
        })
        .unwrap();
        assert_eq!(calls, 1, "no batch after one says stop");
        m.poison(0x1000 + 149 * 4096 + 99, 1);
        let r = m.ranges(&sg, 150 * 100, Direction::HostToController, &mut |_, _| panic!("handed a batch"));
        assert_eq!(r, Err(Status::DATA_TRANSFER_ERROR), "the last byte is unmapped: nothing is handed on");
        assert_eq!(
            m.ranges(&sg, 150 * 100 + 1, Direction::HostToController, &mut |_, _| true),
            Err(Status::DATA_TRANSFER_ERROR),
            "a list shorter than the transfer"
        );
    }

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
