//! Tests of the SGL walker: chains of segments, Bit Buckets, the statuses of
//! malformed lists, and SGLs longer than the transfer under both length rules
//! (what is used, what is neither examined nor fetched).

use super::*;
use crate::dma::VecMemory;

fn put(mem: &VecMemory, at: u64, descs: &[Descriptor]) {
    for (i, d) in descs.iter().enumerate() {
        mem.write(GuestAddr(at + (i * 16) as u64), &d.encode()).unwrap();
    }
}
const R: Direction = Direction::ControllerToHost;
const W: Direction = Direction::HostToController;
const MAY: SglLength = SglLength::MayExceed;
const EXACT: SglLength = SglLength::Exact;

#[test]
fn single_data_block() {
    let mem = VecMemory::new(1 << 20);
    let l = walk(&mem, Descriptor::data(0x1000, 512), 512, R, Buffer::Data, MAY).unwrap();
    assert_eq!(l, SgList::contiguous(0x1000, 512));
}

#[test]
fn segment_then_last_segment() {
    let mem = VecMemory::new(1 << 20);
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 100), Descriptor::segment(0x9000, 32, true)]);
    put(&mem, 0x9000, &[Descriptor::data(0x2000, 200), Descriptor::data(0x3000, 212)]);
    let l = walk(&mem, Descriptor::segment(0x8000, 32, false), 512, W, Buffer::Data, MAY).unwrap();
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
fn bit_bucket_discards_on_reads_and_has_no_effect_on_writes() {
    let mem = VecMemory::new(1 << 20);
    let bb = Descriptor { addr: 0, len: 512, dtype: desc_type::BIT_BUCKET, subtype: 0 };
    put(&mem, 0x8000, &[bb, Descriptor::data(0x1000, 512)]);
    let seg = Descriptor::segment(0x8000, 32, true);
    for rule in [MAY, EXACT] {
        let l = walk(&mem, seg, 1024, R, Buffer::Data, rule).unwrap();
        assert_eq!(l.segments, vec![Segment::BitBucket { len: 512 }, Segment::Mem { addr: 0x1000, len: 512 }]);
        // On a write its length is not part of the SGL length.
        assert_eq!(walk(&mem, seg, 512, W, Buffer::Data, rule), Ok(SgList::contiguous(0x1000, 512)), "{rule:?}");
        assert_eq!(walk(&mem, seg, 1024, W, Buffer::Data, rule), Err(Status::DATA_SGL_LENGTH_INVALID));
    }
}

#[test]
fn shorter_sgl_is_length_invalid_in_both_modes() {
    let mem = VecMemory::new(1 << 20);
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 100), Descriptor::segment(0x9000, 32, true)]);
    put(&mem, 0x9000, &[Descriptor::data(0x2000, 200), Descriptor::data(0x3000, 211)]);
    let sgl = Descriptor::segment(0x8000, 32, false);
    for rule in [MAY, EXACT] {
        assert_eq!(walk(&mem, sgl, 512, R, Buffer::Data, rule), Err(Status::DATA_SGL_LENGTH_INVALID), "{rule:?}");
        assert_eq!(walk(&mem, sgl, 512, W, Buffer::Metadata, rule), Err(Status::METADATA_SGL_LENGTH_INVALID));
        let d = Descriptor::data(0x1000, 7);
        assert_eq!(walk(&mem, d, 8, R, Buffer::Metadata, rule), Err(Status::METADATA_SGL_LENGTH_INVALID));
    }
}

#[test]
fn exactly_long_sgl_is_accepted_in_both_modes() {
    let mem = VecMemory::new(1 << 20);
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 100), Descriptor::segment(0x9000, 32, true)]);
    put(&mem, 0x9000, &[Descriptor::data(0x2000, 200), Descriptor::data(0x3000, 212)]);
    let want = vec![
        Segment::Mem { addr: 0x1000, len: 100 },
        Segment::Mem { addr: 0x2000, len: 200 },
        Segment::Mem { addr: 0x3000, len: 212 },
    ];
    for rule in [MAY, EXACT] {
        for buf in [Buffer::Data, Buffer::Metadata] {
            let l = walk(&mem, Descriptor::segment(0x8000, 32, false), 512, W, buf, rule).unwrap();
            assert_eq!(l.segments, want, "{rule:?} {buf:?}");
        }
    }
}

#[test]
fn longer_single_block_gives_its_first_bytes_or_length_invalid() {
    let mem = VecMemory::new(1 << 20);
    let d = Descriptor::data(0x1000, 4096);
    assert_eq!(walk(&mem, d, 512, W, Buffer::Data, MAY), Ok(SgList::contiguous(0x1000, 512)));
    assert_eq!(walk(&mem, d, 8, R, Buffer::Metadata, MAY), Ok(SgList::contiguous(0x1000, 8)));
    assert_eq!(walk(&mem, d, 512, W, Buffer::Data, EXACT), Err(Status::DATA_SGL_LENGTH_INVALID));
    assert_eq!(walk(&mem, d, 8, R, Buffer::Metadata, EXACT), Err(Status::METADATA_SGL_LENGTH_INVALID));
}

