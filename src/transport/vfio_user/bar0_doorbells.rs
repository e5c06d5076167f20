//! BAR0's doorbells as a shared-memory file (`serve --doorbells mmap-poll`).
//!
//! The server creates a sealed memfd the size of BAR0 and maps it. Its doorbell
//! part, [`SPARSE_OFFSET`]..BAR0 end, is offered to the client as BAR0's one
//! sparse-mmappable area (`VFIO_REGION_INFO_CAP_SPARSE_MMAP`), with the fd in the
//! region-info reply. QEMU maps it into the guest's BAR, SPDK's userspace driver
//! into its own process; either then rings doorbells with plain stores, and the
//! controller polls ([`crate::controller::doorbell_area`]). The registers below
//! 0x1000 stay message-based: CC, AQA and the rest have side effects.
//!
//! The client can neither shrink nor grow the file (F_SEAL_SHRINK, F_SEAL_GROW),
//! so no access of the server's mapping can fault. The client side of the same
//! area ([`MappedDoorbells::from_client_fd`]) is used by `vnvme bench io --client`.

use super::pci::BAR0_SIZE;
use crate::controller::doorbell_area::DoorbellArea;
use crate::spec::registers::DOORBELL_BASE;
use std::fs::File;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where BAR0's mappable area starts: the first doorbell.
pub const SPARSE_OFFSET: u64 = DOORBELL_BASE;
/// Its length: the rest of BAR0.
pub const SPARSE_SIZE: u64 = BAR0_SIZE - DOORBELL_BASE;

/// A mapping of BAR0's doorbell area.
pub struct MappedDoorbells {
    file: File,
    /// The mapping of the area ([`SPARSE_SIZE`] bytes), dword aligned.
    base: NonNull<AtomicU32>,
}

// SAFETY: the mapping is only reached through atomics, so sharing it between
// threads is as safe as sharing a slice of AtomicU32; the fd is a plain File.
unsafe impl Send for MappedDoorbells {}
// SAFETY: as above.
unsafe impl Sync for MappedDoorbells {}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl MappedDoorbells {
    /// The server's area: a new sealed memfd of BAR0's size, zeroed, mapped.
    pub fn create() -> io::Result<Self> {
        // SAFETY: memfd_create with a NUL-terminated name; the fd it returns is
        // owned by the File made from it.
        let fd = unsafe { libc::memfd_create(c"vnvme-bar0".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(last_error("memfd_create for BAR0's doorbells"));
        }
        // SAFETY: fd was just returned to us and nothing else owns it.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(BAR0_SIZE)?;
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: fcntl on an fd we own, with an integer argument.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(last_error("sealing BAR0's doorbell memfd"));
        }
        Self::map(file, SPARSE_OFFSET)
    }

    /// The client's view: map the area from the fd a region-info reply carried,
    /// at the file offset it named (region offset plus the sparse area's offset).
    pub fn from_client_fd(file: File, offset: u64) -> io::Result<Self> {
        let len = file.metadata()?.len();
        if offset.checked_add(SPARSE_SIZE).is_none_or(|end| end > len) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "BAR0 mmap area lies beyond its file"));
        }
        Self::map(file, offset)
    }

    fn map(file: File, offset: u64) -> io::Result<Self> {
        // SAFETY: a new shared mapping of SPARSE_SIZE bytes of a file at least
        // that long past `offset` (checked or sized by the caller, and sealed
        // against shrinking on the server); the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                SPARSE_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_error("mapping BAR0's doorbells"));
        }
        let base = NonNull::new(p.cast::<AtomicU32>()).ok_or_else(|| last_error("mmap returned null"))?;
        Ok(MappedDoorbells { file, base })
    }

    /// The file to hand to the client.
    pub fn file(&self) -> &File {
        &self.file
    }

    fn slot(&self, index: usize) -> Option<&AtomicU32> {
        if index >= self.len() {
            return None;
        }
        // SAFETY: index is inside the mapping (checked above), which is page
        // aligned and lives as long as self; another process writes it
        // concurrently, which is what atomics are for.
        Some(unsafe { &*self.base.as_ptr().add(index) })
    }
}

impl DoorbellArea for MappedDoorbells {
    fn len(&self) -> usize {
        SPARSE_SIZE as usize / 4
    }
    fn load(&self, index: usize) -> u32 {
        self.slot(index).map_or(0, |d| d.load(Ordering::Acquire))
    }
    fn store(&self, index: usize, value: u32) {
        if let Some(d) = self.slot(index) {
            d.store(value, Ordering::Release);
        }
    }
}

impl Drop for MappedDoorbells {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `map`; no reference into
        // it outlives self.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), SPARSE_SIZE as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_mapping_of_the_fd_sees_the_servers_doorbells_and_cannot_shrink_it() {
        let server = MappedDoorbells::create().unwrap();
        let client = MappedDoorbells::from_client_fd(server.file().try_clone().unwrap(), SPARSE_OFFSET).unwrap();
        client.store(2, 17);
        assert_eq!(server.load(2), 17);
        server.store(3, 5);
        assert_eq!(client.load(3), 5);
        assert_eq!(server.load(server.len()), 0, "beyond the area");
        assert!(server.file().set_len(0).is_err(), "sealed against shrinking");
        assert!(MappedDoorbells::from_client_fd(server.file().try_clone().unwrap(), BAR0_SIZE).is_err());
    }
}
