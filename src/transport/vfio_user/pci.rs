//! The PCI function vnvme presents: a 4 KiB config space (PCIe endpoint) with
//! Power Management, MSI-X and PCI Express capabilities, BAR0 (64-bit, 16 KiB:
//! controller registers and doorbells) and BAR4 (MSI-X table and PBA).
//!
//! QEMU forwards every config write here before updating its own copy, and
//! emulates BARs and the MSI-X table itself; this module keeps the values QEMU
//! reads back and tracks the bits the device needs: MSI-X Enable and the
//! Command register's Bus Master Enable and INTx Disable.

#![forbid(unsafe_code)]

pub const CONFIG_SIZE: usize = 4096;
pub const BAR0_SIZE: u64 = 0x4000;
pub const BAR4_SIZE: u64 = 0x2000;
pub const PBA_OFFSET: u32 = 0x1000;

pub const VENDOR_ID: u16 = 0x4e58;
pub const DEVICE_ID: u16 = 0x0001;

const CAP_PM: usize = 0x40;
const CAP_MSIX: usize = 0x50;
const CAP_PCIE: usize = 0x60;

pub struct ConfigSpace {
    bytes: [u8; CONFIG_SIZE],
    /// Writable bits per byte; everything else is read-only.
    wmask: [u8; CONFIG_SIZE],
    msix_vectors: u16,
}

