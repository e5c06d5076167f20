//! NVM commands with bad input, and PRP data pointers (NVMe-Base 4.3.1; NVM-CS 3):
//! exact statuses for a bad opcode, namespace, LBA range, transfer size and PRP
//! entry, and a PRP list that chains across list pages. Every body runs over the
//! in-memory and the file store.

use super::fake_host::{cmd, on_every_store, pattern, FakeHost, NsConfig, Store, PAGE};
use crate::spec::{Status, SubmissionEntry};

fn host(store: Store) -> FakeHost {
    FakeHost::with_io(store, NsConfig::new(512))
}

fn unknown_io_opcode_is_invalid_opcode(store: Store) {
    let mut h = host(store);
    // 7Fh is reserved; 0Dh (Reservation Register) is not implemented and not in ONCS.
    for opc in [0x7f, 0x0d] {
        let c = h.io(1, SubmissionEntry::new(opc, 0, 1));
        assert_eq!(c.status, Status::INVALID_OPCODE, "opcode {opc:#x}");
    }
}

fn nsid_zero_or_above_nn_is_invalid_namespace(store: Store) {
    let mut h = host(store);
    let buf = h.alloc(PAGE);
    for nsid in [0, 2, 0xffff_ffff] {
        let c = h.io(1, cmd::read(nsid, 0, 1).with_prps(buf, 0));
        assert_eq!(c.status, Status::INVALID_NAMESPACE, "read nsid {nsid:#x}");
        let c = h.io(1, cmd::write(nsid, 0, 1).with_prps(buf, 0));
        assert_eq!(c.status, Status::INVALID_NAMESPACE, "write nsid {nsid:#x}");
    }
    assert_eq!(h.io(1, cmd::flush(0)).status, Status::INVALID_NAMESPACE);
}

fn range_beyond_namespace_is_lba_out_of_range(store: Store) {
    let mut h = host(store);
    let nlbas = h.config(1).nlbas();
    let buf = h.alloc(2 * PAGE);
    let c = h.io(1, cmd::read(1, nlbas - 1, 2).with_prps(buf, 0));
    assert_eq!(c.status, Status::LBA_OUT_OF_RANGE);
    assert!(c.status.dnr);
    let c = h.io(1, cmd::write(1, nlbas, 1).with_prps(buf, 0));
    assert_eq!(c.status, Status::LBA_OUT_OF_RANGE);
    // The last block itself is in range.
    assert_eq!(h.io(1, cmd::read(1, nlbas - 1, 1).with_prps(buf, 0)).status, Status::SUCCESS);
}

fn slba_near_u64_max_is_lba_out_of_range(store: Store) {
    let mut h = host(store);
    let buf = h.alloc(PAGE);
    for slba in [u64::MAX, u64::MAX - 1] {
        let c = h.io(1, cmd::read(1, slba, 4).with_prps(buf, 0));
        assert_eq!(c.status, Status::LBA_OUT_OF_RANGE, "slba {slba:#x}");
        let c = h.io(1, cmd::write_zeroes(1, slba, 4));
        assert_eq!(c.status, Status::LBA_OUT_OF_RANGE, "write zeroes slba {slba:#x}");
    }
}

fn transfer_above_mdts_is_invalid_field(store: Store) {
    let mut h = host(store);
    let mdts = crate::controller::ControllerConfig::default().max_transfer();
    let nlb = mdts / 512 + 1;
    let buf = h.alloc(nlb * 512);
    let (p1, p2) = h.prps(buf, mdts);
    let c = h.io(1, cmd::read(1, 0, nlb).with_prps(p1, p2));
    assert_eq!(c.status, Status::INVALID_FIELD);
    // Exactly MDTS is allowed.
    let c = h.io(1, cmd::read(1, 0, nlb - 1).with_prps(p1, p2));
    assert_eq!(c.status, Status::SUCCESS);
}

fn prp1_not_dword_aligned_is_prp_offset_invalid(store: Store) {
    let mut h = host(store);
    let buf = h.alloc(PAGE);
    let c = h.io(1, cmd::read(1, 0, 1).with_prps(buf + 2, 0));
    assert_eq!(c.status, Status::PRP_OFFSET_INVALID);
    assert!(c.status.dnr);
}

fn prp2_with_offset_in_two_page_transfer_is_prp_offset_invalid(store: Store) {
    let mut h = host(store);
    let a = h.alloc(PAGE);
    let b = h.alloc(PAGE);
    // 4 KiB from the middle of page a: the rest goes to PRP2, which must be page aligned.
    let c = h.io(1, cmd::write(1, 0, 8).with_prps(a + 0x800, b + 0x10));
    assert_eq!(c.status, Status::PRP_OFFSET_INVALID);
    let c = h.io(1, cmd::write(1, 0, 8).with_prps(a + 0x800, b));
    assert_eq!(c.status, Status::SUCCESS);
}

