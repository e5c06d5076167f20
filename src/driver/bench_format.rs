//! The namespace formats `vnvme bench io` measures, and what the host side of each
//! sends: PRINFO, a separate metadata buffer with valid PI, or data only.

#![forbid(unsafe_code)]

use crate::pi::GuardFormat;

/// One benchmark format: the namespace (as `--ns` keys give it) and the PI
/// handling of its commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchFormat {
    pub name: &'static str,
    pub lbs: u32,
    pub ms: u16,
    /// Protection Information Format (0 16b guard, 2 64b guard).
    pub pif: u8,
    /// PI type (0 none).
    pub pi: u8,
    /// Extended LBA (metadata interleaved in the host buffer).
    pub extended: bool,
    /// PRACT: the device inserts PI on writes and strips it on reads.
    pub pract: bool,
    /// PRCHK guard and reference tag.
    pub check: bool,
}

#[allow(clippy::too_many_arguments)]
const fn f(
    name: &'static str,
    lbs: u32,
    ms: u16,
    pif: u8,
    pi: u8,
    extended: bool,
    pract: bool,
    check: bool,
) -> BenchFormat {
    BenchFormat { name, lbs, ms, pif, pi, extended, pract, check }
}

/// Every format the benchmark knows, in table order.
pub const FORMATS: [BenchFormat; 7] = [
    f("512", 512, 0, 0, 0, false, false, false),
    f("4096", 4096, 0, 0, 0, false, false, false),
    f("512+8-t1", 512, 8, 0, 1, false, false, true),
    f("512+8-t1-nochk", 512, 8, 0, 1, false, false, false),
    f("4096+16-64b", 4096, 16, 2, 1, false, false, true),
    f("4096+16-64b-nochk", 4096, 16, 2, 1, false, false, false),
    f("512+8-ext-pract", 512, 8, 0, 1, true, true, true),
];

pub fn by_name(name: &str) -> Result<BenchFormat, String> {
    FORMATS.iter().copied().find(|f| f.name == name).ok_or_else(|| {
        let names: Vec<_> = FORMATS.iter().map(|f| f.name).collect();
        format!("unknown format {name:?}; known: {}", names.join(", "))
    })
}

impl BenchFormat {
    /// PRINFO (CDW12 bits 29:26) for every command of this format.
    pub fn prinfo_cdw12(&self) -> u32 {
        let mut p = 0u32;
        if self.pract {
            p |= 0b1000;
        }
        if self.check {
            p |= 0b0101; // guard and reference tag
        }
        p << 26
    }

    /// Metadata bytes per block the host transfers in a separate buffer (none for
    /// PRACT with PI-sized metadata, or for an extended LBA).
    pub fn host_md_per_block(&self) -> usize {
        if self.ms == 0 || self.extended || self.pract {
            0
        } else {
            self.ms as usize
        }
    }

    /// Bytes per block in the host data buffer.
    pub fn host_data_per_block(&self) -> usize {
        if self.extended && !self.pract {
            self.lbs as usize + self.ms as usize
        } else {
            self.lbs as usize
        }
    }

    fn guard(&self) -> GuardFormat {
        if self.pif == 2 {
            GuardFormat::Crc64Nvme
        } else {
            GuardFormat::Crc16T10Dif
        }
    }

    /// Separate metadata for `data` (whole blocks) written at LBA 0: the guard of
    /// each block, application tag 0, reference tag = block index (Type 1).
    /// [`set_ref_tags`](Self::set_ref_tags) moves it to another LBA.
    pub fn md_template(&self, data: &[u8]) -> Vec<u8> {
        let per = self.host_md_per_block();
        let lbs = self.lbs as usize;
        let mut md = vec![0u8; data.len() / lbs * per];
        if per == 0 {
            return md;
        }
        let g = self.guard();
        for (block, tuple) in data.chunks_exact(lbs).zip(md.chunks_exact_mut(per)) {
            let gb = g.guard_bytes();
            tuple[..gb].copy_from_slice(&g.compute(block, &[]).to_be_bytes()[8 - gb..]);
        }
        self.set_ref_tags(&mut md, 0);
        md
    }

    /// Rewrite the reference tags of separate metadata for a command at `slba`
    /// (Type 1: block i carries the low bits of slba + i).
    pub fn set_ref_tags(&self, md: &mut [u8], slba: u64) {
        let per = self.host_md_per_block();
        if per == 0 {
            return;
        }
        let at = self.guard().guard_bytes() + 2;
        // Storage and Reference Space (STS 0: all reference tag): 4 bytes, 6 with the 64b guard.
        let width = self.guard().storage_ref_space_bits() as usize / 8;
        for (i, tuple) in md.chunks_exact_mut(per).enumerate() {
            let r = (slba + i as u64).to_be_bytes();
            tuple[at..at + width].copy_from_slice(&r[8 - width..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pi::{Layout, PiChecks, PiContext, PiFormat, PiType};

    /// The host's metadata passes the device's own PI check at the LBA it was made for.
    #[test]
    fn host_metadata_verifies_where_it_is_written() {
        for name in ["512+8-t1", "4096+16-64b"] {
            let bf = by_name(name).unwrap();
            let data: Vec<u8> = (0..bf.lbs as usize * 8).map(|i| (i * 7 + i / 13) as u8).collect();
            let mut md = bf.md_template(&data);
            let slba = 0x1_2345;
            bf.set_ref_tags(&mut md, slba);
            let format = PiFormat {
                lbs: bf.lbs,
                ms: bf.ms,
                guard: bf.guard(),
                pi: Some(PiType::Type1),
                location: crate::pi::PiLocation::Last,
                sts: 0,
            };
            let checks = PiChecks { guard: true, app_tag: false, ref_tag: true, storage_tag: false };
            let ctx = PiContext::new(format, checks, slba, 0, 0, 0, slba).unwrap();
            ctx.verify(Layout::Separate { data: &data, md: &md }).unwrap_or_else(|e| panic!("{name}: {e}"));
            let wrong = PiContext::new(format, checks, slba + 1, 0, 0, 0, slba + 1).unwrap();
            assert!(wrong.verify(Layout::Separate { data: &data, md: &md }).is_err(), "{name}: ref tags ignored");
        }
    }

    #[test]
    fn prinfo_bits() {
        assert_eq!(by_name("512").unwrap().prinfo_cdw12(), 0);
        assert_eq!(by_name("512+8-t1").unwrap().prinfo_cdw12(), 0b0101 << 26);
        assert_eq!(by_name("512+8-ext-pract").unwrap().prinfo_cdw12(), 0b1101 << 26);
        assert_eq!(by_name("512+8-ext-pract").unwrap().host_md_per_block(), 0);
        assert!(by_name("nope").is_err());
    }
}
