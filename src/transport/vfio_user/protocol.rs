//! vfio-user wire format: the message header and the payloads QEMU's
//! `vfio-user-pci` client sends (vfio-user specification, as implemented by QEMU
//! hw/vfio-user). Plain data and byte-level parsing; no I/O.
//!
//! All fields are little-endian. Offsets below are from the start of the
//! payload (after the 16-byte header) unless noted.

#![forbid(unsafe_code)]

pub const HEADER_SIZE: usize = 16;

pub mod cmd {
    pub const VERSION: u16 = 1;
    pub const DMA_MAP: u16 = 2;
    pub const DMA_UNMAP: u16 = 3;
    pub const DEVICE_GET_INFO: u16 = 4;
    pub const DEVICE_GET_REGION_INFO: u16 = 5;
    pub const DEVICE_GET_REGION_IO_FDS: u16 = 6;
    pub const DEVICE_GET_IRQ_INFO: u16 = 7;
    pub const DEVICE_SET_IRQS: u16 = 8;
    pub const REGION_READ: u16 = 9;
    pub const REGION_WRITE: u16 = 10;
    pub const DMA_READ: u16 = 11;
    pub const DMA_WRITE: u16 = 12;
    pub const DEVICE_RESET: u16 = 13;
    pub const DIRTY_PAGES: u16 = 14;
    pub const REGION_WRITE_MULTI: u16 = 15;

    pub fn name(c: u16) -> &'static str {
        match c {
            VERSION => "VERSION",
            DMA_MAP => "DMA_MAP",
            DMA_UNMAP => "DMA_UNMAP",
            DEVICE_GET_INFO => "DEVICE_GET_INFO",
            DEVICE_GET_REGION_INFO => "DEVICE_GET_REGION_INFO",
            DEVICE_GET_REGION_IO_FDS => "DEVICE_GET_REGION_IO_FDS",
            DEVICE_GET_IRQ_INFO => "DEVICE_GET_IRQ_INFO",
            DEVICE_SET_IRQS => "DEVICE_SET_IRQS",
            REGION_READ => "REGION_READ",
            REGION_WRITE => "REGION_WRITE",
            DMA_READ => "DMA_READ",
            DMA_WRITE => "DMA_WRITE",
            DEVICE_RESET => "DEVICE_RESET",
            DIRTY_PAGES => "DIRTY_PAGES",
            REGION_WRITE_MULTI => "REGION_WRITE_MULTI",
            _ => "unknown",
        }
    }
}

/// Header flag bits.
pub mod flags {
    pub const TYPE_MASK: u32 = 0xf;
    pub const TYPE_COMMAND: u32 = 0;
    pub const TYPE_REPLY: u32 = 1;
    pub const NO_REPLY: u32 = 1 << 4;
    pub const ERROR: u32 = 1 << 5;
}

/// VFIO region indexes of a PCI device (linux/vfio.h).
pub mod region {
    pub const BAR0: u32 = 0;
    pub const BAR4: u32 = 4;
    pub const ROM: u32 = 6;
    pub const CONFIG: u32 = 7;
    pub const VGA: u32 = 8;
    pub const COUNT: u32 = 9;
    pub const FLAG_READ: u32 = 1 << 0;
    pub const FLAG_WRITE: u32 = 1 << 1;
    /// The client may mmap the region's sparse areas from the fd in the reply.
    pub const FLAG_MMAP: u32 = 1 << 2;
    /// A capability chain follows the region info (at `cap_offset`).
    pub const FLAG_CAPS: u32 = 1 << 3;
    /// Capability id of the sparse-mmap area list (`vfio_region_info_cap_sparse_mmap`).
    pub const CAP_SPARSE_MMAP: u16 = 1;
}

/// VFIO IRQ indexes and SET_IRQS flags (linux/vfio.h).
pub mod irq {
    pub const INTX: u32 = 0;
    pub const MSI: u32 = 1;
    pub const MSIX: u32 = 2;
    pub const ERR: u32 = 3;
    pub const REQ: u32 = 4;
    pub const COUNT: u32 = 5;
    pub const INFO_EVENTFD: u32 = 1 << 0;
    pub const INFO_MASKABLE: u32 = 1 << 1;
    pub const INFO_AUTOMASKED: u32 = 1 << 2;
    pub const INFO_NORESIZE: u32 = 1 << 3;
    pub const DATA_NONE: u32 = 1 << 0;
    pub const DATA_BOOL: u32 = 1 << 1;
    pub const DATA_EVENTFD: u32 = 1 << 2;
    pub const ACTION_MASK: u32 = 1 << 3;
    pub const ACTION_UNMASK: u32 = 1 << 4;
    pub const ACTION_TRIGGER: u32 = 1 << 5;
}

