//! Namespace Attachment (NVMe-Base 5.1.20, admin opcode 15h): attach (SEL 0h) or
//! detach (SEL 1h) namespace NSID to or from the controllers in a Controller
//! List. The subsystem has one controller (CNTLID 1), so a valid list is exactly
//! that one ID; an empty list, an unknown ID or IDs not in ascending order are
//! Controller List Invalid. A change is reported to the controller with a
//! Namespace Attribute Changed event (Changed Namespace List, log 04h). With one
//! controller a namespace is never attached elsewhere, so Namespace Is Private
//! (NMIC bit 0 clear) cannot arise. Offered only with `--ns-dir` (OACS bit 3).

use super::{done, fail, read_from_host, Outcome};
use crate::controller::Controller;
use crate::nvm::ns_manage;
use crate::nvm::ns_table::CNTLID;
use crate::spec::identify::ctrl_list;
use crate::spec::{Status, SubmissionEntry};

const SEL_ATTACH: u32 = 0;
const SEL_DETACH: u32 = 1;

/// Check a Controller List: bytes 1:0 the number of IDs, then the IDs.
pub fn check_controller_list(d: &[u8]) -> Result<(), Status> {
    let u16_at = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
    let count = u16_at(ctrl_list::NUMBER) as usize;
    if count == 0 || count > ctrl_list::MAX_IDS {
        return Err(Status::CONTROLLER_LIST_INVALID);
    }
    let ids: Vec<u16> = (0..count).map(|i| u16_at(ctrl_list::FIRST_ID + 2 * i)).collect();
    if ids.windows(2).any(|w| w[0] >= w[1]) || ids.iter().any(|&id| id != CNTLID) {
        return Err(Status::CONTROLLER_LIST_INVALID);
    }
    Ok(())
}

pub fn namespace_attachment(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let attach = match sqe.cdw10() & 0xf {
        SEL_ATTACH => true,
        SEL_DETACH => false,
        _ => return fail(Status::INVALID_FIELD),
    };
    let nsid = sqe.nsid();
    // The NSID is checked before the list is fetched; `set_attached` checks again
    // under its lock.
    let set = ctrl.shared.namespaces.snapshot();
    if nsid == 0xffff_ffff {
        return fail(Status::INVALID_FIELD);
    }
    if !set.valid(nsid) {
        return fail(Status::INVALID_NAMESPACE);
    }
    if set.entry(nsid).is_none() {
        return fail(Status::INVALID_FIELD);
    }
    let list = match read_from_host(ctrl, sqe, 4096) {
        Ok(d) => d,
        Err(s) => return fail(s),
    };
    if let Err(s) = check_controller_list(&list) {
        return fail(s);
    }
    let sh = ctrl.shared.clone();
    match ns_manage::set_attached(&sh.namespaces, nsid, attach) {
        Ok(()) => {
            super::aer::namespace_attribute_changed(&sh, &[nsid]);
            done(0)
        }
        Err(s) => fail(s),
    }
}
