//! Flush (NVMe-Base 7.1; a common I/O command, not in NVM-CS): make every completed write durable.
//! NSID FFFFFFFFh flushes all namespaces (VWC bits 2:1 = 11b).

use super::{store_error, Completion, IoEnv};
use crate::spec::SubmissionEntry;

pub fn flush(env: &IoEnv, sqe: &SubmissionEntry) -> Completion {
    let targets: Vec<_> = if sqe.nsid() == 0xffff_ffff {
        env.namespaces.iter().collect()
    } else {
        match env.namespace(sqe.nsid()) {
            Ok(ns) => vec![ns],
            Err(s) => return Completion::err(s),
        }
    };
    for ns in targets {
        if let Err(e) = ns.store.flush() {
            return Completion::err(store_error(true, &e));
        }
        // The write pointers of the writes just made durable (zoned namespaces).
        if let Some(Err(e)) = ns.zoned.as_ref().map(|z| z.flush()) {
            return Completion::err(store_error(true, &e));
        }
    }
    Completion::ok()
}
