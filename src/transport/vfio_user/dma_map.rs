//! The guest's DMA map: regions of guest memory that QEMU shares with DMA_MAP
//! (memfd-backed RAM), mmapped here and read and written by copy. Implements
//! [`DmaMemory`] for the controller.
//!
//! Copies use volatile accesses ([`guest_copy`](super::guest_copy)): the guest
//! writes this memory concurrently, so a plain memcpy over it would be a data
//! race. `write_u32_release` is one aligned atomic store with Release ordering,
//! for a completion entry's phase dword.
//!
//! Concurrency: the region list sits behind an RwLock. Every access holds the
//! read lock for the length of its copy, so DMA_UNMAP (write lock) waits for
//! in-flight copies before the memory is unmapped; no pointer into a mapping
//! outlives the lock.
//!
//! Bus mastering: while the PCI Command register's Bus Master Enable is clear
//! the function must issue no memory requests, so every access fails without
//! touching guest memory. Clearing it takes the write lock, so copies already
//! under way finish first and none starts after: once the config write that
//! cleared the bit has been answered, guest memory is left alone.

use super::guest_copy::{read_guest, write_guest};
use crate::dma::{Direction, DmaError, DmaMemory, GuestAddr, RangeBatch, RangesIo, SgList};
use crate::spec::Status;
use crate::storage::IoRanges;
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::RwLock;

struct Region {
    iova: u64,
    size: u64,
    /// Host address of the mapping; None when QEMU sent no fd (not shared RAM).
    host: Option<*mut u8>,
    writable: bool,
}

// SAFETY: the raw pointer refers to a MAP_SHARED mapping owned by this Region;
// it is only dereferenced under the map's lock, from any thread.
unsafe impl Send for Region {}
// SAFETY: as above; concurrent copies into shared guest memory are what DMA is.
unsafe impl Sync for Region {}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some(p) = self.host {
            // SAFETY: p/size are exactly what mmap returned for this region, and the
            // region is being dropped under the write lock, so no copy is using it.
            unsafe { libc::munmap(p.cast(), self.size as usize) };
        }
    }
}

pub struct DmaMap {
    regions: RwLock<Vec<Region>>,
    /// Bus Master Enable as the transport last saw it; written under the
    /// regions' write lock, read under their read lock.
    bus_master: AtomicBool,
    /// Accesses refused because bus mastering was off.
    refused: AtomicU64,
}

impl Default for DmaMap {
    /// A map with bus mastering on, for users without a PCI config space (the
    /// in-process driver); the vfio-user session sets it from config space.
    fn default() -> Self {
        DmaMap { regions: RwLock::new(Vec::new()), bus_master: AtomicBool::new(true), refused: AtomicU64::new(0) }
    }
}

impl DmaMap {
    /// Follow the PCI Command register's Bus Master Enable. Turning it off
    /// waits for copies under way (they hold the read lock).
    pub fn set_bus_master(&self, on: bool) {
        let _regions = self.regions.write().unwrap();
        self.bus_master.store(on, Ordering::Release);
    }