/// Three segments describing 100 + 300 + 200 + 500 bytes for a 512-byte transfer.
/// The descriptors after the 512th byte are garbage and the last segment is
/// outside the DMA map: only the strict walker looks at them.
fn longer_chain(mem: &VecMemory) -> Descriptor {
    let reserved_type = Descriptor { addr: 0x5000, len: 16, dtype: 0x9, subtype: 0 };
    put(
        mem,
        0x8000,
        &[Descriptor::data(0x1000, 100), Descriptor::data(0x2000, 300), Descriptor::segment(0x9000, 64, false)],
    );
    put(
        mem,
        0x9000,
        &[
            Descriptor::data(0x3000, 200),
            reserved_type,
            Descriptor::data(0x4000, 500),
            Descriptor::segment(0xa000, 16, true),
        ],
    );
    mem.poison(0xa000, 0x1000);
    Descriptor::segment(0x8000, 48, false)
}

#[test]
fn longer_chain_uses_its_first_bytes_and_fetches_nothing_past_them() {
    let mem = VecMemory::new(1 << 20);
    let l = walk(&mem, longer_chain(&mem), 512, R, Buffer::Data, MAY).unwrap();
    assert_eq!(
        l.segments,
        vec![
            Segment::Mem { addr: 0x1000, len: 100 },
            Segment::Mem { addr: 0x2000, len: 300 },
            Segment::Mem { addr: 0x3000, len: 112 }
        ]
    );
    // A transfer one byte past the 200-byte block needs the garbage descriptor.
    assert_eq!(walk(&mem, longer_chain(&mem), 601, R, Buffer::Data, MAY), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
}

#[test]
fn longer_chain_is_length_invalid_when_strict() {
    let mem = VecMemory::new(1 << 20);
    let sgl = longer_chain(&mem);
    assert_eq!(walk(&mem, sgl, 512, R, Buffer::Data, EXACT), Err(Status::DATA_SGL_LENGTH_INVALID));
    assert_eq!(walk(&mem, sgl, 512, R, Buffer::Metadata, EXACT), Err(Status::METADATA_SGL_LENGTH_INVALID));
}

#[test]
fn exact_chain_ending_in_a_segment_descriptor_is_not_followed_unless_strict() {
    let mem = VecMemory::new(1 << 20);
    // 512 bytes, then a Last Segment descriptor to a segment outside the DMA map.
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 512), Descriptor::segment(0x9000, 16, true)]);
    mem.poison(0x9000, 0x1000);
    let sgl = Descriptor::segment(0x8000, 32, false);
    assert_eq!(walk(&mem, sgl, 512, R, Buffer::Data, MAY), Ok(SgList::contiguous(0x1000, 512)));
    assert_eq!(walk(&mem, sgl, 512, R, Buffer::Data, EXACT), Err(Status::DATA_TRANSFER_ERROR));
}

#[test]
fn long_segment_is_fetched_only_as_far_as_needed() {
    let mem = VecMemory::new(1 << 20);
    // 100 descriptors: two of 16 bytes, then NULL descriptors; the transfer
    // needs the first 2, and everything from descriptor 64 on is outside the DMA map.
    let descs: Vec<Descriptor> =
        (0..100).map(|i| Descriptor::data(0x1000 + i * 16, if i < 2 { 16 } else { 0 })).collect();
    put(&mem, 0x8000, &descs[..64]);
    mem.poison(0x8000 + 64 * 16, 36 * 16);
    let sgl = Descriptor::segment(0x8000, 100 * 16, true);
    let l = walk(&mem, sgl, 32, W, Buffer::Data, MAY).unwrap();
    assert_eq!(l.segments, vec![Segment::Mem { addr: 0x1000, len: 16 }, Segment::Mem { addr: 0x1010, len: 16 }]);
    assert_eq!(walk(&mem, sgl, 32, W, Buffer::Data, EXACT), Err(Status::DATA_TRANSFER_ERROR));
}

#[test]
fn huge_segment_is_fine_when_its_head_suffices() {
    let mem = VecMemory::new(1 << 20);
    // A segment of 65536 descriptors, reaching past the end of guest memory.
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 512)]);
    let sgl = Descriptor::segment(0x8000, 0x10_0000, true);
    assert_eq!(walk(&mem, sgl, 512, R, Buffer::Data, MAY), Ok(SgList::contiguous(0x1000, 512)));
    // Walked to the end it is too many descriptors (the rest are NULL descriptors).
    assert_eq!(walk(&mem, sgl, 512, R, Buffer::Data, EXACT), Err(Status::INVALID_SGL_DESCRIPTOR_COUNT));
}

