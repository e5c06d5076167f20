//! Zoned namespaces through the controller (ZNS 1.1): Identify for CSI 02h, the
//! effects log, writes at the write pointer, Zone Append's assigned LBA, Zone
//! Management Receive and Send, reads across boundaries, and the zone commands
//! on a conventional namespace.

use super::fake_host::{cmd, FakeHost, PAGE};
use crate::controller::hooks::{CommandHook, CommandView, Completed, Injection, ZoneFault};
use crate::nvm::namespace::{standard_formats, Namespace, Protection};
use crate::nvm::zoned::{ZoneGeometry, Zones};
use crate::spec::zns::{opcode as zop, status as zs};
use crate::spec::{CompletionEntry, Status, SubmissionEntry};
use crate::storage::MemStore;
use std::sync::Arc;

const ZSZE: u64 = 64;
const ZCAP: u64 = 48;

/// Namespace 1 conventional, namespace 2 zoned: 4 zones of 64 blocks of 512
/// bytes, 48 writable; at most 2 open, 3 active; 64-byte extensions.
fn host() -> FakeHost {
    let ns = |nsid: u32| {
        Namespace::new(
            nsid,
            Arc::new(MemStore::new(256 * 512 + 3 * 512)),
            standard_formats(0, 0),
            0,
            false,
            Protection::NONE,
            7,
        )
    };
    let geo = ZoneGeometry {
        zone_size: ZSZE,
        zone_capacity: ZCAP,
        zones: 4,
        max_open: 2,
        max_active: 3,
        ext_size: 64,
        cross_read: false,
    };
    let zoned = ns(2).with_zones(Zones::in_memory(geo, 0));
    let mut h = FakeHost::with_namespaces(vec![Arc::new(ns(1)), Arc::new(zoned)]);
    h.enable();
    h.create_io_queues(1, 64);
    h
}

fn write(h: &mut FakeHost, opcode: u8, slba: u64, fill: u8, nlb: u64) -> CompletionEntry {
    let buf = h.alloc_with(&vec![fill; (nlb * 512) as usize]);
    let (p1, p2) = h.prps(buf, nlb * 512);
    h.io(1, cmd::rw(opcode, 2, slba, nlb).with_prps(p1, p2))
}

fn read(h: &mut FakeHost, nsid: u32, slba: u64, nlb: u64) -> (Status, Vec<u8>) {
    let buf = h.alloc(nlb * 512);
    let (p1, p2) = h.prps(buf, nlb * 512);
    let s = h.io(1, cmd::read(nsid, slba, nlb).with_prps(p1, p2)).status;
    (s, h.get(buf, nlb * 512))
}

fn send(slba: u64, zsa: u32, all: bool) -> SubmissionEntry {
    SubmissionEntry::new(zop::ZONE_MGMT_SEND, 0, 2)
        .with_cdw(10, slba as u32)
        .with_cdw(11, (slba >> 32) as u32)
        .with_cdw(13, zsa | (all as u32) << 8)
}

/// Report Zones: (Number of Zones, [(state, write pointer)] of the descriptors returned).
fn report(h: &mut FakeHost, slba: u64, zrasf: u32, partial: bool, bytes: u64) -> (u64, Vec<(u8, u64)>) {
    let buf = h.alloc(bytes.max(PAGE));
    let sqe = SubmissionEntry::new(zop::ZONE_MGMT_RECV, 0, 2)
        .with_prps(buf, 0)
        .with_cdw(10, slba as u32)
        .with_cdw(12, (bytes / 4 - 1) as u32)
        .with_cdw(13, zrasf << 8 | (partial as u32) << 16);
    assert_eq!(h.io(1, sqe).status, Status::SUCCESS);
    let b = h.get(buf, bytes);
    let n = u64::from_le_bytes(b[0..8].try_into().unwrap());
    let descs = b[64..]
        .chunks_exact(64)
        .filter(|d| d[0] != 0)
        .map(|d| (d[1] >> 4, u64::from_le_bytes(d[24..32].try_into().unwrap())))
        .collect();
    (n, descs)
}

