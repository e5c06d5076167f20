//! Moving blocks between a namespace's store and the per-queue buffers: data and
//! metadata from the QEMU image layout, Write Uncorrectable marks honoured on the
//! way in and cleared on the way out, durability on request. Shared by Read,
//! Write, Verify, Compare and Copy.
//!
//! Every block moves whole: a load holds its blocks' range lock shared and a
//! store exclusive ([`super::block_locks`]), and a store on a namespace with
//! metadata records its intent first ([`super::intent_log`]), so neither a
//! concurrent command nor a crash sees a block's new data with its old metadata.

use super::aligned_buf::AlignedBuf;
use super::intent_log::IntentLog;
use super::namespace::{ActiveFormat, Namespace};
use super::store_error;
use crate::spec::{Completion, Status};

/// `v` as `n` zero bytes, keeping its allocation (the per-queue buffers grow once).
pub(crate) fn resize(v: &mut Vec<u8>, n: usize) {
    v.clear();
    v.resize(n, 0);
}

/// Read `nlb` blocks at `slba` into `data` and `md` (resized to fit). Blocks marked
/// by Write Uncorrectable fail with Unrecovered Read Error naming the first one.
pub fn load(
    ns: &Namespace,
    f: &ActiveFormat,
    slba: u64,
    nlb: u64,
    data: &mut AlignedBuf,
    md: &mut Vec<u8>,
) -> Result<(), Completion> {
    readable(ns, slba, nlb)?;
    // Every byte is read from the medium below: no zeroing first.
    data.set_len((nlb * f.lbs()) as usize);
    resize(md, (nlb * f.ms()) as usize);
    let store = &*ns.store;
    let _held = ns.locks.read(slba, nlb);
    store.read_at(f.layout.data_offset(slba), data).map_err(|e| Completion::err_at(store_error(false, &e), slba))?;
    if f.ms() > 0 {
        store.read_at(f.layout.meta_offset(slba), md).map_err(|e| Completion::err_at(store_error(false, &e), slba))?;
    }
    Ok(())
}

/// Blocks marked by Write Uncorrectable fail a read with Unrecovered Read Error naming
/// the first one.
pub fn readable(ns: &Namespace, slba: u64, nlb: u64) -> Result<(), Completion> {
    match ns.uncorrectable.first_marked(slba, nlb) {
        Some(lba) => Err(Completion::err_at(Status::UNRECOVERED_READ_ERROR, lba)),
        None => Ok(()),
    }
}

/// Write blocks at `slba` and clear any Write Uncorrectable marks on them; with
/// `durable`, fdatasync before returning.
pub fn store(
    ns: &Namespace,
    f: &ActiveFormat,
    slba: u64,
    data: &[u8],
    md: &[u8],
    durable: bool,
) -> Result<(), Completion> {
    let store = &*ns.store;
    let nlb = data.len() as u64 / f.lbs();
    let werr = |e: std::io::Error| Completion::err_at(store_error(true, &e), slba);
    let _held = ns.locks.write(slba, nlb);
    if f.ms() > 0 && !md.is_empty() {
        // In pieces that fit one intent record; each piece is data, then metadata.
        let per = IntentLog::blocks_per_record(f.ms());
        let (lbs, ms) = (f.lbs() as usize, f.ms() as usize);
        let mut done = 0u64;
        while done < nlb {
            let n = (nlb - done).min(per);
            let d = &data[done as usize * lbs..(done + n) as usize * lbs];
            let m = &md[done as usize * ms..(done + n) as usize * ms];
            let lba = slba + done;
            let _intent = ns.intents.begin_blocks(f, lba, d, m).map_err(werr)?;
            store.write_at(f.layout.data_offset(lba), d).map_err(werr)?;
            store.write_at(f.layout.meta_offset(lba), m).map_err(werr)?;
            done += n;
        }
    } else {
        store.write_at(f.layout.data_offset(slba), data).map_err(werr)?;
    }
    stored(ns, slba, nlb, durable)
}

/// After blocks at `slba` are written (their range lock still held): their Write
/// Uncorrectable marks cleared, and with `durable`, fdatasync.
pub fn stored(ns: &Namespace, slba: u64, nlb: u64, durable: bool) -> Result<(), Completion> {
    let werr = |e: std::io::Error| Completion::err_at(store_error(true, &e), slba);
    ns.uncorrectable.clear(slba, nlb).map_err(werr)?;
    if durable {
        ns.store.flush().map_err(werr)?;
    }
    Ok(())
}
