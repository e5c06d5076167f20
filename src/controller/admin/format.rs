//! Format NVM (NVMe-Base 5.1.10; NVM-CS 4.1.3): switch a namespace to another
//! advertised LBA format and protection setting. The medium is erased (the
//! image is deallocated), so every block reads as zeroes with all-ones PI
//! afterwards; the host is told through a Namespace Attribute Changed event.

use super::{done, fail, Outcome};
use crate::controller::Controller;
use crate::nvm::namespace::{ActiveFormat, Namespace, Protection};
use crate::spec::{Status, SubmissionEntry};
use crate::storage::ImageLayout;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatRequest {
    pub lbaf: u8,
    pub extended: bool,
    pub pi: u8,
    pub pi_first: bool,
    pub ses: u8,
}

impl FormatRequest {
    pub fn parse(cdw10: u32) -> Self {
        FormatRequest {
            lbaf: ((cdw10 & 0xf) | ((cdw10 >> 12) & 3) << 4) as u8,
            extended: cdw10 & (1 << 4) != 0,
            pi: ((cdw10 >> 5) & 7) as u8,
            pi_first: cdw10 & (1 << 8) != 0,
            ses: ((cdw10 >> 9) & 7) as u8,
        }
    }
}

/// Check a request against a namespace's formats and apply it.
pub fn apply(ns: &Namespace, req: FormatRequest) -> Result<(), Status> {
    if ns.zoned.is_some() {
        // Zones are fixed by the namespace's spec; as QEMU's device, no Format
        // NVM of a zoned namespace.
        return Err(Status::INVALID_FORMAT);
    }
    if req.ses > 1 {
        // Cryptographic erase is not supported (FNA bit 2 clear).
        return Err(Status::INVALID_FIELD);
    }
    let protection = Protection::new(req.pi, req.pi_first).map_err(|_| Status::INVALID_FIELD)?;
    let Some(&lbaf) = ns.formats.get(req.lbaf as usize) else { return Err(Status::INVALID_FORMAT) };
    if protection.pi_type.is_some() && lbaf.ms < lbaf.pi_size() {
        return Err(Status::INVALID_FORMAT);
    }
    let mut active = ns.active.write().unwrap();
    let layout = ImageLayout::new(ns.store.size(), lbaf.lbs as u64, lbaf.ms as u64);
    let new = ActiveFormat { index: req.lbaf, lbaf, extended: req.extended && lbaf.ms > 0, protection, layout };
    ns.store.deallocate(0, ns.store.size()).map_err(|_| Status::INTERNAL_ERROR)?;
    // Deallocating dropped every cached page, so the pages that change sides
    // between O_DIRECT and the page cache hold nothing.
    ns.store.set_metadata_start(layout.meta_offset(0));
    ns.uncorrectable.clear_all().map_err(|_| Status::INTERNAL_ERROR)?;
    // Every block is now never-written: its PI tuple reads as all ones.
    crate::nvm::metadata::fill_unwritten(&*ns.store, &new).map_err(|_| Status::INTERNAL_ERROR)?;
    *active = new;
    Ok(())
}

pub fn format_nvm(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let req = FormatRequest::parse(sqe.cdw10());
    let nsid = sqe.nsid();
    let sh = ctrl.shared.clone();
    let targets: Vec<Arc<Namespace>> = if nsid == 0xffff_ffff {
        sh.namespaces.snapshot().iter().cloned().collect()
    } else {
        match sh.namespace(nsid) {
            Some(ns) => vec![ns],
            None => return fail(Status::INVALID_NAMESPACE),
        }
    };
    for ns in &targets {
        if let Err(s) = apply(ns, req) {
            return fail(s);
        }
        crate::nvm::ns_manage::format_changed(&sh.namespaces, ns.nsid);
    }
    let nsids: Vec<u32> = targets.iter().map(|ns| ns.nsid).collect();
    super::aer::namespace_attribute_changed(&sh, &nsids);
    done(0)
}
