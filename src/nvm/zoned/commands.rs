//! The I/O commands the Zoned Namespace Command Set adds: Zone Append (ZNS
//! 3.4.1), Zone Management Receive (3.4.2) and Zone Management Send (3.4.3). On
//! a namespace that is not zoned each is Invalid Command Opcode: its command set
//! does not have it.

use super::report::{self, ReportRequest};
use super::WriteKind;
use crate::dma::Direction;
use crate::nvm::intent_log::{ZeroMeta, Zeroing};
use crate::nvm::prepare::{prepare, Transfer};
use crate::nvm::{protection, rw, transfer, Buffers, Completion, IoEnv, Namespace};
use crate::pi::PiType;
use crate::spec::zns::{ReportFilter, SendAction, ZoneRecvCommand, ZoneSendCommand, APPEND_PIREMAP};
use crate::spec::{CommandFields, RwCommand, Status};
use std::sync::Arc;

/// CAP.MPSMIN's page size, the unit of ZASL: vnvme reports MPSMIN 0, 4 KiB.
const MIN_PAGE_SIZE: u64 = 4096;

/// The zoned namespace a command names.
fn zoned_namespace<'a>(env: &'a IoEnv, nsid: u32) -> Result<(&'a Arc<Namespace>, &'a Arc<super::Zones>), Status> {
    let ns = env.namespace(nsid)?;
    let z = ns.zoned.as_ref().ok_or(Status::INVALID_OPCODE)?;
    Ok((ns, z))
}

/// Zone Append: the data goes at the zone's write pointer, and the completion
/// says where (DW0 and DW1: the Assigned LBA).
pub fn zone_append(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    match append(env, bufs, cmd) {
        Ok(alba) => Completion { dw0: alba as u32, dw1: (alba >> 32) as u32, ..Completion::ok() },
        Err(c) => c,
    }
}

fn append(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Result<u64, Completion> {
    let (_, z) = zoned_namespace(env, cmd.sqe().nsid())?;
    let p = prepare(env, cmd, Transfer::Write)?;
    let (f, zslba, nlb) = (p.target.f, p.target.slba, p.target.nlb);
    // ZASL (ZNS Figure 50): 2^ZASL minimum-size pages, interleaved metadata
    // included; 0 leaves the maximum transfer (MDTS), which prepare checked.
    if z.zasl != 0 && p.sizes.data > MIN_PAGE_SIZE << z.zasl {
        return Err(Status::INVALID_FIELD.into());
    }
    // ZNS 3.4.1.1: with Type 1 the host cannot know the reference tags of an LBA
    // it does not choose, so PIREMAP is required; Type 3 has no reference tag to remap.
    let piremap = cmd.sqe().cdw12() & APPEND_PIREMAP != 0;
    match (f.protection.pi_type, piremap) {
        (Some(PiType::Type1), false) | (Some(PiType::Type3), true) => {
            return Err(Status::INVALID_PROTECTION_INFORMATION.into())
        }
        _ => {}
    }
    let durable = rw::durable(env, cmd.fua());
    let write = |alba: u64| {
        let remap = if piremap { protection::remapped_context(&f, &cmd.tags(), zslba, alba)? } else { None };
        rw::store_write(env, bufs, cmd, &p, alba, remap.as_ref())
    };
    let alba = z.write(WriteKind::Append, zslba, nlb, durable, write).map_err(|e| e.completion(zslba))?;
    Ok(alba)
}

/// Zone Management Receive: a report of the zones from the one holding SLBA.
pub fn zone_mgmt_recv(env: &IoEnv, cmd: &ZoneRecvCommand) -> Completion {
    recv(env, cmd).map_or_else(|c| c, |()| Completion::ok())
}

fn recv(env: &IoEnv, cmd: &ZoneRecvCommand) -> Result<(), Completion> {
    let (ns, z) = zoned_namespace(env, cmd.sqe().nsid())?;
    let ext = z.geometry().ext_size;
    let extended = match cmd.zra() {
        crate::spec::zns::RECV_REPORT_ZONES => false,
        crate::spec::zns::RECV_EXTENDED_REPORT_ZONES if ext != 0 => true,
        _ => return Err(Status::INVALID_FIELD.into()),
    };
    let filter = ReportFilter::from_zrasf(cmd.zrasf()).ok_or(Status::INVALID_FIELD)?;
    if cmd.slba() >= ns.blocks(&ns.format()) {
        return Err(Completion::err_at(Status::LBA_OUT_OF_RANGE, cmd.slba()));
    }
    let len = cmd.bytes();
    if len > env.max_transfer {
        return Err(Status::INVALID_FIELD.into());
    }
    let req = ReportRequest { slba: cmd.slba(), filter, partial: cmd.partial(), extended, len: len as usize };
    let data = report::build(&z.table(), &req);
    let sg = transfer::data_list(env, cmd.sqe(), len, Direction::ControllerToHost)?;
    sg.scatter(env.mem, 0, &data)?;
    env.counters.dma_to_host.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
    ns.counters.dma_to_host.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Zone Management Send: one action on one zone, or on every zone it applies to.
pub fn zone_mgmt_send(env: &IoEnv, bufs: &mut Buffers, cmd: &ZoneSendCommand) -> Completion {
    send(env, bufs, cmd).map_or_else(|c| c, |()| Completion::ok())
}

fn send(env: &IoEnv, bufs: &mut Buffers, cmd: &ZoneSendCommand) -> Result<(), Completion> {
    let (ns, z) = zoned_namespace(env, cmd.sqe().nsid())?;
    let action = SendAction::from_zsa(cmd.zsa()).ok_or(Status::INVALID_FIELD)?;
    let mut ext = Vec::new();
    if action == SendAction::SetDescriptorExtension {
        let size = z.geometry().ext_size as u64;
        if size == 0 || cmd.select_all() {
            return Err(Status::INVALID_FIELD.into());
        }
        let sg = transfer::data_list(env, cmd.sqe(), size, Direction::HostToController)?;
        ext = vec![0u8; size as usize];
        sg.gather(env.mem, 0, &mut ext)?;
        env.counters.dma_to_device.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    }
    let f = ns.format();
    // A reset zone's blocks are deallocated, with the never-written metadata
    // (ZNS 2.1.1.5), as Dataset Management deallocates.
    let dealloc = |slba: u64, nlb: u64| {
        let _held = ns.locks.write(slba, nlb);
        crate::nvm::write_zeroes::zero_blocks(
            ns,
            &f,
            Zeroing { slba, nlb, deac: true, meta: ZeroMeta::Unwritten },
            bufs,
        )
        .map(|_| ())
    };
    z.send(action, cmd.slba(), cmd.select_all(), &ext, dealloc).map_err(|s| Completion::err_at(s, cmd.slba()))?;
    Ok(())
}
