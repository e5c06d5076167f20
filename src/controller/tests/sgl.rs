//! SGL data pointers on NVM commands (NVMe-Base 4.3.2): Data Block, Segment and
//! Last Segment chains, Bit Bucket, SGLs longer than the transfer (accepted by
//! default, SGLS bit 18; refused with `--strict-sgl-length`), and the exact status
//! for each malformed list. Every body runs over the in-memory and the file store.

use super::fake_host::{cmd, on_every_store, pattern, watchdog, FakeHost, NsConfig, Store, PAGE};
use crate::controller::ControllerConfig;
use crate::dma::sgl::{desc_type, Descriptor, SglLength};
use crate::spec::identify::ctrl as c;
use crate::spec::Status;
use std::time::Duration;

fn host(store: Store) -> FakeHost {
    FakeHost::with_io(store, NsConfig::new(512))
}

/// A host whose controller refuses SGLs longer than the transfer, on namespace `ns`.
fn strict_host(store: Store, ns: NsConfig) -> FakeHost {
    let config = ControllerConfig { sgl_length: SglLength::Exact, ..ControllerConfig::default() };
    let mut h = FakeHost::with_config(store, &[ns], config);
    h.enable();
    h.create_io_queues(1, 64);
    h
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

/// In a source buffer a Bit Bucket is treated as if its Length were 0h (NVMe-Base
/// 4.3.2): it neither skips host bytes nor counts toward the SGL length.
fn sgl_bit_bucket_on_write_has_no_effect(store: Store) {
    for mut h in [host(store), strict_host(store, NsConfig::new(512))] {
        let data = pattern(1024, 4);
        let (a, b) = (h.alloc_with(&data[..512]), h.alloc_with(&data[512..]));
        let seg = segment(&mut h, &[Descriptor::data(a, 512), bit_bucket(512, 0), Descriptor::data(b, 512)]);
        let c = h.io(1, cmd::write(1, 0, 2).with_sgl1(Descriptor::segment(seg, 48, true).encode()));
        assert_eq!(c.status, Status::SUCCESS);
        assert_eq!(h.read_blocks(1, 0, 2), (Status::SUCCESS, data));
    }
}

/// A Segment or Last Segment descriptor anywhere but last in its segment.
fn sgl_segment_descriptor_not_last_is_invalid_number_of_sgl_descriptors(store: Store) {
    let mut h = host(store);
    let (a, next) = (h.alloc(PAGE), h.alloc(PAGE));
    for last in [true, false] {
        let seg = segment(&mut h, &[Descriptor::segment(next, 16, last), Descriptor::data(a, 512)]);
        let c = h.io(1, cmd::read(1, 0, 1).with_sgl1(Descriptor::segment(seg, 32, false).encode()));
        assert_eq!(c.status, Status::INVALID_SGL_DESCRIPTOR_COUNT, "last segment: {last}");
        assert!(c.status.dnr);
    }
}

fn sgl_shorter_than_transfer_is_data_sgl_length_invalid_in_both_modes(store: Store) {
    for mut h in [host(store), strict_host(store, NsConfig::new(512))] {
        let a = h.alloc(PAGE);
        for len in [1023, 512, 0] {
            let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::data(a, len).encode()));
            assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID, "{len}-byte SGL for 1024 bytes");
            assert!(c.status.dnr);
            let c = h.io(1, cmd::write(1, 0, 2).with_sgl1(Descriptor::data(a, len).encode()));
            assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID, "{len}-byte SGL for a 1024-byte write");
        }
    }
}

/// `nvme write --data-size=4096 --block-count=0` on a 512-byte namespace: the
/// kernel maps the whole 4096-byte buffer into one Data Block.
fn sgl_longer_than_a_write_writes_exactly_the_commands_bytes(store: Store) {
    let mut h = host(store);
    let before = pattern(2048, 20);
    assert_eq!(h.write_blocks(1, 4, &before), Status::SUCCESS);
    let buf = pattern(4096, 21);
    let src = h.alloc_with(&buf);
    let c = h.io(1, cmd::write(1, 4, 1).with_sgl1(Descriptor::data(src, 4096).encode()));
    assert_eq!(c.status, Status::SUCCESS);
    let (s, got) = h.read_blocks(1, 4, 4);
    assert_eq!(s, Status::SUCCESS);
    assert!(got[..512] == buf[..512], "the command's block holds the buffer's first 512 bytes");
    assert!(got[512..] == before[512..], "the blocks after it are untouched");
}

