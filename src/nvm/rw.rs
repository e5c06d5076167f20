//! Read (NVM-CS 3.3.4) and Write (NVM-CS 3.3.6), with metadata in a separate
//! buffer (MPTR) or interleaved with the data (extended LBA), and end-to-end
//! protection: PRACT insert / strip, PRCHK guard, application and reference tag
//! checks, and storage tag checks (NVM-CS 5.3).
//!
//! Data moves through per-queue bounce buffers: the guest's bytes are copied
//! once, checked, then written; a write whose PI fails a check stores nothing.

use super::in_place;
use super::medium::{self, resize};
use super::prepare::{prepare, Prepared, Target, Transfer};
use super::protection::host_has_metadata;
use super::zoned::at_write_pointer;
use super::{Buffers, Completion, IoEnv};
use crate::pi::{Layout, LayoutMut};
use crate::spec::{CommandFields, RwCommand};
use std::sync::atomic::Ordering::Relaxed;

/// FUA set, or no volatile write cache: the write must be durable.
pub fn durable(env: &IoEnv, fua: bool) -> bool {
    fua || !env.write_cache
}

pub fn read(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    read_inner(env, bufs, cmd).into()
}

fn read_inner(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Result<(), Completion> {
    let p = prepare(env, cmd, Transfer::Read)?;
    if in_place::read(env, bufs, &p)? {
        return Ok(());
    }
    let Target { ns, f, slba, nlb } = p.target;
    medium::load(ns, &f, slba, nlb, &mut bufs.data, &mut bufs.md)?;
    deliver(env, bufs, &p)
}

/// A read's blocks, loaded into `bufs`, to the host: PI checked (and stripped with
/// PRACT), interleaved for an extended-LBA host buffer, scattered, counted.
pub(crate) fn deliver(env: &IoEnv, bufs: &mut Buffers, p: &Prepared) -> Result<(), Completion> {
    let Prepared { target: Target { f, nlb, .. }, pract, sizes, ref ctx, ref data_sg, ref md_sg, .. } = *p;
    let (md_len, interleaved) = (sizes.md, sizes.interleaved);
    let lbs = f.lbs() as usize;
    let ms = f.ms() as usize;
    let n = nlb as usize;
    if let Some(ctx) = ctx {
        ctx.verify(Layout::Separate { data: &bufs.data, md: &bufs.md })?;
        if pract && !host_has_metadata(&f, true) {
            env.counters.pract_strips.fetch_add(nlb, Relaxed);
        }
    }
    if env.opts.transient_guard && (md_len > 0 || interleaved) {
        super::inject::spoil_returned_guards(&f, &mut bufs.md);
    }
    if interleaved {
        resize(&mut bufs.host, n * (lbs + ms));
        for (i, blk) in bufs.host.chunks_exact_mut(lbs + ms).enumerate() {
            blk[..lbs].copy_from_slice(&bufs.data[i * lbs..(i + 1) * lbs]);
            blk[lbs..].copy_from_slice(&bufs.md[i * ms..(i + 1) * ms]);
        }
        data_sg.scatter(env.mem, 0, &bufs.host)?;
    } else {
        data_sg.scatter(env.mem, 0, &bufs.data)?;
        if md_len > 0 {
            md_sg.scatter(env.mem, 0, &bufs.md)?;
        }
    }
    count_read(env, p);
    Ok(())
}

/// A read's data delivered: the bytes that crossed the DMA boundary, the read, its blocks.
pub(crate) fn count_read(env: &IoEnv, p: &Prepared) {
    p.count_transfer(env);
    env.counters.host_reads.fetch_add(1, Relaxed);
    env.counters.bytes_read.fetch_add(p.target.nlb * p.target.f.lbs(), Relaxed);
}

pub fn write(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    write_inner(env, bufs, cmd).into()
}

fn write_inner(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Result<(), Completion> {
    let p = prepare(env, cmd, Transfer::Write)?;
    let t = &p.target;
    at_write_pointer(t.ns, t.slba, t.nlb, durable(env, cmd.fua()), || store_write(env, bufs, cmd, &p, t.slba, None))
}

/// The write's data from the host to the medium: gather, check or generate PI, store
/// at `at` (the SLBA, or a Zone Append's assigned LBA, whose reference tags `remap`
/// rewrites when PIREMAP asks for it).
pub(crate) fn store_write(
    env: &IoEnv,
    bufs: &mut Buffers,
    cmd: &RwCommand,
    p: &Prepared,
    at: u64,
    remap: Option<&crate::pi::PiContext>,
) -> Result<(), Completion> {
    // A remapped write has PI, so in_place::write leaves it to the buffers.
    if in_place::write(env, p, at, durable(env, cmd.fua()))? {
        return Ok(());
    }
    receive(env, bufs, p, at, remap)?;
    let Target { ns, f, nlb, .. } = p.target;
    medium::store(ns, &f, at, &bufs.data, &bufs.md, durable(env, cmd.fua()))?;
    count_write(env, nlb, &f);
    Ok(())
}

pub(crate) fn count_write(env: &IoEnv, nlb: u64, f: &crate::nvm::namespace::ActiveFormat) {
    env.counters.host_writes.fetch_add(1, Relaxed);
    env.counters.bytes_written.fetch_add(nlb * f.lbs(), Relaxed);
}

/// A write's data from the host into `bufs`, ready to store at `at`: gathered
/// (once: the snapshot the device checks is the one it stores), PI checked or
/// generated, reference tags remapped for a Zone Append with PIREMAP.
pub(crate) fn receive(
    env: &IoEnv,
    bufs: &mut Buffers,
    p: &Prepared,
    at: u64,
    remap: Option<&crate::pi::PiContext>,
) -> Result<(), Completion> {
    let Prepared { target: Target { f, nlb, .. }, pract, sizes, ref ctx, ref data_sg, ref md_sg, .. } = *p;
    let slba = at;
    let (data_len, md_len, interleaved) = (sizes.data, sizes.md, sizes.interleaved);

    let lbs = f.lbs() as usize;
    let ms = f.ms() as usize;
    let n = nlb as usize;
    // Every byte is gathered from the host below (or copied out of `host`).
    bufs.data.set_len(n * lbs);
    // Metadata the host does not send (PRACT with metadata = PI) is generated below.
    resize(&mut bufs.md, n * ms);
    // The device's first look at the data, at fetch time (mutation detector), and
    // the race-window widening before the transfer.
    let unit = if interleaved { lbs + ms } else { lbs };
    let first = if env.opts.detect_mutation {
        let mut look = vec![0u8; data_len as usize];
        data_sg.gather(env.mem, 0, &mut look)?;
        Some(super::mutation::first_look_owned(look, unit))
    } else {
        None
    };
    if !env.opts.widen.is_zero() {
        std::thread::sleep(env.opts.widen);
    }
    if interleaved {
        resize(&mut bufs.host, n * (lbs + ms));
        data_sg.gather(env.mem, 0, &mut bufs.host)?;
        for (i, blk) in bufs.host.chunks_exact(lbs + ms).enumerate() {
            bufs.data[i * lbs..(i + 1) * lbs].copy_from_slice(&blk[..lbs]);
            bufs.md[i * ms..(i + 1) * ms].copy_from_slice(&blk[lbs..]);
        }
    } else {
        data_sg.gather(env.mem, 0, &mut bufs.data)?;
        if md_len > 0 {
            md_sg.gather(env.mem, 0, &mut bufs.md)?;
        }
    }
    p.count_transfer(env);
    if let Some(first) = first {
        let transferred: &[u8] = if interleaved { &bufs.host } else { &bufs.data };
        bufs.mutation = super::mutation::second_look(&first, transferred, unit).map(|mut m| {
            m.blocks.iter_mut().for_each(|b| b.0 += slba);
            m
        });
    }
    if let Some(ctx) = ctx {
        if pract {
            // Insert PI (NVM-CS 5.3.2.2): generated from the data as received.
            ctx.generate(LayoutMut::Separate { data: &bufs.data, md: &mut bufs.md })?;
            env.counters.pract_inserts.fetch_add(nlb, Relaxed);
        } else {
            ctx.verify(Layout::Separate { data: &bufs.data, md: &bufs.md })?;
        }
    }
    if let Some(r) = remap {
        r.remap_ref_tags(&mut bufs.md, ms);
    }
    Ok(())
}
