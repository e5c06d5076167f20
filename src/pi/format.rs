//! The protection information format of a namespace: block and metadata sizes, PI type, guard
//! format, where the tuple sits in the metadata, and how its Storage and Reference Space splits.
//!
//! Sources (NVM Command Set 1.2 unless noted):
//! - PI type: DPS field of Identify Namespace (Figure 114), bits 2:0 (Type 1, 2, 3); bit 3 (PIP)
//!   set means the tuple is in the first bytes of the metadata, cleared means the last bytes.
//! - Tuple sizes: §5.3.1.1-§5.3.1.3, Figures 147-151 (8 bytes for 16b guard, 16 for 32b/64b).
//! - The 32b and 64b formats "shall only be available to namespaces that have a logical block
//!   size ... greater than or equal to 4 KiB" (§5.3.1.2, §5.3.1.3); SPDK's `spdk_dif_ctx_init`
//!   enforces the same (4 KiB multiple for those formats).
//! - Storage Tag Size (STS, Figure 119): the STS most significant bits of the Storage and
//!   Reference Space are the Storage Tag, the rest the Logical Block Reference Tag (§5.3.1.4,
//!   Figure 156). Allowed STS per format, Figure 157: 16b guard 0..=32, 32b guard 16..=64,
//!   64b guard 0..=48, i.e. reference tag widths 32..=0, 64..=16, 48..=0 bits.
//!
//! Not here: the split itself and the command fields (`storage_ref.rs`), Identify structure
//! parsing (spec/), the QPIF indirection of PIF 3.

use super::guard::GuardFormat;
use std::fmt;

/// End-to-end protection type (DPS bits 2:0; SBC-4 Types 1-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiType {
    /// Reference tag = ILBRT/EILBRT (which must equal the SLBA low bits), incremented per block.
    Type1,
    /// Reference tag = ILBRT/EILBRT, incremented per block, not tied to the LBA.
    Type2,
    /// Reference tag not checked and not incremented.
    Type3,
}

impl PiType {
    /// All three types.
    pub const ALL: [PiType; 3] = [Self::Type1, Self::Type2, Self::Type3];

    /// Decodes the PI type bits (DPS bits 2:0): 0 is "not protected", 1-3 a type, 4-7 reserved.
    pub const fn from_dps(dps: u8) -> Result<Option<Self>, FormatError> {
        match dps & 0x7 {
            0 => Ok(None),
            1 => Ok(Some(Self::Type1)),
            2 => Ok(Some(Self::Type2)),
            3 => Ok(Some(Self::Type3)),
            pit => Err(FormatError::ReservedPiType { pit }),
        }
    }

    /// The DPS bits 2:0 value of this type.
    pub const fn dps_bits(self) -> u8 {
        match self {
            Self::Type1 => 1,
            Self::Type2 => 2,
            Self::Type3 => 3,
        }
    }
}

/// Where the tuple sits within the metadata of each block (DPS bit 3, PIP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiLocation {
    /// First bytes of metadata (PIP = 1). The guard covers the data only.
    First,
    /// Last bytes of metadata (PIP = 0). The guard covers the data and the metadata before it.
    Last,
}

impl PiLocation {
    /// Decodes DPS bit 3.
    pub const fn from_dps(dps: u8) -> Self {
        if dps & 0x8 != 0 {
            Self::First
        } else {
            Self::Last
        }
    }
}

/// A namespace's LBA format as the PI code needs it. Plain data; call [`PiFormat::validate`]
/// (the context constructor does) before relying on the derived sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PiFormat {
    /// Logical block data size in bytes (2^LBADS).
    pub lbs: u32,
    /// Metadata size per block in bytes (MS).
    pub ms: u16,
    /// Protection type, `None` when the namespace is not formatted with PI.
    pub pi: Option<PiType>,
    /// Protection information format (PIF).
    pub guard: GuardFormat,
    /// Tuple position within the metadata (DPS.PIP).
    pub location: PiLocation,
    /// Storage Tag Size in bits (STS).
    pub sts: u8,
}

