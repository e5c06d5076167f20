//! Dataset Management (NVM-CS 3.3.3): the Deallocate attribute punches the
//! ranges' data out of the image (they read back as zeroes) and resets their
//! metadata to the unwritten pattern. Integral read/write hints are accepted and
//! have no effect, as the spec allows.

use super::intent_log::{ZeroMeta, Zeroing};
use super::{check_range, store_error, Buffers, Completion, IoEnv};
use crate::spec::ranges::DsmRange;
use crate::spec::DsmCommand;

pub fn dataset_management(env: &IoEnv, bufs: &mut Buffers, cmd: &DsmCommand) -> Completion {
    let sqe = cmd.sqe();
    let ns = match env.namespace(sqe.nsid()) {
        Ok(ns) => ns,
        Err(s) => return Completion::err(s),
    };
    let nr = cmd.ranges();
    let len = nr * DsmRange::SIZE;
    let list = super::transfer::data_list(env, sqe, len as u64, crate::dma::Direction::HostToController);
    let mut raw = vec![0u8; len];
    if let Err(s) = list.and_then(|l| l.gather(env.mem, 0, &mut raw)) {
        return Completion::err(s);
    }
    if !cmd.ad() {
        return Completion::ok();
    }
    let f = ns.format();
    // Check every range before changing anything.
    let mut ranges = Vec::with_capacity(nr);
    for r in raw.chunks_exact(DsmRange::SIZE) {
        let r = DsmRange::parse(r);
        let (slba, nlb) = (r.slba, r.nlb as u64);
        if nlb == 0 {
            continue;
        }
        if let Err(s) = check_range(slba, nlb, ns.blocks(&f)) {
            return Completion::err_at(s, slba);
        }
        if ns.zoned.as_ref().is_some_and(|z| z.table().any_offline(slba, nlb)) {
            return Completion::err_at(crate::spec::zns::status::ZONE_IS_OFFLINE, slba);
        }
        ranges.push((slba, nlb));
    }
    for (slba, nlb) in ranges {
        let _held = ns.locks.write(slba, nlb);
        let z = Zeroing { slba, nlb, deac: true, meta: ZeroMeta::Unwritten };
        if let Err(e) = super::write_zeroes::zero_blocks(ns, &f, z, bufs) {
            return Completion::err_at(store_error(true, &e), slba);
        }
    }
    Completion::ok()
}
