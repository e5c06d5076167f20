//! A namespace's PI format, and a command's PI fields (NVM-CS 5.3.2: the checks
//! PRCHK and STC ask for, the initial reference tag, application tag and mask, and
//! storage tag, read by `spec::RwCommand` / `spec::CopyCommand`) turned into a
//! [`PiContext`] for the `pi` module.

use super::namespace::ActiveFormat;
use crate::pi::{GuardFormat, PiChecks, PiContext, PiFormat, PiLocation};
use crate::spec::{PiTags, Status};

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

/// The PI context for a command on `f` starting at `slba`, with the command's tags
/// and the given checks (from PRCHK/STC, or all off for generation).
/// The context a Zone Append with PIREMAP stores its reference tags with (ZNS
/// 3.4.1.1): the host's initial reference tag moved by how far the assigned LBA
/// is from the zone's start, so block i gets ILBRT + (ALBA - ZSLBA) + i.
pub fn remapped_context(f: &ActiveFormat, tags: &PiTags, zslba: u64, alba: u64) -> Result<Option<PiContext>, Status> {
    let Some(fmt) = pi_format(f) else { return Ok(None) };
    let (storage_tag, ref_tag) = fmt.split_command_tags(tags.cdw2, tags.cdw3, tags.cdw14);
    let ref_tag = ref_tag.wrapping_add(alba - zslba);
    PiContext::new(fmt, PiChecks::NONE, ref_tag, tags.lbat, tags.lbatm, storage_tag, alba).map(Some).map_err(|e| {
        tracing::info!("PI setup: {e}");
        Status::from(&e)
    })
}

pub fn context(f: &ActiveFormat, tags: &PiTags, slba: u64, checks: PiChecks) -> Result<Option<PiContext>, Status> {
    let Some(fmt) = pi_format(f) else { return Ok(None) };
    let (storage_tag, ref_tag) = fmt.split_command_tags(tags.cdw2, tags.cdw3, tags.cdw14);
    PiContext::new(fmt, checks, ref_tag, tags.lbat, tags.lbatm, storage_tag, slba).map(Some).map_err(|e| {
        tracing::info!("PI setup: {e}");
        Status::from(&e)
    })
}
