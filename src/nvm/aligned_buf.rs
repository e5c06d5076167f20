//! [`AlignedBuf`]: a byte buffer whose first byte sits on a 4 KiB boundary, so a
//! command's data can move with O_DIRECT (`--cache none`) straight from and to it.
//! It grows to the largest transfer and stays, like the other per-queue buffers.

#![forbid(unsafe_code)]

/// O_DIRECT's strictest memory alignment on Linux filesystems.
pub const ALIGN: usize = 4096;

#[derive(Default)]
pub struct AlignedBuf {
    v: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// `n` bytes, all zero.
    pub fn zeroed(&mut self, n: usize) {
        self.set_len(n);
        self.fill(0);
    }

    /// `n` bytes whose contents are whatever the buffer held before: for a caller
    /// that overwrites every byte (a read from the medium, a gather from the host).
    pub fn set_len(&mut self, n: usize) {
        if self.v.len() < n + ALIGN {
            self.v.resize(n + ALIGN, 0);
        }
        self.start = self.v.as_ptr().align_offset(ALIGN);
        self.len = n;
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.v[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.v[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_starts_aligned_at_every_size_and_zeroes_on_request() {
        let mut b = AlignedBuf::default();
        for n in [0, 1, 512, 4096, 100_000, 3, 1 << 20] {
            b.set_len(n);
            b.iter_mut().for_each(|x| *x = 0xa5);
            assert_eq!(b.len(), n);
            assert_eq!(b.as_ptr() as usize % ALIGN, 0, "{n} bytes");
            b.zeroed(n);
            assert!(b.iter().all(|&x| x == 0));
        }
    }
}
