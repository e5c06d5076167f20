//! Copy (NVM-CS 3.3.2, opcode 19h): copy one or more source ranges to consecutive
//! blocks starting at SDLBA, inside the device, with source range descriptor
//! formats 0h/1h (same namespace; 16b / 32b-64b guard PI) and 2h/3h (any
//! namespace, enabled by Host Behavior Support CDFE).
//!
//! PI (NVM-CS 5.3.2.5): the source is checked per PRINFOR against each range's
//! expected tags; the destination gets pass-through PI (both PRACT clear, checked
//! per PRINFOW), replaced PI (both PRACT set), inserted PI (non-PI source with
//! PRINFOW.PRACT set) or none (PI stripped, PRINFOR.PRACT set). On failure, CQE
//! DW0 is the number of the first range not copied; earlier ranges are written.
//!
//! The source range entries are parsed by `spec::ranges::SourceRange`.

use super::medium;
use super::namespace::{ActiveFormat, Namespace};
use super::protection;
use super::{check_range, transfer, Buffers, Completion, IoEnv};
use crate::dma::Direction;
use crate::pi::{Layout, LayoutMut, PiChecks, PiContext};
use crate::spec::ranges::SourceRange;
use crate::spec::{CommandFields, CopyCommand, Prinfo, Status};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Limits advertised in Identify Namespace (MSSRL, MCL, MSRC zero's based).
pub const MSSRL: u16 = 4096;
pub const MCL: u32 = 65536;
pub const MSRC: u8 = 127;
/// Copy descriptor formats supported (Identify Controller OCFS/CDFS): 0h-3h.
pub const OCFS: u16 = 0xf;
/// Blocks moved per step, to bound the bounce buffers.
const CHUNK_BLOCKS: u64 = 256;

/// How PI moves from source to destination for one range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PiMove {
    /// Neither side has PI: data and metadata are copied.
    Plain,
    /// PI copied as is (both PRACT 0).
    PassThrough,
    /// New PI generated for the destination (both PRACT 1).
    Replace,
    /// Non-PI source, PI destination: PI generated.
    Insert,
    /// PI source, non-PI destination: PI checked, then dropped.
    Strip,
}

fn matching(a: &ActiveFormat, b: &ActiveFormat) -> bool {
    a.lbs() == b.lbs()
        && a.ms() == b.ms()
        && a.protection == b.protection
        && (!a.has_pi() || (a.lbaf.pif == b.lbaf.pif && a.lbaf.sts == b.lbaf.sts))
}

/// The formats of a PI and a non-PI namespace correspond: same data size, the PI
/// side's metadata is exactly its tuple, the other side has none.
fn corresponding(pi: &ActiveFormat, plain: &ActiveFormat) -> bool {
    pi.lbs() == plain.lbs() && pi.ms() == pi.lbaf.pi_size() as u64 && plain.ms() == 0
}

fn pi_move(
    src: &ActiveFormat,
    dst: &ActiveFormat,
    same_ns: bool,
    practr: bool,
    practw: bool,
) -> Result<PiMove, Status> {
    match (src.has_pi(), dst.has_pi()) {
        (false, false) if same_ns || matching(src, dst) => Ok(PiMove::Plain),
        (true, true) if same_ns || matching(src, dst) => match (practr, practw) {
            (false, false) => Ok(PiMove::PassThrough),
            (true, true) => Ok(PiMove::Replace),
            _ => Err(Status::INVALID_FIELD),
        },
        (false, true) if practw && corresponding(dst, src) => Ok(PiMove::Insert),
        (true, false) if practr && corresponding(src, dst) => Ok(PiMove::Strip),
        _ => Err(Status::INCOMPATIBLE_NS_OR_FORMAT),
    }
}

/// The read-side PI context of one range: PRINFOR checks against its ELBT/ELBAT/ELBATM.
fn source_context(f: &ActiveFormat, r: &SourceRange, prinfor: Prinfo, stcr: bool) -> Result<Option<PiContext>, Status> {
    let Some(fmt) = protection::pi_format(f) else { return Ok(None) };
    let (storage, ref_tag) = fmt.split_space(r.elbt);
    let checks = PiChecks::from_prinfo(prinfor, stcr);
    PiContext::new(fmt, checks, ref_tag, r.elbat, r.elbatm, storage, r.slba).map(Some).map_err(|e| Status::from(&e))
}

pub fn copy(env: &IoEnv, bufs: &mut Buffers, cmd: &CopyCommand) -> Completion {
    let mut done_ranges = 0u32;
    match run(env, bufs, cmd, &mut done_ranges) {
        Ok(()) => Completion::ok(),
        // DW0: the lowest-numbered range not copied (0 when nothing was written).
        Err(c) => Completion { dw0: done_ranges, ..c },
    }
}