fn sgl_longer_than_a_read_fills_exactly_the_commands_bytes(store: Store) {
    let mut h = host(store);
    let data = pattern(1024, 22);
    assert_eq!(h.write_blocks(1, 0, &data), Status::SUCCESS);
    let dst = h.alloc_with(&[0x5a; 4096]);
    let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::data(dst, 4096).encode()));
    assert_eq!(c.status, Status::SUCCESS);
    assert!(h.get(dst, 1024) == data);
    assert!(h.get(dst + 1024, 3072).iter().all(|&x| x == 0x5a), "nothing written past the transfer");
}

/// A chain of 700 + 600 + 512 bytes for a 1024-byte transfer, whose Last Segment
/// descriptor (past the transfer) points outside the DMA map: the transfer uses
/// 700 + 324 bytes and the unneeded segment is never fetched.
fn sgl_longer_chain_is_used_up_to_the_transfer_and_no_further(store: Store) {
    let mut h = host(store);
    let (a, b, c3) = (h.alloc_with(&[0x5a; 700]), h.alloc_with(&[0x5a; 600]), h.alloc_with(&[0x5a; 512]));
    let unmapped = h.alloc(PAGE);
    h.mem.poison(unmapped, PAGE);
    let second = segment(
        &mut h,
        &[Descriptor::data(b, 600), Descriptor::data(c3, 512), Descriptor::segment(unmapped, 16, true)],
    );
    let first = segment(&mut h, &[Descriptor::data(a, 700), Descriptor::segment(second, 48, false)]);
    let sgl = Descriptor::segment(first, 32, false).encode();
    let data = pattern(1024, 23);
    assert_eq!(h.write_blocks(1, 2, &data), Status::SUCCESS);
    assert_eq!(h.io(1, cmd::read(1, 2, 2).with_sgl1(sgl)).status, Status::SUCCESS);
    assert!(h.get(a, 700) == data[..700]);
    assert!(h.get(b, 324) == data[700..]);
    assert!(h.get(b + 324, 276).iter().all(|&x| x == 0x5a), "the rest of the second block untouched");
    assert!(h.get(c3, 512).iter().all(|&x| x == 0x5a), "the third block untouched");
    // And a write through the same chain takes the same bytes.
    let src = pattern(1812, 24);
    h.put(a, &src[..700]);
    h.put(b, &src[700..1300]);
    h.put(c3, &src[1300..]);
    assert_eq!(h.io(1, cmd::write(1, 2, 2).with_sgl1(sgl)).status, Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 2, 2), (Status::SUCCESS, src[..1024].to_vec()));
}

fn strict_sgl_length_refuses_a_longer_sgl(store: Store) {
    let mut h = strict_host(store, NsConfig::new(512));
    let data = pattern(1024, 25);
    assert_eq!(h.write_blocks(1, 0, &data), Status::SUCCESS);
    let buf = h.alloc_with(&[0x5a; 4096]);
    for len in [1025, 4096] {
        let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::data(buf, len).encode()));
        assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID, "{len}-byte SGL for a 1024-byte read");
        assert!(c.status.dnr);
        let c = h.io(1, cmd::write(1, 0, 2).with_sgl1(Descriptor::data(buf, len).encode()));
        assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID, "{len}-byte SGL for a 1024-byte write");
    }
    assert!(h.get(buf, 4096).iter().all(|&x| x == 0x5a), "nothing read into the buffer");
    assert_eq!(h.read_blocks(1, 0, 2), (Status::SUCCESS, data), "nothing written");
    // Longer by a whole descriptor at the end of a chain.
    let seg = segment(&mut h, &[Descriptor::data(buf, 1024), Descriptor::data(buf + 1024, 512)]);
    let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::segment(seg, 32, true).encode()));
    assert_eq!(c.status, Status::DATA_SGL_LENGTH_INVALID);
    // Exactly long is fine.
    let c = h.io(1, cmd::read(1, 0, 2).with_sgl1(Descriptor::data(buf, 1024).encode()));
    assert_eq!(c.status, Status::SUCCESS);
}

