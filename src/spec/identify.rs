//! Byte offsets of the Identify data structures and a small little-endian writer.
//!
//! Offsets are those of NVMe-Base 2.1 section 5.1.13.2 (Identify Controller,
//! Namespace Identification Descriptor list, I/O Command Set data structure,
//! I/O Command Set Independent Identify Namespace) and NVM-CS 1.1 section 4.1.5
//! (Identify Namespace, NVM-specific Identify Namespace and Identify Controller).

/// Identify CNS values (NVMe-Base Figure 310).
pub mod cns {
    pub const NAMESPACE: u8 = 0x00;
    pub const CONTROLLER: u8 = 0x01;
    pub const ACTIVE_NS_LIST: u8 = 0x02;
    pub const NS_ID_DESCRIPTORS: u8 = 0x03;
    pub const CSI_NAMESPACE: u8 = 0x05;
    pub const CSI_CONTROLLER: u8 = 0x06;
    pub const CSI_ACTIVE_NS_LIST: u8 = 0x07;
    pub const CS_INDEPENDENT_NAMESPACE: u8 = 0x08;
    pub const ALLOCATED_NS_LIST: u8 = 0x10;
    pub const ALLOCATED_NAMESPACE: u8 = 0x11;
    pub const NS_ATTACHED_CONTROLLER_LIST: u8 = 0x12;
    pub const CONTROLLER_LIST: u8 = 0x13;
    pub const CSI_ALLOCATED_NS_LIST: u8 = 0x1a;
    pub const CSI_ALLOCATED_NAMESPACE: u8 = 0x1b;
    pub const IO_COMMAND_SET: u8 = 0x1c;
}

/// Command Set Identifier for the NVM command set.
pub const CSI_NVM: u8 = 0x00;

/// Identify Controller (NVMe-Base Figure 312).
pub mod ctrl {
    pub const VID: usize = 0;
    pub const SSVID: usize = 2;
    pub const SN: usize = 4; // 20 bytes, ASCII, space padded
    pub const MN: usize = 24; // 40 bytes
    pub const FR: usize = 64; // 8 bytes
    pub const RAB: usize = 72;
    pub const IEEE: usize = 73; // 3 bytes
    pub const CMIC: usize = 76;
    pub const MDTS: usize = 77;
    pub const CNTLID: usize = 78;
    pub const VER: usize = 80;
    pub const RTD3R: usize = 84;
    pub const RTD3E: usize = 88;
    pub const OAES: usize = 92;
    pub const CTRATT: usize = 96;
    pub const CNTRLTYPE: usize = 111;
    pub const OACS: usize = 256;
    pub const ACL: usize = 258;
    pub const AERL: usize = 259;
    pub const FRMW: usize = 260;
    pub const LPA: usize = 261;
    pub const ELPE: usize = 262;
    pub const NPSS: usize = 263;
    pub const APSTA: usize = 265;
    pub const WCTEMP: usize = 266;
    pub const CCTEMP: usize = 268;
    pub const HMPRE: usize = 272;
    pub const TNVMCAP: usize = 280; // 16 bytes
    pub const UNVMCAP: usize = 296; // 16 bytes
    pub const KAS: usize = 320;
    pub const SANICAP: usize = 328;
    pub const SQES: usize = 512;
    pub const CQES: usize = 513;
    pub const MAXCMD: usize = 514;
    pub const NN: usize = 516;
    pub const ONCS: usize = 520;
    pub const FUSES: usize = 522;
    pub const FNA: usize = 524;
    pub const VWC: usize = 525;
    pub const AWUN: usize = 526;
    pub const AWUPF: usize = 528;
    pub const OCFS: usize = 534;
    pub const SGLS: usize = 536;
    pub const MNAN: usize = 540;
    pub const SUBNQN: usize = 768; // 256 bytes
    pub const PSD0: usize = 2048; // 32 bytes per power state

    /// OACS bits.
    pub const OACS_FORMAT_NVM: u16 = 1 << 1;
    pub const OACS_NS_MANAGEMENT: u16 = 1 << 3;
    pub const OACS_DOORBELL_BUFFER_CONFIG: u16 = 1 << 8;
    /// ONCS bits (NVMe-Base Figure 312, ONCS).
    pub const ONCS_COMPARE: u16 = 1 << 0;
    pub const ONCS_WRITE_UNCORRECTABLE: u16 = 1 << 1;
    pub const ONCS_DSM: u16 = 1 << 2;
    pub const ONCS_WRITE_ZEROES: u16 = 1 << 3;
    pub const ONCS_SAVE_SELECT: u16 = 1 << 4;
    pub const ONCS_TIMESTAMP: u16 = 1 << 6;
    pub const ONCS_VERIFY: u16 = 1 << 7;
    pub const ONCS_COPY: u16 = 1 << 8;
    /// CTRATT bit 15: Extended LBA Formats Supported.
    pub const CTRATT_ELBAS: u32 = 1 << 15;
    /// LPA bits: 0 SMART per namespace, 1 commands supported and effects,
    /// 2 extended data for Get Log Page, 5 supported log pages (LID 0).
    pub const LPA_CSE: u8 = 1 << 1;
    pub const LPA_EXTENDED: u8 = 1 << 2;
    pub const LPA_SUPPORTED_LOGS: u8 = 1 << 5;
}

