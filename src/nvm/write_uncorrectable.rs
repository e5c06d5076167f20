//! Write Uncorrectable (NVM-CS 3.3.8): mark blocks so that reads, Verify, Compare
//! and Copy of them fail with Unrecovered Read Error until they are written again
//! (Write, Write Zeroes, Dataset Management deallocate, Format NVM). The marks
//! persist beside the image (see `uncorrectable_marks`).

use super::{range_target, store_error, Completion, IoEnv};
use crate::spec::SubmissionEntry;

pub fn write_uncorrectable(env: &IoEnv, sqe: &SubmissionEntry) -> Completion {
    let (ns, _, slba, nlb) = match range_target(env, sqe) {
        Ok(t) => t,
        Err(s) => return Completion::err(s),
    };
    match ns.uncorrectable.mark(slba, nlb) {
        Ok(()) => Completion::ok(),
        Err(e) => Completion::err_at(store_error(true, &e), slba),
    }
}
