//! Admin commands with bad input complete with the exact status NVMe-Base names
//! (Identify 5.1.13, Get Log Page 5.1.12, Get / Set Features 5.1.11 / 5.1.25,
//! the common command format 4.1): SCT, SC and DNR.

use super::fake_host::{cmd, FakeHost, NsConfig, Store, PAGE};
use crate::spec::opcode::admin as aop;
use crate::spec::{Status, SubmissionEntry};

fn host() -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512), NsConfig::new(4096)]);
    h.enable();
    h
}

#[test]
fn unknown_admin_opcode_is_invalid_opcode() {
    let mut h = host();
    // C0h is vendor specific; 7Fh is reserved.
    for opc in [0xc0, 0x7f] {
        let c = h.admin(SubmissionEntry::new(opc, 0, 0));
        assert_eq!(c.status, Status::INVALID_OPCODE, "opcode {opc:#x}");
        assert!(c.status.dnr);
    }
}

#[test]
fn identify_reserved_cns_is_invalid_field() {
    let mut h = host();
    let (c, _) = h.identify(0x55, 0);
    assert_eq!(c.status, Status::INVALID_FIELD);
}

#[test]
fn identify_namespace_nsid_zero_or_above_nn_is_invalid_namespace() {
    let mut h = host();
    for nsid in [0, 3, 0xffff_fffe] {
        let (c, _) = h.identify(0x00, nsid);
        assert_eq!(c.status, Status::INVALID_NAMESPACE, "nsid {nsid:#x}");
    }
}

#[test]
fn identify_reserved_cdw10_bits_are_invalid_field() {
    let mut h = host();
    // CDW10 bits 15:08 are reserved.
    let (c, _) = h.admin_read(cmd::identify(0x01, 0).with_cdw(10, 0x01 | 0x5a << 8), PAGE);
    assert_eq!(c.status, Status::INVALID_FIELD);
}

#[test]
fn get_log_page_unknown_lid_is_invalid_log_page() {
    let mut h = host();
    let (c, _) = h.admin_read(cmd::get_log_page(0x7e, 0, 512), 512);
    assert_eq!(c.status, Status::INVALID_LOG_PAGE);
    assert!(c.status.dnr);
}

#[test]
fn get_features_unknown_fid_is_invalid_field() {
    let mut h = host();
    let c = h.admin(cmd::get_features(0x7d, 0));
    assert_eq!(c.status, Status::INVALID_FIELD);
}

#[test]
fn get_features_reserved_select_is_invalid_field() {
    let mut h = host();
    for sel in 4..8 {
        let c = h.admin(cmd::get_features(0x07, sel));
        assert_eq!(c.status, Status::INVALID_FIELD, "SEL {sel}");
    }
    // The defined selections work.
    for sel in 0..4 {
        assert_eq!(h.admin(cmd::get_features(0x07, sel)).status, Status::SUCCESS, "SEL {sel}");
    }
}

#[test]
fn set_features_save_is_feature_not_saveable() {
    let mut h = host();
    let c = h.admin(cmd::set_features(0x01, 0).with_cdw(10, 0x01 | 1 << 31));
    assert_eq!(c.status, Status::FEATURE_NOT_SAVEABLE);
    assert_eq!((c.status.sct, c.status.sc, c.status.dnr), (1, 0x0d, true));
}

#[test]
fn number_of_queues_ffff_is_invalid_field() {
    let mut h = host();
    assert_eq!(h.admin(cmd::number_of_queues(0xffff, 3)).status, Status::INVALID_FIELD);
    assert_eq!(h.admin(cmd::number_of_queues(3, 0xffff)).status, Status::INVALID_FIELD);
}

#[test]
fn number_of_queues_grants_at_most_the_maximum() {
    let mut h = host();
    let c = h.admin(cmd::number_of_queues(3, 1));
    assert_eq!(c.status, Status::SUCCESS);
    assert_eq!(c.dw0, 3 | 1 << 16);
    let c = h.admin(cmd::number_of_queues(1000, 1000));
    assert_eq!(c.dw0, 15 | 15 << 16, "16 queues offered");
}