    /// Accesses refused so far because bus mastering was off.
    pub fn refused_without_bus_master(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn map(&self, iova: u64, size: u64, offset: u64, writable: bool, fd: Option<&File>) -> io::Result<()> {
        if size == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty DMA mapping"));
        }
        if iova.checked_add(size).is_none() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "DMA mapping past the end of the IOVA space"));
        }
        let host = match fd {
            Some(f) => {
                // A shared mapping past the end of a file maps pages that raise SIGBUS
                // when touched: the first DMA into them would kill the server. QEMU maps
                // within its RAM file; a request that does not is refused here.
                let meta = f.metadata()?;
                if meta.is_file() && offset.checked_add(size).is_none_or(|end| end > meta.len()) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "DMA mapping {offset:#x}+{size:#x} runs past the end of its {:#x}-byte file",
                            meta.len()
                        ),
                    ));
                }
                let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
                // SAFETY: a fresh shared mapping of a file QEMU passed us; the kernel
                // picks the address, and we check for MAP_FAILED.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        size as usize,
                        prot,
                        libc::MAP_SHARED,
                        f.as_raw_fd(),
                        offset as libc::off_t,
                    )
                };
                if p == libc::MAP_FAILED {
                    return Err(io::Error::last_os_error());
                }
                Some(p.cast::<u8>())
            }
            None => None,
        };
        let mut r = self.regions.write().unwrap();
        if r.iter().any(|x| iova < x.iova + x.size && x.iova < iova + size) {
            // Dropping the new region unmaps it.
            drop(Region { iova, size, host, writable });
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        r.push(Region { iova, size, host, writable });
        r.sort_by_key(|x| x.iova);
        Ok(())
    }

    pub fn unmap(&self, iova: u64, size: u64) -> usize {
        let mut r = self.regions.write().unwrap();
        let before = r.len();
        // Saturating: the range comes from the client and may reach the top of u64.
        r.retain(|x| !(x.iova >= iova && x.iova + x.size <= iova.saturating_add(size)));
        before - r.len()
    }

    pub fn unmap_all(&self) {
        self.regions.write().unwrap().clear();
    }

    fn access(&self, gpa: u64, len: usize, write: bool, f: impl FnMut(*mut u8, usize, usize)) -> Result<(), DmaError> {
        let regions = self.regions.read().unwrap();
        self.check_bus_master(gpa, len)?;
        Self::pieces(&regions, gpa, len, write, f)
    }

    /// With Bus Master Enable clear, every access is refused (and counted).
    fn check_bus_master(&self, gpa: u64, len: usize) -> Result<(), DmaError> {
        if self.bus_master.load(Ordering::Acquire) {
            return Ok(());
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(DmaError { addr: GuestAddr(gpa), len: len as u64 })
    }

    /// Call `f(host address, position, length)` for the host pieces of guest range
    /// `gpa..gpa+len` (one per region it crosses); `regions` must be the locked list.
    fn pieces(
        regions: &[Region],
        gpa: u64,
        len: usize,
        write: bool,
        mut f: impl FnMut(*mut u8, usize, usize),
    ) -> Result<(), DmaError> {
        let err = DmaError { addr: GuestAddr(gpa), len: len as u64 };
        let mut done = 0usize;
        while done < len {
            let a = gpa.checked_add(done as u64).ok_or(err)?;
            let r = regions.iter().find(|x| a >= x.iova && a < x.iova + x.size).ok_or(err)?;
            let host = r.host.ok_or(err)?;
            if write && !r.writable {
                return Err(err);
            }
            let off = (a - r.iova) as usize;
            let n = (len - done).min(r.size as usize - off);
            // SAFETY: off + n <= r.size, so the pointer stays inside the mapping,
            // which cannot be unmapped while the caller holds the read lock.
            let p = unsafe { host.add(off) };
            f(p, done, n);
            done += n;
        }
        Ok(())
    }
}

