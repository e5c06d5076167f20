//! SGL data pointers on NVM commands (NVMe-Base 4.3.2): Data Block, Segment and
//! Last Segment chains, Bit Bucket, and the exact status for each malformed list.
//! Every body runs over the in-memory and the file store.

use super::fake_host::{cmd, on_both_stores, pattern, watchdog, FakeHost, NsConfig, Store, PAGE};
use crate::dma::sgl::{desc_type, Descriptor};
use crate::spec::Status;
use std::time::Duration;

fn host(store: Store) -> FakeHost {
    FakeHost::with_io(store, NsConfig::new(512))
}

fn bit_bucket(len: u32, addr: u64) -> Descriptor {
    Descriptor { addr, len, dtype: desc_type::BIT_BUCKET, subtype: 0 }
}

/// Write a segment of descriptors into guest memory; returns its address.
fn segment(h: &mut FakeHost, descs: &[Descriptor]) -> u64 {
    let bytes: Vec<u8> = descs.iter().flat_map(|d| d.encode()).collect();
    h.alloc_with(&bytes)
}

fn sgl_data_block_round_trips(store: Store) {
    let mut h = host(store);
    let data = pattern(1024, 1);
    let src = h.alloc_with(&data);
    let c = h.io(1, cmd::write(1, 4, 2).with_sgl1(Descriptor::data(src, 1024).encode()));
    assert_eq!(c.status, Status::SUCCESS);
    let dst = h.alloc(PAGE);
    let c = h.io(1, cmd::read(1, 4, 2).with_sgl1(Descriptor::data(dst, 1024).encode()));
    assert_eq!(c.status, Status::SUCCESS);
    assert!(h.get(dst, 1024) == data);
}

fn sgl_segment_and_last_segment_chain_round_trips(store: Store) {
    let mut h = host(store);
    let data = pattern(1536, 2);
    let (a, b, c) = (h.alloc(PAGE), h.alloc(PAGE), h.alloc(PAGE));
    // Pieces of odd sizes at odd offsets: 700 + 300 + 536 bytes.
    let pieces = [(a + 100, 700u32), (b + 7, 300), (c + 3000, 536)];
    let last = segment(&mut h, &[Descriptor::data(pieces[1].0, 300), Descriptor::data(pieces[2].0, 536)]);
    let first = segment(&mut h, &[Descriptor::data(pieces[0].0, 700), Descriptor::segment(last, 32, true)]);
    let sgl = Descriptor::segment(first, 32, false).encode();
    let mut off = 0;
    for (addr, len) in pieces {
        h.put(addr, &data[off..off + len as usize]);
        off += len as usize;
    }
    assert_eq!(h.io(1, cmd::write(1, 9, 3).with_sgl1(sgl)).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 9, 3), (Status::SUCCESS, data.clone()), "written intact");
    for (addr, len) in pieces {
        h.put(addr, &vec![0u8; len as usize]);
    }
    assert_eq!(h.io(1, cmd::read(1, 9, 3).with_sgl1(sgl)).status, Status::SUCCESS);
    let got: Vec<u8> = pieces.iter().flat_map(|&(addr, len)| h.get(addr, len as u64)).collect();
    assert!(got == data, "read back intact through the same chain");
}

fn sgl_bit_bucket_on_read_discards_those_bytes(store: Store) {
    let mut h = host(store);
    let data = pattern(1024, 3);
    assert_eq!(h.write_blocks(1, 0, &data), Status::SUCCESS);
    let (a, b) = (h.alloc(PAGE), h.alloc(PAGE));
    // The bit bucket's address field points at a sentinel, which must stay untouched.
    let sentinel = h.alloc_with(&[0x5a; 512]);
    let seg = segment(&mut h, &[Descriptor::data(a, 256), bit_bucket(512, sentinel), Descriptor::data(b, 256)]);
    let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::segment(seg, 48, true).encode()));
    assert_eq!(c.status, Status::SUCCESS);
    assert!(h.get(a, 256) == data[..256]);
    assert!(h.get(b, 256) == data[768..]);
    assert!(h.get(a + 256, PAGE - 256).iter().all(|&x| x == 0), "nothing after the first piece");
    assert!(h.get(sentinel, 512).iter().all(|&x| x == 0x5a), "bit bucket bytes go nowhere");
}

fn sgl_bit_bucket_on_write_is_descriptor_type_invalid(store: Store) {
    let mut h = host(store);
    let a = h.alloc(PAGE);
    let seg = segment(&mut h, &[Descriptor::data(a, 512), bit_bucket(512, 0)]);
    let c = h.io(1, cmd::write(1, 0, 2).with_sgl1(Descriptor::segment(seg, 32, true).encode()));
    assert_eq!(c.status, Status::SGL_DESCRIPTOR_TYPE_INVALID);
    assert!(c.status.dnr);
}

