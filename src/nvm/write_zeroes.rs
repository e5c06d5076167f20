//! Write Zeroes (NVM-CS 3.3.7). With DEAC set the blocks are deallocated (they
//! read as zeroes, DLFEAT bit 3). With PRACT set on a PI namespace, PI is
//! generated for the zeroed data. Otherwise the metadata is all zeroes, PI
//! included (NVM-CS 1.0 3.2.8: "the protection information shall be all zeroes"),
//! or, with DEAC, the never-written pattern of a deallocated block.
//!
//! [`zero_blocks`] does the work for this command, Dataset Management's
//! deallocate and crash recovery (which runs an unfinished one again): under the
//! blocks' exclusive lock and an intent record, so data and metadata never part.

use super::intent_log::{ZeroMeta, Zeroing};
use super::namespace::{ActiveFormat, Namespace};
use super::prepare::{target, Target};
use super::{metadata, protection, store_error, Buffers, Completion, IoEnv};
use crate::pi::{LayoutMut, PiChecks};
use crate::spec::{CommandFields, RwCommand, Status};
use std::io;

pub fn write_zeroes(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    let Target { ns, f, slba, nlb } = match target(env, cmd) {
        Ok(t) => t,
        Err(s) => return Completion::err(s),
    };
    let meta = if cmd.prinfo().pract() && f.has_pi() {
        // Check the tags now: a bad ILBRT fails the command before anything changes.
        if let Err(s) = protection::context(&f, &cmd.tags(), slba, PiChecks::NONE) {
            return Completion::err(s);
        }
        ZeroMeta::Generated(cmd.tags())
    } else if cmd.deac() {
        ZeroMeta::Unwritten
    } else {
        ZeroMeta::Zeroes
    };
    let durable = super::rw::durable(env, cmd.fua());
    let zero = || {
        let _held = ns.locks.write(slba, nlb);
        match zero_blocks(ns, &f, Zeroing { slba, nlb, deac: cmd.deac(), meta }, bufs) {
            Ok(generated) => {
                env.counters.pract_inserts.fetch_add(generated, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => return Err(Completion::err_at(store_error(true, &e), slba)),
        }
        if durable {
            ns.store.flush().map_err(|e| Completion::err(store_error(true, &e)))?;
        }
        Ok(())
    };
    // On a zoned namespace, a write like any other: at the write pointer (ZNS 3.3.9).
    match super::zoned::at_write_pointer(ns, slba, nlb, durable, zero) {
        Ok(()) => Completion::ok(),
        Err(c) => c,
    }
}

/// Zero (or deallocate) the blocks `z` names and give them the metadata it says;
/// clear their Write Uncorrectable marks. The caller holds the range's exclusive
/// lock. Returns the blocks whose PI was generated.
pub fn zero_blocks(ns: &Namespace, f: &ActiveFormat, z: Zeroing, bufs: &mut Buffers) -> io::Result<u64> {
    let _intent = if f.ms() > 0 { Some(ns.intents.begin_zeroes(f, z)?) } else { None };
    zero_blocks_unrecorded(ns, f, z, bufs)
}

/// [`zero_blocks`] without an intent record: crash recovery runs the records it
/// found this way, so a crash during recovery leaves them for the next open.
pub fn zero_blocks_unrecorded(ns: &Namespace, f: &ActiveFormat, z: Zeroing, bufs: &mut Buffers) -> io::Result<u64> {
    let Zeroing { slba, nlb, deac, meta } = z;
    let store = &*ns.store;
    if deac {
        store.deallocate(f.layout.data_offset(slba), nlb * f.lbs())?;
    } else {
        store.write_zeroes(f.layout.data_offset(slba), nlb * f.lbs())?;
    }
    let generated = match meta {
        ZeroMeta::Generated(tags) => {
            let ctx = protection::context(f, &tags, slba, PiChecks::NONE)
                .map_err(|s| io::Error::other(format!("PI context: {s:?}")))?;
            match ctx {
                Some(ctx) => {
                    generate_zeroed(store, f, &ctx, slba, nlb, bufs)?;
                    nlb
                }
                None => 0,
            }
        }
        ZeroMeta::Unwritten => {
            metadata::set_unwritten(store, f, slba, nlb)?;
            0
        }
        ZeroMeta::Zeroes => {
            metadata::set_zeroes(store, f, slba, nlb)?;
            0
        }
    };
    ns.uncorrectable.clear(slba, nlb)?;
    Ok(generated)
}

/// Generate and store PI for zeroed blocks, in bounded chunks.
fn generate_zeroed(
    store: &dyn crate::storage::BlockStore,
    f: &ActiveFormat,
    ctx: &crate::pi::PiContext,
    slba: u64,
    nlb: u64,
    bufs: &mut Buffers,
) -> io::Result<()> {
    let (lbs, ms) = (f.lbs() as usize, f.ms() as usize);
    let per = ((1usize << 20) / lbs).max(1) as u64;
    let mut done = 0u64;
    while done < nlb {
        let n = (nlb - done).min(per) as usize;
        bufs.data.zeroed(n * lbs);
        super::medium::resize(&mut bufs.md, n * ms);
        ctx.generate_from(done, LayoutMut::Separate { data: &bufs.data, md: &mut bufs.md })
            .map_err(|_| io::Error::other(format!("PI generation: {:?}", Status::INTERNAL_ERROR)))?;
        store.write_at(f.layout.meta_offset(slba + done), &bufs.md)?;
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvm::namespace::{standard_formats, Protection};
    use crate::storage::{BlockStore, MemStore};
    use std::sync::Arc;

    #[test]
    fn deallocate_resets_data_and_metadata() {
        // 512+16, Type 1 PI first in the metadata: the tuple takes the never-written pattern.
        let formats = standard_formats(0, 0);
        let index = formats.iter().position(|f| f.lbs == 512 && f.ms == 16).unwrap() as u8;
        let store = Arc::new(MemStore::new(1 << 20));
        let ns = Namespace::new(1, store.clone(), formats, index, false, Protection::new(1, true).unwrap(), 1);
        let f = ns.format();
        store.write_at(f.layout.data_offset(3), &[1u8; 1024]).unwrap();
        store.write_at(f.layout.meta_offset(3), &[2u8; 32]).unwrap();
        let z = Zeroing { slba: 3, nlb: 2, deac: true, meta: ZeroMeta::Unwritten };
        assert_eq!(zero_blocks(&ns, &f, z, &mut Buffers::default()).unwrap(), 0);
        let mut d = vec![9u8; 1024];
        store.read_at(f.layout.data_offset(3), &mut d).unwrap();
        assert!(d.iter().all(|&b| b == 0));
        let mut md = vec![0u8; 32];
        store.read_at(f.layout.meta_offset(3), &mut md).unwrap();
        assert_eq!(md, [[0xffu8; 8], [0; 8], [0xff; 8], [0; 8]].concat());
    }
}
