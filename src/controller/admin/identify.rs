//! Identify (NVMe-Base 5.1.13; NVM-CS 4.1.5): controller, namespace, active
//! namespace lists, namespace identification descriptors, the I/O command set
//! structures (CNS 05h/06h/07h/08h/1Ch). The allocated-namespace and controller
//! lists of Namespace Management (CNS 10h-13h, 1Ah, 1Bh) are in `identify_lists`.

use super::identify_lists as lists;
use super::{fail, transfer, write_to_host, Outcome};
use crate::controller::Controller;
use crate::nvm::namespace::Namespace;
use crate::nvm::ns_table::NsSet;
use crate::spec::identify::{cns, ctrl as c, indep_ns, nid, ns as n, nvm_ctrl, nvm_ns, Page4k, CSI_NVM};
use crate::spec::zns::CSI_ZNS;
use crate::spec::{Status, SubmissionEntry};

pub fn identify(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let cdw10 = sqe.cdw10();
    let cns_v = cdw10 as u8;
    let csi = (sqe.cdw11() >> 24) as u8;
    if (cdw10 >> 8) & 0xff != 0 {
        return fail(Status::INVALID_FIELD);
    }
    let nsid = sqe.nsid();
    // One snapshot of the namespace set for the whole command.
    let set = ctrl.shared.namespaces.snapshot();
    let managed = ctrl.shared.namespaces.managed();
    let page = match cns_v {
        cns::CONTROLLER => Ok(controller_data(ctrl)),
        // NSID FFFFFFFFh: what all namespaces have in common, when Namespace
        // Management is supported (NVMe-Base 5.1.13.2.1).
        cns::NAMESPACE if nsid == 0xffff_ffff && managed => Ok(lists::common_namespace_data()),
        cns::NAMESPACE => namespace_page(&set, nsid, namespace_data),
        cns::ACTIVE_NS_LIST => lists::ns_list(&set, nsid, false, None),
        cns::CSI_ACTIVE_NS_LIST if csi == CSI_NVM || csi == CSI_ZNS => lists::ns_list(&set, nsid, false, Some(csi)),
        cns::NS_ID_DESCRIPTORS => match set.active(nsid) {
            Some(ns) => Ok(descriptors(ns)),
            None => Err(Status::INVALID_NAMESPACE),
        },
        cns::CSI_NAMESPACE if csi == CSI_NVM => namespace_page(&set, nsid, nvm_namespace_data),
        cns::CSI_CONTROLLER if csi == CSI_NVM => Ok(nvm_controller_data()),
        cns::CSI_NAMESPACE if csi == CSI_ZNS => match set.active(nsid).filter(|ns| ns.zoned.is_none()) {
            // A namespace of another command set: Invalid Field (NVMe-Base 5.1.13.2.5).
            Some(_) => Err(Status::INVALID_FIELD),
            None => namespace_page(&set, nsid, zns_namespace_data),
        },
        cns::CSI_ALLOCATED_NAMESPACE if csi == CSI_ZNS => match set.entry(nsid).filter(|e| e.ns.zoned.is_none()) {
            Some(_) => Err(Status::INVALID_FIELD),
            None => lists::allocated_page(&set, nsid, zns_namespace_data),
        },
        cns::CSI_CONTROLLER if csi == CSI_ZNS => Ok(zns_controller_data(&set)),
        cns::CS_INDEPENDENT_NAMESPACE => namespace_page(&set, nsid, |ns| {
            let mut p = Page4k::default();
            p.u8(indep_ns::NMIC, ns.nmic).u8(indep_ns::NSTAT, 1);
            p
        }),
        cns::ALLOCATED_NS_LIST => lists::ns_list(&set, nsid, true, None),
        cns::CSI_ALLOCATED_NS_LIST if csi == CSI_NVM || csi == CSI_ZNS => lists::ns_list(&set, nsid, true, Some(csi)),
        cns::ALLOCATED_NAMESPACE => lists::allocated_page(&set, nsid, namespace_data),
        cns::CSI_ALLOCATED_NAMESPACE if csi == CSI_NVM => lists::allocated_page(&set, nsid, nvm_namespace_data),
        cns::NS_ATTACHED_CONTROLLER_LIST => lists::attached_controllers(&set, nsid, (cdw10 >> 16) as u16),
        cns::CONTROLLER_LIST => Ok(lists::controllers((cdw10 >> 16) as u16)),
        cns::IO_COMMAND_SET => {
            // One command set combination: the NVM and Zoned Namespace command sets.
            let mut p = Page4k::default();
            p.u64(0, 1 << CSI_NVM | 1 << CSI_ZNS);
            Ok(p)
        }
        cns::CSI_NAMESPACE | cns::CSI_CONTROLLER | cns::CSI_ACTIVE_NS_LIST => Err(Status::INVALID_FIELD),
        cns::CSI_ALLOCATED_NS_LIST | cns::CSI_ALLOCATED_NAMESPACE => Err(Status::INVALID_FIELD),
        _ => Err(Status::INVALID_FIELD),
    };
    match page {
        Ok(p) => transfer(write_to_host(ctrl, sqe, p.as_bytes()), 0),
        Err(s) => fail(s),
    }
}

