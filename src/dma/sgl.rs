//! SGL walker (NVMe-Base 2.1 4.3.2 "Scatter Gather List", Figures 114-121).
//!
//! Supported descriptor types on this PCIe controller: Data Block (address
//! subtype), Bit Bucket, Segment and Last Segment. Keyed and Transport Data
//! Blocks are fabrics-only and, like offset subtypes (SGLS bit 20 clear), get SGL
//! Descriptor Type Invalid. A Bit Bucket discards data on a read and has no effect
//! on a write (its Length is treated as 0h and not counted in the SGL length).
//!
//! The SGL length (the Data Block and Bit Bucket lengths added up) must be at
//! least the command's transfer length; a shorter SGL is Data (or Metadata) SGL
//! Length Invalid. A longer one is accepted by default (SGLS bit 18 set,
//! [`SglLength::MayExceed`]): the transfer uses the SGL's first bytes, and
//! descriptors past them are neither examined nor fetched, as 4.3.2 allows ("the
//! controller is not required to examine for errors any SGL descriptor that is not
//! used for data transfer"). [`SglLength::Exact`] is the strict behaviour of SGLS
//! bit 18 clear: the SGL must describe exactly the transfer.

use super::{Direction, DmaMemory, GuestAddr, Segment, SgList};
use crate::spec::Status;

pub const DESC_SIZE: usize = 16;
/// A bound on the descriptors one command may use, so a guest that links a
/// segment to itself gets a status instead of a spinning device.
pub const MAX_DESCRIPTORS: usize = 4096;
/// Descriptors read from guest memory at a time: a long segment is fetched only
/// as far as the transfer needs it.
const FETCH_DESCRIPTORS: usize = 32;

/// SGL descriptor types (NVMe-Base Figure 115).
pub mod desc_type {
    pub const DATA_BLOCK: u8 = 0x0;
    pub const BIT_BUCKET: u8 = 0x1;
    pub const SEGMENT: u8 = 0x2;
    pub const LAST_SEGMENT: u8 = 0x3;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub addr: u64,
    pub len: u32,
    pub dtype: u8,
    pub subtype: u8,
}

impl Descriptor {
    pub fn parse(b: &[u8]) -> Self {
        Descriptor {
            addr: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            len: u32::from_le_bytes(b[8..12].try_into().unwrap()),
            dtype: b[15] >> 4,
            subtype: b[15] & 0xf,
        }
    }
    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[15] = self.dtype << 4 | (self.subtype & 0xf);
        b
    }
    pub fn data(addr: u64, len: u32) -> Self {
        Descriptor { addr, len, dtype: desc_type::DATA_BLOCK, subtype: 0 }
    }
    pub fn segment(addr: u64, len: u32, last: bool) -> Self {
        let dtype = if last { desc_type::LAST_SEGMENT } else { desc_type::SEGMENT };
        Descriptor { addr, len, dtype, subtype: 0 }
    }
    /// Address plus Length greater than 1_00000000_00000000h: the Data Block,
    /// Segment and Last Segment descriptors then have a Data (Metadata) SGL Length
    /// Invalid error (NVMe-Base 4.3.2, each descriptor's Length field).
    fn wraps(&self) -> bool {
        self.addr as u128 + self.len as u128 > 1 << 64
    }
}

/// Which buffer the SGL describes: the statuses for a length mismatch differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    Data,
    Metadata,
}

/// What an SGL longer than the transfer gets (Identify Controller SGLS bit 18).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SglLength {
    /// SGLS bit 18 set: a data or metadata SGL may be longer than the transfer;
    /// only its first bytes are used.
    #[default]
    MayExceed,
    /// SGLS bit 18 clear: the SGL length must equal the transfer length; a longer
    /// SGL is Data (Metadata) SGL Length Invalid.
    Exact,
}

impl SglLength {
    /// This rule's SGLS bit 18 (Identify Controller).
    pub fn sgls_bit(self) -> u32 {
        match self {
            SglLength::MayExceed => 1 << 18,
            SglLength::Exact => 0,
        }
    }
}