/// PSDT 10b on 512+8 with separate metadata: MPTR names a 64-byte metadata Data
/// Block for a 2-block command, which moves 16 metadata bytes.
fn metadata_sgl_longer_than_needed(store: Store) {
    let ns = NsConfig::new(512).metadata(8);
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(1024, 26);
    let md = pattern(64, 27);
    let (dbuf, mbuf) = (h.alloc_with(&data), h.alloc_with(&md));
    let mdesc = h.alloc_with(&Descriptor::data(mbuf, 64).encode());
    let w = cmd::write(1, 0, 2).with_sgl1(Descriptor::data(dbuf, 1024).encode()).with_mptr(mdesc).with_psdt(2);
    assert_eq!(h.io(1, w).status, Status::SUCCESS);
    let (dout, mout) = (h.alloc(PAGE), h.alloc_with(&[0x5a; 64]));
    let mdesc = h.alloc_with(&Descriptor::data(mout, 64).encode());
    let r = cmd::read(1, 0, 2).with_sgl1(Descriptor::data(dout, 1024).encode()).with_mptr(mdesc).with_psdt(2);
    assert_eq!(h.io(1, r).status, Status::SUCCESS);
    assert!(h.get(dout, 1024) == data);
    assert!(h.get(mout, 16) == md[..16], "the metadata written was the buffer's first 16 bytes");
    assert!(h.get(mout + 16, 48).iter().all(|&x| x == 0x5a), "nothing read past 16 metadata bytes");

    let mut h = strict_host(store, ns);
    let (dbuf, mbuf, dout) = (h.alloc_with(&data), h.alloc_with(&md), h.alloc(PAGE));
    let mdesc = h.alloc_with(&Descriptor::data(mbuf, 64).encode());
    let w = cmd::write(1, 0, 2).with_sgl1(Descriptor::data(dbuf, 1024).encode()).with_mptr(mdesc).with_psdt(2);
    let c = h.io(1, w);
    assert_eq!(c.status, Status::METADATA_SGL_LENGTH_INVALID);
    assert!(c.status.dnr);
    let mout = h.alloc_with(&[0x5a; 64]);
    let mdesc = h.alloc_with(&Descriptor::data(mout, 64).encode());
    let r = cmd::read(1, 0, 2).with_sgl1(Descriptor::data(dout, 1024).encode()).with_mptr(mdesc).with_psdt(2);
    assert_eq!(h.io(1, r).status, Status::METADATA_SGL_LENGTH_INVALID);
    assert!(h.get(mout, 64).iter().all(|&x| x == 0x5a), "nothing read into the metadata buffer");
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

on_every_store!(
    sgl_data_block_round_trips,
    sgl_segment_and_last_segment_chain_round_trips,
    sgl_bit_bucket_on_read_discards_those_bytes,
    sgl_bit_bucket_on_write_has_no_effect,
    sgl_segment_descriptor_not_last_is_invalid_number_of_sgl_descriptors,
    sgl_shorter_than_transfer_is_data_sgl_length_invalid_in_both_modes,
    sgl_longer_than_a_write_writes_exactly_the_commands_bytes,
    sgl_longer_than_a_read_fills_exactly_the_commands_bytes,
    sgl_longer_chain_is_used_up_to_the_transfer_and_no_further,
    strict_sgl_length_refuses_a_longer_sgl,
    metadata_sgl_longer_than_needed,
    sgl_segment_length_not_multiple_of_16_is_invalid_segment_descriptor,
    sgl_keyed_transport_and_offset_descriptors_are_type_invalid,
    sgl_self_linked_segment_completes_with_a_status,
    sgl_segment_or_data_outside_dma_map_is_data_transfer_error,
    reserved_psdt_is_invalid_field,
);

/// Identify Controller SGLS: byte-granular SGLs (01b), Bit Bucket (16), MPTR as an
/// SGL descriptor (19), and bit 18 (SGL longer than the transfer) unless strict.
#[test]
fn identify_sgls_bit_18_follows_strict_sgl_length() {
    for (mut h, bit18) in [(host(Store::Mem), 1 << 18), (strict_host(Store::Mem, NsConfig::new(512)), 0)] {
        let (cqe, d) = h.identify(0x01, 0);
        assert_eq!(cqe.status, Status::SUCCESS);
        let sgls = u32::from_le_bytes(d[c::SGLS..c::SGLS + 4].try_into().unwrap());
        assert_eq!(sgls, 0x1 | 1 << 16 | bit18 | 1 << 19);
    }
}