fn sgl_shorter_or_longer_than_transfer_is_data_sgl_length_invalid(store: Store) {
    let mut h = host(store);
    let a = h.alloc(PAGE);
    for len in [1023, 1025, 512] {
        let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::data(a, len).encode()));
        assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID, "{len}-byte SGL for 1024 bytes");
        let c = h.io(1, cmd::write(1, 0, 2).with_sgl1(Descriptor::data(a, len).encode()));
        assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID, "{len}-byte SGL for a 1024-byte write");
    }
}

fn sgl_segment_length_not_multiple_of_16_is_invalid_segment_descriptor(store: Store) {
    let mut h = host(store);
    let a = h.alloc(PAGE);
    let seg = segment(&mut h, &[Descriptor::data(a, 512), Descriptor::data(a + 512, 512)]);
    for len in [24, 8, 0] {
        let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::segment(seg, len, true).encode()));
        assert_eq!(c.status, Status::INVALID_SGL_SEGMENT_DESCRIPTOR, "segment length {len}");
    }
}

fn sgl_keyed_transport_and_offset_descriptors_are_type_invalid(store: Store) {
    let mut h = host(store);
    let a = h.alloc(PAGE);
    let keyed = Descriptor { addr: a, len: 512, dtype: 0x4, subtype: 0 };
    let transport = Descriptor { addr: a, len: 512, dtype: 0x5, subtype: 0 };
    let offset = Descriptor { addr: 0, len: 512, dtype: desc_type::DATA_BLOCK, subtype: 0x1 };
    let reserved = Descriptor { addr: a, len: 512, dtype: 0x9, subtype: 0 };
    for d in [keyed, transport, offset, reserved] {
        let c = h.io(1, cmd::read(1, 0, 1).with_sgl1(d.encode()));
        assert_eq!(c.status, Status::SGL_DESCRIPTOR_TYPE_INVALID, "{d:?}");
    }
}

fn sgl_self_linked_segment_completes_with_a_status(store: Store) {
    let _w = watchdog(Duration::from_secs(20), "self-linked SGL segment");
    let mut h = host(store);
    // A segment whose last descriptor points back at itself, with zero-length data.
    let seg = h.alloc(PAGE);
    let descs = [Descriptor::data(seg, 0), Descriptor::segment(seg, 32, false)];
    h.put(seg, &descs.iter().flat_map(|d| d.encode()).collect::<Vec<_>>());
    let c = h.io(1, cmd::read(1, 0, 1).with_sgl1(Descriptor::segment(seg, 32, false).encode()));
    assert_eq!(c.status, Status::INVALID_SGL_DESCRIPTOR_COUNT);
    // A single-descriptor segment that is its own successor.
    h.put(seg, &Descriptor::segment(seg, 16, false).encode());
    let c = h.io(1, cmd::read(1, 0, 1).with_sgl1(Descriptor::segment(seg, 16, false).encode()));
    assert_eq!(c.status, Status::INVALID_SGL_DESCRIPTOR_COUNT);
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::SUCCESS, "queue still works");
}

fn sgl_segment_or_data_outside_dma_map_is_data_transfer_error(store: Store) {
    let mut h = host(store);
    let seg = h.alloc(PAGE);
    h.mem.poison(seg, PAGE);
    let c = h.io(1, cmd::read(1, 0, 1).with_sgl1(Descriptor::segment(seg, 16, true).encode()));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR, "segment unreadable");
    let c = h.io(1, cmd::read(1, 0, 1).with_sgl1(Descriptor::data(seg, 512).encode()));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR, "read into unmapped memory");
    let c = h.io(1, cmd::write(1, 0, 1).with_sgl1(Descriptor::data(seg, 512).encode()));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR, "write from unmapped memory");
}

fn reserved_psdt_is_invalid_field(store: Store) {
    let mut h = host(store);
    let a = h.alloc(PAGE);
    let c = h.io(1, cmd::read(1, 0, 1).with_prps(a, 0).with_psdt(3));
    assert_eq!(c.status, Status::INVALID_FIELD);
}

on_both_stores!(
    sgl_data_block_round_trips,
    sgl_segment_and_last_segment_chain_round_trips,
    sgl_bit_bucket_on_read_discards_those_bytes,
    sgl_bit_bucket_on_write_is_descriptor_type_invalid,
    sgl_shorter_or_longer_than_transfer_is_data_sgl_length_invalid,
    sgl_segment_length_not_multiple_of_16_is_invalid_segment_descriptor,
    sgl_keyed_transport_and_offset_descriptors_are_type_invalid,
    sgl_self_linked_segment_completes_with_a_status,
    sgl_segment_or_data_outside_dma_map_is_data_transfer_error,
    reserved_psdt_is_invalid_field,
);
