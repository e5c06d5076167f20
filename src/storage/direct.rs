//! O_DIRECT access to an image, for the cache modes that bypass the host's page
//! cache (`none`, `directsync`; see [`super::cache_mode`]).
//!
//! O_DIRECT transfers must start and end on the filesystem's alignment (`statx`
//! STATX_DIOALIGN, 4 KiB when the filesystem does not say) and use aligned
//! memory. Blocks of 4 KiB, and of 512 bytes on most filesystems, are aligned
//! already; metadata (8 or 16 bytes per block) and Write Zeroes' odd ends are not.
//! An unaligned transfer goes through a per-thread aligned scratch buffer, and a
//! write that covers only part of its first or last sector reads that sector,
//! changes its own bytes and writes the sector back (read-modify-write).
//!
//! Why the read-modify-write is safe: the namespace's block locks keep two
//! commands from writing the same bytes, but two commands writing the metadata of
//! neighbouring blocks share a sector. Each read-modify-write therefore holds a
//! lock for its partial sectors (one of [`STRIPES`], chosen by sector number),
//! so neither can write back the other's old bytes. A sector a write covers whole
//! holds only that write's bytes, so no read-modify-write of anyone else touches
//! it, and it needs no lock.
//!
//! Mixing O_DIRECT and page-cache writes in one page can lose data (a page
//! dirtied by a buffered write during a direct write is left stale in the cache).
//! Only whole pages go through the page cache, and no direct transfer reaches
//! into them: the image's tail past its last whole page, and the metadata area
//! from the page that holds its start ([`DirectIo::set_buffered_from`]; the last
//! few data blocks share that page, and move through the page cache with it).
//!
//! Why metadata goes through the page cache: its transfers are a few bytes per
//! block, so with O_DIRECT every write would read and write back a whole sector
//! synchronously (about 4k writes per second whatever the queue depth, measured).
//! In the page cache that is a memory copy; a Flush (or FUA, or no volatile
//! write cache) fdatasyncs the file, which writes those pages back with the
//! rest. The metadata is ~1.6% of the data at 512+8, so the cache it takes stays
//! small.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Locks for partial-sector read-modify-writes.
pub const STRIPES: usize = 64;
const PAGE: u64 = 4096;

pub struct DirectIo {
    file: File,
    /// Direct transfers start and end on multiples of this.
    align: u64,
    /// Direct transfers' buffers start on multiples of this.
    mem_align: usize,
    /// Bytes below this move with O_DIRECT; the rest through the page cache
    /// (the image's tail past its last whole page).
    pub end: u64,
    /// Bytes from here on move through the page cache too: the metadata area,
    /// from the page holding its start (`u64::MAX` until the layout is known).
    buffered_from: AtomicU64,
    stripes: Vec<Mutex<()>>,
}