pub const DEVICE_FLAGS_RESET: u32 = 1 << 0;
pub const DEVICE_FLAGS_PCI: u32 = 1 << 1;
pub const DMA_UNMAP_FLAG_ALL: u32 = 1 << 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub command: u16,
    pub size: u32,
    pub flags: u32,
    pub error: u32,
}

impl Header {
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Self {
        Header {
            id: u16::from_le_bytes([b[0], b[1]]),
            command: u16::from_le_bytes([b[2], b[3]]),
            size: u32::from_le_bytes(b[4..8].try_into().unwrap()),
            flags: u32::from_le_bytes(b[8..12].try_into().unwrap()),
            error: u32::from_le_bytes(b[12..16].try_into().unwrap()),
        }
    }
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..2].copy_from_slice(&self.id.to_le_bytes());
        b[2..4].copy_from_slice(&self.command.to_le_bytes());
        b[4..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.error.to_le_bytes());
        b
    }
    pub fn no_reply(&self) -> bool {
        self.flags & flags::NO_REPLY != 0
    }
    pub fn is_command(&self) -> bool {
        self.flags & flags::TYPE_MASK == flags::TYPE_COMMAND
    }
}

/// A little-endian cursor over a payload; every read is bounds checked so a
/// short or malformed message becomes an error, not a panic.
pub struct Payload<'a> {
    b: &'a [u8],
}

#[derive(Debug, PartialEq, Eq)]
pub struct ShortPayload;

impl<'a> Payload<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Payload { b }
    }
    pub fn u32(&self, off: usize) -> Result<u32, ShortPayload> {
        self.b.get(off..off + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap())).ok_or(ShortPayload)
    }
    pub fn u64(&self, off: usize) -> Result<u64, ShortPayload> {
        self.b.get(off..off + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap())).ok_or(ShortPayload)
    }
    pub fn u16(&self, off: usize) -> Result<u16, ShortPayload> {
        self.b.get(off..off + 2).map(|s| u16::from_le_bytes(s.try_into().unwrap())).ok_or(ShortPayload)
    }
    pub fn bytes(&self, off: usize, len: usize) -> Result<&'a [u8], ShortPayload> {
        self.b.get(off..off.checked_add(len).ok_or(ShortPayload)?).ok_or(ShortPayload)
    }
    pub fn len(&self) -> usize {
        self.b.len()
    }
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
}

/// Little-endian payload builder.
#[derive(Default)]
pub struct Builder(pub Vec<u8>);

impl Builder {
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
}

/// The capabilities vnvme advertises in its VERSION reply. Kept short: QEMU
/// rejects a reply longer than its own request. `max_msg_fds` 16 lets QEMU send
/// all MSI-X eventfds in one SET_IRQS.
pub const SERVER_CAPS: &str = r#"{"capabilities":{"max_msg_fds":16,"max_data_xfer_size":1048576,"pgsizes":4096}}"#;

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn header_round_trip() {
        let h = Header { id: 7, command: cmd::REGION_WRITE, size: 40, flags: flags::NO_REPLY, error: 0 };
        assert_eq!(Header::parse(&h.encode()), h);
        assert!(h.no_reply() && h.is_command());
    }
    #[test]
    fn payload_reads_are_bounds_checked() {
        let p = Payload::new(&[1, 0, 0, 0, 2]);
        assert_eq!(p.u32(0), Ok(1));
        assert_eq!(p.u32(2), Err(ShortPayload));
        assert_eq!(p.bytes(4, usize::MAX), Err(ShortPayload));
    }
    #[test]
    fn caps_fit_in_qemus_version_request() {
        // QEMU's request is ~214 bytes; our reply is header + 4 + caps + NUL.
        assert!(HEADER_SIZE + 4 + SERVER_CAPS.len() + 1 < 200);
        assert!(serde_json::from_str::<serde_json::Value>(SERVER_CAPS).is_ok());
    }
}
