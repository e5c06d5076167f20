//! Create / Delete I/O Completion and Submission Queue with bad input
//! (NVMe-Base 5.2.1-5.2.4): each check's exact status.

use super::fake_host::{cmd, FakeHost, NsConfig, Store, PAGE};
use crate::spec::Status;

fn host() -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    h
}

/// A page for a queue of up to 64 SQ entries.
fn ring(h: &mut FakeHost) -> u64 {
    h.alloc(PAGE)
}

#[test]
fn create_cq_qid_zero_is_invalid_queue_identifier() {
    let mut h = host();
    let b = ring(&mut h);
    assert_eq!(h.admin(cmd::create_cq(0, 16, b, 0, true)).status, Status::INVALID_QUEUE_IDENTIFIER);
}

#[test]
fn create_cq_qid_above_allocated_is_invalid_queue_identifier() {
    let mut h = host();
    assert_eq!(h.admin(cmd::number_of_queues(1, 1)).status, Status::SUCCESS);
    let b = ring(&mut h);
    assert_eq!(h.admin(cmd::create_cq(3, 16, b, 0, true)).status, Status::INVALID_QUEUE_IDENTIFIER);
    // Within the allocation it works.
    assert_eq!(h.admin(cmd::create_cq(2, 16, b, 0, true)).status, Status::SUCCESS);
}

#[test]
fn create_cq_qid_above_controller_maximum_is_invalid_queue_identifier() {
    let mut h = host();
    let b = ring(&mut h);
    assert_eq!(h.admin(cmd::create_cq(17, 16, b, 0, true)).status, Status::INVALID_QUEUE_IDENTIFIER);
    assert_eq!(h.admin(cmd::create_cq(0xffff, 16, b, 0, true)).status, Status::INVALID_QUEUE_IDENTIFIER);
}

#[test]
fn create_cq_duplicate_is_invalid_queue_identifier() {
    let mut h = host();
    let (a, b) = (ring(&mut h), ring(&mut h));
    assert_eq!(h.admin(cmd::create_cq(1, 16, a, 1, true)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::create_cq(1, 16, b, 1, true)).status, Status::INVALID_QUEUE_IDENTIFIER);
}

#[test]
fn create_cq_size_one_is_invalid_queue_size() {
    let mut h = host();
    let b = ring(&mut h);
    // QSIZE 0 (zero's based): a one-entry queue.
    assert_eq!(h.admin(cmd::create_cq_raw(1, 0, b, 0b11)).status, Status::INVALID_QUEUE_SIZE);
}

#[test]
fn create_cq_size_above_mqes_is_invalid_queue_size() {
    let mut h = host();
    let mqes = h.ctrl.mmio_read(crate::spec::registers::CAP, 8) as u32 & 0xffff;
    let b = h.alloc((mqes as u64 + 2) * 16);
    assert_eq!(h.admin(cmd::create_cq_raw(1, mqes + 1, b, 0b11)).status, Status::INVALID_QUEUE_SIZE);
    assert_eq!(h.admin(cmd::create_cq_raw(1, mqes, b, 0b11)).status, Status::SUCCESS, "MQES itself is fine");
}

#[test]
fn create_cq_not_physically_contiguous_is_invalid_field() {
    let mut h = host();
    let b = ring(&mut h);
    // CAP.CQR = 1: PC must be set.
    assert_eq!(h.admin(cmd::create_cq_raw(1, 15, b, 0b10)).status, Status::INVALID_FIELD);
}

#[test]
fn create_cq_vector_beyond_msix_table_is_invalid_interrupt_vector() {
    let mut h = host();
    let b = ring(&mut h);
    let vectors = h.irq.n;
    let c = h.admin(cmd::create_cq(1, 16, b, vectors, true));
    assert_eq!(c.status, Status::INVALID_INTERRUPT_VECTOR);
    assert_eq!((c.status.sct, c.status.sc, c.status.dnr), (1, 0x08, true));
    assert_eq!(h.admin(cmd::create_cq(1, 16, b, vectors - 1, true)).status, Status::SUCCESS);
}

#[test]
fn create_cq_misaligned_base_is_prp_offset_invalid() {
    let mut h = host();
    let b = ring(&mut h);
    assert_eq!(h.admin(cmd::create_cq(1, 16, b + 0x100, 1, true)).status, Status::PRP_OFFSET_INVALID);
}

#[test]
fn create_sq_misaligned_base_is_prp_offset_invalid() {
    let mut h = host();
    let (cq, sq) = (ring(&mut h), ring(&mut h));
    assert_eq!(h.admin(cmd::create_cq(1, 16, cq, 1, true)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::create_sq(1, 16, sq + 0x40, 1)).status, Status::PRP_OFFSET_INVALID);
}

