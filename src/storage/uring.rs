//! [`Ring`]: an io_uring submission and completion queue with the buffers its
//! transfers use, for the `io_uring` engine (`serve --engine io_uring`).
//!
//! The ring owns one value per slot (a command's buffers). A transfer reads into
//! or writes from the slot's [`IoRegion`]; while it is in flight the slot is not
//! handed out ([`Ring::slot_mut`] refuses), so the kernel is the only one touching
//! those bytes, and the ring waits for every transfer before it frees a buffer.
//! Transfers are queued by [`Ring::start`] and reach the kernel together at the
//! next [`Ring::ready`] or [`Ring::wait`]: one system call submits a batch (and
//! waits for the first completion).

use io_uring::{opcode, types, IoUring};
use std::io;
use std::os::unix::io::RawFd;

/// The bytes a slot's transfer moves.
pub trait IoRegion {
    fn io_region(&mut self) -> &mut [u8];
}

pub struct Ring<T: IoRegion> {
    ring: IoUring,
    slots: Vec<T>,
    busy: Vec<bool>,
    in_flight: usize,
    /// Queued but not yet submitted.
    queued: usize,
}

/// io_uring_enter errors that only ask to try again.
fn retry(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY))
}

impl<T: IoRegion + Default> Ring<T> {
    /// A ring with `slots` slots (commands in flight at most).
    pub fn new(slots: usize) -> io::Result<Self> {
        let ring = IoUring::new(slots.next_power_of_two() as u32)?;
        Ok(Ring {
            ring,
            slots: (0..slots).map(|_| T::default()).collect(),
            busy: vec![false; slots],
            in_flight: 0,
            queued: 0,
        })
    }
}

impl<T: IoRegion> Ring<T> {
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// A slot with no transfer in flight.
    pub fn free_slot(&self) -> Option<usize> {
        self.busy.iter().position(|b| !b)
    }

    /// The value of slot `i`, which has no transfer in flight.
    pub fn slot_mut(&mut self, i: usize) -> &mut T {
        assert!(!self.busy[i], "slot {i} has a transfer in flight");
        &mut self.slots[i]
    }

    /// Queue a transfer of slot `i`'s region: from offset `off` of `fd` into it
    /// (`write` false), or from it to `fd` at `off`.
    pub fn start(&mut self, i: usize, write: bool, fd: RawFd, off: u64) -> io::Result<()> {
        assert!(!self.busy[i], "slot {i} has a transfer in flight");
        let region = self.slots[i].io_region();
        let len = u32::try_from(region.len()).map_err(|_| io::Error::other("transfer over 4 GiB"))?;
        let entry = if write {
            opcode::Write::new(types::Fd(fd), region.as_ptr(), len).offset(off).build()
        } else {
            opcode::Read::new(types::Fd(fd), region.as_mut_ptr(), len).offset(off).build()
        }
        .user_data(i as u64);
        // SAFETY: the entry points at slot i's region, which this ring owns and does
        // not hand out again (slot_mut, start) until the completion is reaped in
        // `wait`; the slots vector is never resized, and Drop waits for every
        // transfer in flight (or leaks the buffers) before any is freed.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        self.busy[i] = true;
        self.in_flight += 1;
        self.queued += 1;
        Ok(())
    }

    /// Submit what is queued and wait for one completion: (slot, result), the
    /// result as io_uring gives it (bytes moved, or a negated errno).
    pub fn wait(&mut self) -> io::Result<(usize, i32)> {
        loop {
            if let Some(done) = self.ready()? {
                return Ok(done);
            }
            if self.in_flight == 0 {
                return Err(io::Error::other("nothing in flight"));
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => self.queued = 0,
                Err(e) if retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Submit what is queued, then a completion if one is there, without waiting.
    /// (A read from the page cache often completes during its submission.)
    pub fn ready(&mut self) -> io::Result<Option<(usize, i32)>> {
        if self.queued > 0 {
            match self.ring.submit() {
                Ok(_) => self.queued = 0,
                Err(e) if retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.ring.completion().next().map(|c| {
            let i = c.user_data() as usize;
            self.busy[i] = false;
            self.in_flight -= 1;
            (i, c.result())
        }))
    }
}

impl<T: IoRegion> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.in_flight > 0 {
            if let Err(e) = self.wait() {
                // The kernel may still write into the buffers: keep them forever.
                tracing::error!("io_uring: {e} with {} transfers in flight; leaking their buffers", self.in_flight);
                std::mem::forget(std::mem::take(&mut self.slots));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;

    #[derive(Default)]
    struct Buf(Vec<u8>);
    impl IoRegion for Buf {
        fn io_region(&mut self) -> &mut [u8] {
            &mut self.0
        }
    }

    #[test]
    fn transfers_in_flight_together_complete_each_into_its_own_slot() {
        let p = std::env::temp_dir().join(format!("vnvme-ring-{}", std::process::id()));
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let mut ring: Ring<Buf> = Ring::new(8).unwrap();
        for i in 0..8 {
            ring.slot_mut(i).0 = vec![i as u8 + 1; 4096];
            ring.start(i, true, f.as_raw_fd(), i as u64 * 4096).unwrap();
        }
        assert_eq!(ring.free_slot(), None);
        let mut done = [false; 8];
        for _ in 0..8 {
            let (i, res) = ring.wait().unwrap();
            assert_eq!(res, 4096);
            done[i] = true;
        }
        assert!(done.iter().all(|&d| d));
        for i in 0..8 {
            ring.slot_mut(i).0.fill(0);
            ring.start(i, false, f.as_raw_fd(), (7 - i) as u64 * 4096).unwrap();
        }
        for _ in 0..8 {
            let (i, res) = ring.wait().unwrap();
            assert_eq!(res, 4096);
            assert!(ring.slot_mut(i).0.iter().all(|&b| b == 8 - i as u8), "slot {i}");
        }
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, 5 * 4096).unwrap();
        assert_eq!(b[0], 6);
        assert!(ring.wait().is_err(), "nothing in flight");
    }

    #[test]
    #[should_panic(expected = "in flight")]
    fn a_slot_in_flight_is_not_handed_out() {
        let f = std::fs::File::open("/dev/zero").unwrap();
        let mut ring: Ring<Buf> = Ring::new(1).unwrap();
        ring.slot_mut(0).0 = vec![1; 512];
        ring.start(0, false, f.as_raw_fd(), 0).unwrap();
        ring.slot_mut(0);
    }
}
