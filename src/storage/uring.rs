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

/// The bytes a slot's transfers move: region 0 and region 1 (a command's data,
/// and its metadata span).
pub trait IoRegion {
    fn io_region(&mut self, which: usize) -> &mut [u8];
}

/// One transfer done: its slot, its region, io_uring's result (bytes moved, or a
/// negated errno), and whether the slot has nothing more in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    pub slot: usize,
    pub which: usize,
    pub res: i32,
    pub slot_done: bool,
}

pub struct Ring<T: IoRegion> {
    ring: IoUring,
    slots: Vec<T>,
    /// Transfers in flight per slot.
    busy: Vec<u8>,
    /// Slots with a transfer in flight.
    in_flight: usize,
    /// Queued but not yet submitted.
    queued: usize,
}

/// io_uring_enter errors that only ask to try again.
fn retry(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY))
}

impl<T: IoRegion + Default> Ring<T> {
    /// A ring with `slots` slots (commands in flight at most), two transfers each.
    pub fn new(slots: usize) -> io::Result<Self> {
        let ring = IoUring::new((2 * slots).next_power_of_two() as u32)?;
        Ok(Ring {
            ring,
            slots: (0..slots).map(|_| T::default()).collect(),
            busy: vec![0; slots],
            in_flight: 0,
            queued: 0,
        })
    }
}

impl<T: IoRegion> Ring<T> {
    /// Slots with a transfer in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether slot `i` has no transfer in flight.
    pub fn slot_idle(&self, i: usize) -> bool {
        self.busy[i] == 0
    }

    /// A slot with no transfer in flight.
    pub fn free_slot(&self) -> Option<usize> {
        self.busy.iter().position(|&b| b == 0)
    }

    /// The value of slot `i`, which has no transfer in flight.
    pub fn slot_mut(&mut self, i: usize) -> &mut T {
        assert_eq!(self.busy[i], 0, "slot {i} has a transfer in flight");
        &mut self.slots[i]
    }

    /// Queue a transfer of region `which` (0 or 1) of slot `i`: from offset `off`
    /// of `fd` into it (`write` false), or from it to `fd` at `off`. Queue every
    /// transfer of a slot before the next [`ready`](Self::ready) or [`wait`](Self::wait).
    pub fn start(&mut self, i: usize, which: usize, write: bool, fd: RawFd, off: u64) -> io::Result<()> {
        assert!(which < 2 && self.busy[i] < 2, "slot {i}: at most two transfers");
        let region = self.slots[i].io_region(which);
        let len = u32::try_from(region.len()).map_err(|_| io::Error::other("transfer over 4 GiB"))?;
        let entry = if write {
            opcode::Write::new(types::Fd(fd), region.as_ptr(), len).offset(off).build()
        } else {
            opcode::Read::new(types::Fd(fd), region.as_mut_ptr(), len).offset(off).build()
        }
        .user_data((i * 2 + which) as u64);
        // SAFETY: the entry points at a region of slot i, which this ring owns and
        // does not hand out again (slot_mut) until every transfer of the slot is
        // reaped in `ready`/`wait`; the slots vector is never resized, and Drop waits
        // for every transfer in flight (or leaks the buffers) before any is freed.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        if self.busy[i] == 0 {
            self.in_flight += 1;
        }
        self.busy[i] += 1;
        self.queued += 1;
        Ok(())
    }

    /// Submit what is queued and wait for one transfer to finish.
    pub fn wait(&mut self) -> io::Result<Done> {
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

    /// Submit what is queued, then a finished transfer if there is one, without
    /// waiting. (A read from the page cache often completes during its submission.)
    pub fn ready(&mut self) -> io::Result<Option<Done>> {
        if self.queued > 0 {
            match self.ring.submit() {
                Ok(_) => self.queued = 0,
                Err(e) if retry(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.ring.completion().next().map(|c| {
            let (slot, which) = (c.user_data() as usize / 2, c.user_data() as usize % 2);
            self.busy[slot] -= 1;
            let slot_done = self.busy[slot] == 0;
            if slot_done {
                self.in_flight -= 1;
            }
            Done { slot, which, res: c.result(), slot_done }
        }))
    }
}

impl<T: IoRegion> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.in_flight > 0 {
            if let Err(e) = self.wait() {
                // The kernel may still write into the buffers: keep them forever.
                tracing::error!("io_uring: {e} with {} slots in flight; leaking their buffers", self.in_flight);
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
        fn io_region(&mut self, which: usize) -> &mut [u8] {
            let half = self.0.len() / 2;
            if which == 0 {
                &mut self.0[..half]
            } else {
                &mut self.0[half..]
            }
        }
    }

    #[test]
    fn transfers_in_flight_together_complete_each_into_its_own_slot() {
        let p = std::env::temp_dir().join(format!("vnvme-ring-{}", std::process::id()));
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let mut ring: Ring<Buf> = Ring::new(8).unwrap();
        // Each slot writes both halves of its buffer: two transfers, the slot done
        // with the second.
        for i in 0..8 {
            ring.slot_mut(i).0 = vec![i as u8 + 1; 8192];
            ring.start(i, 0, true, f.as_raw_fd(), i as u64 * 8192).unwrap();
            ring.start(i, 1, true, f.as_raw_fd(), i as u64 * 8192 + 4096).unwrap();
        }
        assert_eq!(ring.free_slot(), None);
        let mut seen = [0; 8];
        for _ in 0..16 {
            let d = ring.wait().unwrap();
            assert_eq!(d.res, 4096);
            seen[d.slot] += 1;
            assert_eq!(d.slot_done, seen[d.slot] == 2, "{d:?}");
        }
        assert_eq!(ring.in_flight(), 0);
        for i in 0..8 {
            ring.slot_mut(i).0.fill(0);
            ring.start(i, 0, false, f.as_raw_fd(), (7 - i) as u64 * 8192).unwrap();
        }
        for _ in 0..8 {
            let d = ring.wait().unwrap();
            assert_eq!((d.res, d.which, d.slot_done), (4096, 0, true));
            let b = &ring.slot_mut(d.slot).0;
            assert!(b[..4096].iter().all(|&x| x == 8 - d.slot as u8), "slot {}", d.slot);
        }
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, 5 * 8192 + 4096).unwrap();
        assert_eq!(b[0], 6);
        assert!(ring.wait().is_err(), "nothing in flight");
    }

    #[test]
    #[should_panic(expected = "in flight")]
    fn a_slot_in_flight_is_not_handed_out() {
        let f = std::fs::File::open("/dev/zero").unwrap();
        let mut ring: Ring<Buf> = Ring::new(1).unwrap();
        ring.slot_mut(0).0 = vec![1; 1024];
        ring.start(0, 0, false, f.as_raw_fd(), 0).unwrap();
        ring.slot_mut(0);
    }
}
