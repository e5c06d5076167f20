//! Write Uncorrectable (NVM-CS 3.3.8): mark blocks so that reads, Verify, Compare
//! and Copy of them fail with Unrecovered Read Error until they are written again
//! (Write, Write Zeroes, Dataset Management deallocate, Format NVM). The marks
//! persist beside the image (see `uncorrectable_marks`).

use super::prepare::{target, Target};
use super::{store_error, Completion, IoEnv};
use crate::spec::RwCommand;

pub fn write_uncorrectable(env: &IoEnv, cmd: &RwCommand) -> Completion {
    let Target { ns, slba, nlb, .. } = match target(env, cmd) {
        Ok(t) => t,
        Err(s) => return Completion::err(s),
    };
    // On a zoned namespace, a write like any other: at the write pointer (ZNS 3.3.8).
    let mark = || ns.uncorrectable.mark(slba, nlb).map_err(|e| Completion::err_at(store_error(true, &e), slba));
    match super::zoned::at_write_pointer(ns, slba, nlb, true, mark) {
        Ok(()) => Completion::ok(),
        Err(c) => c,
    }
}
