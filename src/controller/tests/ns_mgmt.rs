//! Namespace Management and Attachment (NVMe-Base 5.1.21, 5.1.20) through the
//! fake host: create, attach, I/O, detach, delete in a temporary `--ns-dir`, every
//! status the commands can return, the Identify lists (CNS 10h-13h), capacity
//! accounting, the Namespace Attribute Changed event, and a restart.

use super::fake_host::{cmd, u16_at, u32_at, u64_at, FakeHost, NsConfig, Store, PAGE, TIMEOUT};
use crate::nvm::ns_dir::NsDir;
use crate::nvm::ns_table::NamespaceTable;
use crate::spec::identify::{ctrl as c, ns as n};
use crate::spec::Status;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const NN: u32 = 4;
const CAPACITY: u64 = 64 << 20;
/// The one given (`--ns`) namespace, NSID 1.
const GIVEN_BYTES: u64 = 1 << 20;
const PRACT: u32 = 1 << 29;
const PRCHK_GUARD: u32 = 1 << 28;

/// A temporary `--ns-dir`, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "vnvme-nsdir-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        v.sort();
        v
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An enabled host over `dir`: NSID 1 given (512, 1 MiB), what `dir` records, NN 4.
fn managed_host(dir: &Path) -> FakeHost {
    let given = NsConfig::new(512).bytes(GIVEN_BYTES).build(1, Arc::new(crate::storage::MemStore::new(GIVEN_BYTES)));
    let (d, managed) = NsDir::open(dir, Some(CAPACITY), crate::storage::CacheMode::Writeback).unwrap();
    let mut h = FakeHost::with_table(Arc::new(NamespaceTable::new(vec![given], NN, Some(d), managed)));
    h.enable();
    h.create_io_pair(1, 16, 16);
    h
}

/// Host-specified fields of a create.
fn fields(nsze: u64, ncap: u64, flbas: u8, dps: u8, nmic: u8) -> Vec<u8> {
    let mut d = vec![0u8; PAGE as usize];
    d[n::NSZE..n::NSZE + 8].copy_from_slice(&nsze.to_le_bytes());
    d[n::NCAP..n::NCAP + 8].copy_from_slice(&ncap.to_le_bytes());
    d[n::FLBAS] = flbas;
    d[n::DPS] = dps;
    d[n::NMIC] = nmic;
    d
}

fn create(h: &mut FakeHost, d: &[u8]) -> (Status, u32) {
    let buf = h.alloc_with(d);
    let e = h.admin(cmd::ns_create(buf));
    (e.status, e.dw0)
}

fn controller_list(ids: &[u16]) -> Vec<u8> {
    let mut d = vec![0u8; PAGE as usize];
    d[0..2].copy_from_slice(&(ids.len() as u16).to_le_bytes());
    for (i, id) in ids.iter().enumerate() {
        d[2 + 2 * i..4 + 2 * i].copy_from_slice(&id.to_le_bytes());
    }
    d
}

fn attach(h: &mut FakeHost, nsid: u32, sel: u32, ids: &[u16]) -> Status {
    let buf = h.alloc_with(&controller_list(ids));
    h.admin(cmd::ns_attachment(nsid, sel, buf)).status
}

fn nsid_list(h: &mut FakeHost, cns: u8) -> Vec<u32> {
    let (e, d) = h.identify(cns, 0);
    assert_eq!(e.status, Status::SUCCESS, "CNS {cns:#x}");
    (0..1024).map(|i| u32_at(&d, i * 4)).take_while(|&id| id != 0).collect()
}

/// Controller list of Identify CNS 12h (namespace `nsid`) or 13h, from CNTID `from`.
fn ctrl_list(h: &mut FakeHost, cns: u8, nsid: u32, from: u16) -> Result<Vec<u16>, Status> {
    let (e, d) = h.admin_read(cmd::identify(cns, nsid).with_cdw(10, cns as u32 | (from as u32) << 16), PAGE);
    if e.status != Status::SUCCESS {
        return Err(e.status);
    }
    Ok((0..u16_at(&d, 0) as usize).map(|i| u16_at(&d, 2 + 2 * i)).collect())
}

/// Enable Namespace Attribute Notices and leave an AER outstanding.
fn arm_notices(h: &mut FakeHost) -> u16 {
    assert_eq!(h.admin(cmd::set_features(0x0b, 1 << 8)).status, Status::SUCCESS);
    let cid = h.submit(0, cmd::async_event_request());
    assert!(h.try_completion(0).is_none(), "nothing to report yet");
    cid
}

