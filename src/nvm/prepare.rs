//! The preparation Read, Write and Compare share before any block moves (NVM-CS 1.1 3.3.1,
//! 3.3.4, 3.3.6): the namespace and its checked LBA range, PRACT, the sizes of the host's data
//! and metadata buffers, the transfer size limit (MDTS), the PI context, and the data and
//! metadata scatter lists. Verify, Write Zeroes and Write Uncorrectable use the first step
//! ([`target`]) alone; Copy's destination builds its PI context with the same
//! `protection::context`.
//!
//! The checks run in this order, and the first that fails is the command's status: Invalid
//! Namespace or Format, LBA Out of Range, (Compare) Invalid Protection Information for PRACT,
//! Invalid Field for a transfer over MDTS, Invalid Protection Information for a bad initial
//! reference tag, then the data and metadata pointer walks.

use super::namespace::{ActiveFormat, Namespace};
use super::protection::{self, host_has_metadata};
use super::transfer::{data_list, metadata_list};
use super::{check_range, IoEnv};
use crate::dma::{Direction, SgList};
use crate::pi::{PiChecks, PiContext};
use crate::spec::{CommandFields, RwCommand, Status};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The namespace a command names, its format as the command found it, and the checked range.
pub struct Target<'a> {
    pub ns: &'a Arc<Namespace>,
    pub f: ActiveFormat,
    pub slba: u64,
    /// The number of blocks (NLB + 1).
    pub nlb: u64,
}

/// The namespace (Invalid Namespace or Format for an inactive NSID) and the SLBA/NLB range
/// checked against its size (LBA Out of Range).
pub fn target<'a>(env: &'a IoEnv, cmd: &RwCommand) -> Result<Target<'a>, Status> {
    let ns = env.namespace(cmd.sqe().nsid())?;
    let f = ns.format();
    let (slba, nlb) = (cmd.slba(), cmd.blocks());
    check_range(slba, nlb, ns.blocks(&f))?;
    Ok(Target { ns, f, slba, nlb })
}

/// The host buffers of a read or write of `nlb` blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSizes {
    /// Bytes of the data buffer (with interleaved metadata, if any).
    pub data: u64,
    /// Bytes of the separate metadata buffer (MPTR); 0 when none is transferred.
    pub md: u64,
    /// Metadata travels inside the data buffer (extended LBA).
    pub interleaved: bool,
}

impl HostSizes {
    pub fn of(f: &ActiveFormat, nlb: u64, pract: bool) -> Self {
        let md = host_has_metadata(f, pract);
        if md && f.extended {
            HostSizes { data: nlb * (f.lbs() + f.ms()), md: 0, interleaved: true }
        } else if md {
            HostSizes { data: nlb * f.lbs(), md: nlb * f.ms(), interleaved: false }
        } else {
            HostSizes { data: nlb * f.lbs(), md: 0, interleaved: false }
        }
    }
}

/// Which command is being prepared: it fixes the direction, which PI checks run, and whether
/// PRACT is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Read: PI checked per PRCHK, then stripped when PRACT is set.
    Read,
    /// Write: PI checked per PRCHK, or generated (no checks) when PRACT is set.
    Write,
    /// Compare: PRACT shall be cleared (NVM-CS 5.3.2.4); refused with Invalid Protection
    /// Information, as QEMU's device does.
    Compare,
}

/// A command ready to move blocks.
pub struct Prepared<'a> {
    pub target: Target<'a>,
    /// PRACT is set and the namespace has PI.
    pub pract: bool,
    pub sizes: HostSizes,
    pub ctx: Option<PiContext>,
    pub data_sg: SgList,
    pub md_sg: SgList,
    dir: Direction,
}

pub fn prepare<'a>(env: &'a IoEnv, cmd: &RwCommand, what: Transfer) -> Result<Prepared<'a>, Status> {
    let target = target(env, cmd)?;
    if what != Transfer::Write {
        super::zoned::check_read(target.ns, target.slba, target.nlb)?;
    }
    let f = &target.f;
    let pract = cmd.prinfo().pract() && f.has_pi();
    if pract && what == Transfer::Compare {
        return Err(Status::INVALID_PROTECTION_INFORMATION);
    }
    let sizes = HostSizes::of(f, target.nlb, pract);
    if sizes.data > env.max_transfer {
        return Err(Status::INVALID_FIELD);
    }
    let checks = if pract && what == Transfer::Write { PiChecks::NONE } else { command_checks(cmd) };
    let ctx = protection::context(f, &cmd.tags(), target.slba, checks)?;
    let dir = if what == Transfer::Read { Direction::ControllerToHost } else { Direction::HostToController };
    let data_sg = data_list(env, cmd.sqe(), sizes.data, dir)?;
    let md_sg = metadata_list(env, cmd.sqe(), sizes.md, dir)?;
    Ok(Prepared { target, pract, sizes, ctx, data_sg, md_sg, dir })
}

/// The checks PRINFO's PRCHK bits and STC ask for.
pub fn command_checks(cmd: &RwCommand) -> PiChecks {
    PiChecks::from_prinfo(cmd.prinfo(), cmd.stc())
}

impl Prepared<'_> {
    /// Counts the bytes moved across the DMA boundary, for the controller and the namespace, in
    /// the command's direction, once the transfer is done.
    pub fn count_transfer(&self, env: &IoEnv) {
        let bytes = self.sizes.data + self.sizes.md;
        let (all, ns) = match self.dir {
            Direction::ControllerToHost => (&env.counters.dma_to_host, &self.target.ns.counters.dma_to_host),
            Direction::HostToController => (&env.counters.dma_to_device, &self.target.ns.counters.dma_to_device),
        };
        all.fetch_add(bytes, Relaxed);
        ns.fetch_add(bytes, Relaxed);
    }
}