fn prp_list_entry_with_offset_is_prp_offset_invalid(store: Store) {
    let mut h = host(store);
    let data = h.alloc(3 * PAGE);
    let list = h.alloc(PAGE);
    h.put_u64s(list, &[data + PAGE, data + 2 * PAGE + 8]);
    let c = h.io(1, cmd::read(1, 0, 24).with_prps(data, list));
    assert_eq!(c.status, Status::PRP_OFFSET_INVALID);
}

/// Write `data` through PRP1 = `pages[0]` and a list at `list` naming the other
/// pages, read it back through another scattered set, compare.
fn round_trip(h: &mut FakeHost, pages: &[u64], list: u64, data: &[u8]) {
    let nlb = data.len() as u64 / 512;
    for (i, p) in pages.iter().enumerate() {
        h.put(*p, &data[i * PAGE as usize..(i + 1) * PAGE as usize]);
    }
    let c = h.io(1, cmd::write(1, 3, nlb).with_prps(pages[0], list));
    assert_eq!(c.status, Status::SUCCESS, "write");
    let (s, back) = h.read_blocks(1, 3, nlb);
    assert_eq!(s, Status::SUCCESS);
    assert!(back == data, "data read back through contiguous PRPs");
    for p in pages {
        h.put(*p, &[0u8; PAGE as usize]);
    }
    let c = h.io(1, cmd::read(1, 3, nlb).with_prps(pages[0], list));
    assert_eq!(c.status, Status::SUCCESS, "read");
    let got: Vec<u8> = pages.iter().flat_map(|p| h.get(*p, PAGE)).collect();
    assert!(got == data, "data read back through the same PRP list");
}

fn prp_list_chained_across_list_pages_round_trips(store: Store) {
    let mut h = host(store);
    // Five scattered data pages; the list starts 24 bytes before the end of its
    // page: two entries, then a pointer to the second list page.
    let pages: Vec<u64> = (0..5).map(|_| h.alloc(2 * PAGE)).collect();
    let list1 = h.alloc(PAGE) + PAGE - 24;
    let list2 = h.alloc(PAGE);
    h.put_u64s(list1, &[pages[1], pages[2], list2]);
    h.put_u64s(list2, &[pages[3], pages[4]]);
    round_trip(&mut h, &pages, list1, &pattern(5 * PAGE as usize, 1));
}

fn prp_list_filling_its_page_exactly_has_no_chain_pointer(store: Store) {
    let mut h = host(store);
    // Three pages: PRP1 plus two list entries, the list ending exactly at the end
    // of its page. The last slot is a data page, not a pointer to another list.
    let pages: Vec<u64> = (0..3).map(|_| h.alloc(2 * PAGE)).collect();
    let list = h.alloc(PAGE) + PAGE - 16;
    h.put_u64s(list, &[pages[1], pages[2]]);
    round_trip(&mut h, &pages, list, &pattern(3 * PAGE as usize, 2));
}

fn data_buffer_outside_dma_map_is_data_transfer_error(store: Store) {
    let mut h = host(store);
    let buf = h.alloc(2 * PAGE);
    h.mem.poison(buf + PAGE, PAGE);
    // The first page is mapped, the second is not.
    let c = h.io(1, cmd::write(1, 0, 16).with_prps(buf, buf + PAGE));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR);
    let c = h.io(1, cmd::read(1, 0, 16).with_prps(buf, buf + PAGE));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR);
}

fn prp_list_outside_dma_map_is_data_transfer_error(store: Store) {
    let mut h = host(store);
    let data = h.alloc(3 * PAGE);
    let list = h.alloc(PAGE);
    h.mem.poison(list, PAGE);
    let c = h.io(1, cmd::read(1, 0, 24).with_prps(data, list));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR);
}

fn failed_write_leaves_the_medium_unchanged(store: Store) {
    let mut h = host(store);
    let old = pattern(1024, 3);
    assert_eq!(h.write_blocks(1, 7, &old), Status::SUCCESS);
    let buf = h.alloc_with(&pattern(1024, 4));
    h.mem.poison(buf + 512, 512);
    assert_eq!(h.io(1, cmd::write(1, 7, 2).with_prps(buf, 0)).status, Status::DATA_TRANSFER_ERROR);
    assert_eq!(h.read_blocks(1, 7, 2), (Status::SUCCESS, old));
}

on_every_store!(
    unknown_io_opcode_is_invalid_opcode,
    nsid_zero_or_above_nn_is_invalid_namespace,
    range_beyond_namespace_is_lba_out_of_range,
    slba_near_u64_max_is_lba_out_of_range,
    transfer_above_mdts_is_invalid_field,
    prp1_not_dword_aligned_is_prp_offset_invalid,
    prp2_with_offset_in_two_page_transfer_is_prp_offset_invalid,
    prp_list_entry_with_offset_is_prp_offset_invalid,
    prp_list_chained_across_list_pages_round_trips,
    prp_list_filling_its_page_exactly_has_no_chain_pointer,
    data_buffer_outside_dma_map_is_data_transfer_error,
    prp_list_outside_dma_map_is_data_transfer_error,
    failed_write_leaves_the_medium_unchanged,
);
