//! SGL walker (NVMe-Base 4.3.2 "Scatter Gather List", Figures 114-121).
//!
//! Supported descriptor types on this PCIe controller: Data Block (address
//! subtype), Bit Bucket (controller-to-host only), Segment and Last Segment.
//! Keyed and Transport Data Blocks are fabrics-only and, like offset subtypes
//! (SGLS bit 20 clear), get SGL Descriptor Type Invalid.

use super::{Direction, DmaMemory, SgList, Segment};
use crate::spec::Status;

pub const DESC_SIZE: usize = 16;
/// A bound on the descriptors one command may use, so a guest that links a
/// segment to itself gets a status instead of a spinning device.
pub const MAX_DESCRIPTORS: usize = 4096;

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
}

/// Which buffer the SGL describes: the statuses for a length mismatch differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    Data,
    Metadata,
}

/// Walk an SGL whose first descriptor is `first` and which must describe exactly
/// `len` bytes.
pub fn walk(mem: &dyn DmaMemory, first: Descriptor, len: u64, dir: Direction, buf: Buffer) -> Result<SgList, Status> {
    let length_error = match buf {
        Buffer::Data => Status::DATA_SGL_LENGTH_INVALID,
        Buffer::Metadata => Status::METADATA_SGL_LENGTH_INVALID,
    };
    let mut list = SgList::default();
    let mut total = 0u64;
    let mut count = 0usize;
    // Descriptors still to act on, in reverse transfer order (a stack).
    let mut pending = vec![first];
    while let Some(d) = pending.pop() {
        count += 1;
        if count > MAX_DESCRIPTORS {
            return Err(Status::INVALID_SGL_DESCRIPTOR_COUNT);
        }
        if d.subtype != 0 {
            return Err(Status::SGL_DESCRIPTOR_TYPE_INVALID);
        }
        match d.dtype {
            desc_type::DATA_BLOCK => {
                if d.len > 0 {
                    list.segments.push(Segment::Mem { addr: d.addr, len: d.len as u64 });
                    total += d.len as u64;
                }
            }
            desc_type::BIT_BUCKET => {
                if dir == Direction::HostToController {
                    return Err(Status::SGL_DESCRIPTOR_TYPE_INVALID);
                }
                if d.len > 0 {
                    list.segments.push(Segment::BitBucket { len: d.len as u64 });
                    total += d.len as u64;
                }
            }
            desc_type::SEGMENT | desc_type::LAST_SEGMENT => {
                if d.len == 0 || !(d.len as usize).is_multiple_of(DESC_SIZE) || d.addr & 0x3 != 0 {
                    return Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR);
                }
                let n = d.len as usize / DESC_SIZE;
                if count + n > MAX_DESCRIPTORS {
                    return Err(Status::INVALID_SGL_DESCRIPTOR_COUNT);
                }
                let mut raw = vec![0u8; d.len as usize];
                mem.read(d.addr, &mut raw).map_err(|_| Status::DATA_TRANSFER_ERROR)?;
                let descs: Vec<Descriptor> = raw.chunks(DESC_SIZE).map(Descriptor::parse).collect();
                let is_seg = |x: &Descriptor| x.dtype == desc_type::SEGMENT || x.dtype == desc_type::LAST_SEGMENT;
                // Only the last descriptor of a Segment may point to another segment,
                // and a Last Segment points nowhere (NVMe-Base 4.3.2).
                let may_chain = d.dtype == desc_type::SEGMENT;
                for (i, x) in descs.iter().enumerate() {
                    if is_seg(x) && (i != n - 1 || !may_chain) {
                        return Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR);
                    }
                }
                pending.extend(descs.into_iter().rev());
            }
            _ => return Err(Status::SGL_DESCRIPTOR_TYPE_INVALID),
        }
        if total > len {
            // SGLS bit 18 (SGL longer than the transfer) is not advertised.
            return Err(length_error);
        }
    }
    if total != len {
        return Err(length_error);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dma::VecMemory;

    fn put(mem: &VecMemory, at: u64, descs: &[Descriptor]) {
        for (i, d) in descs.iter().enumerate() {
            mem.write(at + (i * 16) as u64, &d.encode()).unwrap();
        }
    }
    const R: Direction = Direction::ControllerToHost;
    const W: Direction = Direction::HostToController;

    #[test]
    fn single_data_block() {
        let mem = VecMemory::new(1 << 20);
        let l = walk(&mem, Descriptor::data(0x1000, 512), 512, R, Buffer::Data).unwrap();
        assert_eq!(l, SgList::contiguous(0x1000, 512));
    }

    #[test]
    fn segment_then_last_segment() {
        let mem = VecMemory::new(1 << 20);
        put(&mem, 0x8000, &[Descriptor::data(0x1000, 100), Descriptor::segment(0x9000, 32, true)]);
        put(&mem, 0x9000, &[Descriptor::data(0x2000, 200), Descriptor::data(0x3000, 212)]);
        let l = walk(&mem, Descriptor::segment(0x8000, 32, false), 512, W, Buffer::Data).unwrap();
        assert_eq!(
            l.segments,
            vec![
                Segment::Mem { addr: 0x1000, len: 100 },
                Segment::Mem { addr: 0x2000, len: 200 },
                Segment::Mem { addr: 0x3000, len: 212 }
            ]
        );
    }

    #[test]
    fn bit_bucket_only_for_reads() {
        let mem = VecMemory::new(1 << 20);
        let bb = Descriptor { addr: 0, len: 512, dtype: desc_type::BIT_BUCKET, subtype: 0 };
        put(&mem, 0x8000, &[bb, Descriptor::data(0x1000, 512)]);
        let seg = Descriptor::segment(0x8000, 32, true);
        let l = walk(&mem, seg, 1024, R, Buffer::Data).unwrap();
        assert_eq!(l.segments[0], Segment::BitBucket { len: 512 });
        assert_eq!(walk(&mem, seg, 1024, W, Buffer::Data), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
    }

    #[test]
    fn length_mismatch_statuses() {
        let mem = VecMemory::new(1 << 20);
        let d = Descriptor::data(0x1000, 100);
        assert_eq!(walk(&mem, d, 512, R, Buffer::Data), Err(Status::DATA_SGL_LENGTH_INVALID));
        assert_eq!(walk(&mem, d, 50, R, Buffer::Data), Err(Status::DATA_SGL_LENGTH_INVALID));
        assert_eq!(walk(&mem, d, 8, R, Buffer::Metadata), Err(Status::METADATA_SGL_LENGTH_INVALID));
    }

    #[test]
    fn segment_descriptor_errors() {
        let mem = VecMemory::new(1 << 20);
        // Length not a multiple of 16.
        assert_eq!(
            walk(&mem, Descriptor::segment(0x8000, 24, false), 16, R, Buffer::Data),
            Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR)
        );
        // A segment descriptor that is not last in its segment.
        put(&mem, 0x8000, &[Descriptor::segment(0x9000, 16, true), Descriptor::data(0x1000, 16)]);
        assert_eq!(
            walk(&mem, Descriptor::segment(0x8000, 32, false), 16, R, Buffer::Data),
            Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR)
        );
        // A last segment that chains further.
        put(&mem, 0xa000, &[Descriptor::data(0x1000, 16), Descriptor::segment(0xb000, 16, true)]);
        assert_eq!(
            walk(&mem, Descriptor::segment(0xa000, 32, true), 32, R, Buffer::Data),
            Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR)
        );
    }

    #[test]
    fn unknown_type_and_offset_subtype() {
        let mem = VecMemory::new(1 << 20);
        let keyed = Descriptor { addr: 0x1000, len: 16, dtype: 0x4, subtype: 0 };
        assert_eq!(walk(&mem, keyed, 16, R, Buffer::Data), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
        let off = Descriptor { addr: 0x1000, len: 16, dtype: 0, subtype: 1 };
        assert_eq!(walk(&mem, off, 16, R, Buffer::Data), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
    }

    #[test]
    fn self_linked_segment_terminates() {
        let mem = VecMemory::new(1 << 20);
        put(&mem, 0x8000, &[Descriptor::data(0x1000, 0), Descriptor::segment(0x8000, 32, false)]);
        assert_eq!(
            walk(&mem, Descriptor::segment(0x8000, 32, false), 16, R, Buffer::Data),
            Err(Status::INVALID_SGL_DESCRIPTOR_COUNT)
        );
    }

    #[test]
    fn segment_outside_map() {
        let mem = VecMemory::new(1 << 20);
        mem.poison(0x8000, 0x1000);
        assert_eq!(
            walk(&mem, Descriptor::segment(0x8000, 32, false), 16, R, Buffer::Data),
            Err(Status::DATA_TRANSFER_ERROR)
        );
    }
}
