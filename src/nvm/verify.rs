//! Verify (NVM-CS 3.3.5): read the blocks and check their protection information
//! per PRCHK/STC without transferring anything to the host (PRACT set is Invalid
//! Field). Blocks marked by
//! Write Uncorrectable fail with Unrecovered Read Error. The medium is read in
//! bounded chunks, so a long Verify needs no large buffer.

use super::medium;
use super::{protection, range_target, Buffers, Completion, IoEnv};
use crate::pi::Layout;
use crate::spec::SubmissionEntry;

/// Blocks per chunk (at most 1 MiB of data at 4 KiB blocks).
const CHUNK_BLOCKS: u64 = 256;

pub fn verify(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Completion {
    run(env, bufs, sqe).into()
}

fn run(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Result<(), Completion> {
    let (ns, f, slba, nlb) = range_target(env, sqe)?;
    // Nothing is transferred, so there is nothing to insert or strip: PRACT must
    // be clear (NVM-CS 3.3.5, Verify CDW12).
    if protection::pract(sqe) {
        return Err(crate::spec::Status::INVALID_FIELD.into());
    }
    let ctx = protection::context(&f, sqe, slba, protection::checks(sqe))?;
    let mut done = 0;
    while done < nlb {
        let n = (nlb - done).min(CHUNK_BLOCKS);
        medium::load(ns, &f, slba + done, n, &mut bufs.data, &mut bufs.md)?;
        if let Some(ctx) = &ctx {
            ctx.verify_from(done, Layout::Separate { data: &bufs.data, md: &bufs.md })?;
        }
        done += n;
    }
    Ok(())
}
