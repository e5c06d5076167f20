//! Protection information in extended LBAs and from Write Zeroes (NVM-CS 5.3,
//! 3.3.7): a tuple interleaved in the host buffer that straddles two PRP pages is
//! checked and stored intact; PRACT on an extended 512+8 namespace moves data
//! only; Write Zeroes leaves blocks that pass every check. Both stores.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store, PAGE};
use super::pi_io::{corrupt, read, tuple_at, tuples, type1_512, Prinfo, ALL, APP_TAG, GUARD, PRACT};
use crate::pi::GuardFormat;
use crate::spec::Status;

fn type1_512_extended() -> NsConfig {
    type1_512().extended()
}

/// Data and metadata interleaved block by block.
fn interleave(data: &[u8], md: &[u8]) -> Vec<u8> {
    data.chunks(512).zip(md.chunks(8)).flat_map(|(d, m)| d.iter().chain(m).copied()).collect()
}

/// A buffer starting 460 bytes into page `a` and continuing in page `b`, so the
/// eight 520-byte blocks put block 6's tuple across the page boundary.
fn straddling_buffer(h: &mut FakeHost) -> (u64, u64) {
    (h.alloc(PAGE) + 460, h.alloc(2 * PAGE) + PAGE)
}

fn put_split(h: &FakeHost, (p1, p2): (u64, u64), bytes: &[u8]) {
    let n = (PAGE - p1 % PAGE) as usize;
    h.put(p1, &bytes[..n]);
    h.put(p2, &bytes[n..]);
}

fn get_split(h: &FakeHost, (p1, p2): (u64, u64), len: usize) -> Vec<u8> {
    let n = (PAGE - p1 % PAGE) as usize;
    let mut v = h.get(p1, n as u64);
    v.extend(h.get(p2, (len - n) as u64));
    v
}

fn extended_pi_straddling_pages_round_trips(store: Store) {
    let ns = type1_512_extended();
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(8 * 512, 1);
    let ext = interleave(&data, &tuples(ns, &data, APP_TAG, 24));
    let wbuf = straddling_buffer(&mut h);
    put_split(&h, wbuf, &ext);
    let w = Prinfo::check(ALL, 24).apply(cmd::write(1, 24, 8).with_prps(wbuf.0, wbuf.1));
    assert_eq!(h.io(1, w).status, Status::SUCCESS);
    let rbuf = straddling_buffer(&mut h);
    let r = Prinfo::check(ALL, 24).apply(cmd::read(1, 24, 8).with_prps(rbuf.0, rbuf.1));
    assert_eq!(h.io(1, r).status, Status::SUCCESS);
    assert!(get_split(&h, rbuf, ext.len()) == ext);
}

fn extended_pi_straddling_tuple_is_checked(store: Store) {
    let ns = type1_512_extended();
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(8 * 512, 2);
    let mut md = tuples(ns, &data, APP_TAG, 24);
    // Block 6's guard sits at buffer bytes 3632..3634: the first page.
    corrupt(ns, &mut md, 6, 1);
    let wbuf = straddling_buffer(&mut h);
    put_split(&h, wbuf, &interleave(&data, &md));
    let w = Prinfo::check(GUARD, 24).apply(cmd::write(1, 24, 8).with_prps(wbuf.0, wbuf.1));
    assert_eq!(h.io(1, w).status, Status::GUARD_CHECK_ERROR);
    // And one whose reference tag (bytes 3636..3640, the second page) is wrong.
    let mut md = tuples(ns, &data, APP_TAG, 24);
    corrupt(ns, &mut md, 6, 7);
    put_split(&h, wbuf, &interleave(&data, &md));
    let w = Prinfo::check(ALL, 24).apply(cmd::write(1, 24, 8).with_prps(wbuf.0, wbuf.1));
    assert_eq!(h.io(1, w).status, Status::REF_TAG_CHECK_ERROR);
}

