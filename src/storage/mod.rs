//! Backing stores for namespaces: the [`BlockStore`] trait, a host file
//! ([`FileStore`]) and an in-memory store for tests ([`MemStore`]), plus the
//! QEMU `nvme-ns` image layout ([`layout::ImageLayout`]).
//!
//! A store is a flat byte array; which bytes hold which block's data or metadata
//! is the layout's business, not the store's.

pub mod cache_mode;
pub mod direct;
pub mod file;
pub mod layout;
pub mod mem;
pub mod uring;
pub mod vectored;

pub use cache_mode::CacheMode;
pub use file::FileStore;
pub use layout::ImageLayout;
pub use mem::MemStore;
pub use vectored::IoRanges;

/// A sidecar file kept beside an image: `IMAGE.EXT` (e.g. `ns1.img.ids`); the image's own
/// extension stays, so every sidecar of one image shares its name.
pub fn sidecar(image: &std::path::Path, ext: &str) -> std::path::PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    s.into()
}

use std::io;

/// A flat, byte-addressed backing store. Concurrency: every method takes `&self`
/// and may be called from any I/O queue thread at once; implementations rely on
/// positioned I/O (pread/pwrite), so no lock is held across calls.
pub trait BlockStore: Send + Sync {
    /// Size in bytes.
    fn size(&self) -> u64;
    fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()>;
    fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()>;
    /// Deallocate: afterwards the range reads as zeroes, and the host may reclaim it.
    fn deallocate(&self, off: u64, len: u64) -> io::Result<()>;
    /// Make the range read as zeroes, keeping it allocated.
    fn write_zeroes(&self, off: u64, len: u64) -> io::Result<()>;
    /// Make every completed write durable.
    fn flush(&self) -> io::Result<()>;
    /// Whether any byte of the range is allocated (false only for a hole).
    fn is_allocated(&self, off: u64, len: u64) -> io::Result<bool>;
    /// The layout puts metadata from `off` on (a namespace opened or formatted,
    /// no transfer in flight). A store that bypasses the page cache keeps those
    /// small transfers in it (`direct`'s module docs say why); others ignore it.
    fn set_metadata_start(&self, _off: u64) {}
    /// The descriptor an asynchronous engine may read or write `len` bytes at `off`
    /// with, from or into memory at `addr`, to the same effect as `read_at` and
    /// `write_at`. None when only those can (a store that is not a file, an O_DIRECT
    /// transfer that is not aligned).
    fn async_fd(&self, _off: u64, _len: usize, _addr: usize) -> Option<std::os::unix::io::RawFd> {
        None
    }
    /// For an asynchronous read of `len` bytes at `off` into a 4 KiB-aligned
    /// buffer: the descriptor, and the span to read (`off..off + len` widened to
    /// the O_DIRECT alignment). None when only `read_at` can.
    fn async_span(&self, _off: u64, _len: usize) -> Option<(std::os::unix::io::RawFd, u64, usize)> {
        None
    }
    /// Whether `read_ranges` and `write_ranges` work: the store is a file read through
    /// the page cache, where a vectored call moves bytes straight between the file and
    /// memory at any address and length.
    fn takes_ranges(&self) -> bool {
        false
    }
    /// Read `r.len()` bytes at `off` into `r`, to the effect of `read_at` (only when
    /// `takes_ranges`).
    fn read_ranges(&self, _off: u64, _r: &mut IoRanges<'_>) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "this store moves bytes only through its own buffers"))
    }
    /// Write `r.len()` bytes from `r` at `off`, to the effect of `write_at` (only when
    /// `takes_ranges`).
    fn write_ranges(&self, _off: u64, _r: &mut IoRanges<'_>) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "this store moves bytes only through its own buffers"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    #[test]
    fn a_sidecar_keeps_the_image_name_and_extension() {
        assert_eq!(super::sidecar(Path::new("/a/ns1.img"), "ids"), PathBuf::from("/a/ns1.img.ids"));
        assert_eq!(super::sidecar(Path::new("disk"), "uncor.tmp"), PathBuf::from("disk.uncor.tmp"));
    }
}