/// Run an admin command that completes AER `aer` on the way: the command's
/// status, after checking the AER reports Namespace Attribute Changed (notice
/// 00h, log 04h). The event may be posted before the command's own completion.
fn with_notice(h: &mut FakeHost, aer: u16, sqe: crate::spec::SubmissionEntry) -> Status {
    let cid = h.submit(0, sqe);
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(h.wait_completion(0, TIMEOUT).expect("the command's and the event's completions"));
        h.ring_cq(0);
    }
    let ev = got.iter().find(|e| e.cid == aer).expect("the AER completed");
    assert_eq!((ev.status, ev.dw0), (Status::SUCCESS, 0x0004_0002), "notice 00h, log 04h");
    got.iter().find(|e| e.cid == cid).expect("the command completed").status
}

/// `attach` with AER `aer` outstanding: the status, and the Changed Namespace
/// List read afterwards (RAE clear, which unmasks the notice type).
fn attach_notice(h: &mut FakeHost, aer: u16, nsid: u32, sel: u32) -> (Status, Vec<u32>) {
    let buf = h.alloc_with(&controller_list(&[1]));
    let s = with_notice(h, aer, cmd::ns_attachment(nsid, sel, buf));
    (s, changed_list(h))
}

fn changed_list(h: &mut FakeHost) -> Vec<u32> {
    let (e, d) = h.admin_read(cmd::get_log_page(0x04, 0xffff_ffff, 4096), 4096);
    assert_eq!(e.status, Status::SUCCESS);
    (0..1024).map(|i| u32_at(&d, i * 4)).take_while(|&id| id != 0).collect()
}

/// One block through PRACT (the controller generates and strips the 8-byte PI).
fn write_one(h: &mut FakeHost, nsid: u32, data: &[u8]) -> Status {
    let buf = h.alloc_with(data);
    h.io(1, cmd::write(nsid, 0, 1).with_prps(buf, 0).with_cdw(12, PRACT | PRCHK_GUARD)).status
}
fn read_one(h: &mut FakeHost, nsid: u32) -> (Status, Vec<u8>) {
    let buf = h.alloc(512);
    let s = h.io(1, cmd::read(nsid, 0, 1).with_prps(buf, 0).with_cdw(12, PRACT | PRCHK_GUARD)).status;
    (s, h.get(buf, 512))
}

#[test]
fn create_attach_io_detach_delete() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    let aer = arm_notices(&mut h);
    // 512+8 (LBA format 1), PI Type 1, separate metadata.
    assert_eq!(create(&mut h, &fields(1000, 1000, 1, 1, 0)), (Status::SUCCESS, 2), "the lowest free NSID in DW0");
    assert!(h.try_completion(0).is_none(), "a created namespace is attached nowhere: no event");
    assert_eq!(nsid_list(&mut h, 0x10), [1, 2], "allocated");
    assert_eq!(nsid_list(&mut h, 0x02), [1], "active");
    let (e, d) = h.identify(0x11, 2);
    assert_eq!(e.status, Status::SUCCESS);
    assert_eq!((u64_at(&d, n::NSZE), u64_at(&d, n::NCAP), d[n::FLBAS], d[n::DPS]), (1000, 1000, 1, 1));
    assert_eq!(u64_at(&d, n::NVMCAP), 1000 * 520, "NVMCAP: the image's bytes");
    assert!(h.identify(0x00, 2).1.iter().all(|&b| b == 0), "CNS 00h: inactive NSID reads as zeroes");
    assert_eq!(ctrl_list(&mut h, 0x12, 2, 0), Ok(vec![]), "attached to no controller");
    assert_eq!(write_one(&mut h, 2, &[7; 512]), Status::INVALID_NAMESPACE, "I/O to a detached namespace");
    assert_eq!(dir.files(), ["ns2.img", "ns2.img.ids", "ns2.img.intents", "ns2.img.ns"]);
    assert_eq!(
        std::fs::metadata(dir.0.join("ns2.img")).unwrap().len(),
        1000 * 520,
        "QEMU's layout: data then metadata"
    );

    assert_eq!(attach_notice(&mut h, aer, 2, 0), (Status::SUCCESS, vec![2]));
    assert_eq!(nsid_list(&mut h, 0x02), [1, 2]);
    assert_eq!(ctrl_list(&mut h, 0x12, 2, 0), Ok(vec![1]));
    assert_eq!(attach(&mut h, 2, 0, &[1]), Status::NS_ALREADY_ATTACHED);
    assert_eq!(write_one(&mut h, 2, &[7; 512]), Status::SUCCESS);
    assert_eq!(read_one(&mut h, 2), (Status::SUCCESS, vec![7; 512]), "PI generated, checked and stripped");

    let aer = h.submit(0, cmd::async_event_request());
    assert_eq!(attach_notice(&mut h, aer, 2, 1), (Status::SUCCESS, vec![2]));
    assert_eq!(read_one(&mut h, 2).0, Status::INVALID_NAMESPACE);
    assert_eq!(attach(&mut h, 2, 1, &[1]), Status::NS_NOT_ATTACHED);
    assert_eq!(attach(&mut h, 2, 0, &[1]), Status::SUCCESS);

    let aer = h.submit(0, cmd::async_event_request());
    assert_eq!(with_notice(&mut h, aer, cmd::ns_delete(2)), Status::SUCCESS);
    assert_eq!(changed_list(&mut h), [2], "deleting an attached namespace detaches it");
    assert_eq!(nsid_list(&mut h, 0x10), [1]);
    assert!(dir.files().is_empty(), "image and sidecars removed: {:?}", dir.files());
}