fn run(env: &IoEnv, bufs: &mut Buffers, cmd: &CopyCommand, done_ranges: &mut u32) -> Result<(), Completion> {
    let sqe = cmd.sqe();
    let dst = env.namespace(sqe.nsid())?;
    let df = dst.format();
    let nr = cmd.ranges();
    let format = cmd.desc_format();
    let (practr, practw) = (cmd.prinfor().pract(), cmd.prinfow().pract());
    let sdlba = cmd.sdlba();

    // Descriptor format (NVM-CS 3.3.2, after Figure 38): one not supported (OCFS), or
    // 2h/3h not enabled by the host (CDFE), is Invalid Field in Command; a supported one
    // that does not go with the guard the destination is formatted to use (0h/2h for
    // 16b, 1h/3h for 32b/64b) is Invalid Namespace or Format. A destination formatted
    // without PI uses no guard, whatever its LBA format's PIF: every format is accepted.
    if format > 3 || OCFS & (1 << format) == 0 || (format >= 2 && env.copy_formats_enabled & (1 << format) == 0) {
        return Err(Status::INVALID_FIELD.into());
    }
    if df.has_pi() && (df.lbaf.pif == 0) != format.is_multiple_of(2) {
        return Err(Status::INVALID_NAMESPACE.into());
    }
    if nr > MSRC as usize + 1 {
        return Err(Status::COMMAND_SIZE_LIMIT_EXCEEDED.into());
    }
    let esz = SourceRange::entry_size(format);
    let list = transfer::data_list(env, sqe, (nr * esz) as u64, Direction::HostToController)?;
    let mut raw = vec![0u8; nr * esz];
    list.gather(env.mem, 0, &mut raw)?;
    // The range list is the only thing a Copy moves across the DMA boundary.
    env.counters.dma_to_device.fetch_add(raw.len() as u64, Relaxed);
    dst.counters.dma_to_device.fetch_add(raw.len() as u64, Relaxed);
    let ranges: Vec<SourceRange> = raw.chunks_exact(esz).map(|b| SourceRange::parse(b, format, sqe.nsid())).collect();

    // Everything that can be checked before a block moves is checked first, so a
    // refused command writes nothing (and reports range 0).
    let total: u64 = ranges.iter().map(|r| r.nlb).sum();
    if ranges.iter().any(|r| r.nlb > MSSRL as u64) || total > MCL as u64 {
        return Err(Status::COMMAND_SIZE_LIMIT_EXCEEDED.into());
    }
    check_range(sdlba, total, dst.blocks(&df)).map_err(|s| Completion::err_at(s, sdlba))?;
    let mut plan: Vec<(Arc<Namespace>, ActiveFormat, PiMove)> = Vec::with_capacity(nr);
    for r in &ranges {
        let src = env.namespace(r.nsid)?.clone();
        let sf = src.format();
        check_range(r.slba, r.nlb, src.blocks(&sf)).map_err(|s| Completion::err_at(s, r.slba))?;
        // A zoned source range: within one zone (unless reads may cross), not Offline.
        super::zoned::check_read(&src, r.slba, r.nlb).map_err(|s| Completion::err_at(s, r.slba))?;
        let same = r.nsid == sqe.nsid();
        if format >= 2 && same && r.slba < sdlba + total && sdlba < r.slba + r.nlb {
            return Err(Status::OVERLAPPING_IO_RANGE.into());
        }
        let mv = pi_move(&sf, &df, same, practr, practw)?;
        plan.push((src, sf, mv));
    }
    let dst_checks = if practw { PiChecks::NONE } else { PiChecks::from_prinfo(cmd.prinfow(), cmd.stcw()) };
    let dctx = protection::context(&df, &cmd.tags(), sdlba, dst_checks)?;
    let durable = super::rw::durable(env, cmd.fua());

    // A zoned destination takes the whole copy at its write pointer (ZNS 3.3.2).
    super::zoned::at_write_pointer(dst, sdlba, total, durable, || {
        copy_ranges(env, bufs, cmd, (dst, &df, sdlba), &ranges, &plan, (&dctx, done_ranges))
    })?;
    *done_ranges = nr as u32;
    if durable {
        dst.store.flush().map_err(|e| Completion::err_at(super::store_error(true, &e), sdlba))?;
    }
    env.counters.copies.fetch_add(1, Relaxed);
    Ok(())
}

/// Move the blocks of every range to the destination, in order.
fn copy_ranges(
    env: &IoEnv,
    bufs: &mut Buffers,
    cmd: &CopyCommand,
    (dst, df, sdlba): (&Arc<Namespace>, &ActiveFormat, u64),
    ranges: &[SourceRange],
    plan: &[(Arc<Namespace>, ActiveFormat, PiMove)],
    (dctx, done_ranges): (&Option<crate::pi::PiContext>, &mut u32),
) -> Result<(), Completion> {
    let mut dlba = sdlba;
    for (i, (r, (src, sf, mv))) in ranges.iter().zip(plan).enumerate() {
        *done_ranges = i as u32;
        let sctx = source_context(sf, r, cmd.prinfor(), cmd.stcr())?;
        let mut off = 0;
        while off < r.nlb {
            let n = (r.nlb - off).min(CHUNK_BLOCKS);
            medium::load(src, sf, r.slba + off, n, &mut bufs.data, &mut bufs.md)?;
            if let (Some(c), true) = (&sctx, *mv != PiMove::Plain && *mv != PiMove::Insert) {
                c.verify_from(off, Layout::Separate { data: &bufs.data, md: &bufs.md })?;
            }
            let index = dlba - sdlba;
            match mv {
                PiMove::Plain | PiMove::PassThrough => {}
                PiMove::Strip => bufs.md.clear(),
                PiMove::Insert => {
                    bufs.md.clear();
                    bufs.md.resize((n * df.ms()) as usize, 0);
                }
                PiMove::Replace => {}
            }
            if let Some(c) = &dctx {
                if matches!(mv, PiMove::Replace | PiMove::Insert) {
                    c.generate_from(index, LayoutMut::Separate { data: &bufs.data, md: &mut bufs.md })?;
                } else if *mv == PiMove::PassThrough {
                    c.verify_from(index, Layout::Separate { data: &bufs.data, md: &bufs.md })?;
                }
            }
            medium::store(dst, df, dlba, &bufs.data, &bufs.md, false)?;
            let moved = (bufs.data.len() + bufs.md.len()) as u64;
            env.counters.copy_bytes.fetch_add(moved, Relaxed);
            src.counters.copy_read_bytes.fetch_add(n * (sf.lbs() + sf.ms()), Relaxed);
            dst.counters.copy_written_bytes.fetch_add(moved, Relaxed);
            off += n;
            dlba += n;
        }
    }
    Ok(())
}