/// Walk an SGL whose first descriptor is `first` (SGL1, or the descriptor MPTR
/// points to) for a transfer of `len` bytes in direction `dir`. The list returned
/// describes exactly `len` bytes.
pub fn walk(
    mem: &dyn DmaMemory,
    first: Descriptor,
    len: u64,
    dir: Direction,
    buf: Buffer,
    rule: SglLength,
) -> Result<SgList, Status> {
    let mut w = Walker { list: SgList::default(), remaining: len, count: 0, dir, buf, rule };
    // The first descriptor is a segment of its own (NVMe-Base 4.1, SGL Entry 1).
    let mut next = if w.done() { None } else { w.visit(first, true, false)? };
    while let Some(seg) = next.take() {
        let n = seg.len as usize / DESC_SIZE;
        let last_segment = seg.dtype == desc_type::LAST_SEGMENT;
        let mut raw = vec![0u8; n.min(FETCH_DESCRIPTORS) * DESC_SIZE];
        let mut i = 0;
        while i < n && !w.done() {
            // Fetch the next piece of the segment only once a descriptor in it is needed.
            let k = (n - i).min(FETCH_DESCRIPTORS);
            let piece = &mut raw[..k * DESC_SIZE];
            mem.read(GuestAddr(seg.addr + (i * DESC_SIZE) as u64), piece).map_err(|_| Status::DATA_TRANSFER_ERROR)?;
            for b in piece.chunks(DESC_SIZE) {
                if w.done() {
                    break;
                }
                next = w.visit(Descriptor::parse(b), i == n - 1, last_segment)?;
                i += 1;
            }
        }
    }
    if w.remaining != 0 {
        // The SGL is shorter than the transfer.
        return Err(w.length_error());
    }
    Ok(w.list)
}

/// The state of one walk: the list so far and the bytes still to describe.
struct Walker {
    list: SgList,
    remaining: u64,
    count: usize,
    dir: Direction,
    buf: Buffer,
    rule: SglLength,
}

impl Walker {
    fn length_error(&self) -> Status {
        match self.buf {
            Buffer::Data => Status::DATA_SGL_LENGTH_INVALID,
            Buffer::Metadata => Status::METADATA_SGL_LENGTH_INVALID,
        }
    }

    /// Every byte is described and the rest of the SGL may be ignored.
    fn done(&self) -> bool {
        self.remaining == 0 && self.rule == SglLength::MayExceed
    }

    /// Check one descriptor and add what it describes. `last_in_segment`: it is
    /// its segment's last descriptor; `in_last_segment`: that segment is the last.
    /// Returns the descriptor of the next segment, if this is one.
    fn visit(
        &mut self,
        d: Descriptor,
        last_in_segment: bool,
        in_last_segment: bool,
    ) -> Result<Option<Descriptor>, Status> {
        self.count += 1;
        if self.count > MAX_DESCRIPTORS {
            return Err(Status::INVALID_SGL_DESCRIPTOR_COUNT);
        }
        if d.subtype != 0 {
            return Err(Status::SGL_DESCRIPTOR_TYPE_INVALID);
        }
        match d.dtype {
            desc_type::DATA_BLOCK => {
                if d.wraps() {
                    return Err(self.length_error());
                }
                let n = self.take(d.len)?;
                if n > 0 {
                    self.list.segments.push(Segment::Mem { addr: d.addr, len: n });
                }
                Ok(None)
            }
            desc_type::BIT_BUCKET => {
                // In a source buffer (host to controller) a Bit Bucket is treated as
                // if its Length were 0h (NVMe-Base 4.3.2, SGL Bit Bucket descriptor).
                let len = if self.dir == Direction::HostToController { 0 } else { d.len };
                let n = self.take(len)?;
                if n > 0 {
                    self.list.segments.push(Segment::BitBucket { len: n });
                }
                Ok(None)
            }
            desc_type::SEGMENT | desc_type::LAST_SEGMENT => {
                // Only a segment's last descriptor may point to another segment
                // (Invalid Number of SGL Descriptors), and a last segment points
                // nowhere (Invalid SGL Segment Descriptor): NVMe-Base 4.3.2, SGL
                // validation error conditions.
                if !last_in_segment {
                    return Err(Status::INVALID_SGL_DESCRIPTOR_COUNT);
                }
                if in_last_segment {
                    return Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR);
                }
                if d.len == 0 || !(d.len as usize).is_multiple_of(DESC_SIZE) || d.addr & 0x3 != 0 {
                    return Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR);
                }
                if d.wraps() {
                    return Err(self.length_error());
                }
                // No bound on the segment's size here: it is fetched piecewise and
                // every descriptor visited counts toward MAX_DESCRIPTORS.
                Ok(Some(d))
            }
            _ => Err(Status::SGL_DESCRIPTOR_TYPE_INVALID),
        }
    }

    /// Of a descriptor's `len` bytes, how many the transfer uses.
    fn take(&mut self, len: u32) -> Result<u64, Status> {
        let len = len as u64;
        let n = match self.rule {
            SglLength::MayExceed => len.min(self.remaining),
            SglLength::Exact if len > self.remaining => return Err(self.length_error()),
            SglLength::Exact => len,
        };
        self.remaining -= n;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "sgl_tests.rs"]
mod tests;
