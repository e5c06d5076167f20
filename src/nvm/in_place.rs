//! Reads and writes whose data moves straight between the guest's pages and the image:
//! one vectored system call, no copy through the device's buffers (docs/design.md,
//! "Copies").
//!
//! Only where nothing needs the device's own snapshot of the data:
//! - a read whose PI the device neither checks (no PRCHK, no STC) nor strips (PRACT),
//!   with no metadata interleaved in the host's buffer, and no fault rule spoiling the
//!   guards it returns. Separate metadata still goes through the buffers (a few bytes);
//! - a write with no metadata at all (PI to check or generate, or the intent record a
//!   namespace with metadata keeps of each write's data, both need one snapshot: a guest
//!   may change its buffer while the write is in flight, and the device must check and
//!   record the bytes it stores), with the mutation detector and race widening off.
//!
//! And only where both sides can: a store that takes ranges (a file read through the
//! page cache: `--cache writeback` or `writethrough`) and guest memory that hands out its
//! pages (the DMA map). Everything else goes through `rw.rs`'s buffers, as does a
//! transfer whose list holds a bit bucket. Each returns Ok(false), having done nothing,
//! when the command is not one of these.

use super::medium;
use super::prepare::{Prepared, Target};
use super::{store_error, Buffers, Completion, IoEnv};
use crate::dma::Direction;
use crate::pi::PiChecks;
use std::sync::atomic::Ordering::Relaxed;

/// Read `p`'s blocks into the guest's pages, if nothing needs them in the device.
pub fn read(env: &IoEnv, bufs: &mut Buffers, p: &Prepared) -> Result<bool, Completion> {
    let Target { ns, f, slba, nlb } = p.target;
    let checked = p.ctx.is_some_and(|c| c.checks() != PiChecks::NONE);
    if checked || p.pract || p.sizes.interleaved || env.opts.transient_guard || !ns.store.takes_ranges() {
        return Ok(false);
    }
    medium::readable(ns, slba, nlb)?;
    let _held = ns.locks.read(slba, nlb);
    let Some(moved) = transfer(env, p, f.layout.data_offset(slba), Direction::ControllerToHost)? else {
        return Ok(false);
    };
    moved.map_err(|e| Completion::err_at(store_error(false, &e), slba))?;
    if p.sizes.md > 0 {
        medium::resize(&mut bufs.md, p.sizes.md as usize);
        ns.store
            .read_at(f.layout.meta_offset(slba), &mut bufs.md)
            .map_err(|e| Completion::err_at(store_error(false, &e), slba))?;
        p.md_sg.scatter(env.mem, 0, &bufs.md)?;
    }
    env.counters.in_place.fetch_add(1, Relaxed);
    super::rw::count_read(env, p);
    Ok(true)
}

/// Write `p`'s blocks at `at` from the guest's pages, if nothing needs them in the
/// device; with `durable`, fdatasync before returning.
pub fn write(env: &IoEnv, p: &Prepared, at: u64, durable: bool) -> Result<bool, Completion> {
    let Target { ns, f, nlb, .. } = p.target;
    let o = &env.opts;
    let snapshot = p.ctx.is_some() || f.ms() > 0 || o.detect_mutation || !o.widen.is_zero();
    // (No metadata, so none interleaved either.)
    if snapshot || !ns.store.takes_ranges() {
        return Ok(false);
    }
    let _held = ns.locks.write(at, nlb);
    let Some(moved) = transfer(env, p, f.layout.data_offset(at), Direction::HostToController)? else {
        return Ok(false);
    };
    moved.map_err(|e| Completion::err_at(store_error(true, &e), at))?;
    medium::stored(ns, at, nlb, durable)?;
    env.counters.in_place.fetch_add(1, Relaxed);
    p.count_transfer(env);
    super::rw::count_write(env, nlb, &f);
    Ok(true)
}

/// Hand the data's guest pages to the store at image offset `off`, in `dir`: None when the
/// guest memory cannot hand them out (nothing moved), else what the store said.
fn transfer(env: &IoEnv, p: &Prepared, off: u64, dir: Direction) -> Result<Option<std::io::Result<()>>, Completion> {
    let store = &p.target.ns.store;
    let mut moved = Ok(());
    let ran = env.mem.ranges(&p.data_sg, p.sizes.data, dir, &mut |at, r| {
        moved = match dir {
            Direction::ControllerToHost => store.read_ranges(off + at, r),
            Direction::HostToController => store.write_ranges(off + at, r),
        };
        moved.is_ok()
    })?;
    Ok(ran.then_some(moved))
}