#[test]
fn identify_and_the_effects_log_describe_a_zoned_namespace() {
    let mut h = host();
    // CNS 03h: the CSI descriptor (NIDT 04h) says 02h for the zoned namespace only.
    let csi = |b: &[u8]| {
        let mut off = 0;
        while b[off + 1] != 0 {
            if b[off] == 4 {
                return b[off + 4];
            }
            off += 4 + b[off + 1] as usize;
        }
        panic!("no CSI descriptor")
    };
    assert_eq!(csi(&h.identify(3, 1).1), 0);
    assert_eq!(csi(&h.identify(3, 2).1), 2);
    // CNS 05h CSI 02h: ZOC 0, MAR 2 and MOR 1 (0's based), LBAFE0 with ZSZE and ZDES.
    let (c, p) = h.admin_read(cmd::identify(5, 2).with_cdw(11, 2 << 24), PAGE);
    assert_eq!(c.status, Status::SUCCESS);
    assert_eq!(u16::from_le_bytes([p[0], p[1]]), 0, "ZOC");
    assert_eq!(u32::from_le_bytes(p[4..8].try_into().unwrap()), 2, "MAR");
    assert_eq!(u32::from_le_bytes(p[8..12].try_into().unwrap()), 1, "MOR");
    assert_eq!((u64::from_le_bytes(p[2816..2824].try_into().unwrap()), p[2824]), (ZSZE, 1), "ZSZE, ZDES");
    let (c, _) = h.admin_read(cmd::identify(5, 1).with_cdw(11, 2 << 24), PAGE);
    assert_eq!(c.status, Status::INVALID_FIELD, "the conventional namespace has no ZNS structure");
    // NSZE: the whole zones only. Namespace 2's image is 256 blocks = 4 zones; a
    // fifth, partial zone would make Linux refuse the disk.
    let (_, p) = h.identify(0, 2);
    assert_eq!(u64::from_le_bytes(p[0..8].try_into().unwrap()), 4 * ZSZE, "NSZE");
    let (c, p) = h.admin_read(cmd::identify(0x1c, 0), PAGE);
    assert_eq!((c.status, p[0]), (Status::SUCCESS, 0b101), "NVM and ZNS in combination 0");
    // Effects log for CSI 02h: Zone Append supported (Linux forces read-only otherwise).
    let (c, log) = h.admin_read(cmd::get_log_page(5, 0, 4096).with_cdw(14, 2 << 24), 4096);
    assert_eq!(c.status, Status::SUCCESS);
    let iocs = |op: u8| u32::from_le_bytes(log[1024 + op as usize * 4..][..4].try_into().unwrap());
    assert_eq!((iocs(zop::ZONE_APPEND), iocs(zop::ZONE_MGMT_SEND), iocs(zop::ZONE_MGMT_RECV)), (3, 3, 1));
}

#[test]
fn the_lists_by_command_set_hold_the_namespaces_of_that_set() {
    let mut h = host();
    let ids = |h: &mut FakeHost, cns: u8, csi: u32| {
        let (c, p) = h.admin_read(cmd::identify(cns, 0).with_cdw(11, csi << 24), PAGE);
        let ids: Vec<u32> =
            p.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).take_while(|&id| id != 0).collect();
        (c.status, ids)
    };
    // CNS 07h and 1Ah: namespaces "associated with" the CSI; the zoned one is
    // in the ZNS list only. CNS 02h lists both.
    for cns in [0x07, 0x1a] {
        assert_eq!(ids(&mut h, cns, 0), (Status::SUCCESS, vec![1]), "CNS {cns:#x}, CSI 00h");
        assert_eq!(ids(&mut h, cns, 2), (Status::SUCCESS, vec![2]), "CNS {cns:#x}, CSI 02h");
        assert_eq!(ids(&mut h, cns, 1).0, Status::INVALID_FIELD, "CNS {cns:#x}, CSI 01h (Key Value) not supported");
    }
    assert_eq!(ids(&mut h, 0x02, 0), (Status::SUCCESS, vec![1, 2]));
    // CNS 1Bh CSI 02h: the ZNS structure of an allocated zoned namespace.
    let (c, p) = h.admin_read(cmd::identify(0x1b, 2).with_cdw(11, 2 << 24), PAGE);
    assert_eq!((c.status, u64::from_le_bytes(p[2816..2824].try_into().unwrap())), (Status::SUCCESS, ZSZE));
    let (c, _) = h.admin_read(cmd::identify(0x1b, 1).with_cdw(11, 2 << 24), PAGE);
    assert_eq!(c.status, Status::INVALID_FIELD, "the conventional namespace has no ZNS structure");
}

