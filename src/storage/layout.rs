//! QEMU's `nvme-ns` image layout: all logical blocks' data first, then all their
//! metadata, `ms` bytes per block, in the same file. The number of blocks is
//! `file size / (lbs + ms)`, exactly as QEMU computes it, so one image works with
//! both QEMU's built-in device and vnvme, and a Format NVM to another LBA format
//! re-derives the capacity from the same file.

#![forbid(unsafe_code)]

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    pub lbs: u64,
    pub ms: u64,
    pub nlbas: u64,
}

impl ImageLayout {
    pub fn new(image_size: u64, lbs: u64, ms: u64) -> Self {
        ImageLayout { lbs, ms, nlbas: image_size / (lbs + ms) }
    }
    /// Byte offset of block `lba`'s data.
    pub fn data_offset(&self, lba: u64) -> u64 {
        lba * self.lbs
    }
    /// Byte offset of block `lba`'s metadata.
    pub fn meta_offset(&self, lba: u64) -> u64 {
        self.nlbas * self.lbs + lba * self.ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matches_qemu_capacity() {
        // 1 GiB image, 512+8: QEMU reports nsze 0x1f81f8.
        let l = ImageLayout::new(1 << 30, 512, 8);
        assert_eq!(l.nlbas, 0x1f81f8);
        assert_eq!(l.meta_offset(0), 0x1f81f8 * 512);
        assert_eq!(l.meta_offset(3), 0x1f81f8 * 512 + 24);
        assert_eq!(ImageLayout::new(1 << 30, 4096, 0).nlbas, 262144);
    }
}