impl DirectIo {
    /// Open `path` (of `size` bytes) with O_DIRECT. A filesystem without O_DIRECT
    /// support gets an error saying so.
    pub fn open(path: &Path, size: u64) -> io::Result<DirectIo> {
        let file = OpenOptions::new().read(true).write(true).custom_flags(libc::O_DIRECT).open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    "its filesystem does not support O_DIRECT (cache modes none and directsync need it)",
                )
            } else {
                e
            }
        })?;
        let (align, mem_align) = dio_alignment(&file).unwrap_or((PAGE, PAGE as usize));
        let unit = align.max(PAGE);
        Ok(DirectIo {
            file,
            align,
            mem_align,
            end: size / unit * unit,
            buffered_from: AtomicU64::new(u64::MAX),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    /// The metadata area starts at `off`: from the page holding it on, transfers
    /// go through the page cache, so no metadata write ever reads and writes back
    /// a sector. Set when the layout is known (a namespace opened or formatted)
    /// and no transfer is in flight; the pages that change sides must hold
    /// nothing cached (Format deallocates the whole image first, which drops them).
    pub fn set_buffered_from(&self, off: u64) {
        let unit = self.align.max(PAGE);
        self.buffered_from.store(off / unit * unit, Ordering::Release);
    }

    /// Bytes below this move with O_DIRECT, the rest through the page cache.
    pub fn boundary(&self) -> u64 {
        self.end.min(self.buffered_from.load(Ordering::Acquire))
    }

    /// (offset alignment, memory alignment) of direct transfers.
    pub fn alignment(&self) -> (u64, usize) {
        (self.align, self.mem_align)
    }

    /// The O_DIRECT descriptor.
    pub fn fd(&self) -> std::os::unix::io::RawFd {
        self.file.as_raw_fd()
    }

    /// Whether a transfer of `len` bytes at `off` from or to `ptr` may go direct as it is.
    pub fn aligned(&self, off: u64, len: usize, ptr: *const u8) -> bool {
        off.is_multiple_of(self.align)
            && (len as u64).is_multiple_of(self.align)
            && (ptr as usize).is_multiple_of(self.mem_align)
    }

    /// The aligned span around `off..off + len`.
    pub fn span(&self, off: u64, len: usize) -> (u64, u64) {
        let a = off / self.align * self.align;
        let b = (off + len as u64).div_ceil(self.align) * self.align;
        (a, b)
    }

    /// Read `buf.len()` bytes at `off`; the whole range lies below [`DirectIo::boundary`].
    pub fn read(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.aligned(off, buf.len(), buf.as_ptr()) {
            return self.file.read_exact_at(buf, off);
        }
        let (a, b) = self.span(off, buf.len());
        with_scratch((b - a) as usize, self.mem_align, |s| {
            self.file.read_exact_at(s, a)?;
            let o = (off - a) as usize;
            buf.copy_from_slice(&s[o..o + buf.len()]);
            Ok(())
        })
    }

    /// Write `data` at `off`; the whole range lies below [`DirectIo::boundary`].
    pub fn write(&self, off: u64, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.aligned(off, data.len(), data.as_ptr()) {
            return self.file.write_all_at(data, off);
        }
        let (a, b) = self.span(off, data.len());
        let tail_sector = b - self.align;
        let head = off != a;
        let tail = off + data.len() as u64 != b;
        let _held = self.lock_sectors(head.then_some(a), tail.then_some(tail_sector));
        with_scratch((b - a) as usize, self.mem_align, |s| {
            let al = self.align as usize;
            if head {
                self.file.read_exact_at(&mut s[..al], a)?;
            }
            if tail && !(head && tail_sector == a) {
                let t = (tail_sector - a) as usize;
                self.file.read_exact_at(&mut s[t..t + al], tail_sector)?;
            }
            let o = (off - a) as usize;
            s[o..o + data.len()].copy_from_slice(data);
            self.file.write_all_at(s, a)
        })
    }

    fn lock_sectors(&self, x: Option<u64>, y: Option<u64>) -> [Option<MutexGuard<'_, ()>>; 2] {
        let stripe = |s: u64| (s / self.align) as usize % STRIPES;
        let (mut i, mut j) = (x.map(stripe), y.map(stripe));
        if i == j {
            j = None;
        }
        if let (Some(p), Some(q)) = (i, j) {
            if q < p {
                (i, j) = (j, i);
            }
        }
        // Always in ascending stripe order, so two writers cannot deadlock.
        let lock = |k: Option<usize>| k.map(|k| self.stripes[k].lock().unwrap_or_else(|e| e.into_inner()));
        let first = lock(i);
        [first, lock(j)]
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` on `len` bytes of this thread's scratch buffer, starting on a multiple
/// of `align`. The buffer grows to the largest transfer and stays.
fn with_scratch<R>(len: usize, align: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|c| {
        let mut v = c.borrow_mut();
        if v.len() < len + align {
            v.resize(len + align, 0);
        }
        let o = v.as_ptr().align_offset(align);
        f(&mut v[o..o + len])
    })
}

/// The filesystem's O_DIRECT alignment for `f`, when it reports one.
fn dio_alignment(f: &File) -> Option<(u64, usize)> {
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: statx on a descriptor we own, with an empty NUL-terminated path and
    // AT_EMPTY_PATH; it writes one statx struct into memory we own and sized for it.
    let rc = unsafe {
        libc::statx(f.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_DIOALIGN, stx.as_mut_ptr())
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: statx returned 0, so it filled the struct (which was zeroed before).
    let stx = unsafe { stx.assume_init() };
    let (off, mem) = (stx.stx_dio_offset_align as u64, stx.stx_dio_mem_align as usize);
    let reported = stx.stx_mask & libc::STATX_DIOALIGN != 0 && off.is_power_of_two() && mem.is_power_of_two();
    reported.then_some((off, mem))
}
