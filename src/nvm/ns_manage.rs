//! What Namespace Management (NVMe-Base 5.1.21) and Namespace Attachment
//! (5.1.20) do to the namespace set, with the statuses the spec names; the admin
//! handlers (`controller::admin::ns_mgmt`, `ns_attach`) parse the commands and
//! raise the events.
//!
//! Checks on create, in this order: the format and protection settings
//! (Invalid Format / Invalid Field), the sizes (Invalid Field when NSZE is 0 or
//! NCAP exceeds NSZE, Thin Provisioning Not Supported when NCAP is below NSZE:
//! NSFEAT bit 0 is clear), a free NSID (Namespace Identifier Unavailable), then
//! the capacity left in the directory (Namespace Insufficient Capacity). A
//! created namespace is not attached to any controller.

use super::ns_dir::{formats, NsRecord};
use super::ns_table::{NamespaceTable, NsEntry, Origin};
use crate::spec::Status;

/// The host-specified fields of a create (NVMe-Base Figure "Namespace
/// Management - Host Software Specified Fields"), already parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub nsze: u64,
    pub ncap: u64,
    /// FLBAS bits 3:0 and 6:5: the LBA format index.
    pub lbaf: u8,
    /// FLBAS bit 4: metadata at the end of each block's data.
    pub extended: bool,
    /// DPS bits 2:0 and 3.
    pub pi: u8,
    pub pi_first: bool,
    pub nmic: u8,
}

fn internal(what: &str, e: std::io::Error) -> Status {
    tracing::info!("namespace management: {what}: {e}");
    Status::INTERNAL_ERROR
}

/// Create a namespace in the directory; its NSID on success.
pub fn create(t: &NamespaceTable, r: &CreateRequest) -> Result<u32, Status> {
    let dir = t.dir.as_ref().ok_or(Status::INVALID_OPCODE)?;
    let fmts = formats();
    let lbaf = *fmts.get(r.lbaf as usize).ok_or(Status::INVALID_FORMAT)?;
    if r.pi > 3 || r.nmic & !1 != 0 {
        return Err(Status::INVALID_FIELD);
    }
    if r.pi != 0 && lbaf.ms < lbaf.pi_size() {
        return Err(Status::INVALID_FORMAT);
    }
    if r.nsze == 0 || r.ncap > r.nsze {
        return Err(Status::INVALID_FIELD);
    }
    if r.ncap < r.nsze {
        return Err(Status::THIN_PROVISIONING_NOT_SUPPORTED);
    }
    let (guard, mut set) = t.begin();
    let nsid = set.free_nsid().ok_or(Status::NS_ID_UNAVAILABLE)?;
    let left = dir.capacity.saturating_sub(set.bytes(Origin::Managed));
    let bytes = r.nsze.checked_mul(lbaf.lbs as u64 + lbaf.ms as u64).filter(|&b| b <= left);
    let bytes = bytes.ok_or(Status::NS_INSUFFICIENT_CAPACITY)?;
    let rec = NsRecord {
        nsid,
        lbaf: r.lbaf,
        extended: r.extended && lbaf.ms > 0,
        pi: r.pi,
        pi_first: r.pi_first,
        nmic: r.nmic,
        attached: false,
    };
    let ns = dir.create(&rec, bytes).map_err(|e| internal("creating an image", e))?;
    set.put(nsid, Some(NsEntry { ns, attached: false, origin: Origin::Managed }));
    t.commit(guard, set);
    tracing::info!("namespace {nsid} created: {} blocks of {}+{}, pi {}", r.nsze, lbaf.lbs, lbaf.ms, r.pi);
    Ok(nsid)
}

/// Delete namespace `nsid` (FFFFFFFFh: every allocated namespace). Returns the
/// NSIDs that were attached, whose controllers get a Namespace Attribute
/// Changed event.
pub fn delete(t: &NamespaceTable, nsid: u32) -> Result<Vec<u32>, Status> {
    let dir = t.dir.as_ref().ok_or(Status::INVALID_OPCODE)?;
    let (guard, mut set) = t.begin();
    let targets: Vec<NsEntry> = if nsid == 0xffff_ffff {
        set.allocated().cloned().collect()
    } else if !set.valid(nsid) {
        return Err(Status::INVALID_NAMESPACE);
    } else {
        vec![set.entry(nsid).ok_or(Status::INVALID_FIELD)?.clone()]
    };
    let mut was_attached = Vec::new();
    for e in &targets {
        let id = e.ns.nsid;
        if e.origin == Origin::Managed {
            if let Err(err) = dir.remove(id) {
                t.commit(guard, set);
                return Err(internal("removing an image", err));
            }
        }
        set.put(id, None);
        if e.attached {
            was_attached.push(id);
        }
        tracing::info!(
            "namespace {id} deleted{}",
            if e.origin == Origin::Given { " (an --ns image: the file stays)" } else { "" }
        );
    }
    t.commit(guard, set);
    Ok(was_attached)
}

/// Attach namespace `nsid` to the controller, or detach it.
pub fn set_attached(t: &NamespaceTable, nsid: u32, attach: bool) -> Result<(), Status> {
    let dir = t.dir.as_ref().ok_or(Status::INVALID_OPCODE)?;
    if nsid == 0xffff_ffff {
        return Err(Status::INVALID_FIELD);
    }
    let (guard, mut set) = t.begin();
    if !set.valid(nsid) {
        return Err(Status::INVALID_NAMESPACE);
    }
    let mut e = set.entry(nsid).ok_or(Status::INVALID_FIELD)?.clone();
    match (attach, e.attached) {
        (true, true) => return Err(Status::NS_ALREADY_ATTACHED),
        (false, false) => return Err(Status::NS_NOT_ATTACHED),
        _ => {}
    }
    e.attached = attach;
    if e.origin == Origin::Managed {
        dir.save(&NsRecord::of(&e)).map_err(|err| internal("saving a namespace record", err))?;
    }
    set.put(nsid, Some(e));
    t.commit(guard, set);
    tracing::info!("namespace {nsid} {}", if attach { "attached" } else { "detached" });
    Ok(())
}

/// Keep a managed namespace's record in step after Format NVM changed its format.
pub fn format_changed(t: &NamespaceTable, nsid: u32) {
    let (Some(dir), Some(e)) = (t.dir.as_ref(), t.snapshot().entry(nsid).cloned()) else { return };
    if e.origin == Origin::Managed {
        if let Err(err) = dir.save(&NsRecord::of(&e)) {
            tracing::info!("namespace {nsid}: saving its record after Format NVM: {err}");
        }
    }
}
