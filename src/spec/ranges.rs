//! The range lists some I/O commands carry in their data buffer (NVM-CS 1.1): Dataset
//! Management's Range Definitions (3.3.3) and Copy's Source Range Entries (3.3.2, descriptor
//! formats 0h-3h). All fields are little endian except as noted.

/// One Dataset Management Range Definition (16 bytes): Context Attributes (bytes 3:0), Length
/// in logical blocks (7:4, not 0's based) and Starting LBA (15:8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsmRange {
    pub context_attributes: u32,
    /// Number of blocks; 0 names none.
    pub nlb: u32,
    pub slba: u64,
}

impl DsmRange {
    pub const SIZE: usize = 16;

    /// From the first [`Self::SIZE`] bytes of `b`.
    pub fn parse(b: &[u8]) -> Self {
        let le32 = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        DsmRange { context_attributes: le32(0), nlb: le32(4), slba: le32(8) as u64 | (le32(12) as u64) << 32 }
    }
}

/// One Copy Source Range Entry: SNSID (bytes 3:0, formats 2h/3h only), SLBA (15:8), NLB (17:16,
/// 0's based), ELBAT/ELBATM (29:28, 31:30 in 32-byte entries; 37:36, 39:38 in 40-byte ones).
/// The expected storage/reference tag (ELBT, bytes 27:24 of 32-byte entries, the 80-bit field
/// in bytes 35:26 of 40-byte entries) is read as QEMU and nvme-cli 2.x write it: little endian
/// in 32-byte entries, big endian in 40-byte ones. The spec text does not settle that byte
/// order (docs/nvm-commands.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRange {
    /// SNSID, or the command's NSID for formats 0h/1h.
    pub nsid: u32,
    pub slba: u64,
    /// Number of blocks (NLB + 1).
    pub nlb: u64,
    /// Expected storage and reference tag space (ELBT), right aligned.
    pub elbt: u128,
    pub elbat: u16,
    pub elbatm: u16,
}

impl SourceRange {
    pub fn parse(b: &[u8], format: u8, dst_nsid: u32) -> Self {
        let le16 = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let nsid = if format >= 2 { u32::from_le_bytes(b[0..4].try_into().unwrap()) } else { dst_nsid };
        let slba = u64::from_le_bytes(b[8..16].try_into().unwrap());
        let nlb = le16(16) as u64 + 1;
        if format.is_multiple_of(2) {
            let elbt = u32::from_le_bytes(b[24..28].try_into().unwrap()) as u128;
            SourceRange { nsid, slba, nlb, elbt, elbat: le16(28), elbatm: le16(30) }
        } else {
            let elbt = b[26..36].iter().fold(0u128, |acc, &x| acc << 8 | x as u128);
            SourceRange { nsid, slba, nlb, elbt, elbat: le16(36), elbatm: le16(38) }
        }
    }
    pub fn entry_size(format: u8) -> usize {
        if format.is_multiple_of(2) {
            32
        } else {
            40
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_management_range_definition() {
        let mut e = [0u8; 16];
        e[0..4].copy_from_slice(&0x8000_0001u32.to_le_bytes());
        e[4..8].copy_from_slice(&0xffff_fffeu32.to_le_bytes());
        e[8..16].copy_from_slice(&0x8000_0000_0000_0007u64.to_le_bytes());
        let r = DsmRange::parse(&e);
        assert_eq!(r, DsmRange { context_attributes: 0x8000_0001, nlb: 0xffff_fffe, slba: 0x8000_0000_0000_0007 });
    }

    #[test]
    fn copy_source_range_formats_0h_and_3h() {
        let mut e = [0u8; 32];
        e[8..16].copy_from_slice(&77u64.to_le_bytes());
        e[16..18].copy_from_slice(&9u16.to_le_bytes());
        e[24..28].copy_from_slice(&77u32.to_le_bytes());
        e[28..30].copy_from_slice(&0x1234u16.to_le_bytes());
        e[30..32].copy_from_slice(&0xffffu16.to_le_bytes());
        let r = SourceRange::parse(&e, 0, 5);
        assert_eq!(r, SourceRange { nsid: 5, slba: 77, nlb: 10, elbt: 77, elbat: 0x1234, elbatm: 0xffff });
        let mut e = [0u8; 40];
        e[0..4].copy_from_slice(&2u32.to_le_bytes());
        e[8..16].copy_from_slice(&300u64.to_le_bytes());
        e[28..36].copy_from_slice(&0x0000_0102_0304_0506u64.to_be_bytes());
        e[36..38].copy_from_slice(&7u16.to_le_bytes());
        let r = SourceRange::parse(&e, 3, 1);
        assert_eq!((r.nsid, r.slba, r.nlb, r.elbt, r.elbat), (2, 300, 1, 0x0102_0304_0506, 7));
    }
}
