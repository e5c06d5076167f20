//! Guest memory access for the controller: the [`DmaMemory`] trait, scatter lists,
//! and the PRP and SGL walkers that turn a command's data pointer into a
//! [`SgList`] or the exact NVMe status for a malformed pointer.
//!
//! The controller never holds references into guest memory: a command's data is
//! copied in (`gather`) or out (`scatter`) through the trait, once. That one copy
//! is what a real device's DMA engine does, and it means PI checks, fault
//! injection and the buffer-mutation detector all see one well-defined snapshot of
//! the guest's bytes. Where no check needs that snapshot, [`DmaMemory::ranges`]
//! hands the guest's pages to a vectored system call instead, which moves the
//! bytes between them and the image with no copy of the device's own.

// One exception, in `memory.rs`: the test memory vouches for its own ranges.
#![deny(unsafe_code)]

pub mod memory;
pub mod prp;
pub mod segments;
pub mod sgl;

use crate::spec::Status;
use crate::storage::vectored::MAX_RANGES;
pub use memory::VecMemory;
pub use segments::Segments;

/// A guest physical address (an IOVA, as vfio-user calls it): the one type a
/// [`DmaMemory`] takes, so a byte count or an offset into a buffer cannot be
/// passed where an address belongs. Queue bases, PRP and SGL entries stay `u64`
/// as the spec writes them and become a `GuestAddr` at the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestAddr(pub u64);

impl std::fmt::Display for GuestAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A guest physical address range that is not (entirely) mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaError {
    pub addr: GuestAddr,
    pub len: u64,
}

impl std::fmt::Display for DmaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "guest range {}+{:#x} is outside the DMA map", self.addr, self.len)
    }
}

/// Guest memory as the device sees it. Implementations: the vfio-user DMA map
/// (mmap'd regions), and [`VecMemory`] for tests.
///
/// Both calls copy; the direction is in the name: `read` moves guest bytes into
/// the device, `write` moves device bytes into the guest.
pub trait DmaMemory: Send + Sync {
    fn read(&self, gpa: GuestAddr, buf: &mut [u8]) -> Result<(), DmaError>;
    fn write(&self, gpa: GuestAddr, data: &[u8]) -> Result<(), DmaError>;

