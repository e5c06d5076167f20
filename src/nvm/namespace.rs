//! A namespace: a backing store, the LBA formats it advertises, and the format and
//! end-to-end protection settings in force (changed only by Format NVM).

use crate::pi::{FormatError, PiType};
use crate::storage::{BlockStore, ImageLayout};
use std::sync::{Arc, RwLock};

/// One advertised LBA format (NVM-CS Figure 98 LBAF plus the ELBAF fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbaFormat {
    /// Logical block size in bytes (a power of two, >= 512).
    pub lbs: u32,
    /// Metadata bytes per block.
    pub ms: u16,
    /// Protection Information Format: 0 16b guard, 1 32b guard, 2 64b guard.
    pub pif: u8,
    /// Storage Tag Size in bits.
    pub sts: u8,
}

impl LbaFormat {
    pub fn lbads(&self) -> u8 {
        self.lbs.trailing_zeros() as u8
    }
    /// Bytes of the PI tuple for this format's guard (NVM-CS 5.3.1).
    pub fn pi_size(&self) -> u16 {
        if self.pif == 0 {
            8
        } else {
            16
        }
    }
}

/// End-to-end Data Protection Type Settings (DPS, NVM-CS Figure 97 byte 29).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protection {
    /// Protection Information Type (DPS bits 2:0); None when formatted without PI.
    pub pi_type: Option<PiType>,
    /// PI in the first bytes of the metadata (DPS bit 3) rather than the last.
    pub pi_first: bool,
}

impl Protection {
    /// Formatted without PI.
    pub const NONE: Protection = Protection { pi_type: None, pi_first: false };

    /// From a PIT number (0 = no PI, 1-3) as `--ns pi=`, Format NVM and Namespace Management give
    /// it; a reserved type (4-7) is refused.
    pub fn new(pit: u8, pi_first: bool) -> Result<Self, FormatError> {
        Ok(Protection { pi_type: PiType::from_dps(pit)?, pi_first })
    }

    /// The PIT number: 0 for no PI, else the type.
    pub fn pit(&self) -> u8 {
        self.pi_type.map_or(0, PiType::dps_bits)
    }

    /// The DPS byte: PIT in bits 2:0, PI first in bit 3.
    pub fn dps(&self) -> u8 {
        self.pit() | (self.pi_first as u8) << 3
    }
}

/// The namespace's current format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveFormat {
    pub index: u8,
    pub lbaf: LbaFormat,
    /// Extended LBA: metadata interleaved with data in the host buffer (mset=1).
    pub extended: bool,
    pub protection: Protection,
    pub layout: ImageLayout,
}

impl ActiveFormat {
    pub fn lbs(&self) -> u64 {
        self.lbaf.lbs as u64
    }
    pub fn ms(&self) -> u64 {
        self.lbaf.ms as u64
    }
    pub fn nlbas(&self) -> u64 {
        self.layout.nlbas
    }
    pub fn has_pi(&self) -> bool {
        self.protection.pi_type.is_some()
    }
}

pub struct Namespace {
    pub nsid: u32,
    pub store: Arc<dyn BlockStore>,
    pub formats: Vec<LbaFormat>,
    /// Read by every I/O command, written by Format NVM (which holds the write lock
    /// while the medium is re-laid out).
    pub active: RwLock<ActiveFormat>,
    /// Globally unique identifiers (NVMe-Base 4.7.1): from the image's `.ids`
    /// sidecar ([`with_ids`](Self::with_ids)), else derived from the seed.
    pub eui64: [u8; 8],
    pub nguid: [u8; 16],
    pub uuid: [u8; 16],
    /// Namespace Multi-path I/O and Namespace Sharing Capabilities (NMIC bit 0:
    /// may be attached to more than one controller), as created.
    pub nmic: u8,
    /// Blocks marked by Write Uncorrectable.
    pub uncorrectable: super::uncorrectable_marks::UncorrectableMap,
    /// Range locks: a block is read and written whole, data with metadata.
    pub locks: super::block_locks::BlockLocks,
    /// Intents of commands changing blocks, so a crash never parts a block's data
    /// from its metadata ([`super::intent_log`]); none for in-memory stores.
    pub intents: super::intent_log::IntentLog,
    pub counters: crate::counters::NsCounters,
    /// The zones of a zoned namespace (CSI 02h); None for a conventional one.
    pub zoned: Option<Arc<super::zoned::Zones>>,
}

