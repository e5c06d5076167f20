//! The 64-byte Submission Queue Entry (NVMe-Base 4.2, Figure 92 "Common Command Format").

/// Data pointer kind, from CDW0.PSDT (NVMe-Base Figure 92, bits 15:14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Psdt {
    /// PRPs are used for the data transfer.
    Prp,
    /// SGLs for data; MPTR is the address of a contiguous metadata buffer.
    SglMptrContiguous,
    /// SGLs for data; MPTR is the address of an SGL segment holding one descriptor.
    SglMptrSgl,
    /// 11b: reserved.
    Reserved,
}

/// A raw submission queue entry, as fetched from guest memory.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SubmissionEntry {
    pub dw: [u32; 16],
}

impl SubmissionEntry {
    pub const SIZE: usize = 64;

    pub fn from_bytes(b: &[u8; 64]) -> Self {
        let mut dw = [0u32; 16];
        for (i, d) in dw.iter_mut().enumerate() {
            *d = u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        }
        SubmissionEntry { dw }
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        for (i, d) in self.dw.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&d.to_le_bytes());
        }
        b
    }

    /// CDW0 bits 7:0.
    pub fn opcode(&self) -> u8 {
        self.dw[0] as u8
    }
    /// CDW0 bits 9:8: fused operation.
    pub fn fuse(&self) -> u8 {
        ((self.dw[0] >> 8) & 3) as u8
    }
    /// CDW0 bits 15:14.
    pub fn psdt(&self) -> Psdt {
        match (self.dw[0] >> 14) & 3 {
            0 => Psdt::Prp,
            1 => Psdt::SglMptrContiguous,
            2 => Psdt::SglMptrSgl,
            _ => Psdt::Reserved,
        }
    }
    /// CDW0 bits 31:16.
    pub fn cid(&self) -> u16 {
        (self.dw[0] >> 16) as u16
    }
    pub fn nsid(&self) -> u32 {
        self.dw[1]
    }
    pub fn cdw2(&self) -> u32 {
        self.dw[2]
    }
    pub fn cdw3(&self) -> u32 {
        self.dw[3]
    }
    /// Metadata Pointer (DW 5:4).
    pub fn mptr(&self) -> u64 {
        self.dw[4] as u64 | (self.dw[5] as u64) << 32
    }
    /// PRP Entry 1 (DW 7:6).
    pub fn prp1(&self) -> u64 {
        self.dw[6] as u64 | (self.dw[7] as u64) << 32
    }
    /// PRP Entry 2 (DW 9:8).
    pub fn prp2(&self) -> u64 {
        self.dw[8] as u64 | (self.dw[9] as u64) << 32
    }
    /// SGL Entry 1 (DW 9:6), as the 16 raw bytes of a descriptor.
    pub fn sgl1(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        for i in 0..4 {
            b[i * 4..i * 4 + 4].copy_from_slice(&self.dw[6 + i].to_le_bytes());
        }
        b
    }
    pub fn cdw10(&self) -> u32 {
        self.dw[10]
    }
    pub fn cdw11(&self) -> u32 {
        self.dw[11]
    }
    pub fn cdw12(&self) -> u32 {
        self.dw[12]
    }
    pub fn cdw13(&self) -> u32 {
        self.dw[13]
    }
    pub fn cdw14(&self) -> u32 {
        self.dw[14]
    }
    pub fn cdw15(&self) -> u32 {
        self.dw[15]
    }

    /// Builder used by tests and the benchmark driver.
    pub fn new(opcode: u8, cid: u16, nsid: u32) -> Self {
        let mut dw = [0u32; 16];
        dw[0] = opcode as u32 | (cid as u32) << 16;
        dw[1] = nsid;
        SubmissionEntry { dw }
    }
    pub fn with_prps(mut self, prp1: u64, prp2: u64) -> Self {
        self.dw[6] = prp1 as u32;
        self.dw[7] = (prp1 >> 32) as u32;
        self.dw[8] = prp2 as u32;
        self.dw[9] = (prp2 >> 32) as u32;
        self
    }
    pub fn with_mptr(mut self, mptr: u64) -> Self {
        self.dw[4] = mptr as u32;
        self.dw[5] = (mptr >> 32) as u32;
        self
    }
    pub fn with_sgl1(mut self, desc: [u8; 16]) -> Self {
        for i in 0..4 {
            self.dw[6 + i] = u32::from_le_bytes(desc[i * 4..i * 4 + 4].try_into().unwrap());
        }
        self.dw[0] = (self.dw[0] & !(3 << 14)) | (1 << 14);
        self
    }
    pub fn with_psdt(mut self, psdt: u32) -> Self {
        self.dw[0] = (self.dw[0] & !(3 << 14)) | ((psdt & 3) << 14);
        self
    }
    pub fn with_cdw(mut self, index: usize, value: u32) -> Self {
        self.dw[index] = value;
        self
    }
}

impl std::fmt::Debug for SubmissionEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SQE(opc {:#04x} cid {} nsid {} cdw10 {:#x} cdw11 {:#x} cdw12 {:#x})",
            self.opcode(),
            self.cid(),
            self.nsid(),
            self.cdw10(),
            self.cdw11(),
            self.cdw12()
        )
    }
}
