//! Format NVM (NVMe-Base 5.1.10, NVM-CS 4.1.3): switching a namespace between
//! advertised LBA formats and protection settings at run time, the statuses for
//! bad requests, never-written PI after a format, and the Namespace Attribute
//! Changed notice with the Changed Namespace List log.

use super::fake_host::{cmd, FakeHost, NsConfig, Store, TIMEOUT};
use super::pi_io::{Prinfo, ALL};
use crate::spec::identify::ns as n;
use crate::spec::opcode::admin;
use crate::spec::{Status, SubmissionEntry};

fn format_cmd(nsid: u32, lbaf: u32, pi: u32, extended: bool, ses: u32) -> SubmissionEntry {
    let cdw10 = (lbaf & 0xf) | (extended as u32) << 4 | pi << 5 | ses << 9 | ((lbaf >> 4) & 3) << 12;
    SubmissionEntry::new(admin::FORMAT_NVM, 0, nsid).with_cdw(10, cdw10)
}

fn host() -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    h.create_io_pair(1, 16, 16);
    h
}

#[test]
fn format_to_512_plus_8_type1_changes_identify_and_capacity() {
    let mut h = host();
    let (_, before) = h.identify(0x00, 1);
    let nsze_before = u64::from_le_bytes(before[n::NSZE..n::NSZE + 8].try_into().unwrap());
    assert_eq!(h.admin(format_cmd(1, 1, 1, false, 0)).status, Status::SUCCESS);
    let (_, d) = h.identify(0x00, 1);
    assert_eq!(d[n::FLBAS] & 0x1f, 1, "format index 1, separate metadata");
    assert_eq!(d[n::DPS], 1, "Type 1, PI last");
    let nsze = u64::from_le_bytes(d[n::NSZE..n::NSZE + 8].try_into().unwrap());
    assert_eq!(nsze, nsze_before * 512 / 520, "capacity re-derived from the image: size / (512 + 8)");
}

#[test]
fn after_format_every_block_reads_with_all_checks_enabled() {
    let mut h = host();
    assert_eq!(h.write_blocks(1, 5, &[0xab; 512]), Status::SUCCESS);
    assert_eq!(h.admin(format_cmd(1, 1, 1, false, 1)).status, Status::SUCCESS);
    let buf = h.alloc(512);
    let md = h.alloc(8);
    let read = cmd::read(1, 5, 1).with_prps(buf, 0).with_mptr(md);
    let c = h.io(1, Prinfo::check(ALL, 5).apply(read));
    assert_eq!(c.status, Status::SUCCESS, "never-written blocks carry the escape PI");
    assert_eq!(h.get(buf, 512), vec![0u8; 512], "the medium was erased");
    assert_eq!(h.get(md, 8), vec![0xff; 8], "unwritten PI is all ones");
}

#[test]
fn format_back_to_no_metadata() {
    let mut h = host();
    assert_eq!(h.admin(format_cmd(1, 6, 2, false, 0)).status, Status::SUCCESS);
    let (_, d) = h.identify(0x00, 1);
    assert_eq!((d[n::FLBAS] & 0xf, d[n::DPS]), (6, 2), "4096+16, Type 2");
    assert_eq!(h.admin(format_cmd(1, 0, 0, false, 0)).status, Status::SUCCESS);
    let (_, d) = h.identify(0x00, 1);
    assert_eq!((d[n::FLBAS] & 0xf, d[n::DPS]), (0, 0));
    assert_eq!(h.write_blocks(1, 0, &[7u8; 512]), Status::SUCCESS);
    assert_eq!(h.read_blocks(1, 0, 1), (Status::SUCCESS, vec![7u8; 512]));
}

#[test]
fn bad_format_requests_get_their_statuses() {
    let mut h = host();
    assert_eq!(h.admin(format_cmd(1, 8, 0, false, 0)).status, Status::INVALID_FORMAT, "no format 8");
    assert_eq!(h.admin(format_cmd(1, 0, 1, false, 0)).status, Status::INVALID_FORMAT, "PI needs metadata");
    assert_eq!(h.admin(format_cmd(1, 1, 4, false, 0)).status, Status::INVALID_FIELD, "PI type 4 is reserved");
    assert_eq!(h.admin(format_cmd(1, 1, 1, false, 2)).status, Status::INVALID_FIELD, "no cryptographic erase");
    assert_eq!(h.admin(format_cmd(2, 1, 1, false, 0)).status, Status::INVALID_NAMESPACE);
    assert_eq!(h.admin(format_cmd(0, 1, 1, false, 0)).status, Status::INVALID_NAMESPACE);
    let (_, d) = h.identify(0x00, 1);
    assert_eq!((d[n::FLBAS], d[n::DPS]), (0, 0), "a refused format changes nothing");
}

#[test]
fn format_raises_namespace_attribute_notice_and_lists_the_namespace() {
    let mut h = host();
    // Async Event Configuration bit 8: Namespace Attribute Notices.
    assert_eq!(h.admin(cmd::set_features(0x0b, 1 << 8)).status, Status::SUCCESS);
    let aer = h.submit(0, cmd::async_event_request());
    assert!(h.try_completion(0).is_none());
    let fmt = h.submit(0, format_cmd(1, 1, 1, false, 0));
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(h.wait_completion(0, TIMEOUT).expect("completions"));
    }
    h.ring_cq(0);
    let ev = seen.iter().find(|c| c.cid == aer).expect("AER completed");
    assert_eq!(ev.dw0, 0x0004_0002, "notice, namespace attribute changed, log 04h");
    assert!(seen.iter().any(|c| c.cid == fmt && c.status == Status::SUCCESS));
    let (c, log) = h.admin_read(cmd::get_log_page(0x04, 0xffff_ffff, 4096), 4096);
    assert_eq!(c.status, Status::SUCCESS);
    assert_eq!(&log[0..8], &[1, 0, 0, 0, 0, 0, 0, 0], "namespace 1, then the end of the list");
}