#[test]
fn writes_go_at_the_write_pointer_and_appends_report_where_they_went() {
    let mut h = host();
    assert_eq!(write(&mut h, 0x01, 0, 0xa1, 4).status, Status::SUCCESS);
    assert_eq!(write(&mut h, 0x01, 2, 0xa2, 1).status, zs::ZONE_INVALID_WRITE);
    assert_eq!(write(&mut h, 0x01, 4, 0xa3, ZCAP - 3).status, zs::ZONE_BOUNDARY_ERROR, "past the capacity");
    let c = write(&mut h, zop::ZONE_APPEND, 0, 0xb1, 3);
    assert_eq!((c.status, c.dw0, c.dw1), (Status::SUCCESS, 4, 0), "the assigned LBA");
    let c = write(&mut h, zop::ZONE_APPEND, 2 * ZSZE, 0xb2, 2);
    assert_eq!((c.status, c.dw0), (Status::SUCCESS, 2 * ZSZE as u32));
    assert_eq!(write(&mut h, zop::ZONE_APPEND, 1, 0xb3, 1).status, Status::INVALID_FIELD, "not a zone start");
    let (s, d) = read(&mut h, 2, 3, 2);
    assert_eq!((s, d[0], d[512]), (Status::SUCCESS, 0xa1, 0xb1));
    assert_eq!(read(&mut h, 2, ZSZE - 1, 2).0, zs::ZONE_BOUNDARY_ERROR, "across a zone boundary");
    // Filling a zone to its capacity makes it Full.
    assert_eq!(write(&mut h, 0x01, 7, 0xa4, ZCAP - 7).status, Status::SUCCESS);
    assert_eq!(write(&mut h, zop::ZONE_APPEND, 0, 0xb4, 1).status, zs::ZONE_IS_FULL);
    let (n, d) = report(&mut h, 0, 0, false, 64 + 4 * 64);
    assert_eq!(n, 4);
    assert_eq!(d, [(0xe, u64::MAX), (0x1, ZSZE), (0x2, 2 * ZSZE + 2), (0x1, 3 * ZSZE)]);
}

#[test]
fn management_moves_zones_and_a_reset_zone_reads_back_zeroes() {
    let mut h = host();
    assert_eq!(write(&mut h, 0x01, ZSZE, 0xc1, 2).status, Status::SUCCESS);
    assert_eq!(h.io(1, send(ZSZE, 0x01, false)).status, Status::SUCCESS, "close");
    assert_eq!(h.io(1, send(0, 0x01, false)).status, zs::INVALID_ZONE_STATE_TRANSITION, "close an empty zone");
    assert_eq!(h.io(1, send(2 * ZSZE, 0x03, false)).status, Status::SUCCESS, "open");
    assert_eq!(h.io(1, send(3 * ZSZE, 0x02, false)).status, Status::SUCCESS, "finish an empty zone");
    assert_eq!(h.io(1, send(ZSZE + 1, 0x03, false)).status, Status::INVALID_FIELD, "not a zone start");
    let (n, d) = report(&mut h, 0, 0, true, 64 + 2 * 64);
    assert_eq!((n, d), (2, vec![(0x1, 0), (0x4, ZSZE + 2)]), "partial report: what fits");
    let (n, d) = report(&mut h, 0, 3, false, 64 + 64);
    assert_eq!((n, d), (1, vec![(0x3, 2 * ZSZE)]), "only the explicitly opened");
    assert_eq!(h.io(1, send(0, 0x04, true)).status, Status::SUCCESS, "reset all");
    let (s, back) = read(&mut h, 2, ZSZE, 2);
    assert_eq!(s, Status::SUCCESS);
    assert!(back.iter().all(|&b| b == 0), "a reset zone's blocks are deallocated");
    let (_, d) = report(&mut h, 0, 0, false, 64 + 4 * 64);
    assert!(d.iter().all(|&(s, _)| s == 0x1), "every zone Empty: {d:?}");
}

#[test]
fn zone_commands_on_a_conventional_namespace_are_invalid_opcodes() {
    let mut h = host();
    let buf = h.alloc(PAGE);
    for op in [zop::ZONE_APPEND, zop::ZONE_MGMT_SEND, zop::ZONE_MGMT_RECV] {
        let c = h.io(1, SubmissionEntry::new(op, 0, 1).with_prps(buf, 0).with_cdw(12, 63));
        assert_eq!(c.status, Status::INVALID_OPCODE, "opcode {op:#x}");
    }
    // Conventional writes anywhere, as before.
    let data = h.alloc_with(&[5u8; 512]);
    assert_eq!(h.io(1, cmd::write(1, 77, 1).with_prps(data, 0)).status, Status::SUCCESS);
}

/// Zone faults to inject into the next command of an opcode: (opcode, faults).
type PlannedZoneFaults = Option<(u8, Vec<(ZoneFault, u64, u64)>)>;

/// Injects the planned zone faults into the next command of their opcode.
struct ZoneFaultHook(std::sync::Mutex<PlannedZoneFaults>);