/// NVM Identify Namespace (NVM-CS Figure 97).
pub mod ns {
    pub const NSZE: usize = 0;
    pub const NCAP: usize = 8;
    pub const NUSE: usize = 16;
    pub const NSFEAT: usize = 24;
    pub const NLBAF: usize = 25;
    pub const FLBAS: usize = 26;
    pub const MC: usize = 27;
    pub const DPC: usize = 28;
    pub const DPS: usize = 29;
    pub const NMIC: usize = 30;
    pub const DLFEAT: usize = 33;
    pub const NOIOB: usize = 46;
    pub const NVMCAP: usize = 48; // 16 bytes
    pub const NPWG: usize = 64;
    pub const NPWA: usize = 66;
    pub const NPDG: usize = 68;
    pub const NPDA: usize = 70;
    pub const NOWS: usize = 72;
    pub const MSSRL: usize = 74;
    pub const MCL: usize = 76;
    pub const MSRC: usize = 80;
    pub const NULBAF: usize = 82;
    pub const NSATTR: usize = 99;
    pub const NGUID: usize = 104;
    pub const EUI64: usize = 120;
    pub const LBAF0: usize = 128; // 4 bytes each: MS 15:0, LBADS 23:16, RP 25:24

    /// MC: metadata capabilities.
    pub const MC_EXTENDED: u8 = 1 << 0;
    pub const MC_SEPARATE: u8 = 1 << 1;
    /// DPC: end-to-end data protection capabilities.
    pub const DPC_TYPE1: u8 = 1 << 0;
    pub const DPC_TYPE2: u8 = 1 << 1;
    pub const DPC_TYPE3: u8 = 1 << 2;
    pub const DPC_FIRST: u8 = 1 << 3;
    pub const DPC_LAST: u8 = 1 << 4;
    /// NSFEAT bit 4: NPWG/NPWA/NPDG/NPDA/NOWS are valid.
    pub const NSFEAT_OPTPERF: u8 = 1 << 4;
    /// DLFEAT: deallocated blocks read as zeroes (bits 2:0 = 001b); bit 3: Write
    /// Zeroes can deallocate.
    pub const DLFEAT_READ_ZEROES: u8 = 0x01;
    pub const DLFEAT_WZ_DEALLOCATE: u8 = 1 << 3;
}

/// NVM Command Set Specific Identify Namespace (CNS 05h, CSI 00h; NVM-CS Figure 114).
pub mod nvm_ns {
    pub const LBSTM: usize = 0;
    pub const PIC: usize = 8;
    pub const ELBAF0: usize = 12; // 4 bytes each: STS 6:0, PIF 8:7
}

/// NVM Command Set Specific Identify Controller (CNS 06h, CSI 00h; NVM-CS Figure 116).
pub mod nvm_ctrl {
    pub const VSL: usize = 0;
    pub const WZSL: usize = 1;
    pub const WUSL: usize = 2;
    pub const DMRL: usize = 3;
    pub const DMRSL: usize = 4;
    pub const DMSL: usize = 8;
}

/// I/O Command Set Independent Identify Namespace (CNS 08h; NVMe-Base Figure 319).
pub mod indep_ns {
    pub const NSFEAT: usize = 0;
    pub const NMIC: usize = 1;
    pub const NSTAT: usize = 14;
}

/// Controller List data structure (NVMe-Base 2.1 section 4.4.1, used by Identify CNS 12h/13h
/// and Namespace Attachment): a count, then up to 2047 controller IDs.
pub mod ctrl_list {
    pub const NUMBER: usize = 0;
    pub const FIRST_ID: usize = 2;
    pub const MAX_IDS: usize = 2047;
}

/// Namespace Identification Descriptor types (NVMe-Base Figure 315).
pub mod nid {
    pub const EUI64: u8 = 1;
    pub const NGUID: u8 = 2;
    pub const UUID: u8 = 3;
    pub const CSI: u8 = 4;
}

/// A 4 KiB data structure under construction.
pub struct Page4k(pub Box<[u8; 4096]>);

impl Default for Page4k {
    fn default() -> Self {
        Page4k(Box::new([0u8; 4096]))
    }
}

impl Page4k {
    pub fn u8(&mut self, off: usize, v: u8) -> &mut Self {
        self.0[off] = v;
        self
    }
    pub fn u16(&mut self, off: usize, v: u16) -> &mut Self {
        self.0[off..off + 2].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, off: usize, v: &[u8]) -> &mut Self {
        self.0[off..off + v.len()].copy_from_slice(v);
        self
    }
    /// An ASCII field padded with spaces, as SN/MN/FR require.
    pub fn ascii(&mut self, off: usize, len: usize, s: &str) -> &mut Self {
        let field = &mut self.0[off..off + len];
        field.fill(b' ');
        for (d, c) in field.iter_mut().zip(s.bytes()) {
            *d = if c.is_ascii_graphic() || c == b' ' { c } else { b'_' };
        }
        self
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0[..]
    }
}