    /// Read a little-endian dword. Where the guest may store to it concurrently
    /// (shadow doorbells), an implementation over shared memory must read an
    /// aligned dword in one access, never torn: a shadow SQ tail read byte by
    /// byte while the host moves it from 0x0ff to 0x100 can read 0x1ff.
    fn read_u32(&self, gpa: GuestAddr) -> Result<u32, DmaError> {
        let mut b = [0u8; 4];
        self.read(gpa, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    /// Write a little-endian dword; over shared memory an aligned dword in one
    /// store (EventIdx values the host reads concurrently).
    fn write_u32(&self, gpa: GuestAddr, v: u32) -> Result<(), DmaError> {
        self.write(gpa, &v.to_le_bytes())
    }
    /// Write a dword as one store that the guest sees only after every earlier
    /// write of this thread (Release): a completion entry's phase-carrying DW3
    /// (NVMe-Base 4.2.4) goes out this way after the entry's other 12 bytes.
    /// `gpa` must be 4-byte aligned. The default (a Release fence, then
    /// [`write_u32`](Self::write_u32)) suits memory that is never shared with a
    /// concurrent guest, such as [`VecMemory`], whose lock orders accesses anyway.
    fn write_u32_release(&self, gpa: GuestAddr, v: u32) -> Result<(), DmaError> {
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        self.write_u32(gpa, v)
    }
    fn read_u64(&self, gpa: GuestAddr) -> Result<u64, DmaError> {
        let mut b = [0u8; 8];
        self.read(gpa, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Hand the guest memory behind the first `len` bytes of `sg` to `io`, for a
    /// system call to move bytes into (`ControllerToHost`) or out of, with no copy
    /// through the device's buffers. `io` gets batches of at most
    /// [`MAX_RANGES`](crate::storage::vectored::MAX_RANGES) ranges, each with its
    /// offset into the transfer, and returns false to stop; the memory stays mapped
    /// while it runs.
    ///
    /// Every range is checked before the first batch: an unmapped one (or, toward
    /// the host, a read-only one) is Data Transfer Error and `io` never runs.
    /// `Ok(false)`: this memory cannot hand out its pages, or the list holds a bit
    /// bucket; the caller copies instead.
    fn ranges(&self, _sg: &SgList, _len: u64, _dir: Direction, _io: &mut RangesIo<'_>) -> Result<bool, Status> {
        Ok(false)
    }
}

/// What [`DmaMemory::ranges`] calls for each batch: its offset into the transfer, and
/// the ranges. Returns false to stop.
pub type RangesIo<'a> = dyn FnMut(u64, &mut crate::storage::IoRanges<'_>) -> bool + 'a;

/// Host ranges gathered for [`DmaMemory::ranges`], handed on in batches of at most
/// `MAX_RANGES`, each with its offset into the transfer; once a batch's call says
/// stop, no further batch is handed on.
pub struct RangeBatch {
    iovs: [libc::iovec; MAX_RANGES],
    count: usize,
    /// Offset into the transfer of the batch being gathered.
    at: u64,
    stopped: bool,
}

/// A batch's call: its offset into the transfer and its ranges; false to stop.
type BatchFn<'a> = dyn FnMut(u64, &mut [libc::iovec]) -> bool + 'a;

impl Default for RangeBatch {
    fn default() -> Self {
        let empty = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
        RangeBatch { iovs: [empty; MAX_RANGES], count: 0, at: 0, stopped: false }
    }
}

impl RangeBatch {
    /// Add `len` bytes at host address `ptr`; a full batch goes to `flush` first.
    pub fn push(&mut self, ptr: *mut u8, len: usize, flush: &mut BatchFn<'_>) {
        if self.count == MAX_RANGES {
            self.finish(flush);
        }
        self.iovs[self.count] = libc::iovec { iov_base: ptr.cast(), iov_len: len };
        self.count += 1;
    }

    /// Hand on what is gathered.
    pub fn finish(&mut self, flush: &mut BatchFn<'_>) {
        let batch = &mut self.iovs[..self.count];
        let bytes: u64 = batch.iter().map(|v| v.iov_len as u64).sum();
        if !batch.is_empty() && !self.stopped {
            self.stopped = !flush(self.at, batch);
        }
        (self.at, self.count) = (self.at + bytes, 0);
    }
}

/// Direction of a data transfer, from the host's point of view as the spec names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Host to controller (Write, Compare, ...): the device reads guest memory.
    HostToController,
    /// Controller to host (Read, Identify, ...): the device writes guest memory.
    ControllerToHost,
}

/// One piece of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Mem {
        addr: u64,
        len: u64,
    },
    /// SGL Bit Bucket: controller-to-host bytes that are discarded.
    BitBucket {
        len: u64,
    },
}