impl CommandHook for ZoneFaultHook {
    fn active(&self) -> bool {
        true
    }
    fn detect_mutation(&self) -> bool {
        false
    }
    fn before(&self, cmd: &CommandView) -> Injection {
        let mut p = self.0.lock().unwrap();
        match p.take() {
            Some((op, zones)) if op == cmd.opcode => Injection { zones, ..Default::default() },
            other => {
                *p = other;
                Injection::default()
            }
        }
    }
    fn completed(&self, _: &Completed) {}
}

#[test]
fn a_zone_fault_makes_the_zone_read_only_or_offline_before_the_command_runs() {
    let mut h = host();
    let hook = Arc::new(ZoneFaultHook(std::sync::Mutex::new(None)));
    assert!(h.ctrl.shared.hook.set(hook.clone()).is_ok());
    assert_eq!(write(&mut h, 0x01, ZSZE, 0xd1, 2).status, Status::SUCCESS);
    *hook.0.lock().unwrap() = Some((0x01, vec![(ZoneFault::ReadOnly, ZSZE + 2, ZSZE + 2)]));
    assert_eq!(write(&mut h, 0x01, ZSZE + 2, 0xd2, 1).status, zs::ZONE_IS_READ_ONLY, "the write that met the fault");
    let (s, d) = read(&mut h, 2, ZSZE, 2);
    assert_eq!((s, d[0]), (Status::SUCCESS, 0xd1), "a read-only zone still reads");
    assert_eq!(
        h.io(1, send(ZSZE, 0x04, false)).status,
        zs::INVALID_ZONE_STATE_TRANSITION,
        "no reset of a read-only zone"
    );
    *hook.0.lock().unwrap() = Some((0x02, vec![(ZoneFault::Offline, ZSZE, ZSZE + 1)]));
    assert_eq!(read(&mut h, 2, ZSZE, 2).0, zs::ZONE_IS_OFFLINE, "the read that met the fault");
    let (_, d) = report(&mut h, 0, 0, false, 64 + 4 * 64);
    assert_eq!(d[1], (0xf, u64::MAX), "offline, no write pointer");
    assert_eq!(h.io(1, send(ZSZE, 0x05, false)).status, Status::SUCCESS, "offlining an offline zone changes nothing");
}

#[test]
fn a_failed_zone_is_on_the_changed_zone_list_and_noticed_only_when_enabled() {
    let mut h = host();
    let hook = Arc::new(ZoneFaultHook(std::sync::Mutex::new(None)));
    assert!(h.ctrl.shared.hook.set(hook.clone()).is_ok());
    let oaes = |h: &mut FakeHost| u32::from_le_bytes(h.identify(1, 0).1[92..96].try_into().unwrap());
    assert_eq!(oaes(&mut h) & 1 << 27, 1 << 27, "OAES: Zone Descriptor Changed Notices");
    let changed = |h: &mut FakeHost, rae: bool| {
        let sqe = cmd::get_log_page(0xbf, 2, 4096).with_cdw(14, 2 << 24);
        let sqe = if rae { sqe.with_cdw(10, sqe.cdw10() | 1 << 15) } else { sqe };
        let (c, d) = h.admin_read(sqe, 4096);
        assert_eq!(c.status, Status::SUCCESS);
        let n = u16::from_le_bytes([d[0], d[1]]) as usize;
        (0..n).map(|i| u64::from_le_bytes(d[8 + i * 8..16 + i * 8].try_into().unwrap())).collect::<Vec<_>>()
    };
    // Not enabled: listed, no notice.
    *hook.0.lock().unwrap() = Some((0x02, vec![(ZoneFault::ReadOnly, 0, 0)]));
    read(&mut h, 2, 0, 1);
    assert_eq!(changed(&mut h, true), [0], "RAE keeps the list");
    assert_eq!(changed(&mut h, false), [0]);
    assert!(changed(&mut h, false).is_empty(), "read with RAE clear, the list starts over");
    // Enabled (AEC bit 27): an outstanding AER completes with notice EFh, log BFh, DW1 = NSID.
    assert_eq!(h.admin(cmd::set_features(0x0b, 1 << 27)).status, Status::SUCCESS);
    let aer = h.submit(0, cmd::async_event_request());
    assert!(h.try_completion(0).is_none());
    *hook.0.lock().unwrap() = Some((0x02, vec![(ZoneFault::Offline, 3 * ZSZE, 3 * ZSZE)]));
    assert_eq!(read(&mut h, 2, 3 * ZSZE, 1).0, zs::ZONE_IS_OFFLINE);
    let e = h.wait_completion(0, std::time::Duration::from_secs(5)).expect("the notice");
    h.ring_cq(0);
    assert_eq!((e.cid, e.dw0, e.dw1), (aer, 0x02 | 0xef << 8 | 0xbf << 16, 2));
    assert_eq!(changed(&mut h, false), [3 * ZSZE]);
}
