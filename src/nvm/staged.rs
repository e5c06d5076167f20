//! Read and Write split around their data transfer, for an engine that keeps
//! several commands of one queue in flight (`serve --engine io_uring`): [`stage`]
//! runs everything before the data moves and says where it moves, the engine moves
//! it, and [`finish`] runs everything after. The steps are the synchronous path's
//! own (`rw::receive`, `rw::deliver`), so both engines answer alike.
//!
//! A staged command holds its blocks' range locks, and a write with metadata its
//! intent-log slot, from stage to finish. Stage never waits for either: when one
//! is taken (perhaps by a command of the same queue still in flight, which would
//! never finish while this one waited) it answers [`Stage::Sync`], and the engine
//! runs the command through `nvm::execute` once nothing of its own is in flight.
//! A write records its intent and writes its metadata at stage (synchronously:
//! with O_DIRECT an unaligned metadata write is a read-modify-write), then its
//! data goes out. A read's data and metadata come in together, the metadata as
//! the aligned span that holds it. Both happen inside the locks and the intent,
//! as on the synchronous path.

use super::block_locks::RangeGuard;
use super::intent_log::{IntentLog, Pending};
use super::prepare::{prepare, Prepared, Target, Transfer};
use super::{rw, store_error, Buffers, Completion, IoEnv};
use crate::spec::opcode::nvm as op;
use crate::spec::{CommandFields, IoCommand, RwCommand};
use std::os::unix::io::RawFd;

/// A command whose transfers are to start ([`Staged::transfers`]).
pub struct Staged<'e> {
    p: Prepared<'e>,
    write: bool,
    fua: bool,
    _locks: RangeGuard<'e>,
    intent: Option<Pending<'e>>,
    /// The data: `bufs.data`, at `off` of `fd`.
    fd: RawFd,
    off: u64,
    /// A read's metadata, when it moves asynchronously too: `bufs.md_span` from
    /// `span_off` of `md_fd`; the metadata starts `skip` bytes into it.
    md: Option<MdSpan>,
}

#[derive(Clone, Copy)]
struct MdSpan {
    fd: RawFd,
    span_off: u64,
    skip: usize,
}

/// One transfer to start: region (0 data, 1 metadata span), direction, descriptor, offset.
pub type IoTransfer = (usize, bool, RawFd, u64);

impl Staged<'_> {
    /// The transfers to start: the data, and for a read the metadata span too.
    pub fn transfers(&self) -> impl Iterator<Item = IoTransfer> {
        let data = (0, self.write, self.fd, self.off);
        let md = self.md.map(|m| (1, false, m.fd, m.span_off));
        std::iter::once(data).chain(md)
    }
}

// Moved once per command into the engine's flight table; boxing the large variant
// would cost a heap allocation per I/O.
#[allow(clippy::large_enum_variant)]
pub enum Stage<'e> {
    /// Move the data, then [`finish`].
    Io(Staged<'e>),
    /// Finished before any data moved (an error); counted.
    Done(Completion),
    /// Run it with `nvm::execute`, when nothing else of the queue is in flight:
    /// another opcode, a zoned namespace, a transfer the store cannot do
    /// asynchronously, or a lock or intent slot that is taken.
    Sync,
}

/// The first half of a Read or Write (see the module). `env.opts` must be the
/// plain options: fault injection and mutation detection run synchronously.
pub fn stage<'e>(env: &'e IoEnv, bufs: &mut Buffers, cmd: &IoCommand) -> Stage<'e> {
    let (c, write) = match cmd {
        IoCommand::Read(c) => (c, false),
        IoCommand::Write(c) => (c, true),
        _ => return Stage::Sync,
    };
    if cmd.check_reserved().is_err() {
        return Stage::Sync;
    }
    let staged = if write { stage_write(env, bufs, c) } else { stage_read(env, bufs, c) };
    match staged {
        Ok(s) => s,
        Err(done) => {
            env.counters.io_command(if write { op::WRITE } else { op::READ }, done.status);
            Stage::Done(done)
        }
    }
}

