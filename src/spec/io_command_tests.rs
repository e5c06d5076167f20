//! The typed I/O command fields against hand-built dwords (NVM-CS 1.1 3.3, 5.3): each field
//! alone, its top bit included, and neighbours that must not leak in.

use super::*;
use crate::spec::opcode::nvm as op;

fn sqe(opcode: u8, dws: &[(usize, u32)]) -> SubmissionEntry {
    dws.iter().fold(SubmissionEntry::new(opcode, 7, 1), |s, &(i, v)| s.with_cdw(i, v))
}

fn rw(dws: &[(usize, u32)]) -> RwCommand {
    match IoCommand::parse(&sqe(op::READ, dws)) {
        IoCommand::Read(c) => c,
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn prinfo_field_bits() {
    let p = Prinfo::from_bits(0b1000);
    assert!(p.pract() && !p.prchk_guard() && !p.prchk_apptag() && !p.prchk_reftag());
    let p = Prinfo::from_bits(0b0100);
    assert!(!p.pract() && p.prchk_guard() && !p.prchk_apptag() && !p.prchk_reftag());
    let p = Prinfo::from_bits(0b0010);
    assert!(p.prchk_apptag() && !p.prchk_guard() && !p.prchk_reftag());
    let p = Prinfo::from_bits(0b0001);
    assert!(p.prchk_reftag() && !p.prchk_guard() && !p.prchk_apptag());
    assert_eq!(Prinfo::from_bits(0xf7).bits(), 0x7, "only four bits");
    assert_eq!(Prinfo::from_bits(0xf).prchk(), 0b111);
}

#[test]
fn read_write_slba_and_nlb() {
    let c = rw(&[(10, 0xdead_beef), (11, 0x8000_0001), (12, 0xffff_0000)]);
    assert_eq!(c.slba(), 0x8000_0001_dead_beef, "CDW11 is the upper half, bit 63 included");
    assert_eq!((c.nlb(), c.blocks()), (0, 1), "NLB is 0's based; CDW12 31:16 does not leak in");
    let c = rw(&[(12, 0x0000_ffff)]);
    assert_eq!((c.nlb(), c.blocks()), (0xffff, 0x10000));
}

#[test]
fn read_write_cdw12_flags() {
    let bit = |b: u32| rw(&[(12, 1 << b)]);
    assert!(bit(31).lr());
    assert!(!bit(31).fua() && bit(31).prinfo() == Prinfo::default());
    assert!(bit(30).fua() && !bit(30).lr());
    assert!(bit(29).prinfo().pract() && bit(29).prinfo().prchk() == 0);
    assert!(bit(28).prinfo().prchk_guard());
    assert!(bit(27).prinfo().prchk_apptag());
    assert!(bit(26).prinfo().prchk_reftag() && !bit(26).deac());
    assert!(bit(25).deac() && !bit(25).stc() && bit(25).prinfo() == Prinfo::default());
    assert!(bit(24).stc() && bit(24).dtype() == 0);
    assert_eq!(rw(&[(12, 0xf << 20)]).dtype(), 0xf);
    assert_eq!(rw(&[(12, 0x00ef_ffff)]).prinfo(), Prinfo::default());
    let none = rw(&[(12, 0x000f_ffff)]);
    assert!(!none.stc() && !none.deac() && !none.fua() && !none.lr() && none.dtype() == 0);
}

#[test]
fn read_write_cdw13_to_cdw15() {
    let c = rw(&[(13, 0xabcd_00ff), (14, 0xffff_fffe), (15, 0x8001_fffe)]);
    assert_eq!((c.dsm(), c.dspec()), (0xff, 0xabcd));
    assert_eq!(c.ilbrt(), 0xffff_fffe);
    assert_eq!((c.lbat(), c.lbatm()), (0xfffe, 0x8001));
    let c = rw(&[(2, 0x1111_2222), (3, 0x3333_4444), (14, 5), (15, 0x0006_0007)]);
    assert_eq!(c.tags(), PiTags { cdw2: 0x1111_2222, cdw3: 0x3333_4444, cdw14: 5, lbat: 7, lbatm: 6 });
}

#[test]
fn copy_fields() {
    let c = |dws: &[(usize, u32)]| match IoCommand::parse(&sqe(op::COPY, dws)) {
        IoCommand::Copy(c) => c,
        other => panic!("parsed as {other:?}"),
    };
    let x = c(&[(10, 1), (11, 0x8000_0000), (12, 0x0000_00ff)]);
    assert_eq!((x.sdlba(), x.nr(), x.ranges(), x.desc_format()), (0x8000_0000_0000_0001, 0xff, 256, 0));
    let x = c(&[(12, 0xf << 8)]);
    assert_eq!((x.desc_format(), x.nr(), x.prinfor()), (0xf, 0, Prinfo::default()));
    let x = c(&[(12, 0xf << 12)]);
    assert_eq!((x.prinfor(), x.desc_format(), x.dtype()), (Prinfo::from_bits(0xf), 0, 0));
    assert!(c(&[(12, 1 << 15)]).prinfor().pract());
    assert_eq!(c(&[(12, 0xf << 20)]).dtype(), 0xf);
    let x = c(&[(12, 1 << 24)]);
    assert!(x.stcw() && !x.stcr());
    let x = c(&[(12, 1 << 25)]);
    assert!(x.stcr() && !x.stcw() && x.prinfow() == Prinfo::default());
    let x = c(&[(12, 0xf << 26)]);
    assert!(x.prinfow() == Prinfo::from_bits(0xf) && !x.fua() && !x.stcr());
    assert!(c(&[(12, 1 << 30)]).fua() && !c(&[(12, 1 << 30)]).lr());
    assert!(c(&[(12, 1 << 31)]).lr());
    let x = c(&[(13, 0xfedc_ffff), (15, 0x0002_0003)]);
    assert_eq!((x.dspec(), x.tags().lbat, x.tags().lbatm), (0xfedc, 3, 2));
}

#[test]
fn dataset_management_fields() {
    let d = |dws: &[(usize, u32)]| match IoCommand::parse(&sqe(op::DATASET_MANAGEMENT, dws)) {
        IoCommand::DatasetManagement(c) => c,
        other => panic!("parsed as {other:?}"),
    };
    let x = d(&[(10, 0xffff_ff00)]);
    assert_eq!((x.nr(), x.ranges()), (0, 1));
    assert_eq!(d(&[(10, 0xff)]).ranges(), 256);
    let x = d(&[(11, 0b001)]);
    assert!(x.idr() && !x.idw() && !x.ad());
    let x = d(&[(11, 0b010)]);
    assert!(x.idw() && !x.idr() && !x.ad());
    let x = d(&[(11, 0b100)]);
    assert!(x.ad() && !x.idr() && !x.idw());
    assert!(!d(&[(11, !0b111)]).ad());
}

#[test]
fn parse_by_opcode_and_shared_views() {
    let write = IoCommand::parse(&sqe(op::WRITE, &[(10, 9), (12, 3 | 0b1010 << 26)]));
    assert!(matches!(write, IoCommand::Write(_)));
    assert_eq!(write.lba_range(), Some((9, 4)));
    assert_eq!(write.prinfo(), Prinfo::from_bits(0b1010));
    assert_eq!(write.sqe().cid(), 7);
    let copy = IoCommand::parse(&sqe(op::COPY, &[(10, 5), (12, 0xff)]));
    assert_eq!(copy.lba_range(), Some((5, 0)), "Copy: destination start, no count");
    let flush = IoCommand::parse(&sqe(op::FLUSH, &[(10, 5)]));
    assert_eq!((flush.lba_range(), flush.prinfo()), (None, Prinfo::default()));
    assert!(matches!(IoCommand::parse(&sqe(0x7f, &[])), IoCommand::Unsupported(_)));
}

#[test]
fn fused_operation_is_a_reserved_field() {
    let plain = IoCommand::parse(&sqe(op::READ, &[]));
    assert_eq!(plain.check_reserved(), Ok(()));
    let fused = IoCommand::parse(&sqe(op::READ, &[(0, op::READ as u32 | 1 << 8)]));
    assert_eq!(fused.check_reserved(), Err(Status::INVALID_FIELD));
}