/// A per-namespace structure: NSID 0 and NSIDs above NN are invalid; an inactive
/// NSID within range returns zeroes (NVMe-Base 5.1.13.2.1).
fn namespace_page(set: &NsSet, nsid: u32, f: impl Fn(&Namespace) -> Page4k) -> Result<Page4k, Status> {
    if !set.valid(nsid) {
        return Err(Status::INVALID_NAMESPACE);
    }
    Ok(set.active(nsid).map(|ns| f(ns)).unwrap_or_default())
}

/// Optional capabilities left out keep their fields zero (docs/conformance.md):
/// KAS (no Keep Alive), APSTA, HMPRE, SANICAP, and every OACS bit but Format NVM
/// and Doorbell Buffer Config.
pub fn controller_data(ctrl: &Controller) -> Page4k {
    let cfg = &ctrl.shared.config;
    let table = &ctrl.shared.namespaces;
    let oacs_ns = if table.managed() { c::OACS_NS_MANAGEMENT } else { 0 };
    let (tnvmcap, unvmcap) = table.capacity();
    let mut p = Page4k::default();
    p.u64(c::TNVMCAP, tnvmcap).u64(c::UNVMCAP, unvmcap);
    p.u16(c::VID, cfg.vid)
        .u16(c::SSVID, cfg.ssvid)
        .ascii(c::SN, 20, &cfg.serial)
        .ascii(c::MN, 40, &cfg.model)
        .ascii(c::FR, 8, &cfg.firmware)
        .u8(c::RAB, 6)
        .u8(c::MDTS, cfg.mdts)
        .u16(c::CNTLID, crate::nvm::ns_table::CNTLID)
        .u32(c::VER, crate::spec::registers::VERSION_2_1)
        // OAES bit 8: Namespace Attribute Notices (sent after Format NVM); bit 27:
        // Zone Descriptor Changed Notices (ZNS Figure 44), when a namespace is zoned.
        .u32(c::OAES, 1 << 8 | (table.snapshot().iter().any(|ns| ns.zoned.is_some()) as u32) << 27)
        .u32(c::CTRATT, c::CTRATT_ELBAS)
        .u8(c::CNTRLTYPE, 1)
        .u16(
            c::OACS,
            c::OACS_FORMAT_NVM | if cfg.shadow_doorbells { c::OACS_DOORBELL_BUFFER_CONFIG } else { 0 } | oacs_ns,
        )
        .u8(c::ACL, 3)
        .u8(c::AERL, super::aer::AERL)
        // One firmware slot, read only.
        .u8(c::FRMW, 0x03)
        .u8(c::LPA, c::LPA_CSE | c::LPA_EXTENDED | c::LPA_SUPPORTED_LOGS)
        .u8(c::ELPE, (crate::controller::error_log::ENTRIES - 1) as u8)
        .u8(c::NPSS, 0)
        .u16(c::WCTEMP, 343)
        .u16(c::CCTEMP, 373)
        .u8(c::SQES, 0x66)
        .u8(c::CQES, 0x44)
        .u32(c::NN, ctrl.shared.namespaces.snapshot().nn())
        .u16(c::ONCS, oncs())
        .u8(c::FNA, 0)
        // VWC: present, and Flush with NSID FFFFFFFFh supported (bits 2:1 = 11b).
        .u8(c::VWC, if cfg.write_cache { 0x07 } else { 0x06 })
        // AWUN and AWUPF (0's based): one block. A block is written whole against
        // other commands (range locks) and across a server crash (the intent log),
        // and no more than that: a multi-block write may land in part.
        // docs/reliability.md.
        .u16(c::AWUN, 0)
        .u16(c::AWUPF, 0)
        // SGLS: supported without alignment (01b), Bit Bucket (16), SGLs longer than
        // the transfer unless --strict-sgl-length (18), MPTR holding an SGL descriptor (19).
        .u32(c::SGLS, 0x1 | 1 << 16 | cfg.sgl_length.sgls_bit() | 1 << 19)
        .u16(c::OCFS, crate::nvm::copy::OCFS)
        .ascii(c::SUBNQN, 256, &cfg.subnqn);
    // Trim the NQN's space padding: SUBNQN is NUL terminated, not padded.
    let nqn = cfg.subnqn.as_bytes();
    p.0[c::SUBNQN + nqn.len()..c::SUBNQN + 256].fill(0);
    // Power state 0: 25 W max (centiwatts), no entry/exit latency reported.
    p.u16(c::PSD0, 2500);
    p
}

