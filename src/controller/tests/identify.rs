//! What Identify returns (NVMe-Base 5.1.13; NVM-CS 4.1.5): controller fields,
//! namespace size and formats, the active namespace list and the namespace
//! identification descriptors, read back from guest memory as a driver reads them.

use super::fake_host::{u16_at, u32_at, u64_at, FakeHost, NsConfig, Store};
use crate::controller::ControllerConfig;
use crate::spec::identify::{ctrl as c, ns as n};
use crate::spec::Status;

/// Three namespaces: 512 plain, 512+8 Type 1 extended, 4096+16 Type 3 with 64b guard.
fn namespaces() -> [NsConfig; 3] {
    [
        NsConfig::new(512).bytes(1 << 20),
        NsConfig::new(512).metadata(8).pi(1, 0).extended().bytes(1 << 20),
        NsConfig::new(4096).metadata(16).pi(3, 2).bytes(4 << 20),
    ]
}

fn host() -> FakeHost {
    FakeHost::enabled(Store::Mem, &namespaces())
}

#[test]
fn identify_controller_reports_identity_and_limits() {
    let mut h = host();
    let (cqe, d) = h.identify(0x01, 0);
    assert_eq!(cqe.status, Status::SUCCESS);
    let cfg = ControllerConfig::default();
    assert_eq!(u16_at(&d, c::VID), cfg.vid);
    assert_eq!(u16_at(&d, c::SSVID), cfg.ssvid);
    assert_eq!(&d[c::SN..c::SN + 20], format!("{:<20}", cfg.serial).as_bytes(), "SN space padded");
    assert_eq!(&d[c::MN..c::MN + 40], format!("{:<40}", cfg.model).as_bytes(), "MN space padded");
    assert_eq!(d[c::MDTS], cfg.mdts);
    assert_eq!(u32_at(&d, c::VER), 0x0002_0100, "NVMe 2.1");
    assert_eq!(u32_at(&d, c::NN), 3);
    // Compare, Write Uncorrectable, Dataset Management, Write Zeroes,
    // Save/Select in Features, Timestamp, Verify, Copy; Copy formats 0h-3h.
    assert_eq!(u16_at(&d, c::ONCS), 1 << 0 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 8);
    assert_eq!(u16_at(&d, c::OCFS), 0xf);
    assert_eq!(d[c::SQES], 0x66);
    assert_eq!(d[c::CQES], 0x44);
    let nqn = cfg.subnqn.as_bytes();
    assert_eq!(&d[c::SUBNQN..c::SUBNQN + nqn.len()], nqn);
    assert_eq!(d[c::SUBNQN + nqn.len()], 0, "SUBNQN is NUL terminated");
}

#[test]
fn identify_namespace_reports_size_and_current_format() {
    let mut h = host();
    for (i, cfg) in namespaces().iter().enumerate() {
        let nsid = i as u32 + 1;
        let (cqe, d) = h.identify(0x00, nsid);
        assert_eq!(cqe.status, Status::SUCCESS);
        assert_eq!(u64_at(&d, n::NSZE), cfg.nlbas(), "NSZE of namespace {nsid}");
        assert_eq!(u64_at(&d, n::NCAP), cfg.nlbas());
        assert_eq!(d[n::NLBAF], 7, "QEMU's eight formats");
        let index = (d[n::FLBAS] & 0xf) as usize;
        let lbaf = u32_at(&d, n::LBAF0 + index * 4);
        assert_eq!(lbaf & 0xffff, cfg.ms as u32, "MS of the current format");
        assert_eq!((lbaf >> 16) & 0xff, cfg.lbs.trailing_zeros(), "LBADS of the current format");
        assert_eq!(d[n::FLBAS] & 0x10 != 0, cfg.extended, "FLBAS bit 4: metadata at the end of the LBA");
        assert_eq!(d[n::DPS] & 7, cfg.pi, "DPS protection type");
    }
}