#[test]
fn create_rejects_bad_fields_with_the_spec_status() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    for (d, want, what) in [
        (fields(100, 100, 8, 0, 0), Status::INVALID_FORMAT, "LBA format 8 does not exist"),
        (fields(100, 100, 0, 1, 0), Status::INVALID_FORMAT, "PI on a format without metadata"),
        (fields(0, 0, 0, 0, 0), Status::INVALID_FIELD, "NSZE 0"),
        (fields(100, 101, 0, 0, 0), Status::INVALID_FIELD, "NCAP above NSZE"),
        (fields(100, 100, 1, 4, 0), Status::INVALID_FIELD, "PI type 4 is reserved"),
        (fields(100, 100, 0, 0x10, 0), Status::INVALID_FIELD, "DPS reserved bits"),
        (fields(100, 100, 0x80, 0, 0), Status::INVALID_FIELD, "FLBAS bit 7 is reserved"),
        (fields(100, 100, 0, 0, 2), Status::INVALID_FIELD, "NMIC reserved bits"),
        (fields(100, 99, 0, 0, 0), Status::THIN_PROVISIONING_NOT_SUPPORTED, "NCAP below NSZE"),
        (
            fields(CAPACITY / 512, CAPACITY / 512, 1, 0, 0),
            Status::NS_INSUFFICIENT_CAPACITY,
            "512+8 of the whole capacity",
        ),
        (fields(u64::MAX, u64::MAX, 0, 0, 0), Status::NS_INSUFFICIENT_CAPACITY, "size overflows"),
    ] {
        assert_eq!(create(&mut h, &d).0, want, "{what}");
    }
    let buf = h.alloc_with(&fields(8, 8, 0, 0, 0));
    assert_eq!(
        h.admin(cmd::ns_create(buf).with_cdw(11, 2 << 24)).status,
        Status::IO_COMMAND_SET_NOT_SUPPORTED,
        "CSI 2"
    );
    assert_eq!(h.admin(cmd::ns_create(buf).with_cdw(10, 2)).status, Status::INVALID_FIELD, "SEL 2");
    assert!(dir.files().is_empty(), "nothing left behind by failed creates");
    for nsid in 2..=NN {
        assert_eq!(create(&mut h, &fields(8, 8, 0, 0, 0)), (Status::SUCCESS, nsid));
    }
    assert_eq!(create(&mut h, &fields(8, 8, 0, 0, 0)).0, Status::NS_ID_UNAVAILABLE, "all NN NSIDs allocated");
}

#[test]
fn delete_and_attachment_reject_bad_targets() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    assert_eq!(h.admin(cmd::ns_delete(0)).status, Status::INVALID_NAMESPACE);
    assert_eq!(h.admin(cmd::ns_delete(NN + 1)).status, Status::INVALID_NAMESPACE);
    assert_eq!(h.admin(cmd::ns_delete(3)).status, Status::INVALID_FIELD, "unallocated NSID");
    assert_eq!(attach(&mut h, 3, 0, &[1]), Status::INVALID_FIELD, "unallocated NSID");
    assert_eq!(attach(&mut h, 0xffff_ffff, 0, &[1]), Status::INVALID_FIELD);
    assert_eq!(attach(&mut h, 0, 0, &[1]), Status::INVALID_NAMESPACE);
    assert_eq!(create(&mut h, &fields(8, 8, 0, 0, 0)), (Status::SUCCESS, 2));
    for (ids, what) in
        [(&[][..], "empty"), (&[2][..], "no controller 2"), (&[1, 1][..], "repeated"), (&[0, 1][..], "CNTLID 0")]
    {
        assert_eq!(attach(&mut h, 2, 0, ids), Status::CONTROLLER_LIST_INVALID, "{what}");
    }
    assert_eq!(attach(&mut h, 2, 2, &[1]), Status::INVALID_FIELD, "SEL 2");
    assert_eq!(nsid_list(&mut h, 0x02), [1], "nothing attached by the failures");
}