#[test]
fn number_of_queues_after_an_io_sq_exists_is_command_sequence_error() {
    let mut h = host();
    h.create_io_queues(1, 16);
    let c = h.admin(cmd::number_of_queues(3, 3));
    assert_eq!(c.status, Status::COMMAND_SEQUENCE_ERROR);
}

#[test]
fn number_of_queues_after_an_io_cq_exists_is_command_sequence_error() {
    // NVMe-Base 5.1.25 (Number of Queues): after creation of any I/O Submission and/or
    // Completion Queue.
    let mut h = host();
    let cq = h.alloc(PAGE);
    assert_eq!(h.admin(cmd::create_cq(1, 16, cq, 1, true)).status, Status::SUCCESS);
    let c = h.admin(cmd::number_of_queues(3, 3));
    assert_eq!(c.status, Status::COMMAND_SEQUENCE_ERROR);
}

#[test]
fn admin_command_with_sgl_psdt_is_invalid_field() {
    let mut h = host();
    for psdt in 1..4 {
        let (c, _) = h.admin_read(cmd::identify(0x01, 0).with_psdt(psdt), PAGE);
        assert_eq!(c.status, Status::INVALID_FIELD, "PSDT {psdt}");
    }
}

#[test]
fn fused_admin_command_is_invalid_field() {
    let mut h = host();
    let sqe = cmd::identify(0x01, 0);
    let fused = sqe.with_cdw(0, sqe.dw[0] | 1 << 8);
    let (c, _) = h.admin_read(fused, PAGE);
    assert_eq!(c.status, Status::INVALID_FIELD);
}

#[test]
fn admin_buffer_outside_dma_map_is_data_transfer_error() {
    let mut h = host();
    let buf = h.alloc(PAGE);
    h.mem.poison(buf, PAGE);
    let c = h.admin(cmd::identify(0x01, 0).with_prps(buf, 0));
    assert_eq!(c.status, Status::DATA_TRANSFER_ERROR);
    // The controller keeps working.
    let (c, _) = h.identify(0x01, 0);
    assert_eq!(c.status, Status::SUCCESS);
}

#[test]
fn admin_prp1_not_dword_aligned_is_prp_offset_invalid() {
    let mut h = host();
    let buf = h.alloc(2 * PAGE);
    let c = h.admin(cmd::identify(0x01, 0).with_prps(buf + 2, buf + PAGE));
    assert_eq!(c.status, Status::PRP_OFFSET_INVALID);
}

#[test]
fn failed_admin_command_is_in_the_error_log() {
    let mut h = host();
    let cid = h.submit(0, SubmissionEntry::new(0xc1, 0, 0));
    assert_eq!(h.complete(0).status, Status::INVALID_OPCODE);
    let (c, log) = h.admin_read(cmd::get_log_page(0x01, 0, 64), 64);
    assert_eq!(c.status, Status::SUCCESS);
    assert_eq!(u64::from_le_bytes(log[0..8].try_into().unwrap()), 1, "error count");
    assert_eq!(u16::from_le_bytes(log[8..10].try_into().unwrap()), 0, "admin SQ");
    assert_eq!(u16::from_le_bytes(log[10..12].try_into().unwrap()), cid);
    assert_eq!(u16::from_le_bytes(log[12..14].try_into().unwrap()) >> 1, Status::INVALID_OPCODE.field());
}

#[test]
fn abort_reports_command_not_aborted() {
    let mut h = host();
    let c = h.admin(SubmissionEntry::new(aop::ABORT, 0, 0).with_cdw(10, 1 | 77 << 16));
    assert_eq!(c.status, Status::SUCCESS);
    assert_eq!(c.dw0 & 1, 1);
}