#[test]
fn identify_namespace_lists_every_standard_format() {
    let mut h = host();
    let (_, d) = h.identify(0x00, 1);
    let expect = [(512, 0), (512, 8), (512, 16), (512, 64), (4096, 0), (4096, 8), (4096, 16), (4096, 64)];
    for (i, (lbs, ms)) in expect.iter().enumerate() {
        let lbaf = u32_at(&d, n::LBAF0 + i * 4);
        assert_eq!(lbaf & 0xffff, *ms, "LBAF{i} MS");
        assert_eq!(1u32 << ((lbaf >> 16) & 0xff), *lbs, "LBAF{i} LBADS");
    }
    assert_eq!(d[n::FLBAS] & 0xf, 0);
    let (_, d) = h.identify(0x00, 2);
    assert_eq!(d[n::FLBAS], 0x11, "format 1, extended");
    let (_, d) = h.identify(0x00, 3);
    assert_eq!(d[n::FLBAS] & 0xf, 6, "4096+16");
}

#[test]
fn identify_nvm_namespace_reports_guard_format() {
    let mut h = host();
    let (cqe, d) = h.identify(0x05, 3);
    assert_eq!(cqe.status, Status::SUCCESS);
    // ELBAF6 (4096+16): PIF bits 8:7 = 2 (64b guard).
    assert_eq!((u32_at(&d, 12 + 6 * 4) >> 7) & 3, 2);
}

#[test]
fn active_namespace_list_starts_after_nsid() {
    let mut h = host();
    let (cqe, d) = h.identify(0x02, 0);
    assert_eq!(cqe.status, Status::SUCCESS);
    let ids: Vec<u32> = (0..5).map(|i| u32_at(&d, i * 4)).collect();
    assert_eq!(ids, [1, 2, 3, 0, 0]);
    let (_, d) = h.identify(0x02, 2);
    assert_eq!((u32_at(&d, 0), u32_at(&d, 4)), (3, 0));
    let (_, d) = h.identify(0x02, 3);
    assert!(d.iter().all(|&b| b == 0), "nothing after the last namespace");
}

#[test]
fn active_namespace_list_rejects_the_top_nsids() {
    let mut h = host();
    for nsid in [0xffff_fffe, 0xffff_ffff] {
        let (cqe, _) = h.identify(0x02, nsid);
        assert_eq!(cqe.status, Status::INVALID_NAMESPACE, "nsid {nsid:#x}");
    }
}

#[test]
fn namespace_descriptor_list_has_eui64_nguid_uuid_and_csi() {
    let mut h = host();
    let (cqe, d) = h.identify(0x03, 2);
    assert_eq!(cqe.status, Status::SUCCESS);
    let ns = h.namespaces[1].clone();
    // Each descriptor: NIDT, NIDL, 2 reserved bytes, then NIDL bytes.
    assert_eq!((d[0], d[1]), (1, 8));
    assert_eq!(&d[4..12], &ns.eui64);
    assert_eq!((d[12], d[13]), (2, 16));
    assert_eq!(&d[16..32], &ns.nguid);
    assert_eq!((d[32], d[33]), (3, 16), "UUID");
    assert_eq!(&d[36..52], &ns.uuid);
    assert_eq!((d[36 + 6] >> 4, d[36 + 8] >> 6), (4, 0b10), "a version 4, RFC 9562 variant UUID");
    assert_eq!((d[52], d[53], d[56]), (4, 1, 0), "CSI: NVM command set");
    assert!(d[57..].iter().all(|&b| b == 0), "list ends with zeroes");
    let (_, other) = h.identify(0x03, 1);
    assert_ne!(&other[4..12], &d[4..12], "identifiers differ between namespaces");
}

#[test]
fn namespace_descriptor_list_of_missing_namespace_is_invalid_namespace() {
    let mut h = host();
    let (cqe, _) = h.identify(0x03, 4);
    assert_eq!(cqe.status, Status::INVALID_NAMESPACE);
}
