//! Read (NVM-CS 3.3.4) and Write (NVM-CS 3.3.6), with metadata in a separate
//! buffer (MPTR) or interleaved with the data (extended LBA), and end-to-end
//! protection: PRACT insert / strip, PRCHK guard, application and reference tag
//! checks, and storage tag checks (NVM-CS 5.3).
//!
//! Data moves through per-queue bounce buffers: the guest's bytes are copied
//! once, checked, then written; a write whose PI fails a check stores nothing.

use super::medium;
use super::protection::{self, host_has_metadata};
use super::transfer::{data_list, metadata_list};
use super::{range_target, Buffers, Completion, IoEnv};
use crate::dma::Direction;
use crate::pi::{Layout, LayoutMut, PiChecks};
use crate::spec::{Status, SubmissionEntry};
use std::sync::atomic::Ordering::Relaxed;

/// CDW12 bit 30: Force Unit Access.
fn fua(sqe: &SubmissionEntry) -> bool {
    sqe.cdw12() & (1 << 30) != 0
}

/// The host-buffer sizes of a read or write: (data bytes, separate metadata bytes,
/// whether metadata is interleaved in the data buffer).
pub(super) fn host_sizes(f: &super::namespace::ActiveFormat, nlb: u64, pract: bool) -> (u64, u64, bool) {
    let md = host_has_metadata(f, pract);
    if md && f.extended {
        (nlb * (f.lbs() + f.ms()), 0, true)
    } else if md {
        (nlb * f.lbs(), nlb * f.ms(), false)
    } else {
        (nlb * f.lbs(), 0, false)
    }
}

fn resize(v: &mut Vec<u8>, n: usize) {
    v.clear();
    v.resize(n, 0);
}

/// CDW12 bit 30 set, or no volatile write cache: the write must be durable.
pub fn durable(env: &IoEnv, sqe: &SubmissionEntry) -> bool {
    fua(sqe) || !env.write_cache
}

pub fn read(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Completion {
    read_inner(env, bufs, sqe).into()
}

fn read_inner(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Result<(), Completion> {
    let (ns, f, slba, nlb) = range_target(env, sqe)?;
    let pract = protection::pract(sqe) && f.has_pi();
    let (data_len, md_len, interleaved) = host_sizes(&f, nlb, pract);
    if data_len > env.max_transfer {
        return Err(Status::INVALID_FIELD.into());
    }
    let ctx = protection::context(&f, sqe, slba, protection::checks(sqe))?;
    let data_sg = data_list(env, sqe, data_len, Direction::ControllerToHost)?;
    let md_sg = metadata_list(env, sqe, md_len, Direction::ControllerToHost)?;

    let lbs = f.lbs() as usize;
    let ms = f.ms() as usize;
    let n = nlb as usize;
    medium::load(ns, &f, slba, nlb, &mut bufs.data, &mut bufs.md)?;
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
    env.counters.dma_to_host.fetch_add(data_len + md_len, Relaxed);
    ns.counters.dma_to_host.fetch_add(data_len + md_len, Relaxed);
    env.counters.host_reads.fetch_add(1, Relaxed);
    env.counters.bytes_read.fetch_add(nlb * f.lbs(), Relaxed);
    Ok(())
}

pub fn write(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Completion {
    write_inner(env, bufs, sqe).into()
}

fn write_inner(env: &IoEnv, bufs: &mut Buffers, sqe: &SubmissionEntry) -> Result<(), Completion> {
    let (ns, f, slba, nlb) = range_target(env, sqe)?;
    let pract = protection::pract(sqe) && f.has_pi();
    let (data_len, md_len, interleaved) = host_sizes(&f, nlb, pract);
    if data_len > env.max_transfer {
        return Err(Status::INVALID_FIELD.into());
    }
    let checks = if pract { PiChecks::default() } else { protection::checks(sqe) };
    let ctx = protection::context(&f, sqe, slba, checks)?;
    let data_sg = data_list(env, sqe, data_len, Direction::HostToController)?;
    let md_sg = metadata_list(env, sqe, md_len, Direction::HostToController)?;

    let lbs = f.lbs() as usize;
    let ms = f.ms() as usize;
    let n = nlb as usize;
    resize(&mut bufs.data, n * lbs);
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
    env.counters.dma_to_device.fetch_add(data_len + md_len, Relaxed);
    ns.counters.dma_to_device.fetch_add(data_len + md_len, Relaxed);
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
    medium::store(ns, &f, slba, &bufs.data, &bufs.md, durable(env, sqe))?;
    env.counters.host_writes.fetch_add(1, Relaxed);
    env.counters.bytes_written.fetch_add(nlb * f.lbs(), Relaxed);
    Ok(())
}
