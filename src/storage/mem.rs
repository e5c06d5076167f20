//! [`MemStore`]: a store in a vector, for tests. Tracks allocation per byte range
//! coarsely (4 KiB granules) so deallocation behaves like a punched hole.

#![forbid(unsafe_code)]

use super::BlockStore;
use std::io;
use std::sync::Mutex;

const GRANULE: u64 = 4096;

pub struct MemStore {
    inner: Mutex<(Vec<u8>, Vec<bool>)>,
}

impl MemStore {
    pub fn new(size: u64) -> Self {
        let granules = size.div_ceil(GRANULE) as usize;
        MemStore { inner: Mutex::new((vec![0u8; size as usize], vec![false; granules])) }
    }
    fn range(&self, off: u64, len: u64, size: usize) -> io::Result<std::ops::Range<usize>> {
        let end = off.checked_add(len).filter(|&e| e <= size as u64);
        match end {
            Some(e) => Ok(off as usize..e as usize),
            None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "beyond the end of the store")),
        }
    }
}

impl BlockStore for MemStore {
    fn size(&self) -> u64 {
        self.inner.lock().unwrap().0.len() as u64
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let g = self.inner.lock().unwrap();
        let r = self.range(off, buf.len() as u64, g.0.len())?;
        buf.copy_from_slice(&g.0[r]);
        Ok(())
    }
    fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        let mut g = self.inner.lock().unwrap();
        let r = self.range(off, data.len() as u64, g.0.len())?;
        g.0[r.clone()].copy_from_slice(data);
        for i in (r.start as u64 / GRANULE)..(r.end as u64).div_ceil(GRANULE) {
            g.1[i as usize] = true;
        }
        Ok(())
    }
    fn deallocate(&self, off: u64, len: u64) -> io::Result<()> {
        let mut g = self.inner.lock().unwrap();
        let r = self.range(off, len, g.0.len())?;
        g.0[r.clone()].fill(0);
        // Only whole granules become holes, like fallocate(PUNCH_HOLE) on 4 KiB blocks.
        let first = (r.start as u64).div_ceil(GRANULE);
        let last = r.end as u64 / GRANULE;
        for i in first..last {
            g.1[i as usize] = false;
        }
        Ok(())
    }
    fn write_zeroes(&self, off: u64, len: u64) -> io::Result<()> {
        self.write_at(off, &vec![0u8; len as usize])
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
    fn is_allocated(&self, off: u64, len: u64) -> io::Result<bool> {
        let g = self.inner.lock().unwrap();
        let r = self.range(off, len, g.0.len())?;
        Ok(((r.start as u64 / GRANULE)..(r.end as u64).div_ceil(GRANULE)).any(|i| g.1[i as usize]))
    }
}

/// Which store call a [`TappedStore`] tap sees.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Test support: a [`MemStore`] that calls `tap` before every `read_at` and `write_at`, so a
/// test can count the calls or hold a worker inside a command.
#[cfg(test)]
pub struct TappedStore {
    inner: MemStore,
    tap: Box<dyn Fn(Access) + Send + Sync>,
}

#[cfg(test)]
impl TappedStore {
    pub fn new(inner: MemStore, tap: impl Fn(Access) + Send + Sync + 'static) -> Self {
        TappedStore { inner, tap: Box::new(tap) }
    }
}

#[cfg(test)]
impl BlockStore for TappedStore {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        (self.tap)(Access::Read);
        self.inner.read_at(off, buf)
    }
    fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        (self.tap)(Access::Write);
        self.inner.write_at(off, data)
    }
    fn deallocate(&self, off: u64, len: u64) -> io::Result<()> {
        self.inner.deallocate(off, len)
    }
    fn write_zeroes(&self, off: u64, len: u64) -> io::Result<()> {
        self.inner.write_zeroes(off, len)
    }
    fn flush(&self) -> io::Result<()> {
        self.inner.flush()
    }
    fn is_allocated(&self, off: u64, len: u64) -> io::Result<bool> {
        self.inner.is_allocated(off, len)
    }
}

/// Test support: a store over a shared [`MemStore`] that dies after a budget of
/// writes, as a server killed at that moment. Every mutating call is cut at 4 KiB
/// boundaries of the file (a page-cache write interrupted by SIGKILL stops
/// between pages); each piece spends one unit of the budget, which stores may
/// share, and once it is spent every later piece is dropped.
#[cfg(test)]
pub struct CrashingStore {
    inner: std::sync::Arc<MemStore>,
    budget: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

#[cfg(test)]
impl CrashingStore {
    pub fn new(inner: std::sync::Arc<MemStore>, budget: std::sync::Arc<std::sync::atomic::AtomicI64>) -> Self {
        CrashingStore { inner, budget }
    }

    /// Run `apply` on each live page piece of [off, off+len).
    fn pieces(&self, off: u64, len: u64, mut apply: impl FnMut(u64, u64) -> io::Result<()>) -> io::Result<()> {
        let mut p = off;
        while p < off + len {
            let n = (off + len - p).min(GRANULE - p % GRANULE);
            if self.budget.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                apply(p, n)?;
            }
            p += n;
        }
        Ok(())
    }
}

#[cfg(test)]
impl BlockStore for CrashingStore {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(off, buf)
    }
    fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        self.pieces(off, data.len() as u64, |p, n| {
            let at = (p - off) as usize;
            self.inner.write_at(p, &data[at..at + n as usize])
        })
    }
    fn deallocate(&self, off: u64, len: u64) -> io::Result<()> {
        self.pieces(off, len, |p, n| self.inner.deallocate(p, n))
    }
    fn write_zeroes(&self, off: u64, len: u64) -> io::Result<()> {
        self.pieces(off, len, |p, n| self.inner.write_zeroes(p, n))
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
    fn is_allocated(&self, off: u64, len: u64) -> io::Result<bool> {
        self.inner.is_allocated(off, len)
    }
}