impl DmaMemory for DmaMap {
    fn read(&self, gpa: GuestAddr, buf: &mut [u8]) -> Result<(), DmaError> {
        self.access(gpa.0, buf.len(), false, |p, at, n| {
            // SAFETY: p..p+n is inside a live mapping (see access); guest memory
            // and our buffer never overlap.
            unsafe { read_guest(p, &mut buf[at..at + n]) }
        })
    }
    fn write(&self, gpa: GuestAddr, data: &[u8]) -> Result<(), DmaError> {
        self.access(gpa.0, data.len(), true, |p, at, n| {
            // SAFETY: as in read, with the direction reversed; the region is writable.
            unsafe { write_guest(&data[at..at + n], p) }
        })
    }
    /// The mapped pages themselves, under the read lock for the whole call (so no
    /// DMA_UNMAP and no Bus Master Enable change lands while a system call uses them).
    fn ranges(&self, sg: &SgList, len: u64, dir: Direction, io: &mut RangesIo<'_>) -> Result<bool, Status> {
        if sg.has_bit_bucket(len) {
            return Ok(false);
        }
        let write = dir == Direction::ControllerToHost;
        let regions = self.regions.read().unwrap();
        let fail = |_| Status::DATA_TRANSFER_ERROR;
        self.check_bus_master(0, len as usize).map_err(fail)?;
        sg.walk(0, len, |addr, _, n| Self::pieces(&regions, addr.unwrap_or(0), n, write, |_, _, _| {}).map_err(fail))?;
        let mut flush = |at: u64, iovs: &mut [libc::iovec]| {
            // SAFETY: every iovec lies inside a mapping (checked above), writable
            // when the call writes to it, and the read lock held by `regions` keeps
            // the mappings in place until this function returns; the map hands out
            // no Rust reference into guest memory, only copies.
            let mut r = unsafe { IoRanges::new(iovs) };
            io(at, &mut r)
        };
        let mut batch = RangeBatch::default();
        sg.walk(0, len, |addr, _, n| {
            Self::pieces(&regions, addr.unwrap_or(0), n, write, |p, _, k| batch.push(p, k, &mut flush)).map_err(fail)
        })?;
        batch.finish(&mut flush);
        Ok(true)
    }
    /// One aligned 32-bit atomic load (Acquire): a value the guest stores
    /// concurrently, such as a shadow doorbell, is seen whole, old or new, and
    /// the guest's writes before that store are visible after it. An unaligned
    /// dword falls back to the byte-wise copy.
    fn read_u32(&self, gpa: GuestAddr) -> Result<u32, DmaError> {
        let mut v = None;
        self.dword(gpa, false, |d| v = Some(u32::from_le(d.load(Ordering::Acquire))))?;
        match v {
            Some(v) => Ok(v),
            None => {
                let mut b = [0u8; 4];
                self.read(gpa, &mut b)?;
                Ok(u32::from_le_bytes(b))
            }
        }
    }
    /// One aligned 32-bit atomic store (Release), so the guest never reads half
    /// of it (EventIdx values); unaligned, the byte-wise copy.
    fn write_u32(&self, gpa: GuestAddr, v: u32) -> Result<(), DmaError> {
        self.write_u32_release(gpa, v).or_else(|_| self.write(gpa, &v.to_le_bytes()))
    }
    /// One aligned 32-bit atomic store with Release ordering: everything this
    /// thread wrote to guest memory before is visible to the guest first. Fails
    /// (writing nothing) if the dword is unaligned in the guest or the mapping,
    /// or not wholly inside one writable region.
    fn write_u32_release(&self, gpa: GuestAddr, v: u32) -> Result<(), DmaError> {
        let mut stored = false;
        self.dword(gpa, true, |d| {
            d.store(v.to_le(), Ordering::Release);
            stored = true;
        })?;
        if stored {
            Ok(())
        } else {
            Err(DmaError { addr: gpa, len: 4 })
        }
    }
}