/// Optional NVM commands implemented (Identify Controller ONCS).
pub fn oncs() -> u16 {
    c::ONCS_COMPARE
        | c::ONCS_WRITE_UNCORRECTABLE
        | c::ONCS_DSM
        | c::ONCS_WRITE_ZEROES
        | c::ONCS_SAVE_SELECT
        | c::ONCS_TIMESTAMP
        | c::ONCS_VERIFY
        | c::ONCS_COPY
}

pub fn namespace_data(ns: &Namespace) -> Page4k {
    let f = ns.format();
    let mut p = Page4k::default();
    // A zoned namespace is its whole zones (QEMU's device also cuts the rest):
    // Linux refuses a zoned disk whose capacity does not end at a zone boundary.
    let nlb = ns.blocks(&f);
    let idx = f.index;
    let flbas = (idx & 0xf) | (f.extended as u8) << 4 | ((idx >> 4) & 3) << 5;
    let any_md = ns.formats.iter().any(|l| l.ms >= 8);
    p.u64(n::NSZE, nlb)
        .u64(n::NCAP, nlb)
        .u64(n::NUSE, nlb)
        .u8(n::NLBAF, (ns.formats.len() - 1) as u8)
        .u8(n::FLBAS, flbas)
        .u8(n::MC, n::MC_EXTENDED | n::MC_SEPARATE)
        .u8(n::DPC, if any_md { n::DPC_TYPE1 | n::DPC_TYPE2 | n::DPC_TYPE3 | n::DPC_FIRST | n::DPC_LAST } else { 0 })
        .u8(n::DPS, f.protection.dps())
        .u8(n::NMIC, ns.nmic)
        .u64(n::NVMCAP, ns.store.size())
        .u8(n::DLFEAT, n::DLFEAT_READ_ZEROES | n::DLFEAT_WZ_DEALLOCATE)
        .u16(n::MSSRL, crate::nvm::copy::MSSRL)
        .u32(n::MCL, crate::nvm::copy::MCL)
        .u8(n::MSRC, crate::nvm::copy::MSRC)
        .bytes(n::NGUID, &ns.nguid)
        .bytes(n::EUI64, &ns.eui64);
    for (i, l) in ns.formats.iter().enumerate() {
        p.u32(n::LBAF0 + i * 4, l.ms as u32 | (l.lbads() as u32) << 16);
    }
    p
}

