//! Write Zeroes (NVM-CS 3.3.7). With DEAC set the blocks are deallocated (they
//! read as zeroes, DLFEAT bit 3). With PRACT set on a PI namespace, PI is
//! generated for the zeroed data. Otherwise the metadata is all zeroes, PI
//! included (NVM-CS 1.0 3.2.8: "the protection information shall be all zeroes"),
//! or, with DEAC, the never-written pattern of a deallocated block.

use super::prepare::{target, Target};
use super::{metadata, protection, store_error, Buffers, Completion, IoEnv};
use crate::pi::{LayoutMut, PiChecks};
use crate::spec::{CommandFields, RwCommand};

pub fn write_zeroes(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    let Target { ns, f, slba, nlb } = match target(env, cmd) {
        Ok(t) => t,
        Err(s) => return Completion::err(s),
    };
    let store = &*ns.store;
    let r = if cmd.deac() {
        store.deallocate(f.layout.data_offset(slba), nlb * f.lbs())
    } else {
        store.write_zeroes(f.layout.data_offset(slba), nlb * f.lbs())
    };
    if let Err(e) = r {
        return Completion::err_at(store_error(true, &e), slba);
    }
    let ctx = if cmd.prinfo().pract() {
        match protection::context(&f, &cmd.tags(), slba, PiChecks::NONE) {
            Ok(c) => c,
            Err(s) => return Completion::err(s),
        }
    } else {
        None
    };
    let r = match ctx {
        Some(ctx) => {
            // Generate PI for zeroed blocks, in bounded chunks.
            let lbs = f.lbs() as usize;
            let ms = f.ms() as usize;
            let per = ((1usize << 20) / lbs).max(1) as u64;
            let mut done = 0u64;
            let mut res = Ok(());
            while done < nlb && res.is_ok() {
                let n = (nlb - done).min(per) as usize;
                bufs.data.clear();
                bufs.data.resize(n * lbs, 0);
                bufs.md.clear();
                bufs.md.resize(n * ms, 0);
                if ctx.generate_from(done, LayoutMut::Separate { data: &bufs.data, md: &mut bufs.md }).is_err() {
                    return Completion::err(crate::spec::Status::INTERNAL_ERROR);
                }
                res = store.write_at(f.layout.meta_offset(slba + done), &bufs.md);
                done += n as u64;
            }
            if res.is_ok() {
                env.counters.pract_inserts.fetch_add(nlb, std::sync::atomic::Ordering::Relaxed);
            }
            res
        }
        None if cmd.deac() => metadata::set_unwritten(store, &f, slba, nlb),
        None => metadata::set_zeroes(store, &f, slba, nlb),
    };
    if let Err(e) = r.and_then(|_| ns.uncorrectable.clear(slba, nlb)) {
        return Completion::err_at(store_error(true, &e), slba);
    }
    if super::rw::durable(env, cmd.fua()) {
        if let Err(e) = store.flush() {
            return Completion::err(store_error(true, &e));
        }
    }
    Completion::ok()
}