impl DmaMap {
    /// Run `f` on the guest dword at `gpa` as an atomic, if it is 4-byte aligned
    /// in the guest and in the mapping and inside one region; otherwise `f` is
    /// not called (and the access is still checked: an unmapped dword, or a
    /// read-only one for a write, is an error).
    fn dword(&self, gpa: GuestAddr, write: bool, mut f: impl FnMut(&AtomicU32)) -> Result<(), DmaError> {
        if !gpa.0.is_multiple_of(4) {
            return self.access(gpa.0, 4, write, |_, _, _| {});
        }
        self.access(gpa.0, 4, write, |p, _, n| {
            if n == 4 && (p as usize).is_multiple_of(4) {
                // SAFETY: p..p+4 is inside a live mapping (see access), writable
                // when `write`, and 4-byte aligned; the guest accesses it only as
                // plain memory, and every access of ours to it is atomic or volatile.
                f(unsafe { AtomicU32::from_ptr(p.cast::<u32>()) });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    fn memfd(size: u64) -> File {
        let mut f = tempfile_in_dev_shm();
        f.set_len(size).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"hello").unwrap();
        f
    }
    fn tempfile_in_dev_shm() -> File {
        let p =
            std::env::temp_dir().join(format!("vnvme-dma-{}-{:?}", std::process::id(), std::thread::current().id()));
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        f
    }

    /// Found by the vfio_user_messages fuzz target: a mapping past the end of its
    /// file was accepted, and the first access to it was a SIGBUS.
    #[test]
    fn a_mapping_past_the_end_of_its_file_or_of_the_iova_space_is_refused() {
        let f = memfd(64 << 10);
        let m = DmaMap::default();
        for (iova, size, offset) in [(0, 128 << 10, 0), (0, 64 << 10, 4096), (0, 4096, u64::MAX - 4095)] {
            let e = m.map(iova, size, offset, true, Some(&f)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{iova:#x}+{size:#x} at {offset:#x}: {e}");
        }
        assert_eq!(m.map(u64::MAX - 4095, 8192, 0, true, None).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        m.map(0, 64 << 10, 0, true, Some(&f)).unwrap();
        m.map(u64::MAX - 8191, 4096, 0, true, None).unwrap();
        assert_eq!(m.unmap(u64::MAX - 8191, u64::MAX), 1, "an unmap reaching past u64::MAX");
        let mut b = [0u8; 5];
        m.read(GuestAddr(0), &mut b).unwrap();
        assert_eq!(&b, b"hello");
    }

    #[test]
    fn ranges_hand_mapped_pages_to_a_system_call_and_refuse_bad_ones_before_it() {
        use crate::dma::Segment;
        use crate::dma::SgList;
        use crate::dma::{Direction::ControllerToHost as ToHost, Direction::HostToController as ToDevice};
        use std::os::unix::fs::FileExt;
        let f = memfd(3 << 20);
        let m = DmaMap::default();
        m.map(0x100000, 1 << 20, 0, true, Some(&f)).unwrap();
        m.map(0x200000, 1 << 20, 1 << 20, true, Some(&f)).unwrap();
        m.map(0x300000, 1 << 20, 2 << 20, false, Some(&f)).unwrap();
        let image = tempfile_in_dev_shm();
        let bytes: Vec<u8> = (0..0x3000u32).map(|i| (i * 13 + 5) as u8).collect();
        image.write_all_at(&bytes, 0).unwrap();
        let fd = image.as_raw_fd();
        // One piece across the two writable regions, one inside the first.
        let mut sg = SgList::contiguous(0x1ff000, 0x2000);
        sg.segments.push(Segment::Mem { addr: 0x100800, len: 0x1000 });
        let mut calls = 0;
        let ran = m
            .ranges(&sg, 0x3000, ToHost, &mut |at, r| {
                calls += 1;
                crate::storage::vectored::read_into(fd, at, r).unwrap();
                true
            })
            .unwrap();
        assert!(ran);
        assert_eq!(calls, 1, "three ranges, one batch");
        let mut back = vec![0u8; 0x3000];
        m.read(GuestAddr(0x1ff000), &mut back[..0x2000]).unwrap();
        m.read(GuestAddr(0x100800), &mut back[0x2000..]).unwrap();
        assert!(back[..] == bytes[..0x3000], "the file's bytes landed in the guest's pages, in list order");

        let mut never = |_: u64, _: &mut IoRanges<'_>| -> bool { panic!("a range was handed on") };
        let read_only = SgList::contiguous(0x300000, 4096);
        assert_eq!(m.ranges(&read_only, 4096, ToHost, &mut never), Err(Status::DATA_TRANSFER_ERROR), "read-only");
        let half_mapped = SgList::contiguous(0x3ff000, 8192);
        assert_eq!(m.ranges(&half_mapped, 8192, ToDevice, &mut never), Err(Status::DATA_TRANSFER_ERROR));
        m.set_bus_master(false);
        assert_eq!(m.ranges(&sg, 0x3000, ToDevice, &mut never), Err(Status::DATA_TRANSFER_ERROR), "bus master off");
        m.set_bus_master(true);
        // From a read-only region toward the device: the call only reads the pages.
        assert_eq!(m.ranges(&read_only, 4096, ToDevice, &mut |_, r| r.len() == 4096), Ok(true));
        let bucket = SgList { segments: vec![Segment::BitBucket { len: 512 }].into() };
        assert_eq!(m.ranges(&bucket, 512, ToHost, &mut never), Ok(false), "a bit bucket is left to copies");
    }

    #[test]
    fn map_read_write_unmap() {
        let f = memfd(2 << 20);
        let m = DmaMap::default();
        m.map(0x100000, 1 << 20, 0, true, Some(&f)).unwrap();
        m.map(0x200000, 1 << 20, 1 << 20, true, Some(&f)).unwrap();
        let mut b = [0u8; 5];
        m.read(GuestAddr(0x100000), &mut b).unwrap();
        assert_eq!(&b, b"hello");
        // A copy that spans the two regions.
        m.write(GuestAddr(0x1ffffe), &[1, 2, 3, 4]).unwrap();
        let mut c = [0u8; 4];
        m.read(GuestAddr(0x1ffffe), &mut c).unwrap();
        assert_eq!(c, [1, 2, 3, 4]);
        assert!(m.read(GuestAddr(0x300000), &mut c).is_err());
        assert_eq!(m.map(0x100000, 4096, 0, true, Some(&f)).unwrap_err().raw_os_error(), Some(libc::EEXIST));
        assert_eq!(m.unmap(0x100000, 1 << 20), 1);
        assert!(m.read(GuestAddr(0x100000), &mut b).is_err());
    }

    #[test]
    fn released_dword_is_stored_aligned_and_refused_otherwise() {
        let f = memfd(1 << 20);
        let m = DmaMap::default();
        m.map(0x10000, 1 << 20, 0, true, Some(&f)).unwrap();
        m.write_u32_release(GuestAddr(0x1000c), 0xdead_beef).unwrap();
        assert_eq!(m.read_u32(GuestAddr(0x1000c)).unwrap(), 0xdead_beef);
        assert!(m.write_u32_release(GuestAddr(0x1000e), 1).is_err(), "unaligned");
        assert!(m.write_u32_release(GuestAddr(0x10000 + (1 << 20)), 1).is_err(), "outside the map");
        assert_eq!(m.read_u32(GuestAddr(0x1000c)).unwrap(), 0xdead_beef);
        m.set_bus_master(false);
        assert!(m.write_u32_release(GuestAddr(0x1000c), 2).is_err());
        assert_eq!(m.refused_without_bus_master(), 1);
    }

    /// A doorbell-sized value in guest memory is read and written whole. The shadow
    /// SQ tail at 8y was read as four single bytes: while the host moved it from
    /// 0x0ff to 0x100 the worker could read 0x1ff, fetch 255 old entries and run
    /// them again (seen as "genctr mismatch" and a hung fio on a 7.3 guest).
    #[test]
    fn dword_reads_and_writes_are_never_torn() {
        let f = memfd(1 << 20);
        let m = DmaMap::default();
        m.map(0x10000, 1 << 20, 0, true, Some(&f)).unwrap();
        let (a, b) = (0x0000_00ffu32, 0x0000_0100u32);
        for (what, addr) in [("released store, then read_u32", 0x10008u64), ("write_u32, then read_u32", 0x1000c)] {
            m.write_u32_release(GuestAddr(addr), a).unwrap();
            let stop = AtomicBool::new(false);
            let torn = std::thread::scope(|s| {
                s.spawn(|| {
                    let mut i = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let v = if i.is_multiple_of(2) { b } else { a };
                        if addr == 0x10008 {
                            m.write_u32_release(GuestAddr(addr), v).unwrap();
                        } else {
                            m.write_u32(GuestAddr(addr), v).unwrap();
                        }
                        i = i.wrapping_add(1);
                    }
                });
                let mut torn = Vec::new();
                for _ in 0..2_000_000 {
                    let v = m.read_u32(GuestAddr(addr)).unwrap();
                    if v != a && v != b && torn.len() < 4 {
                        torn.push(v);
                    }
                }
                stop.store(true, Ordering::Relaxed);
                torn
            });
            assert!(torn.is_empty(), "{what}: read torn values {torn:#x?}");
        }
    }

    #[test]
    fn no_access_while_bus_mastering_is_off() {
        let f = memfd(1 << 20);
        let m = DmaMap::default();
        m.map(0, 1 << 20, 0, true, Some(&f)).unwrap();
        m.set_bus_master(false);
        let mut b = [0u8; 5];
        assert!(m.read(GuestAddr(0), &mut b).is_err());
        assert_eq!(b, [0; 5], "nothing was read");
        assert!(m.write(GuestAddr(0), b"HELLO").is_err());
        assert_eq!(m.refused_without_bus_master(), 2);
        m.set_bus_master(true);
        m.read(GuestAddr(0), &mut b).unwrap();
        assert_eq!(&b, b"hello", "the refused write left guest memory as it was");
    }

    #[test]
    fn unbacked_and_readonly_regions_refuse_access() {
        let f = memfd(1 << 20);
        let m = DmaMap::default();
        m.map(0, 1 << 20, 0, false, Some(&f)).unwrap();
        m.map(1 << 20, 1 << 20, 0, true, None).unwrap();
        assert!(m.write(GuestAddr(0), &[1]).is_err());
        assert!(m.read(GuestAddr((1 << 20) + 4), &mut [0u8; 4]).is_err());
    }
}