impl Segment {
    pub fn len(&self) -> u64 {
        match *self {
            Segment::Mem { len, .. } | Segment::BitBucket { len } => len,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The guest-memory side of one transfer, in transfer order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SgList {
    pub segments: Segments,
}

impl SgList {
    pub fn len(&self) -> u64 {
        self.segments.iter().map(|s| s.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn contiguous(addr: u64, len: u64) -> Self {
        let mut segments = Segments::default();
        segments.push(Segment::Mem { addr, len });
        SgList { segments }
    }

    /// Copy `out.len()` bytes from guest memory, starting `skip` bytes into the list.
    pub fn gather(&self, mem: &dyn DmaMemory, skip: u64, out: &mut [u8]) -> Result<(), Status> {
        self.walk(skip, out.len() as u64, |seg_addr, pos, n| match seg_addr {
            Some(a) => mem.read(GuestAddr(a), &mut out[pos..pos + n]).map_err(|_| Status::DATA_TRANSFER_ERROR),
            // A bit bucket has no effect on host-to-controller data: the SGL walker
            // never puts one in such a list.
            None => Err(Status::SGL_DESCRIPTOR_TYPE_INVALID),
        })
    }

    /// Copy `data` into guest memory, starting `skip` bytes into the list.
    pub fn scatter(&self, mem: &dyn DmaMemory, skip: u64, data: &[u8]) -> Result<(), Status> {
        self.walk(skip, data.len() as u64, |seg_addr, pos, n| match seg_addr {
            Some(a) => mem.write(GuestAddr(a), &data[pos..pos + n]).map_err(|_| Status::DATA_TRANSFER_ERROR),
            None => Ok(()),
        })
    }

    /// Whether the first `len` bytes of the list include a bit bucket.
    pub fn has_bit_bucket(&self, len: u64) -> bool {
        let mut seen = false;
        let _ = self.walk(0, len, |addr, _, _| {
            seen |= addr.is_none();
            Ok(())
        });
        seen
    }

    /// Call `f(address, position, length)` for each piece of `total` bytes from
    /// `skip` bytes in (address None: a bit bucket); a list shorter than that is Data
    /// Transfer Error.
    pub fn walk(
        &self,
        mut skip: u64,
        total: u64,
        mut f: impl FnMut(Option<u64>, usize, usize) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let mut pos = 0u64;
        for seg in self.segments.iter() {
            if pos == total {
                break;
            }
            let l = seg.len();
            if skip >= l {
                skip -= l;
                continue;
            }
            let n = (l - skip).min(total - pos);
            let addr = match *seg {
                Segment::Mem { addr, .. } => Some(addr + skip),
                Segment::BitBucket { .. } => None,
            };
            f(addr, pos as usize, n as usize)?;
            pos += n;
            skip = 0;
        }
        if pos < total {
            return Err(Status::DATA_TRANSFER_ERROR);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_scatter_across_segments_with_skip() {
        let mem = VecMemory::new(0x10000);
        mem.write(GuestAddr(0x1000), &[1, 2, 3, 4]).unwrap();
        mem.write(GuestAddr(0x3000), &[5, 6, 7, 8]).unwrap();
        let l = SgList {
            segments: vec![Segment::Mem { addr: 0x1000, len: 4 }, Segment::Mem { addr: 0x3000, len: 4 }].into(),
        };
        let mut out = [0u8; 5];
        l.gather(&mem, 2, &mut out).unwrap();
        assert_eq!(out, [3, 4, 5, 6, 7]);
        l.scatter(&mem, 3, &[9, 9]).unwrap();
        let mut b = [0u8; 2];
        mem.read(GuestAddr(0x1003), &mut b[..1]).unwrap();
        mem.read(GuestAddr(0x3000), &mut b[1..]).unwrap();
        assert_eq!(b, [9, 9]);
    }

    #[test]
    fn bit_bucket_discards_on_scatter() {
        let mem = VecMemory::new(0x2000);
        let l = SgList { segments: vec![Segment::BitBucket { len: 2 }, Segment::Mem { addr: 0x100, len: 2 }].into() };
        l.scatter(&mem, 0, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 2];
        mem.read(GuestAddr(0x100), &mut b).unwrap();
        assert_eq!(b, [3, 4]);
        assert_eq!(l.gather(&mem, 0, &mut [0u8; 4]), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
    }

    #[test]
    fn unmapped_is_data_transfer_error() {
        let mem = VecMemory::new(0x1000);
        let l = SgList::contiguous(0xff0, 0x20);
        assert_eq!(l.gather(&mem, 0, &mut [0u8; 0x20]), Err(Status::DATA_TRANSFER_ERROR));
    }
}
