//! Verify (NVM-CS 3.3.5): read the blocks and check their protection information
//! per PRCHK/STC without transferring anything to the host (PRACT set is Invalid
//! Field). Blocks marked by
//! Write Uncorrectable fail with Unrecovered Read Error. The medium is read in
//! bounded chunks, so a long Verify needs no large buffer.

use super::medium;
use super::prepare::{command_checks, target, Target};
use super::{protection, Buffers, Completion, IoEnv};
use crate::pi::Layout;
use crate::spec::{CommandFields, RwCommand};

/// Blocks per chunk (at most 1 MiB of data at 4 KiB blocks).
const CHUNK_BLOCKS: u64 = 256;

pub fn verify(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    run(env, bufs, cmd).into()
}

fn run(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Result<(), Completion> {
    let Target { ns, f, slba, nlb } = target(env, cmd)?;
    super::zoned::check_read(ns, slba, nlb)?;
    // Nothing is transferred, so there is nothing to insert or strip: PRACT must
    // be clear (NVM-CS 3.3.5, Verify CDW12).
    if cmd.prinfo().pract() {
        return Err(crate::spec::Status::INVALID_FIELD.into());
    }
    let ctx = protection::context(&f, &cmd.tags(), slba, command_checks(cmd))?;
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
