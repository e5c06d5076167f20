//! Vectored transfers between a file and memory that is not a Rust object of this
//! process: guest memory, mapped from QEMU. A read lands in the guest's pages and a
//! write leaves from them with one `preadv`/`pwritev`, without passing through the
//! device's own buffers (docs/design.md, "Copies").
//!
//! [`IoRanges`] is the memory side: `iovec`s that whoever built them vouches for
//! (the DMA map, holding its mappings for as long as the value lives). Building one
//! is `unsafe` for that reason; moving bytes with one is not.
//!
//! Short transfers (a signal, a page-cache miss across a hole) are resumed where
//! they stopped; a read past the end of the file is an error, never a short read.

use std::io;
use std::marker::PhantomData;
use std::os::unix::io::RawFd;

/// Ranges handed to one vectored call at most (well under `IOV_MAX`, 1024).
pub const MAX_RANGES: usize = 64;

/// Memory ranges a vectored system call may move bytes into or out of.
pub struct IoRanges<'a> {
    iovs: &'a mut [libc::iovec],
    _memory: PhantomData<&'a mut [u8]>,
}

impl<'a> IoRanges<'a> {
    /// # Safety
    ///
    /// Every `iovec` must describe memory that stays mapped, readable and writable,
    /// for `'a`, and that no Rust reference (shared or unique) points into while the
    /// value lives. Concurrent changes by another party (a guest) are allowed: the
    /// kernel copies with no more guarantee than DMA gives.
    pub unsafe fn new(iovs: &'a mut [libc::iovec]) -> Self {
        IoRanges { iovs, _memory: PhantomData }
    }

    /// Bytes in all ranges.
    pub fn len(&self) -> usize {
        self.iovs.iter().map(|v| v.iov_len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop the first `n` bytes (already moved).
    fn advance(&mut self, mut n: usize) {
        let iovs = std::mem::take(&mut self.iovs);
        let mut skip = 0;
        for v in iovs.iter_mut() {
            if n < v.iov_len {
                v.iov_base = v.iov_base.cast::<u8>().wrapping_add(n).cast();
                v.iov_len -= n;
                break;
            }
            n -= v.iov_len;
            skip += 1;
        }
        self.iovs = &mut iovs[skip..];
    }
}

/// Read `r.len()` bytes at `off` of `fd` into `r`.
pub fn read_into(fd: RawFd, off: u64, r: &mut IoRanges<'_>) -> io::Result<()> {
    transfer(fd, off, r, false)
}

/// Write `r.len()` bytes from `r` at `off` of `fd`.
pub fn write_from(fd: RawFd, off: u64, r: &mut IoRanges<'_>) -> io::Result<()> {
    transfer(fd, off, r, true)
}

fn transfer(fd: RawFd, mut off: u64, r: &mut IoRanges<'_>, write: bool) -> io::Result<()> {
    while !r.iovs.is_empty() {
        if r.iovs[0].iov_len == 0 {
            r.iovs = &mut std::mem::take(&mut r.iovs)[1..];
            continue;
        }
        let cnt = r.iovs.len().min(MAX_RANGES) as libc::c_int;
        let n = if write {
            // SAFETY: the iovecs describe memory valid for reads for the life of `r`
            // (IoRanges::new's contract); pwritev only reads it.
            unsafe { libc::pwritev(fd, r.iovs.as_ptr(), cnt, off as libc::off_t) }
        } else {
            // SAFETY: as above, memory valid for writes and referenced by no Rust
            // reference while `r` lives; preadv writes at most the iovecs' lengths.
            unsafe { libc::preadv(fd, r.iovs.as_ptr(), cnt, off as libc::off_t) }
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(if write {
                io::Error::new(io::ErrorKind::WriteZero, "the file took no bytes")
            } else {
                io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the file")
            });
        }
        off += n as u64;
        r.advance(n as usize);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;

    fn iov(b: &mut [u8]) -> libc::iovec {
        libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() }
    }

    #[test]
    fn ranges_of_any_shape_and_count_read_and_write_like_one_buffer() {
        let p = std::env::temp_dir().join(format!("vnvme-vectored-{}", std::process::id()));
        let f = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&p).unwrap();
        let size = 1 << 20;
        let model: Vec<u8> = (0..size).map(|i| (i * 7 + i / 4096) as u8).collect();
        f.write_all_at(&model, 0).unwrap();
        // More ranges than one call takes, of lengths 0 to 1500, including empty ones.
        let lens: Vec<usize> = (0..150).map(|i| (i * 37) % 1501).collect();
        let total: usize = lens.iter().sum();
        let mut backing = vec![0u8; total];
        let mut pieces: Vec<&mut [u8]> = Vec::new();
        let mut rest = &mut backing[..];
        for &l in &lens {
            let (a, b) = rest.split_at_mut(l);
            pieces.push(a);
            rest = b;
        }
        let mut iovs: Vec<libc::iovec> = pieces.iter_mut().map(|b| iov(b)).collect();
        drop(pieces);
        // SAFETY: the iovecs cover `backing`, which lives past the call and is not
        // otherwise borrowed until `r` is gone.
        let mut r = unsafe { IoRanges::new(&mut iovs) };
        assert_eq!(r.len(), total);
        read_into(f.as_raw_fd(), 1000, &mut r).unwrap();
        assert!(r.is_empty(), "every range filled");
        assert!(backing == model[1000..1000 + total], "the ranges hold the file's bytes in order");

        backing.iter_mut().enumerate().for_each(|(i, b)| *b = (i % 251) as u8);
        let mut iovs = vec![iov(&mut backing[..total / 2]), iov(&mut backing[total / 2..])];
        let expect = backing.clone();
        // SAFETY: as above.
        let mut r = unsafe { IoRanges::new(&mut iovs) };
        write_from(f.as_raw_fd(), 4096, &mut r).unwrap();
        let mut back = vec![0u8; total];
        f.read_exact_at(&mut back, 4096).unwrap();
        assert!(back == expect);

        // Past the end: an error, not a short read taken for success.
        let mut tail = vec![0u8; 8192];
        let mut iovs = vec![iov(&mut tail)];
        // SAFETY: as above.
        let mut r = unsafe { IoRanges::new(&mut iovs) };
        let e = read_into(f.as_raw_fd(), size as u64 - 4096, &mut r).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        std::fs::remove_file(&p).unwrap();
    }
}