pub fn nvm_namespace_data(ns: &Namespace) -> Page4k {
    let mut p = Page4k::default();
    // LBSTM: every storage tag bit of the format in use is compared (when STC is set).
    let sts = ns.format().lbaf.sts as u32;
    let lbstm = if sts >= 64 { u64::MAX } else { (1u64 << sts) - 1 };
    p.u64(nvm_ns::LBSTM, lbstm).u8(nvm_ns::PIC, 0);
    for (i, l) in ns.formats.iter().enumerate() {
        p.u32(nvm_ns::ELBAF0 + i * 4, (l.sts as u32 & 0x7f) | (l.pif as u32 & 3) << 7);
    }
    p
}

fn nvm_controller_data() -> Page4k {
    let mut p = Page4k::default();
    // VSL and WUSL: recommended sizes (ONCS bits 7 and 1 are set, so they are not
    // limits), 2^7 pages = 512 KiB like MDTS. WZSL 0: no Write Zeroes limit.
    // DMRL 0 / DMRSL 0 / DMSL 0: the Dataset Management defaults.
    p.u8(nvm_ctrl::VSL, 7).u8(nvm_ctrl::WZSL, 0).u8(nvm_ctrl::WUSL, 7).u8(nvm_ctrl::DMRL, 0);
    p.u32(nvm_ctrl::DMRSL, 0).u64(nvm_ctrl::DMSL, 0);
    p
}

/// Identify Namespace for the Zoned Namespace Command Set (CNS 05h, CSI 02h;
/// ZNS 4.1.5.1, Figures 48-49). ZOC 0 (no variable capacity, no excursions: Linux
/// refuses any other), MAR and MOR 0's based with FFFFFFFFh for no limit, and one
/// LBA Format Extension per LBA format with the zone size and extension size.
fn zns_namespace_data(ns: &Namespace) -> Page4k {
    let mut p = Page4k::default();
    let Some(z) = &ns.zoned else { return p };
    let g = z.geometry();
    let limit = |n: u32| if n == 0 { u32::MAX } else { n - 1 };
    p.u16(0, 0).u16(2, g.cross_read as u16);
    p.u32(4, limit(g.max_active)).u32(8, limit(g.max_open));
    for i in 0..ns.formats.len() {
        p.u64(2816 + i * 16, g.zone_size).u8(2816 + i * 16 + 8, (g.ext_size / 64) as u8);
    }
    p
}

/// Identify Controller for the Zoned Namespace Command Set (CNS 06h, CSI 02h;
/// ZNS Figure 50): ZASL, the smallest Zone Append limit of the zoned namespaces
/// (0, the maximum transfer, when none sets one).
fn zns_controller_data(set: &NsSet) -> Page4k {
    let zasl = set.iter().filter_map(|ns| ns.zoned.as_ref()).map(|z| z.zasl).filter(|&v| v != 0).min().unwrap_or(0);
    let mut p = Page4k::default();
    p.u8(0, zasl);
    p
}

fn descriptors(ns: &Namespace) -> Page4k {
    let mut p = Page4k::default();
    let mut off = 0;
    // NVMe-Base 5.1.13.2.3: every identifier the namespace has, and its CSI (CAP.CSS bit 6 is set).
    let ids = [
        (nid::EUI64, &ns.eui64[..]),
        (nid::NGUID, &ns.nguid[..]),
        (nid::UUID, &ns.uuid[..]),
        (nid::CSI, &[ns.csi()][..]),
    ];
    for (t, v) in ids {
        p.u8(off, t).u8(off + 1, v.len() as u8).bytes(off + 4, v);
        off += 4 + v.len();
    }
    p
}
