//! The Identify structures of Namespace Management (NVMe-Base 5.1.13.2, CNS
//! values table): namespace ID lists (active CNS 02h/07h, allocated CNS
//! 10h/1Ah), Identify Namespace for an allocated NSID (CNS 11h/1Bh), the
//! controller lists (CNS 12h: attached to a namespace, 13h: in the subsystem),
//! and the capabilities common to all namespaces (CNS 00h, NSID FFFFFFFFh).
//!
//! The subsystem has one controller, CNTLID 1. Without `--ns-dir` every
//! namespace is allocated and attached, so the allocated lists equal the active
//! ones; `nvme list-ns --all` and `nvme list-ctrl` work either way.

use crate::nvm::namespace::Namespace;
use crate::nvm::ns_table::{NsSet, CNTLID};
use crate::spec::identify::{ctrl_list, ns as n, Page4k};
use crate::spec::Status;

/// NSIDs above `after`, ascending, up to 1024 (a 4 KiB list): the active ones,
/// or all allocated ones; with `csi`, only the namespaces of that I/O command set
/// (CNS 07h/1Ah: "associated with" the CSI, so a zoned namespace is in the list
/// for 02h and not in the one for 00h). FFFFFFFEh and FFFFFFFFh have no NSID
/// above them worth listing and are Invalid Namespace or Format (NVMe-Base
/// 5.1.13.2.2).
pub fn ns_list(set: &NsSet, after: u32, allocated: bool, csi: Option<u8>) -> Result<Page4k, Status> {
    if after >= 0xffff_fffe {
        return Err(Status::INVALID_NAMESPACE);
    }
    let mut p = Page4k::default();
    let ids = set
        .allocated()
        .filter(|e| allocated || e.attached)
        .filter(|e| csi.is_none_or(|c| e.ns.csi() == c))
        .map(|e| e.ns.nsid)
        .filter(|&id| id > after);
    for (i, id) in ids.take(1024).enumerate() {
        p.u32(i * 4, id);
    }
    Ok(p)
}

/// Identify Namespace of an allocated NSID, attached or not: zeroes for an
/// unallocated NSID, Invalid Namespace or Format for 0, FFFFFFFFh or above NN.
pub fn allocated_page(set: &NsSet, nsid: u32, f: impl Fn(&Namespace) -> Page4k) -> Result<Page4k, Status> {
    if !set.valid(nsid) {
        return Err(Status::INVALID_NAMESPACE);
    }
    Ok(set.entry(nsid).map(|e| f(&e.ns)).unwrap_or_default())
}

fn controller_list<'a>(ids: impl Iterator<Item = &'a u16>) -> Page4k {
    let mut p = Page4k::default();
    let mut count = 0u16;
    for &id in ids.take(ctrl_list::MAX_IDS) {
        p.u16(ctrl_list::FIRST_ID + 2 * count as usize, id);
        count += 1;
    }
    p.u16(ctrl_list::NUMBER, count);
    p
}

/// CNS 13h: controllers in the subsystem with a CNTLID of at least `from`
/// (CDW10 CNTID). The NSID field is not used.
pub fn controllers(from: u16) -> Page4k {
    controller_list([CNTLID].iter().filter(|&&c| c >= from))
}

/// CNS 12h: controllers with a CNTLID of at least `from` that namespace `nsid`
/// is attached to. FFFFFFFFh names no single namespace (Invalid Field in
/// Command); 0 and NSIDs above NN are Invalid Namespace or Format; an
/// unallocated NSID has no attachments to report (Invalid Field, as QEMU does).
pub fn attached_controllers(set: &NsSet, nsid: u32, from: u16) -> Result<Page4k, Status> {
    if nsid == 0xffff_ffff {
        return Err(Status::INVALID_FIELD);
    }
    if !set.valid(nsid) {
        return Err(Status::INVALID_NAMESPACE);
    }
    let e = set.entry(nsid).ok_or(Status::INVALID_FIELD)?;
    let attached: &[u16] = if e.attached { &[CNTLID] } else { &[] };
    Ok(controller_list(attached.iter().filter(|&&c| c >= from)))
}

/// CNS 00h with NSID FFFFFFFFh: what a namespace created here can be: the LBA
/// formats, metadata and protection capabilities; sizes and settings are zero.
pub fn common_namespace_data() -> Page4k {
    let formats = crate::nvm::ns_dir::formats();
    let mut p = Page4k::default();
    p.u8(n::NLBAF, (formats.len() - 1) as u8)
        .u8(n::MC, n::MC_EXTENDED | n::MC_SEPARATE)
        .u8(n::DPC, n::DPC_TYPE1 | n::DPC_TYPE2 | n::DPC_TYPE3 | n::DPC_FIRST | n::DPC_LAST)
        .u8(n::DLFEAT, n::DLFEAT_READ_ZEROES | n::DLFEAT_WZ_DEALLOCATE);
    for (i, l) in formats.iter().enumerate() {
        p.u32(n::LBAF0 + i * 4, l.ms as u32 | (l.lbads() as u32) << 16);
    }
    p
}