/// The formats every namespace offers: QEMU's eight (512 and 4096 bytes with 0, 8,
/// 16 and 64 bytes of metadata), in QEMU's order so format indexes match, with the
/// 16-byte-or-larger metadata formats carrying `pif`.
pub fn standard_formats(pif: u8, sts: u8) -> Vec<LbaFormat> {
    let mut v = Vec::new();
    for lbs in [512u32, 4096] {
        for ms in [0u16, 8, 16, 64] {
            let (p, s) = if ms >= 16 { (pif, sts) } else { (0, if ms >= 8 { sts.min(32) } else { 0 }) };
            v.push(LbaFormat { lbs, ms, pif: p, sts: s });
        }
    }
    v
}

impl Namespace {
    /// The I/O command set the namespace belongs to: Zoned Namespace (02h) for a
    /// zoned one, NVM (00h) otherwise (the CSI descriptor of Identify CNS 03h).
    pub fn csi(&self) -> u8 {
        if self.zoned.is_some() {
            crate::spec::zns::CSI_ZNS
        } else {
            crate::spec::identify::CSI_NVM
        }
    }

    pub fn new(
        nsid: u32,
        store: Arc<dyn BlockStore>,
        formats: Vec<LbaFormat>,
        index: u8,
        extended: bool,
        protection: Protection,
        ident_seed: u64,
    ) -> Self {
        let lbaf = formats[index as usize];
        let layout = ImageLayout::new(store.size(), lbaf.lbs as u64, lbaf.ms as u64);
        store.set_metadata_start(layout.meta_offset(0));
        let h = ident_seed ^ (nsid as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut eui64 = h.to_be_bytes();
        eui64[0] = 0x52; // a locally administered, non-zero first byte
        let mut nguid = [0u8; 16];
        nguid[..8].copy_from_slice(&eui64);
        nguid[8..].copy_from_slice(&h.rotate_left(29).to_be_bytes());
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&h.rotate_left(13).to_be_bytes());
        uuid[8..].copy_from_slice(&h.rotate_left(41).to_be_bytes());
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        Namespace {
            nsid,
            store,
            formats,
            active: RwLock::new(ActiveFormat { index, lbaf, extended, protection, layout }),
            eui64,
            nguid,
            uuid,
            nmic: 0,
            uncorrectable: Default::default(),
            locks: Default::default(),
            intents: Default::default(),
            counters: Default::default(),
            zoned: None,
        }
    }

    /// Make this a zoned namespace with `zones`.
    pub fn with_zones(mut self, zones: super::zoned::Zones) -> Self {
        self.zoned = Some(Arc::new(zones));
        self
    }

    /// The blocks a command may address (NSZE): the format's, or for a zoned
    /// namespace its whole zones (the image's tail past the last zone is unused,
    /// as in QEMU's device).
    pub fn blocks(&self, f: &ActiveFormat) -> u64 {
        self.zoned.as_ref().map_or(f.nlbas(), |z| z.blocks())
    }

    /// Keep Write Uncorrectable marks in `map` (loaded from beside the image).
    pub fn with_uncorrectable(mut self, map: super::uncorrectable_marks::UncorrectableMap) -> Self {
        self.uncorrectable = map;
        self
    }

    /// Record intents in `log` (kept beside the image).
    pub fn with_intent_log(mut self, log: super::intent_log::IntentLog) -> Self {
        self.intents = log;
        self
    }

    /// Use identifiers kept with the image instead of the seed-derived ones.
    pub fn with_ids(mut self, ids: super::ns_ids::NsIds) -> Self {
        self.eui64 = ids.eui64;
        self.nguid = ids.nguid;
        self.uuid = ids.uuid;
        self
    }

    pub fn with_nmic(mut self, nmic: u8) -> Self {
        self.nmic = nmic;
        self
    }

    pub fn ids(&self) -> super::ns_ids::NsIds {
        super::ns_ids::NsIds { nguid: self.nguid, eui64: self.eui64, uuid: self.uuid }
    }

    pub fn format(&self) -> ActiveFormat {
        *self.active.read().unwrap()
    }
}