#[test]
fn delete_all_removes_managed_images_and_drops_given_namespaces() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    assert_eq!(create(&mut h, &fields(8, 8, 0, 0, 0)).1, 2);
    assert_eq!(create(&mut h, &fields(8, 8, 1, 0, 0)).1, 3);
    let aer = arm_notices(&mut h);
    assert_eq!(with_notice(&mut h, aer, cmd::ns_delete(0xffff_ffff)), Status::SUCCESS);
    assert_eq!(changed_list(&mut h), [1], "only NSID 1 was attached");
    assert_eq!(nsid_list(&mut h, 0x10), Vec::<u32>::new());
    assert!(dir.files().is_empty());
    assert_eq!(h.io(1, cmd::flush(1)).status, Status::INVALID_NAMESPACE);
    assert_eq!(h.admin(cmd::ns_delete(0xffff_ffff)).status, Status::SUCCESS, "nothing left to delete is no error");
}

#[test]
fn capacity_is_accounted_in_identify() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    let caps = |h: &mut FakeHost| {
        let d = h.identify(0x01, 0).1;
        (u64_at(&d, c::TNVMCAP), u64_at(&d, c::UNVMCAP), u64_at(&d, c::TNVMCAP + 8) | u64_at(&d, c::UNVMCAP + 8))
    };
    assert_eq!(caps(&mut h), (CAPACITY + GIVEN_BYTES, CAPACITY, 0));
    assert_eq!(create(&mut h, &fields(2048, 2048, 5, 0, 0)).1, 2, "4096+8");
    assert_eq!(caps(&mut h).1, CAPACITY - 2048 * 4104);
    assert_eq!(create(&mut h, &fields(CAPACITY / 512, CAPACITY / 512, 0, 0, 0)).0, Status::NS_INSUFFICIENT_CAPACITY);
    assert_eq!(h.admin(cmd::ns_delete(2)).status, Status::SUCCESS);
    assert_eq!(caps(&mut h).1, CAPACITY, "capacity returned on delete");
    assert_eq!(
        create(&mut h, &fields(CAPACITY / 512, CAPACITY / 512, 0, 0, 0)).0,
        Status::SUCCESS,
        "exactly all of it"
    );
    assert_eq!(caps(&mut h).1, 0);
}

#[test]
fn identify_and_features_without_ns_dir() {
    let mut h = FakeHost::enabled(Store::Mem, &[NsConfig::new(512), NsConfig::new(4096)]);
    let d = h.identify(0x01, 0).1;
    assert_eq!(u16_at(&d, c::OACS) & c::OACS_NS_MANAGEMENT, 0, "OACS bit 3 clear");
    assert_eq!(u16_at(&d, c::CNTLID), 1);
    assert_eq!(h.admin(cmd::ns_delete(1)).status, Status::INVALID_OPCODE);
    let buf = h.alloc(PAGE);
    assert_eq!(h.admin(cmd::ns_attachment(1, 1, buf)).status, Status::INVALID_OPCODE);
    assert_eq!(h.identify(0x00, 0xffff_ffff).0.status, Status::INVALID_NAMESPACE, "no common namespace data");
    // The lists still answer: every namespace is allocated and attached.
    assert_eq!(nsid_list(&mut h, 0x10), [1, 2]);
    assert_eq!(h.identify(0x11, 2).1, h.identify(0x00, 2).1);
    assert_eq!(ctrl_list(&mut h, 0x13, 0, 0), Ok(vec![1]));
    assert_eq!(ctrl_list(&mut h, 0x13, 0, 2), Ok(vec![]), "no CNTLID at or above 2");
    assert_eq!(ctrl_list(&mut h, 0x12, 2, 1), Ok(vec![1]));
    assert_eq!(ctrl_list(&mut h, 0x12, 0xffff_ffff, 0), Err(Status::INVALID_FIELD));
    assert_eq!(ctrl_list(&mut h, 0x12, 0, 0), Err(Status::INVALID_NAMESPACE));
    assert_eq!(h.identify(0x10, 0xffff_fffe).0.status, Status::INVALID_NAMESPACE);
    assert_eq!(h.identify(0x11, 3).0.status, Status::INVALID_NAMESPACE, "above NN");
}