/// Why a [`PiFormat`] cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The logical block size is not a power of two of at least 512 bytes (LBADS >= 9).
    BlockSize { lbs: u32 },
    /// The 32b and 64b guard formats need a logical block size of at least 4 KiB.
    BlockTooSmallForGuard { guard: GuardFormat, lbs: u32 },
    /// The metadata cannot hold the tuple.
    MetadataTooSmall { ms: u16, tuple_bytes: usize },
    /// STS outside the range of Figure 157 for this guard format.
    StorageTagSize { guard: GuardFormat, sts: u8, min: u8, max: u8 },
    /// DPS bits 2:0 hold a reserved value.
    ReservedPiType { pit: u8 },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BlockSize { lbs } => {
                write!(f, "logical block size {lbs} is not a power of two >= 512")
            }
            Self::BlockTooSmallForGuard { guard, lbs } => {
                write!(f, "{} needs a logical block size >= 4096 (NVM CS 5.3.1), got {lbs}", guard.name())
            }
            Self::MetadataTooSmall { ms, tuple_bytes } => {
                write!(f, "metadata size {ms} cannot hold a {tuple_bytes}-byte protection information tuple")
            }
            Self::StorageTagSize { guard, sts, min, max } => {
                write!(f, "storage tag size {sts} outside {min}..={max} for {} (NVM CS Figure 157)", guard.name())
            }
            Self::ReservedPiType { pit } => write!(f, "reserved protection type {pit} in DPS"),
        }
    }
}

impl std::error::Error for FormatError {}

impl PiFormat {
    /// The STS range Figure 157 allows for `guard`.
    pub const fn sts_range(guard: GuardFormat) -> (u8, u8) {
        match guard {
            GuardFormat::Crc16T10Dif => (0, 32),
            GuardFormat::Crc32c => (16, 64),
            GuardFormat::Crc64Nvme => (0, 48),
        }
    }

    /// Checks the format against the rules listed in the module docs. A format without PI only
    /// needs a valid block size.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.lbs < 512 || !self.lbs.is_power_of_two() {
            return Err(FormatError::BlockSize { lbs: self.lbs });
        }
        if self.pi.is_none() {
            return Ok(());
        }
        if self.guard != GuardFormat::Crc16T10Dif && self.lbs < 4096 {
            return Err(FormatError::BlockTooSmallForGuard { guard: self.guard, lbs: self.lbs });
        }
        self.validate_tuple_fits()
    }

    /// The checks that do not depend on the block size (used by the benchmark, which also
    /// measures the spec-invalid 512-byte blocks with 32b/64b guards for comparison).
    pub(crate) fn validate_tuple_fits(&self) -> Result<(), FormatError> {
        let tuple_bytes = self.tuple_bytes();
        if usize::from(self.ms) < tuple_bytes {
            return Err(FormatError::MetadataTooSmall { ms: self.ms, tuple_bytes });
        }
        let (min, max) = Self::sts_range(self.guard);
        if self.sts < min || self.sts > max {
            return Err(FormatError::StorageTagSize { guard: self.guard, sts: self.sts, min, max });
        }
        Ok(())
    }

    /// Size of the PI tuple in bytes.
    pub const fn tuple_bytes(&self) -> usize {
        self.guard.tuple_bytes()
    }

    /// Byte offset of the tuple within each block's metadata.
    pub const fn tuple_offset(&self) -> usize {
        match self.location {
            PiLocation::First => 0,
            PiLocation::Last => self.ms as usize - self.tuple_bytes(),
        }
    }

    /// How many metadata bytes the guard covers after the data: those before the tuple (§5.3).
    pub const fn guard_md_bytes(&self) -> usize {
        self.tuple_offset()
    }

    /// Bytes of one block in an interleaved (extended LBA) buffer.
    pub const fn extended_block_bytes(&self) -> usize {
        self.lbs as usize + self.ms as usize
    }

    /// Width of the Storage Tag field in bits (= STS).
    pub const fn storage_tag_bits(&self) -> u32 {
        self.sts as u32
    }

    /// Width of the Logical Block Reference Tag in bits (16b: 32-STS, 32b: 80-STS, 64b: 48-STS);
    /// 0 means no reference tag is defined.
    pub const fn ref_tag_bits(&self) -> u32 {
        self.guard.storage_ref_space_bits().saturating_sub(self.sts as u32)
    }

    /// Mask of the valid reference tag bits.
    pub const fn ref_tag_mask(&self) -> u64 {
        low_bits(self.ref_tag_bits())
    }

    /// Mask of the valid storage tag bits.
    pub const fn storage_tag_mask(&self) -> u64 {
        low_bits(self.storage_tag_bits())
    }
}