fn extended_pract_moves_data_only(store: Store) {
    let ns = type1_512_extended();
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(3 * 512, 3);
    let buf = h.alloc_with(&data);
    let p = Prinfo { bits: PRACT, ilbrt: 12, app: 0x0abc, mask: 0 };
    // 1536 bytes, no tuples: PRACT with metadata = PI size transfers data only.
    assert_eq!(h.io(1, p.apply(cmd::write(1, 12, 3).with_prps(buf, 0))).status, Status::SUCCESS);
    let out = h.alloc(PAGE);
    let r = Prinfo { bits: ALL, ilbrt: 12, app: 0x0abc, mask: 0xffff };
    assert_eq!(h.io(1, r.apply(cmd::read(1, 12, 3).with_prps(out, 0))).status, Status::SUCCESS);
    let ext = h.get(out, 3 * 520);
    for (i, blk) in ext.chunks(520).enumerate() {
        assert!(blk[..512] == data[i * 512..(i + 1) * 512], "block {i} data");
        let t = tuple_at(ns, &blk[512..], 0);
        assert_eq!((t.app_tag, t.ref_tag), (0x0abc, 12 + i as u64), "block {i} tuple");
        assert_eq!(t.guard, GuardFormat::Crc16T10Dif.compute(&blk[..512], &[]));
    }
}

fn write_zeroes_with_pract_generates_pi(store: Store) {
    let ns = type1_512();
    let mut h = FakeHost::with_io(store, ns);
    let wz = Prinfo { bits: PRACT, ilbrt: 33, app: 0x0077, mask: 0 }.apply(cmd::write_zeroes(1, 33, 4));
    assert_eq!(h.io(1, wz).status, Status::SUCCESS);
    let (s, data, md) = read(&mut h, 33, 4, Prinfo { bits: ALL, ilbrt: 33, app: 0x0077, mask: 0xffff });
    assert_eq!(s, Status::SUCCESS);
    assert!(data.iter().all(|&b| b == 0));
    for i in 0..4 {
        let t = tuple_at(ns, &md, i);
        assert_eq!((t.guard, t.app_tag, t.ref_tag), (0, 0x0077, 33 + i as u64), "CRC-16 of zeroes is 0");
    }
}

/// Without PRACT the zeroed blocks get all-zero PI (NVM-CS 1.0 3.2.8): unchecked
/// reads return zeroes, and the application and reference tag checks fail.
fn write_zeroes_without_pract_stores_zero_pi(store: Store) {
    let ns = type1_512();
    let mut h = FakeHost::with_io(store, ns);
    let data = pattern(4 * 512, 4);
    let dbuf = h.alloc_with(&data);
    let mbuf = h.alloc_with(&tuples(ns, &data, APP_TAG, 90));
    let w = Prinfo::check(ALL, 90).apply(cmd::write(1, 90, 4).with_prps(dbuf, 0).with_mptr(mbuf));
    assert_eq!(h.io(1, w).status, Status::SUCCESS);
    assert_eq!(h.io(1, cmd::write_zeroes(1, 91, 2)).status, Status::SUCCESS);
    let (s, back, md) = read(&mut h, 90, 4, Prinfo::check(0, 90));
    assert_eq!(s, Status::SUCCESS);
    let mut expect = data;
    expect[512..1536].fill(0);
    assert!(back == expect);
    assert_eq!(&md[8..24], &[0u8; 16], "zero PI");
    // The guard of zero data over zeroes is 0 (CRC-16), so the guard passes; the tags do not.
    assert_eq!(read(&mut h, 91, 1, Prinfo::check(GUARD, 91)).0, Status::SUCCESS);
    assert_eq!(read(&mut h, 91, 1, Prinfo::check(ALL, 91)).0, Status::APP_TAG_CHECK_ERROR);
    // With DEAC the blocks are deallocated: the escape tuple, every check passes.
    let wz = cmd::write_zeroes(1, 92, 2);
    assert_eq!(h.io(1, wz.with_cdw(12, wz.cdw12() | 1 << 25)).status, Status::SUCCESS);
    assert_eq!(read(&mut h, 92, 2, Prinfo::check(ALL, 92)).0, Status::SUCCESS);
}

on_every_store!(
    extended_pi_straddling_pages_round_trips,
    extended_pi_straddling_tuple_is_checked,
    extended_pract_moves_data_only,
    write_zeroes_with_pract_generates_pi,
    write_zeroes_without_pract_stores_zero_pi,
);