#[test]
fn bit_bucket_counts_toward_a_read_and_is_cut_like_data() {
    let mem = VecMemory::new(1 << 20);
    let bb = Descriptor { addr: 0, len: 512, dtype: desc_type::BIT_BUCKET, subtype: 0 };
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 256), bb, Descriptor::data(0x2000, 512)]);
    let seg = Descriptor::segment(0x8000, 48, true);
    let l = walk(&mem, seg, 512, R, Buffer::Data, MAY).unwrap();
    assert_eq!(l.segments, vec![Segment::Mem { addr: 0x1000, len: 256 }, Segment::BitBucket { len: 256 }]);
    assert_eq!(walk(&mem, seg, 512, R, Buffer::Data, EXACT), Err(Status::DATA_SGL_LENGTH_INVALID));
    assert_eq!(walk(&mem, seg, 1280, R, Buffer::Data, EXACT).map(|l| l.len()), Ok(1280));
}

#[test]
fn address_plus_length_past_2_pow_64_is_length_invalid() {
    let mem = VecMemory::new(1 << 20);
    for rule in [MAY, EXACT] {
        // Checked on the whole descriptor, even when only its first bytes are used.
        let d = Descriptor::data(u64::MAX - 510, 512);
        assert_eq!(walk(&mem, d, 512, R, Buffer::Data, rule), Err(Status::DATA_SGL_LENGTH_INVALID));
        assert_eq!(walk(&mem, d, 8, R, Buffer::Metadata, rule), Err(Status::METADATA_SGL_LENGTH_INVALID));
        // Ending exactly at 1_00000000_00000000h is fine.
        let d = Descriptor::data(u64::MAX - 511, 512);
        assert_eq!(walk(&mem, d, 512, R, Buffer::Data, rule).map(|l| l.len()), Ok(512));
        let s = Descriptor::segment(u64::MAX - 15, 32, true);
        assert_eq!(walk(&mem, s, 16, R, Buffer::Data, rule), Err(Status::DATA_SGL_LENGTH_INVALID));
    }
}

#[test]
fn segment_descriptor_errors() {
    let mem = VecMemory::new(1 << 20);
    // Length not a multiple of 16.
    assert_eq!(
        walk(&mem, Descriptor::segment(0x8000, 24, false), 16, R, Buffer::Data, MAY),
        Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR)
    );
    // A segment descriptor that is not last in its segment.
    for chain in [true, false] {
        put(&mem, 0x8000, &[Descriptor::segment(0x9000, 16, chain), Descriptor::data(0x1000, 16)]);
        assert_eq!(
            walk(&mem, Descriptor::segment(0x8000, 32, false), 16, R, Buffer::Data, MAY),
            Err(Status::INVALID_SGL_DESCRIPTOR_COUNT)
        );
    }
    // A last segment that chains further.
    put(&mem, 0xa000, &[Descriptor::data(0x1000, 16), Descriptor::segment(0xb000, 16, true)]);
    assert_eq!(
        walk(&mem, Descriptor::segment(0xa000, 32, true), 32, R, Buffer::Data, MAY),
        Err(Status::INVALID_SGL_SEGMENT_DESCRIPTOR)
    );
}

#[test]
fn unknown_type_and_offset_subtype() {
    let mem = VecMemory::new(1 << 20);
    let keyed = Descriptor { addr: 0x1000, len: 16, dtype: 0x4, subtype: 0 };
    assert_eq!(walk(&mem, keyed, 16, R, Buffer::Data, MAY), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
    let off = Descriptor { addr: 0x1000, len: 16, dtype: 0, subtype: 1 };
    assert_eq!(walk(&mem, off, 16, R, Buffer::Data, MAY), Err(Status::SGL_DESCRIPTOR_TYPE_INVALID));
}

#[test]
fn self_linked_segment_terminates() {
    let mem = VecMemory::new(1 << 20);
    put(&mem, 0x8000, &[Descriptor::data(0x1000, 0), Descriptor::segment(0x8000, 32, false)]);
    assert_eq!(
        walk(&mem, Descriptor::segment(0x8000, 32, false), 16, R, Buffer::Data, MAY),
        Err(Status::INVALID_SGL_DESCRIPTOR_COUNT)
    );
}

#[test]
fn segment_outside_map() {
    let mem = VecMemory::new(1 << 20);
    mem.poison(0x8000, 0x1000);
    assert_eq!(
        walk(&mem, Descriptor::segment(0x8000, 32, false), 16, R, Buffer::Data, MAY),
        Err(Status::DATA_TRANSFER_ERROR)
    );
}
