//! [`FileStore`]: a namespace image in a host file, accessed with positioned I/O.
//! Deallocation punches holes (`fallocate(PUNCH_HOLE)`), so a deallocated range
//! reads back as zeroes and the host gets the space back.

use super::BlockStore;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

pub struct FileStore {
    file: File,
    path: PathBuf,
    size: u64,
}

impl FileStore {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        Ok(FileStore { file, path: path.to_path_buf(), size: meta.len() })
    }
    pub fn path(&self) -> &Path {
        &self.path
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
        self.file.read_exact_at(buf, off)
    }
    fn write_at(&self, off: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, off)
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