/// A mask of the low `bits` bits (`bits` may be 0..=64).
pub(crate) const fn low_bits(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(lbs: u32, ms: u16, guard: GuardFormat, location: PiLocation, sts: u8) -> PiFormat {
        PiFormat { lbs, ms, pi: Some(PiType::Type1), guard, location, sts }
    }

    #[test]
    fn validation_errors() {
        use FormatError::*;
        use GuardFormat::*;
        use PiLocation::*;
        let sts_err = |guard, sts, min, max| StorageTagSize { guard, sts, min, max };
        let cases = [
            (fmt(512, 8, Crc16T10Dif, Last, 0), None),
            (fmt(4096, 16, Crc64Nvme, First, 48), None),
            (fmt(4096, 16, Crc32c, Last, 16), None),
            (fmt(520, 8, Crc16T10Dif, Last, 0), Some(BlockSize { lbs: 520 })),
            (fmt(512, 16, Crc64Nvme, Last, 0), Some(BlockTooSmallForGuard { guard: Crc64Nvme, lbs: 512 })),
            (fmt(4096, 8, Crc32c, Last, 16), Some(MetadataTooSmall { ms: 8, tuple_bytes: 16 })),
            (fmt(512, 8, Crc16T10Dif, Last, 33), Some(sts_err(Crc16T10Dif, 33, 0, 32))),
            (fmt(4096, 16, Crc32c, Last, 15), Some(sts_err(Crc32c, 15, 16, 64))),
            (fmt(4096, 16, Crc32c, Last, 65), Some(sts_err(Crc32c, 65, 16, 64))),
            (fmt(4096, 16, Crc64Nvme, Last, 49), Some(sts_err(Crc64Nvme, 49, 0, 48))),
        ];
        for (f, want) in cases {
            assert_eq!(f.validate().err(), want, "{f:?}");
        }
        // Without PI only the block size matters.
        let mut none = fmt(4096, 0, Crc64Nvme, Last, 0);
        none.pi = None;
        assert_eq!(none.validate(), Ok(()));
    }

    #[test]
    fn derived_sizes() {
        use GuardFormat::*;
        let f = fmt(512, 64, Crc16T10Dif, PiLocation::Last, 8);
        assert_eq!((f.tuple_bytes(), f.tuple_offset(), f.guard_md_bytes()), (8, 56, 56));
        assert_eq!((f.ref_tag_bits(), f.ref_tag_mask(), f.storage_tag_mask()), (24, 0xFF_FFFF, 0xFF));
        assert_eq!(f.extended_block_bytes(), 576);
        let f = fmt(4096, 64, Crc64Nvme, PiLocation::First, 0);
        assert_eq!((f.tuple_offset(), f.guard_md_bytes(), f.ref_tag_bits()), (0, 0, 48));
        let f = fmt(4096, 16, Crc32c, PiLocation::Last, 16);
        assert_eq!((f.ref_tag_bits(), f.ref_tag_mask()), (64, u64::MAX));
        let f = fmt(4096, 16, Crc32c, PiLocation::Last, 64);
        assert_eq!((f.ref_tag_bits(), f.storage_tag_mask()), (16, u64::MAX));
        let f = fmt(512, 8, Crc16T10Dif, PiLocation::Last, 32);
        assert_eq!((f.ref_tag_bits(), f.ref_tag_mask()), (0, 0));
    }

    #[test]
    fn dps_decoding() {
        assert_eq!(PiType::from_dps(0x0), Ok(None));
        assert_eq!(PiType::from_dps(0x9), Ok(Some(PiType::Type1)));
        assert_eq!(PiType::from_dps(0x3), Ok(Some(PiType::Type3)));
        assert_eq!(PiType::from_dps(0x5), Err(FormatError::ReservedPiType { pit: 5 }));
        assert_eq!(PiLocation::from_dps(0x9), PiLocation::First);
        assert_eq!(PiLocation::from_dps(0x1), PiLocation::Last);
        for t in PiType::ALL {
            assert_eq!(PiType::from_dps(t.dps_bits()), Ok(Some(t)));
        }
    }
}