fn stage_read<'e>(env: &'e IoEnv, bufs: &mut Buffers, c: &RwCommand) -> Result<Stage<'e>, Completion> {
    let p = prepare(env, c, Transfer::Read)?;
    let Target { ns, f, slba, nlb } = p.target;
    if ns.zoned.is_some() {
        return Ok(Stage::Sync);
    }
    super::medium::readable(ns, slba, nlb)?;
    bufs.data.set_len((nlb * f.lbs()) as usize);
    super::medium::resize(&mut bufs.md, (nlb * f.ms()) as usize);
    let off = f.layout.data_offset(slba);
    let Some(fd) = ns.store.async_fd(off, bufs.data.len(), bufs.data.as_ptr() as usize) else {
        return Ok(Stage::Sync);
    };
    let Some(locks) = ns.locks.try_read(slba, nlb) else { return Ok(Stage::Sync) };
    let mut md = None;
    if f.ms() > 0 {
        let meta = f.layout.meta_offset(slba);
        match ns.store.async_span(meta, bufs.md.len()) {
            Some((fd, span_off, span)) => {
                bufs.md_span.set_len(span);
                md = Some(MdSpan { fd, span_off, skip: (meta - span_off) as usize });
            }
            None => {
                ns.store.read_at(meta, &mut bufs.md).map_err(|e| Completion::err_at(store_error(false, &e), slba))?;
            }
        }
    }
    Ok(Stage::Io(Staged { p, write: false, fua: false, _locks: locks, intent: None, fd, off, md }))
}

fn stage_write<'e>(env: &'e IoEnv, bufs: &mut Buffers, c: &RwCommand) -> Result<Stage<'e>, Completion> {
    let p = prepare(env, c, Transfer::Write)?;
    let Target { ns, f, slba, nlb } = p.target;
    if ns.zoned.is_some() || (f.ms() > 0 && nlb > IntentLog::blocks_per_record(f.ms())) {
        return Ok(Stage::Sync);
    }
    // The length `receive` gives it, so the buffer does not move after this.
    bufs.data.set_len((nlb * f.lbs()) as usize);
    let off = f.layout.data_offset(slba);
    let Some(fd) = ns.store.async_fd(off, bufs.data.len(), bufs.data.as_ptr() as usize) else {
        return Ok(Stage::Sync);
    };
    let Some(locks) = ns.locks.try_write(slba, nlb) else { return Ok(Stage::Sync) };
    let intent = match f.ms() {
        0 => None,
        _ => match ns.intents.try_reserve() {
            Some(slot) => Some(slot),
            None => return Ok(Stage::Sync),
        },
    };
    rw::receive(env, bufs, &p, slba, None)?;
    if let Some(intent) = &intent {
        let werr = |e: std::io::Error| Completion::err_at(store_error(true, &e), slba);
        ns.intents.record_blocks(intent, &f, slba, &bufs.data, &bufs.md).map_err(werr)?;
        ns.store.write_at(f.layout.meta_offset(slba), &bufs.md).map_err(werr)?;
    }
    Ok(Stage::Io(Staged { p, write: true, fua: c.fua(), _locks: locks, intent, fd, off, md: None }))
}

/// The second half, once the engine moved the data: `res` holds each transfer's
/// result as io_uring gives it (bytes moved, or a negated errno), indexed as
/// [`Staged::transfers`] numbers the regions. A short transfer's rest moves
/// synchronously.
pub fn finish(env: &IoEnv, bufs: &mut Buffers, s: Staged, res: [i32; 2]) -> Completion {
    let write = s.write;
    let c: Completion = finish_inner(env, bufs, s, res).into();
    env.counters.io_command(if write { op::WRITE } else { op::READ }, c.status);
    c
}

/// Bytes a transfer moved: an error other than "try again" fails the command.
fn moved(res: i32) -> Result<usize, std::io::Error> {
    match res {
        r if r >= 0 => Ok(r as usize),
        r if -r == libc::EINTR || -r == libc::EAGAIN => Ok(0),
        r => Err(std::io::Error::from_raw_os_error(-r)),
    }
}

fn finish_inner(env: &IoEnv, bufs: &mut Buffers, s: Staged, res: [i32; 2]) -> Result<(), Completion> {
    let Staged { p, write, fua, _locks: locks, intent, off, md, .. } = s;
    let Target { ns, f, slba, nlb } = p.target;
    let fail = |e: &std::io::Error| Completion::err_at(store_error(write, e), slba);
    let done = moved(res[0]).map_err(|e| fail(&e))?;
    if done < bufs.data.len() {
        let rest = off + done as u64;
        let r = if write {
            ns.store.write_at(rest, &bufs.data[done..])
        } else {
            ns.store.read_at(rest, &mut bufs.data[done..])
        };
        r.map_err(|e| fail(&e))?;
    }
    if let Some(m) = md {
        let len = bufs.md.len();
        if moved(res[1]).map_err(|e| fail(&e))? >= m.skip + len {
            bufs.md.copy_from_slice(&bufs.md_span[m.skip..m.skip + len]);
        } else {
            ns.store.read_at(m.span_off + m.skip as u64, &mut bufs.md).map_err(|e| fail(&e))?;
        }
    }
    if !write {
        drop(locks);
        return rw::deliver(env, bufs, &p);
    }
    drop(intent);
    super::medium::stored(ns, slba, nlb, rw::durable(env, fua))?;
    rw::count_write(env, nlb, &f);
    Ok(())
}