impl ConfigSpace {
    pub fn new(msix_vectors: u16) -> Self {
        let mut c = ConfigSpace { bytes: [0; CONFIG_SIZE], wmask: [0; CONFIG_SIZE], msix_vectors };
        c.put16(0x00, VENDOR_ID);
        c.put16(0x02, DEVICE_ID);
        c.put16(0x06, 0x0010); // status: capabilities list
        c.bytes[0x08] = 0; // revision
        c.bytes[0x09] = 0x02; // prog-if: NVM Express
        c.bytes[0x0a] = 0x08; // subclass: non-volatile memory
        c.bytes[0x0b] = 0x01; // class: mass storage
        c.put32(0x10, 0x4); // BAR0: memory, 64-bit, non-prefetchable
        c.put32(0x20, 0x0); // BAR4: memory, 32-bit
        c.put16(0x2c, VENDOR_ID);
        c.put16(0x2e, DEVICE_ID);
        c.bytes[0x34] = CAP_PM as u8;
        c.bytes[0x3d] = 1; // interrupt pin A
                           // Power Management (PCI PM 1.2): version 3; PMCSR No_Soft_Reset.
        c.bytes[CAP_PM] = 0x01;
        c.bytes[CAP_PM + 1] = CAP_MSIX as u8;
        c.put16(CAP_PM + 2, 0x0003);
        c.put16(CAP_PM + 4, 0x0008);
        // MSI-X: table in BAR4 at 0, PBA in BAR4 at PBA_OFFSET.
        c.bytes[CAP_MSIX] = 0x11;
        c.bytes[CAP_MSIX + 1] = CAP_PCIE as u8;
        c.put16(CAP_MSIX + 2, msix_vectors - 1);
        c.put32(CAP_MSIX + 4, 4);
        c.put32(CAP_MSIX + 8, PBA_OFFSET | 4);
        // PCI Express capability v2, endpoint; device capabilities: FLR not offered.
        c.bytes[CAP_PCIE] = 0x10;
        c.bytes[CAP_PCIE + 1] = 0;
        c.put16(CAP_PCIE + 2, 0x0002);
        c.put32(CAP_PCIE + 12, 0x0000_0011); // link: 2.5 GT/s x1
        c.put16(CAP_PCIE + 18, 0x0011);

        // Writable: command (IO, MEM, BM, SERR, INTx disable), BARs, interrupt
        // line, PMCSR power state, MSI-X enable/mask, PCIe device control.
        c.wmask_range(0x04, &[0x47, 0x05]);
        c.wmask_range(0x10, &[0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        c.wmask_range(0x20, &[0xf0, 0xff, 0xff, 0xff]);
        c.wmask_range(0x30, &[0x00, 0x00, 0x00, 0x00]);
        c.wmask[0x3c] = 0xff;
        c.wmask[CAP_PM + 4] = 0x03;
        c.wmask[CAP_MSIX + 3] = 0xc0;
        c.wmask_range(CAP_PCIE + 8, &[0xff, 0xff]);
        c
    }

    fn put16(&mut self, off: usize, v: u16) {
        self.bytes[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put32(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn wmask_range(&mut self, off: usize, m: &[u8]) {
        self.wmask[off..off + m.len()].copy_from_slice(m);
    }

    pub fn read(&self, off: usize, out: &mut [u8]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = off.checked_add(i).and_then(|a| self.bytes.get(a)).copied().unwrap_or(0);
        }
    }

    pub fn write(&mut self, off: usize, data: &[u8]) {
        for (i, &d) in data.iter().enumerate() {
            let Some(a) = off.checked_add(i).filter(|&a| a < CONFIG_SIZE) else { break };
            let m = self.wmask[a];
            self.bytes[a] = (self.bytes[a] & !m) | (d & m);
        }
        // BAR size masks: the writable bits above already make an all-ones write
        // read back as the size mask (BAR0 16 KiB: bits 13:4 read-only zero).
        let bar0 = u32::from_le_bytes(self.bytes[0x10..0x14].try_into().unwrap());
        self.put32(0x10, (bar0 & !(BAR0_SIZE as u32 - 1)) | 0x4);
        let bar4 = u32::from_le_bytes(self.bytes[0x20..0x24].try_into().unwrap());
        self.put32(0x20, bar4 & !(BAR4_SIZE as u32 - 1));
    }

    pub fn msix_enabled(&self) -> bool {
        self.bytes[CAP_MSIX + 3] & 0x80 != 0
    }
    /// Command register bit 2 (PCI Local Bus 3.0, 6.2.2): while clear, the
    /// function issues no memory requests, so no DMA and no MSI/MSI-X.
    pub fn bus_master_enabled(&self) -> bool {
        self.bytes[0x04] & 0x04 != 0
    }
    pub fn intx_disabled(&self) -> bool {
        self.bytes[0x05] & 0x04 != 0
    }
    pub fn msix_vectors(&self) -> u16 {
        self.msix_vectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the vfio_user_messages fuzz target: a REGION_READ of config space
    /// at an offset near usize::MAX overflowed `off + i` (a panic with overflow
    /// checks; without them the read wrapped round to the first bytes).
    #[test]
    fn accesses_far_past_the_end_neither_overflow_nor_wrap() {
        let mut c = ConfigSpace::new(17);
        let mut out = [0xaau8; 4];
        c.read(usize::MAX - 1, &mut out);
        assert_eq!(out, [0; 4], "nothing exists there, and offset 0 must not show through");
        let before = c.bytes;
        c.write(usize::MAX - 1, &[0xff; 4]);
        assert!(c.bytes == before, "a write far past the end changes nothing");
    }
    #[test]
    fn identity_and_bar_sizing() {
        let mut c = ConfigSpace::new(17);
        let mut b = [0u8; 4];
        c.read(0x08, &mut b);
        assert_eq!(b, [0, 2, 8, 1]);
        c.write(0x10, &[0xff; 4]);
        c.read(0x10, &mut b);
        assert_eq!(u32::from_le_bytes(b), !(0x4000u32 - 1) | 0x4);
        c.write(0x20, &[0xff; 4]);
        c.read(0x20, &mut b);
        assert_eq!(u32::from_le_bytes(b), !(0x2000u32 - 1));
        // Read-only fields ignore writes.
        c.write(0x00, &[0; 4]);
        c.read(0x00, &mut b);
        assert_eq!(u16::from_le_bytes([b[0], b[1]]), VENDOR_ID);
    }
    #[test]
    fn bus_master_enable_bit() {
        let mut c = ConfigSpace::new(17);
        assert!(!c.bus_master_enabled(), "off at power-on");
        c.write(0x04, &[0x06, 0x00]);
        assert!(c.bus_master_enabled());
        c.write(0x04, &[0x02, 0x00]);
        assert!(!c.bus_master_enabled());
    }
    #[test]
    fn msix_enable_bit() {
        let mut c = ConfigSpace::new(17);
        assert!(!c.msix_enabled());
        c.write(0x52, &[16, 0x80]);
        assert!(c.msix_enabled());
        let mut b = [0u8; 2];
        c.read(0x52, &mut b);
        assert_eq!(u16::from_le_bytes(b) & 0x7ff, 16, "table size is read only");
    }
}
