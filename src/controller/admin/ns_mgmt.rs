//! Namespace Management (NVMe-Base 5.1.21, admin opcode 0Dh): create a namespace
//! in the `--ns-dir` directory (SEL 0h) or delete one (SEL 1h; NSID FFFFFFFFh
//! deletes every allocated namespace). Offered only with `--ns-dir` (OACS bit 3);
//! otherwise the opcode is not dispatched here (Invalid Command Opcode).
//!
//! Create reads the host-specified fields (a 4 KiB structure laid out like
//! Identify Namespace: NSZE, NCAP, FLBAS, DPS, NMIC; ANAGRPID, NVMSETID and
//! ENDGID are ignored, as ANA, NVM Sets and Endurance Groups are not supported)
//! and returns the new NSID in completion DW0. The new namespace is attached to
//! no controller. Deleting an attached namespace detaches it first and reports
//! Namespace Attribute Changed. The checks are in `nvm::ns_manage`.

use super::{done, fail, read_from_host, Outcome};
use crate::controller::Controller;
use crate::nvm::ns_manage::{self, CreateRequest};
use crate::spec::identify::{ns as n, CSI_NVM};
use crate::spec::{Status, SubmissionEntry};

const SEL_CREATE: u32 = 0;
const SEL_DELETE: u32 = 1;

pub fn namespace_management(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    match sqe.cdw10() & 0xf {
        SEL_CREATE => create(ctrl, sqe),
        SEL_DELETE => delete(ctrl, sqe),
        _ => fail(Status::INVALID_FIELD),
    }
}

/// Parse the Host Software Specified Fields.
pub fn parse_create(d: &[u8]) -> Result<CreateRequest, Status> {
    let u64_at = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
    let flbas = d[n::FLBAS];
    let dps = d[n::DPS];
    // FLBAS bit 7 and DPS bits 7:4 are reserved.
    if flbas & 0x80 != 0 || dps & 0xf0 != 0 {
        return Err(Status::INVALID_FIELD);
    }
    Ok(CreateRequest {
        nsze: u64_at(n::NSZE),
        ncap: u64_at(n::NCAP),
        lbaf: (flbas & 0xf) | ((flbas >> 5) & 3) << 4,
        extended: flbas & 0x10 != 0,
        pi: dps & 7,
        pi_first: dps & 8 != 0,
        nmic: d[n::NMIC],
    })
}

fn create(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    // CDW11 bits 31:24: the command set of the new namespace.
    if (sqe.cdw11() >> 24) as u8 != CSI_NVM {
        return fail(Status::IO_COMMAND_SET_NOT_SUPPORTED);
    }
    let data = match read_from_host(ctrl, sqe, 4096) {
        Ok(d) => d,
        Err(s) => return fail(s),
    };
    match parse_create(&data).and_then(|r| ns_manage::create(&ctrl.shared.namespaces, &r)) {
        Ok(nsid) => done(nsid),
        Err(s) => fail(s),
    }
}

fn delete(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let sh = ctrl.shared.clone();
    match ns_manage::delete(&sh.namespaces, sqe.nsid()) {
        Ok(detached) => {
            super::aer::namespace_attribute_changed(&sh, &detached);
            done(0)
        }
        Err(s) => fail(s),
    }
}
