//! Zoned namespaces (NVMe Zoned Namespace Command Set 1.1, "ZNS"): the zone state
//! machine and its resources (`table`), the Report Zones data (`report`), and
//! the zone state kept beside the image (`persist`); `zones` puts them together
//! for the I/O path (locks and durability).

#![forbid(unsafe_code)]

pub mod commands;
pub mod persist;
pub mod report;
pub mod table;
#[cfg(test)]
mod test_fixtures;
pub mod zones;

pub use table::{SendOutcome, WriteGrant, WriteKind, Zone, ZoneGeometry, ZoneTable};
pub use zones::{ZoneWriteError, Zones};

use super::{Completion, Namespace};

/// Run `write`, a command's writing of `nlb` blocks at `slba`: as it is on a
/// conventional namespace; on a zoned one only once the zone admits it at its
/// write pointer (ZNS 2.1.1.2), under the zone's I/O lock, moving the write
/// pointer when it succeeds. A zone that refuses it fails the command with the
/// zone's status before anything is transferred.
pub fn at_write_pointer(
    ns: &Namespace,
    slba: u64,
    nlb: u64,
    durable: bool,
    write: impl FnOnce() -> Result<(), Completion>,
) -> Result<(), Completion> {
    let Some(z) = &ns.zoned else { return write() };
    z.write(WriteKind::AtWritePointer, slba, nlb, durable, |_| write()).map(|_| ()).map_err(|e| e.completion(slba))
}

impl ZoneWriteError<Completion> {
    /// The command's completion: a zone's refusal names the command's SLBA.
    pub fn completion(self, slba: u64) -> Completion {
        match self {
            ZoneWriteError::Zone(s) => Completion::err_at(s, slba),
            ZoneWriteError::Write(c) => c,
        }
    }
}

/// Reads, Verify, Compare and Copy sources of a zoned namespace: not across a
/// zone boundary (unless allowed) and not in an Offline zone (ZNS 2.1.1.1).
pub fn check_read(ns: &Namespace, slba: u64, nlb: u64) -> Result<(), crate::spec::Status> {
    ns.zoned.as_ref().map_or(Ok(()), |z| z.check_read(slba, nlb))
}
