//! The Storage and Reference Space of a tuple, and the matching command fields.
//!
//! NVM Command Set 1.2 §5.3.1.4: the Storage Tag Size (STS) most significant bits of the
//! Storage and Reference Space (32, 80 or 48 bits for the 16b, 32b, 64b guard formats) are the
//! Storage Tag; the remaining least significant bits, if any, are the Logical Block Reference
//! Tag (Figure 156). With STS 0 there is no storage tag; with STS equal to the space width
//! there is no reference tag.
//!
//! A command carries the same split in one variable field, LBST/ELBST (storage tag) and
//! ILBRT/EILBRT (reference tag), laid out over Command Dwords 2, 3 and 14 (§5.3.1.4.1,
//! Figures 158-159, examples in Figures 160-165):
//!
//! | format | bits used, most significant first | width |
//! |--------|-----------------------------------|-------|
//! | 16b guard | CDW14 bits 31:0 | 32 |
//! | 32b guard | CDW2 bits 15:0, CDW3 bits 31:0, CDW14 bits 31:0 | 80 |
//! | 64b guard | CDW3 bits 15:0, CDW14 bits 31:0 | 48 |
//!
//! Other bits of CDW2/CDW3 are ignored by the controller. Linux (`nvme_set_ref_tag`) puts the
//! upper 16 bits of a 48-bit reference tag in CDW3, as this table says.

use super::format::PiFormat;
use super::guard::GuardFormat;

impl PiFormat {
    /// Splits a Storage and Reference Space value (right-aligned) into (storage tag, ref tag).
    pub(crate) const fn split_space(&self, space: u128) -> (u64, u64) {
        let storage = (space >> self.ref_tag_bits()) as u64;
        (storage & self.storage_tag_mask(), space as u64 & self.ref_tag_mask())
    }

    /// Joins (storage tag, ref tag) into a Storage and Reference Space value; bits beyond the
    /// field widths are dropped.
    pub(crate) const fn join_space(&self, storage_tag: u64, ref_tag: u64) -> u128 {
        let storage = (storage_tag & self.storage_tag_mask()) as u128;
        (storage << self.ref_tag_bits()) | (ref_tag & self.ref_tag_mask()) as u128
    }

    /// Extracts (LBST or ELBST, ILBRT or EILBRT) from a command's Dwords 2, 3 and 14, per
    /// Figure 159: 16b guard uses CDW14 only (32 bits); 32b guard uses CDW2 bits 15:0, CDW3
    /// and CDW14 (80 bits, most significant first); 64b guard uses CDW3 bits 15:0 and CDW14
    /// (48 bits). The storage tag is the most significant STS bits of that field, the
    /// reference tag the rest. Unused bits are ignored.
    pub const fn split_command_tags(&self, cdw2: u32, cdw3: u32, cdw14: u32) -> (u64, u64) {
        let cdw14 = cdw14 as u128;
        let space = match self.guard {
            GuardFormat::Crc16T10Dif => cdw14,
            GuardFormat::Crc32c => ((cdw2 as u128 & 0xFFFF) << 64) | ((cdw3 as u128) << 32) | cdw14,
            GuardFormat::Crc64Nvme => ((cdw3 as u128 & 0xFFFF) << 32) | cdw14,
        };
        self.split_space(space)
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::{PiLocation, PiType};
    use super::*;

    fn fmt(lbs: u32, guard: GuardFormat, sts: u8) -> PiFormat {
        let (ms, pi, location) = (16, Some(PiType::Type1), PiLocation::Last);
        PiFormat { lbs, ms, pi, guard, location, sts }
    }

    #[test]
    fn command_tag_split_matches_spec_examples() {
        // Figure 162: 32b guard, STS 32: CDW2[15:0] = LBST[31:16], CDW3[31:16] = LBST[15:0],
        // CDW3[15:0] = ILBRT[47:32], CDW14 = ILBRT[31:0].
        let f = fmt(4096, GuardFormat::Crc32c, 32);
        let (st, rt) = f.split_command_tags(0xFFFF_1234, 0x5678_9ABC, 0xDEF0_1357);
        assert_eq!((st, rt), (0x1234_5678, 0x9ABC_DEF0_1357));
        // Figure 164: 64b guard, STS 18: CDW3[15:0] = LBST[17:2], CDW14[31:30] = LBST[1:0],
        // CDW14[29:0] = ILBRT. CDW2 and CDW3[31:16] are ignored.
        let f = fmt(4096, GuardFormat::Crc64Nvme, 18);
        let (st, rt) = f.split_command_tags(0xFFFF_FFFF, 0xFFFF_ABCD, 0xC000_0005);
        assert_eq!((st, rt), ((0xABCD << 2) | 3, 5));
        // Figure 160: 16b guard, STS 0: CDW14 is the ILBRT, CDW2/CDW3 ignored.
        let f = fmt(512, GuardFormat::Crc16T10Dif, 0);
        assert_eq!(f.split_command_tags(0xFFFF_FFFF, 0xFFFF_FFFF, 0x1234_5678), (0, 0x1234_5678));
    }

    #[test]
    fn space_join_split_round_trip() {
        for guard in GuardFormat::ALL {
            let (min, max) = PiFormat::sts_range(guard);
            for sts in min..=max {
                let f = fmt(4096, guard, sts);
                let (st, rt) = (0xA5A5_5A5A_F0F0_0F0F & f.storage_tag_mask(), 0x1234_5678_9ABC_DEF0 & f.ref_tag_mask());
                let space = f.join_space(st, rt);
                assert!(space < 1u128 << guard.storage_ref_space_bits(), "{guard:?} sts {sts}");
                assert_eq!(f.split_space(space), (st, rt), "{guard:?} sts {sts}");
            }
        }
    }
}
