//! Encoding and decoding of one protection information tuple, as it lies in the metadata.
//!
//! All fields are big-endian (most significant byte first) on the medium and in host buffers
//! (NVM Command Set 1.2 Figures 147-151, "MSB ... LSB"):
//!
//! | format | bytes 0.. | then | then |
//! |--------|-----------|------|------|
//! | 16b guard | Guard, 2 bytes | Application Tag, 2 | Storage and Reference Space, 4 |
//! | 32b guard | Guard, 4 bytes | Application Tag, 2 | Storage and Reference Space, 10 |
//! | 64b guard | Guard, 8 bytes | Application Tag, 2 | Storage and Reference Space, 6 |
//!
//! The Storage Tag is the most significant STS bits of the Storage and Reference Space and the
//! Logical Block Reference Tag the remaining least significant bits (§5.3.1.4, Figure 156).
//! The same byte layout is used by Linux (`struct t10_pi_tuple`: be16 guard, be16 app tag,
//! be32 ref tag; `struct crc64_pi_tuple`: be64 guard, be16 app tag, 6-byte ref tag), SPDK
//! (`struct spdk_dif` g16/g32/g64, where the 32b format's reference tag is the last 8 bytes when
//! STS = 16) and QEMU (`NvmeDifTuple`).
//!
//! Not here: which tag values are expected, or checking them (`context.rs`).

use super::format::PiFormat;

/// One decoded tuple. Values are right-aligned; `storage_tag` and `ref_tag` hold only the bits
/// the format defines for them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PiTuple {
    /// Guard field (CRC).
    pub guard: u64,
    /// Application Tag field.
    pub app_tag: u16,
    /// Storage Tag field (0 when STS is 0).
    pub storage_tag: u64,
    /// Logical Block Reference Tag field (0 when no reference tag is defined).
    pub ref_tag: u64,
}

impl PiTuple {
    /// Decodes the tuple at the start of `bytes` for `format`.
    ///
    /// # Panics
    /// If `bytes` is shorter than `format.tuple_bytes()`; callers slice the tuple out of
    /// metadata whose size a validated [`PiFormat`] guarantees.
    pub fn decode(format: &PiFormat, bytes: &[u8]) -> Self {
        // The whole tuple (8 or 16 bytes) as one big-endian integer, then its fields by shifts:
        // one load instead of a loop over bytes, which matters at 512-byte blocks.
        let (n, g) = (format.tuple_bytes(), format.guard.guard_bytes());
        let short = "metadata shorter than its tuple";
        let whole = match n {
            8 => u128::from(u64::from_be_bytes(*bytes.first_chunk().expect(short))),
            _ => u128::from_be_bytes(*bytes.first_chunk().expect(short)),
        };
        let space_bits = (n - g - 2) * 8;
        let guard = (whole >> (space_bits + 16)) as u64;
        let app_tag = (whole >> space_bits) as u16;
        let (storage_tag, ref_tag) = format.split_space(whole & ((1u128 << space_bits) - 1));
        Self { guard, app_tag, storage_tag, ref_tag }
    }

