//! [`FileStore`]: a namespace image in a host file, accessed with positioned I/O.
//! Deallocation punches holes (`fallocate(PUNCH_HOLE)`), so a deallocated range
//! reads back as zeroes and the host gets the space back. Opened for a cache mode
//! that bypasses the page cache, data moves with O_DIRECT ([`super::direct`]).

use super::direct::DirectIo;
use super::{BlockStore, CacheMode};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

pub struct FileStore {
    file: File,
    path: PathBuf,
    size: u64,
    /// With a cache mode that bypasses the page cache: the O_DIRECT side.
    direct: Option<DirectIo>,
}

impl FileStore {
    /// Open `path` through the page cache (cache mode `writeback`).
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::open_with(path, CacheMode::Writeback)
    }

    /// Open `path` for `cache`: with `none` or `directsync`, data moves with O_DIRECT.
    pub fn open_with(path: &Path, cache: CacheMode) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        let direct = if cache.direct() { Some(DirectIo::open(path, meta.len())?) } else { None };
        Ok(FileStore { file, path: path.to_path_buf(), size: meta.len(), direct })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The O_DIRECT side, when the cache mode bypasses the page cache.
    pub fn direct(&self) -> Option<&DirectIo> {
        self.direct.as_ref()
    }

    fn fallocate(&self, mode: libc::c_int, off: u64, len: u64) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: fallocate on a file descriptor we own, with plain integer arguments;
        // no memory is passed to the kernel.
        let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), mode, off as libc::off_t, len as libc::off_t) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Ranges go to the page cache only, and never past the image's end.
    fn ranges_fit(&self, off: u64, r: &super::IoRanges<'_>) -> io::Result<()> {
        if self.direct.is_some() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "ranges bypass O_DIRECT's alignment"));
        }
        match off.checked_add(r.len() as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "beyond the end of the image")),
        }
    }

    fn seek_data(&self, off: u64) -> io::Result<Option<u64>> {
        // SAFETY: lseek on a file descriptor we own; SEEK_DATA only reads the file's
        // extent map and does not move any shared state we rely on (we use pread/pwrite).
        let r = unsafe { libc::lseek(self.file.as_raw_fd(), off as libc::off_t, libc::SEEK_DATA) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                return Ok(None);
            }
            return Err(e);
        }
        Ok(Some(r as u64))
    }
}