#[test]
fn create_sq_on_cq_zero_is_invalid_queue_identifier() {
    // CQID 0h names the Admin CQ, which an I/O SQ may not use (NVMe-Base 5.2.2).
    let mut h = host();
    let sq = ring(&mut h);
    let c = h.admin(cmd::create_sq(1, 16, sq, 0));
    assert_eq!(c.status, Status::INVALID_QUEUE_IDENTIFIER);
    assert_eq!((c.status.sct, c.status.sc, c.status.dnr), (1, 0x01, true));
}

#[test]
fn create_sq_on_cq_past_the_granted_queues_is_invalid_queue_identifier() {
    let mut h = host();
    // Two CQs granted (NCQA 1): CQID 3 is outside the range, CQID 2 inside it.
    assert_eq!(h.admin(cmd::number_of_queues(1, 1)).status, Status::SUCCESS);
    let sq = ring(&mut h);
    assert_eq!(h.admin(cmd::create_sq(1, 16, sq, 3)).status, Status::INVALID_QUEUE_IDENTIFIER, "CQID 3 > NCQA + 1");
    let c = h.admin(cmd::create_sq(1, 16, sq, 2));
    assert_eq!(c.status, Status::INVALID_COMPLETION_QUEUE, "CQID 2 in range, never created");
    assert_eq!((c.status.sct, c.status.sc, c.status.dnr), (1, 0x00, true));
}

#[test]
fn create_sq_on_cq_past_the_controller_maximum_is_invalid_queue_identifier() {
    let mut h = host();
    let sq = ring(&mut h);
    for cqid in [17, 0x1000, 0xffff] {
        assert_eq!(h.admin(cmd::create_sq(1, 16, sq, cqid)).status, Status::INVALID_QUEUE_IDENTIFIER, "CQID {cqid}");
    }
}

#[test]
fn create_sq_on_missing_cq_is_invalid_completion_queue() {
    let mut h = host();
    let sq = ring(&mut h);
    for cqid in [1, 2, 16] {
        assert_eq!(h.admin(cmd::create_sq(1, 16, sq, cqid)).status, Status::INVALID_COMPLETION_QUEUE, "CQID {cqid}");
    }
    // A deleted CQ is missing again.
    let cq = ring(&mut h);
    assert_eq!(h.admin(cmd::create_cq(2, 16, cq, 1, true)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::delete_cq(2)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::create_sq(1, 16, sq, 2)).status, Status::INVALID_COMPLETION_QUEUE, "deleted CQ 2");
}

#[test]
fn create_sq_duplicate_is_invalid_queue_identifier() {
    let mut h = host();
    h.create_io_queues(1, 16);
    let sq = ring(&mut h);
    assert_eq!(h.admin(cmd::create_sq(1, 16, sq, 1)).status, Status::INVALID_QUEUE_IDENTIFIER);
}

#[test]
fn create_sq_size_one_is_invalid_queue_size() {
    let mut h = host();
    let (cq, sq) = (ring(&mut h), ring(&mut h));
    assert_eq!(h.admin(cmd::create_cq(1, 16, cq, 1, true)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::create_sq(1, 1, sq, 1)).status, Status::INVALID_QUEUE_SIZE);
}

#[test]
fn delete_cq_with_attached_sq_is_invalid_queue_deletion() {
    let mut h = host();
    h.create_io_queues(1, 16);
    let c = h.admin(cmd::delete_cq(1));
    assert_eq!(c.status, Status::INVALID_QUEUE_DELETION);
    assert_eq!((c.status.sct, c.status.sc, c.status.dnr), (1, 0x0c, true));
    // In the right order both deletions succeed.
    assert_eq!(h.admin(cmd::delete_sq(1)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::delete_cq(1)).status, Status::SUCCESS);
}

#[test]
fn delete_queue_zero_is_invalid_queue_identifier() {
    let mut h = host();
    assert_eq!(h.admin(cmd::delete_cq(0)).status, Status::INVALID_QUEUE_IDENTIFIER);
    assert_eq!(h.admin(cmd::delete_sq(0)).status, Status::INVALID_QUEUE_IDENTIFIER);
}

#[test]
fn delete_missing_queue_is_invalid_queue_identifier() {
    let mut h = host();
    for qid in [1, 5, 17, 0xffff] {
        assert_eq!(h.admin(cmd::delete_cq(qid)).status, Status::INVALID_QUEUE_IDENTIFIER, "CQ {qid}");
        assert_eq!(h.admin(cmd::delete_sq(qid)).status, Status::INVALID_QUEUE_IDENTIFIER, "SQ {qid}");
    }
}

#[test]
fn deleted_queue_id_can_be_created_again() {
    let mut h = host();
    h.create_io_queues(1, 16);
    assert_eq!(h.admin(cmd::delete_sq(1)).status, Status::SUCCESS);
    assert_eq!(h.admin(cmd::delete_cq(1)).status, Status::SUCCESS);
    h.forget_queue(1);
    h.create_io_queues(1, 8);
    let c = h.io(1, cmd::flush(1));
    assert_eq!(c.status, Status::SUCCESS);
}