#[test]
fn management_is_advertised_with_ns_dir() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    let d = h.identify(0x01, 0).1;
    assert_ne!(u16_at(&d, c::OACS) & c::OACS_NS_MANAGEMENT, 0, "OACS bit 3");
    assert_eq!(u32_at(&d, c::NN), NN);
    let (e, d) = h.identify(0x00, 0xffff_ffff);
    assert_eq!(e.status, Status::SUCCESS);
    assert_eq!((d[n::NLBAF], u64_at(&d, n::NSZE)), (7, 0), "the formats a create may name; no size");
    assert_eq!(u32_at(&d, n::LBAF0 + 4), 8 | 9 << 16, "LBA format 1: 512+8");
    // Commands Supported and Effects: both commands change the namespace inventory.
    let (_, log) = h.admin_read(cmd::get_log_page(0x05, 0, 4096).with_cdw(14, 0), 4096);
    for op in [0x0d, 0x15] {
        assert_eq!(u32_at(&log, op * 4) & 0b1101, 0b1101, "opcode {op:#x}: CSUPP, NCC, NIC");
    }
}

#[test]
fn masked_notices_still_fill_the_changed_namespace_list() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    let _aer = h.submit(0, cmd::async_event_request());
    assert_eq!(create(&mut h, &fields(8, 8, 0, 0, 0)).1, 2);
    assert_eq!(attach(&mut h, 2, 0, &[1]), Status::SUCCESS);
    assert!(h.try_completion(0).is_none(), "Namespace Attribute Notices are off by default");
    assert_eq!(changed_list(&mut h), [2]);
    assert_eq!(changed_list(&mut h), Vec::<u32>::new(), "read with RAE clear empties it");
}

#[test]
fn created_namespaces_and_their_format_survive_a_restart() {
    let dir = TempDir::new();
    let (descs, given_at_start);
    {
        let mut h = managed_host(&dir.0);
        assert_eq!(create(&mut h, &fields(64, 64, 0, 0, 1)).1, 2);
        assert_eq!(create(&mut h, &fields(64, 64, 0, 0, 0)).1, 3);
        assert_eq!(attach(&mut h, 2, 0, &[1]), Status::SUCCESS);
        // Format NVM to 512+8 Type 1: the record follows.
        assert_eq!(
            h.admin(crate::spec::SubmissionEntry::new(0x80, 0, 2).with_cdw(10, 1 | 1 << 5)).status,
            Status::SUCCESS
        );
        descs = h.identify(0x03, 2).1;
        given_at_start = h.namespaces.len();
    }
    assert_eq!(given_at_start, 1, "only the given namespace at the first start");
    let mut h = managed_host(&dir.0);
    assert_eq!(nsid_list(&mut h, 0x10), [1, 2, 3]);
    assert_eq!(nsid_list(&mut h, 0x02), [1, 2], "attachment kept");
    assert_eq!(h.identify(0x03, 2).1, descs, "NGUID, EUI-64 and UUID kept");
    let d = h.identify(0x00, 2).1;
    assert_eq!((d[n::FLBAS], d[n::DPS], d[n::NMIC], u64_at(&d, n::NSZE)), (1, 1, 1, 64 * 512 / 520), "format kept");
}

#[test]
fn io_racing_a_detach_completes_or_gets_invalid_namespace() {
    let dir = TempDir::new();
    let mut h = managed_host(&dir.0);
    assert_eq!(create(&mut h, &fields(4096, 4096, 1, 1, 0)).1, 2);
    let data = h.alloc_with(&[0x5a; 512 * 8]);
    for round in 0..20 {
        assert_eq!(attach(&mut h, 2, 0, &[1]), Status::SUCCESS);
        for i in 0..15u64 {
            let slba = (round * 15 + i) * 8 % 4088;
            h.push(1, cmd::write(2, slba, 8).with_prps(data, data + PAGE).with_cdw(12, 7 | PRACT));
        }
        h.ring_sq(1);
        assert_eq!(attach(&mut h, 2, 1, &[1]), Status::SUCCESS, "detach while the writes run");
        for _ in 0..15 {
            let e = h.wait_completion(1, TIMEOUT).expect("every write completes");
            assert!(matches!(e.status, Status::SUCCESS | Status::INVALID_NAMESPACE), "round {round}: {:?}", e.status);
        }
        h.ring_cq(1);
    }
}
