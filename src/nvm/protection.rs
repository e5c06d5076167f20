//! PRINFO of an NVM command (NVM-CS 5.3.2): whether the controller inserts or
//! strips PI (PRACT), which checks it runs (PRCHK, STC), and the command's
//! initial reference tag, application tag and mask, and storage tag, turned into
//! a [`PiContext`] for the `pi` module.

use super::namespace::ActiveFormat;
use crate::pi::{GuardFormat, PiChecks, PiContext, PiFormat, PiLocation};
use crate::spec::{Status, SubmissionEntry};

/// CDW12 bit 29.
pub fn pract(sqe: &SubmissionEntry) -> bool {
    sqe.cdw12() & (1 << 29) != 0
}

/// The namespace's PI format, or None when it is not formatted with PI.
pub fn pi_format(f: &ActiveFormat) -> Option<PiFormat> {
    Some(PiFormat {
        lbs: f.lbaf.lbs,
        ms: f.lbaf.ms,
        pi: Some(f.protection.pi_type?),
        guard: GuardFormat::from_pif(f.lbaf.pif)?,
        location: if f.protection.pi_first { PiLocation::First } else { PiLocation::Last },
        sts: f.lbaf.sts,
    })
}

/// Whether the host transfers metadata for this command: not when PRACT is set
/// and the metadata is exactly the PI tuple (NVM-CS 5.3.2.1-2: the controller
/// inserts on write and strips on read).
pub fn host_has_metadata(f: &ActiveFormat, pract: bool) -> bool {
    f.ms() > 0 && !(pract && f.has_pi() && f.ms() == f.lbaf.pi_size() as u64)
}

/// The PI context for a command on `f` starting at `slba`, with the checks from
/// CDW12 (or all off, for generation).
pub fn context(
    f: &ActiveFormat,
    sqe: &SubmissionEntry,
    slba: u64,
    checks: PiChecks,
) -> Result<Option<PiContext>, Status> {
    let Some(fmt) = pi_format(f) else { return Ok(None) };
    let (storage_tag, ref_tag) = fmt.split_command_tags(sqe.cdw2(), sqe.cdw3(), sqe.cdw14());
    let app_tag = sqe.cdw15() as u16;
    let app_mask = (sqe.cdw15() >> 16) as u16;
    PiContext::new(fmt, checks, ref_tag, app_tag, app_mask, storage_tag, slba).map(Some).map_err(|e| {
        tracing::info!("PI setup: {e}");
        Status::from(&e)
    })
}

pub fn checks(sqe: &SubmissionEntry) -> PiChecks {
    PiChecks::from_cdw12(sqe.cdw12())
}