    /// Encodes the tuple into the start of `out` for `format`. Bits of a value beyond its
    /// field width are dropped.
    ///
    /// # Panics
    /// If `out` is shorter than `format.tuple_bytes()`.
    pub fn encode(&self, format: &PiFormat, out: &mut [u8]) {
        let (n, g) = (format.tuple_bytes(), format.guard.guard_bytes());
        let space_bits = (n - g - 2) * 8;
        let guard = u128::from(self.guard) & ((1u128 << (g * 8)) - 1);
        let whole = (guard << (space_bits + 16))
            | (u128::from(self.app_tag) << space_bits)
            | format.join_space(self.storage_tag, self.ref_tag);
        let short = "metadata shorter than its tuple";
        match n {
            8 => *out.first_chunk_mut().expect(short) = (whole as u64).to_be_bytes(),
            _ => *out.first_chunk_mut().expect(short) = whole.to_be_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::format::{PiLocation, PiType};
    use super::super::guard::GuardFormat;
    use super::*;

    fn fmt(guard: GuardFormat, sts: u8) -> PiFormat {
        let lbs = if guard == GuardFormat::Crc16T10Dif { 512 } else { 4096 };
        PiFormat {
            lbs,
            ms: guard.tuple_bytes() as u16,
            pi: Some(PiType::Type1),
            guard,
            location: PiLocation::Last,
            sts,
        }
    }

    #[test]
    fn layout_16b_guard() {
        // Linux t10_pi_tuple: be16 guard, be16 app tag, be32 ref tag.
        let f = fmt(GuardFormat::Crc16T10Dif, 0);
        let t = PiTuple { guard: 0xD0DB, app_tag: 0x1234, storage_tag: 0, ref_tag: 0x89AB_CDEF };
        let mut b = [0u8; 8];
        t.encode(&f, &mut b);
        assert_eq!(b, [0xD0, 0xDB, 0x12, 0x34, 0x89, 0xAB, 0xCD, 0xEF]);
        assert_eq!(PiTuple::decode(&f, &b), t);
        // STS 8: the first space byte is the storage tag, the last three the ref tag.
        let f = fmt(GuardFormat::Crc16T10Dif, 8);
        let t = PiTuple { guard: 1, app_tag: 2, storage_tag: 0x5A, ref_tag: 0x00_0102 };
        t.encode(&f, &mut b);
        assert_eq!(b, [0x00, 0x01, 0x00, 0x02, 0x5A, 0x00, 0x01, 0x02]);
        assert_eq!(PiTuple::decode(&f, &b), t);
    }

    #[test]
    fn layout_32b_guard() {
        // SPDK g32: be32 guard, be16 app tag, 2 + 8 bytes of storage/ref space; with STS 16 the
        // reference tag is the last 8 bytes.
        let f = fmt(GuardFormat::Crc32c, 16);
        let t = PiTuple { guard: 0xE306_9283, app_tag: 0xBEEF, storage_tag: 0xCAFE, ref_tag: 0x0102_0304_0506_0708 };
        let mut b = [0u8; 16];
        t.encode(&f, &mut b);
        assert_eq!(b, [0xE3, 0x06, 0x92, 0x83, 0xBE, 0xEF, 0xCA, 0xFE, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(PiTuple::decode(&f, &b), t);
        // STS 64: 64-bit storage tag then a 16-bit reference tag.
        let f = fmt(GuardFormat::Crc32c, 64);
        let t = PiTuple { guard: 0, app_tag: 0, storage_tag: 0x1122_3344_5566_7788, ref_tag: 0x99AA };
        t.encode(&f, &mut b);
        assert_eq!(&b[6..], [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA]);
        assert_eq!(PiTuple::decode(&f, &b), t);
    }

    #[test]
    fn layout_64b_guard() {
        // Linux crc64_pi_tuple: be64 guard, be16 app tag, 6-byte big-endian ref tag.
        let f = fmt(GuardFormat::Crc64Nvme, 0);
        let t =
            PiTuple { guard: 0xAE8B_1486_0A79_9888, app_tag: 0xFFFE, storage_tag: 0, ref_tag: 0x0000_A1B2_C3D4_E5F6 };
        let mut b = [0u8; 16];
        t.encode(&f, &mut b);
        assert_eq!(b, [0xAE, 0x8B, 0x14, 0x86, 0x0A, 0x79, 0x98, 0x88, 0xFF, 0xFE, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6]);
        assert_eq!(PiTuple::decode(&f, &b), t);
        // STS 18 as in Figure 164: 18-bit storage tag, 30-bit reference tag.
        let f = fmt(GuardFormat::Crc64Nvme, 18);
        let t = PiTuple { guard: 0, app_tag: 0, storage_tag: 0x3_FFFF, ref_tag: 0 };
        t.encode(&f, &mut b);
        assert_eq!(&b[10..], [0xFF, 0xFF, 0xC0, 0, 0, 0]);
    }

    #[test]
    fn wide_values_are_truncated_to_their_fields() {
        let f = fmt(GuardFormat::Crc16T10Dif, 8);
        let t = PiTuple { guard: 0x1_FFFF, app_tag: 0, storage_tag: 0x1FF, ref_tag: u64::MAX };
        let mut b = [0u8; 8];
        t.encode(&f, &mut b);
        assert_eq!(
            PiTuple::decode(&f, &b),
            PiTuple { guard: 0xFFFF, app_tag: 0, storage_tag: 0xFF, ref_tag: 0xFF_FFFF }
        );
    }

    #[test]
    fn random_round_trip_every_sts() {
        let mut x = 0x0123_4567_89AB_CDEFu64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for guard in GuardFormat::ALL {
            let (min, max) = PiFormat::sts_range(guard);
            for sts in min..=max {
                let f = fmt(guard, sts);
                let guard_mask =
                    if guard.guard_bytes() == 8 { u64::MAX } else { (1u64 << (guard.guard_bytes() * 8)) - 1 };
                for _ in 0..8 {
                    let t = PiTuple {
                        guard: next() & guard_mask,
                        app_tag: next() as u16,
                        storage_tag: next() & f.storage_tag_mask(),
                        ref_tag: next() & f.ref_tag_mask(),
                    };
                    let mut b = [0u8; 16];
                    t.encode(&f, &mut b);
                    assert_eq!(PiTuple::decode(&f, &b), t, "{guard:?} sts {sts}");
                    assert!(b[f.tuple_bytes()..].iter().all(|&v| v == 0), "wrote past the tuple");
                }
            }
        }
    }
}