impl BlockStore for FileStore {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        match self.direct.as_ref().map(|d| (d, d.boundary())) {
            Some((d, end)) if off < end => {
                let (low, tail) = buf.split_at_mut(((end - off) as usize).min(buf.len()));
                d.read(off, low)?;
                self.file.read_exact_at(tail, end)
            }
            _ => self.file.read_exact_at(buf, off),
        }
    }
    fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        match self.direct.as_ref().map(|d| (d, d.boundary())) {
            Some((d, end)) if off < end => {
                let (low, tail) = data.split_at(((end - off) as usize).min(data.len()));
                d.write(off, low)?;
                self.file.write_all_at(tail, end)
            }
            _ => self.file.write_all_at(data, off),
        }
    }
    fn set_metadata_start(&self, off: u64) {
        if let Some(d) = &self.direct {
            d.set_buffered_from(off);
        }
    }
    fn deallocate(&self, off: u64, len: u64) -> io::Result<()> {
        self.fallocate(libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE, off, len)
    }
    fn write_zeroes(&self, off: u64, len: u64) -> io::Result<()> {
        match self.fallocate(libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE, off, len) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                let chunk = vec![0u8; 1 << 20];
                let mut done = 0;
                while done < len {
                    let n = (len - done).min(chunk.len() as u64) as usize;
                    self.write_at(off + done, &chunk[..n])?;
                    done += n as u64;
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
    fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn is_allocated(&self, off: u64, len: u64) -> io::Result<bool> {
        Ok(matches!(self.seek_data(off)?, Some(d) if d < off + len))
    }
    fn async_span(&self, off: u64, len: usize) -> Option<(std::os::unix::io::RawFd, u64, usize)> {
        let end = off.checked_add(len as u64)?;
        match &self.direct {
            Some(d) => {
                // The engine's buffers start on 4 KiB.
                let (a, b) = d.span(off, len);
                (b <= d.boundary() && d.alignment().1 <= 4096).then(|| (d.fd(), a, (b - a) as usize))
            }
            None => (end <= self.size).then(|| (self.file.as_raw_fd(), off, len)),
        }
    }
    fn takes_ranges(&self) -> bool {
        // O_DIRECT needs aligned memory and lengths; guest ranges have neither promise.
        self.direct.is_none()
    }
    fn read_ranges(&self, off: u64, r: &mut super::IoRanges<'_>) -> io::Result<()> {
        self.ranges_fit(off, r)?;
        super::vectored::read_into(self.file.as_raw_fd(), off, r)
    }
    fn write_ranges(&self, off: u64, r: &mut super::IoRanges<'_>) -> io::Result<()> {
        self.ranges_fit(off, r)?;
        super::vectored::write_from(self.file.as_raw_fd(), off, r)
    }
    fn async_fd(&self, off: u64, len: usize, addr: usize) -> Option<std::os::unix::io::RawFd> {
        let end = off.checked_add(len as u64)?;
        match &self.direct {
            Some(d) => (end <= d.boundary() && d.aligned(off, len, addr as *const u8)).then(|| d.fd()),
            None => (end <= self.size).then(|| self.file.as_raw_fd()),
        }
    }
}

/// Bytes an unprivileged user may still allocate on the filesystem holding `path`.
pub fn free_space(path: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: statvfs reads the NUL-terminated path and writes one statvfs struct
    // into memory we own and sized for it.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write back FILE and drop it from the page cache, as after a reboot.
    fn evict(p: &std::path::Path) {
        let f = File::open(p).unwrap();
        f.sync_all().unwrap();
        // SAFETY: posix_fadvise only reads its arguments; the descriptor is open for the call.
        assert_eq!(unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) }, 0);
    }

    #[test]
    fn zeroed_pi_survives_the_next_open() {
        // Write Zeroes without PRACT stores all-zero PI. A zeroed range of a file may
        // become unwritten extents, which read as holes once out of the page cache; the
        // next open's fill must not take that PI for never-written metadata.
        use crate::nvm::metadata::{fill_unwritten, set_zeroes};
        use crate::nvm::namespace::{standard_formats, ActiveFormat, Protection};
        let dir = std::env::temp_dir().join(format!("vnvme-zpi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("img");
        File::create(&p).and_then(|f| f.set_len(4096 * 520)).unwrap();
        let lbaf = *standard_formats(0, 0).iter().find(|f| f.lbs == 512 && f.ms == 8).unwrap();
        let layout = crate::storage::ImageLayout::new(4096 * 520, 512, 8);
        let f =
            ActiveFormat { index: 0, lbaf, extended: false, protection: Protection::new(1, false).unwrap(), layout };
        let store = FileStore::open(&p).unwrap();
        fill_unwritten(&store, &f).unwrap();
        set_zeroes(&store, &f, 1000, 1024).unwrap();
        evict(&p);
        fill_unwritten(&store, &f).unwrap(); // what the next open does
        let mut md = vec![0xaau8; 1024 * 8];
        store.read_at(f.layout.meta_offset(1000), &mut md).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(md.iter().all(|&b| b == 0), "zeroed PI came back as the never-written pattern");
    }

    /// A temporary file of `size` bytes, removed on drop.
    struct Temp(std::path::PathBuf);
    impl Temp {
        fn new(tag: &str, size: u64) -> Temp {
            let p = std::env::temp_dir().join(format!("vnvme-{tag}-{}", std::process::id()));
            File::create(&p).and_then(|f| f.set_len(size)).unwrap();
            Temp(p)
        }
    }
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A small deterministic generator for offsets, lengths and bytes.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn direct_transfers_match_a_model_at_any_offset_length_and_buffer_address() {
        direct_model(None);
        // Metadata from an odd offset on: from its page on, the page cache.
        direct_model(Some(600_001));
    }

    fn direct_model(metadata_start: Option<u64>) {
        // 1 MiB and 1000 bytes: the last partial page goes through the page cache.
        let size = (1u64 << 20) + 1000;
        let t = Temp::new("direct-model", size);
        let s = FileStore::open_with(&t.0, CacheMode::None).unwrap();
        if let Some(m) = metadata_start {
            s.set_metadata_start(m);
        }
        let d = s.direct().expect("cache mode none opens O_DIRECT");
        assert_eq!(d.end, 1 << 20);
        assert_eq!(d.boundary(), metadata_start.map_or(1 << 20, |m| m / 4096 * 4096));
        let mut model = vec![0u8; size as usize];
        let mut r = Lcg(7);
        let mut backing = vec![0u8; 70_000];
        for i in 0..400 {
            let (align, _) = d.alignment();
            // Aligned, unaligned, within one sector, and across the direct end.
            let off = match i % 4 {
                0 => r.next() % (size / align) * align,
                1 => r.next() % size,
                2 => size - 1 - r.next() % 6000,
                _ => (r.next() % (size / align)) * align + r.next() % align,
            };
            let len = match i % 3 {
                0 => (1 + r.next() % 16) * align,
                1 => 1 + r.next() % 16,
                _ => 1 + r.next() % 65_536,
            }
            .min(size - off) as usize;
            let at = (r.next() % 3) as usize; // buffer address offset: odd ones too
            if i % 2 == 0 {
                let data = &mut backing[at..at + len];
                data.iter_mut().for_each(|b| *b = r.next() as u8);
                s.write_at(off, data).unwrap();
                model[off as usize..off as usize + len].copy_from_slice(data);
            } else {
                let buf = &mut backing[at..at + len];
                s.read_at(off, buf).unwrap();
                assert!(buf == &model[off as usize..off as usize + len], "read {len} at {off} differs");
            }
        }
        let mut all = vec![0u8; size as usize];
        FileStore::open(&t.0).unwrap().read_at(0, &mut all).unwrap();
        assert!(all == model, "the file differs from the model");
    }

    #[test]
    fn partial_sector_writes_of_neighbours_lose_nothing() {
        // Four threads own interleaved 8-byte slots in the same two sectors, as the
        // metadata of neighbouring blocks does, and rewrite them over and over. Each
        // write reads and writes back whole sectors: without the sector locks one
        // thread writes back another's old bytes.
        let t = Temp::new("direct-rmw", 1 << 16);
        let s = std::sync::Arc::new(FileStore::open_with(&t.0, CacheMode::None).unwrap());
        let (align, _) = s.direct().unwrap().alignment();
        let slots = (2 * align / 8) as usize;
        let threads: Vec<_> = (0..4u64)
            .map(|k| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for round in 1..=150u64 {
                        for slot in (k as usize..slots).step_by(4) {
                            s.write_at(align / 2 + slot as u64 * 8, &(round << 8 | k).to_le_bytes()).unwrap();
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|h| h.join().unwrap());
        let mut b = vec![0u8; slots * 8];
        s.read_at(align / 2, &mut b).unwrap();
        for (slot, v) in b.chunks_exact(8).enumerate() {
            let v = u64::from_le_bytes(v.try_into().unwrap());
            assert_eq!(v, 150 << 8 | (slot as u64 % 4), "slot {slot}: a neighbour's write undid this one");
        }
    }

    /// How many of the first `len` bytes' pages of `p` are in the page cache.
    fn resident_pages(p: &std::path::Path, len: usize) -> usize {
        let f = File::open(p).unwrap();
        // SAFETY: a shared read-only mapping of a file we keep open, used only for
        // mincore (the bytes are never read), and unmapped below.
        let m = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, f.as_raw_fd(), 0) };
        assert_ne!(m, libc::MAP_FAILED);
        let mut v = vec![0u8; len.div_ceil(4096)];
        // SAFETY: mincore writes one byte per page of the mapping into `v`, sized for it.
        let rc = unsafe { libc::mincore(m, len, v.as_mut_ptr()) };
        // SAFETY: the mapping made above, of this length.
        unsafe { libc::munmap(m, len) };
        assert_eq!(rc, 0);
        v.iter().filter(|&&b| b & 1 != 0).count()
    }

    #[test]
    fn direct_modes_leave_the_page_cache_alone_and_writeback_fills_it() {
        for (mode, expect_cached) in
            [(CacheMode::None, false), (CacheMode::Directsync, false), (CacheMode::Writeback, true)]
        {
            let t = Temp::new(&format!("direct-cache-{mode}"), 1 << 20);
            evict(&t.0);
            let s = FileStore::open_with(&t.0, mode).unwrap();
            let mut data = vec![0u8; (256 << 10) + 1];
            data.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
            // From an odd address, so the scratch path runs as well.
            s.write_at(0, &data[1..]).unwrap();
            let mut back = vec![0u8; 256 << 10];
            s.read_at(0, &mut back).unwrap();
            assert!(back == data[1..]);
            let cached = resident_pages(&t.0, 256 << 10);
            assert_eq!(cached > 0, expect_cached, "{mode}: {cached} of 64 pages in the page cache");
        }
    }

    /// In the direct modes, metadata moves through the page cache (a sector
    /// read-modify-write per tiny write is what it avoids), with the page it
    /// shares with the last data blocks; the other data stays O_DIRECT. A flush
    /// makes both durable: the file read back after its pages are evicted holds
    /// every byte.
    #[test]
    fn direct_modes_keep_metadata_in_the_page_cache_and_data_out_of_it() {
        for mode in [CacheMode::None, CacheMode::Directsync] {
            let t = Temp::new(&format!("direct-md-{mode}"), 1 << 20);
            evict(&t.0);
            let s = FileStore::open_with(&t.0, mode).unwrap();
            let data_end = 1_000_000u64; // metadata from here: page 244 is shared
            s.set_metadata_start(data_end);
            let block = vec![0x5au8; 4096];
            s.write_at(0, &block).unwrap();
            s.write_at(data_end + 16, &7u64.to_le_bytes()).unwrap();
            s.write_at(1_010_000, &9u64.to_le_bytes()).unwrap();
            let mut pages = [0usize; 3];
            for (i, page) in [0u64, 244, 246].into_iter().enumerate() {
                let below = if page == 0 { 0 } else { resident_pages(&t.0, page as usize * 4096) };
                pages[i] = resident_pages(&t.0, (page as usize + 1) * 4096) - below;
            }
            assert_eq!(pages, [0, 1, 1], "{mode}: data page, shared page, metadata page in the cache");
            s.flush().unwrap();
            evict(&t.0);
            let mut all = vec![0u8; 1 << 20];
            FileStore::open(&t.0).unwrap().read_at(0, &mut all).unwrap();
            assert!(all[..4096] == block[..]);
            assert_eq!(all[1_000_016..1_000_024], 7u64.to_le_bytes());
            assert_eq!(all[1_010_000..1_010_008], 9u64.to_le_bytes());
        }
    }

    #[test]
    fn punch_hole_reads_zero_and_is_unallocated() {
        let dir = std::env::temp_dir().join(format!("vnvme-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("img");
        let f = File::create(&p).unwrap();
        f.set_len(1 << 20).unwrap();
        drop(f);
        let s = FileStore::open(&p).unwrap();
        assert!(!s.is_allocated(0, 1 << 20).unwrap());
        s.write_at(8192, &[0xab; 8192]).unwrap();
        assert!(s.is_allocated(8192, 4096).unwrap());
        s.deallocate(8192, 8192).unwrap();
        let mut b = [1u8; 8192];
        s.read_at(8192, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0));
        assert!(!s.is_allocated(8192, 8192).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
