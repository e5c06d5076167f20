//! Get Log Page (NVMe-Base 5.1.12): supported log pages, error information,
//! SMART / health (from the controller's live counters), firmware slot,
//! changed namespace list, and commands supported and effects.

use super::{fail, transfer, write_to_host, Outcome};
use crate::controller::Controller;
use crate::counters::Counters;
use crate::spec::opcode::{admin as aop, nvm as iop};
use crate::spec::{Status, SubmissionEntry};

pub mod lid {
    pub const SUPPORTED: u8 = 0x00;
    pub const ERROR: u8 = 0x01;
    pub const SMART: u8 = 0x02;
    pub const FIRMWARE_SLOT: u8 = 0x03;
    pub const CHANGED_NAMESPACES: u8 = 0x04;
    pub const COMMAND_EFFECTS: u8 = 0x05;
    /// Changed Zone List (ZNS Figure 45), an I/O command set specific page.
    pub const CHANGED_ZONES: u8 = 0xbf;
}

const SUPPORTED_LIDS: [u8; 6] =
    [lid::SUPPORTED, lid::ERROR, lid::SMART, lid::FIRMWARE_SLOT, lid::CHANGED_NAMESPACES, lid::COMMAND_EFFECTS];

pub fn get_log_page(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let cdw10 = sqe.cdw10();
    let log_id = cdw10 as u8;
    let rae = cdw10 & (1 << 15) != 0;
    let numd = ((sqe.cdw11() & 0xffff) << 16 | cdw10 >> 16) as u64 + 1;
    let len = numd * 4;
    let offset = sqe.cdw12() as u64 | (sqe.cdw13() as u64) << 32;
    let csi = (sqe.cdw14() >> 24) as u8;
    if offset & 3 != 0 || len > 1 << 20 {
        return fail(Status::INVALID_FIELD);
    }
    let nsid = sqe.nsid();
    let sh = ctrl.shared.clone();
    let data: Vec<u8> = match log_id {
        lid::SUPPORTED => {
            let mut d = vec![0u8; 1024];
            for l in SUPPORTED_LIDS {
                d[l as usize * 4] = 1; // LSUPP
            }
            d
        }
        lid::ERROR => {
            let log = sh.errors.lock().unwrap();
            let mut d = vec![0u8; crate::controller::error_log::ENTRIES * 64];
            for (i, e) in log.entries.iter().enumerate() {
                d[i * 64..i * 64 + 64].copy_from_slice(&e.encode());
            }
            d
        }
        lid::SMART => {
            if nsid != 0 && nsid != 0xffff_ffff {
                // Per-namespace SMART (LPA bit 0) is not supported.
                return fail(Status::INVALID_FIELD);
            }
            smart(&sh.counters, sh.errors.lock().unwrap().total)
        }
        lid::FIRMWARE_SLOT => {
            let mut d = vec![0u8; 512];
            d[0] = 0x01; // AFI: slot 1 active
            let fr = sh.config.firmware.as_bytes();
            let mut frs = [b' '; 8];
            frs[..fr.len().min(8)].copy_from_slice(&fr[..fr.len().min(8)]);
            d[8..16].copy_from_slice(&frs);
            d
        }
        lid::CHANGED_NAMESPACES => {
            let mut a = sh.aer.lock().unwrap();
            let mut d = vec![0u8; 4096];
            if a.changed_namespaces.len() > 1024 {
                d[0..4].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
            } else {
                for (i, n) in a.changed_namespaces.iter().enumerate() {
                    d[i * 4..i * 4 + 4].copy_from_slice(&n.to_le_bytes());
                }
            }
            if !rae {
                a.changed_namespaces.clear();
            }
            d
        }
        lid::COMMAND_EFFECTS => match csi {
            crate::spec::identify::CSI_NVM => command_effects(sh.namespaces.managed(), false),
            // The Zoned Namespace Command Set's I/O commands (ZNS 2.2.1): the NVM
            // ones, Zone Management Send/Receive and Zone Append; Linux forces a
            // zoned namespace read-only if Zone Append is not listed.
            crate::spec::zns::CSI_ZNS => command_effects(sh.namespaces.managed(), true),
            _ => return fail(Status::INVALID_FIELD),
        },
        // Changed Zone List (ZNS 4.1.4.1, Figure 46): the zones of this zoned
        // namespace whose descriptors the controller changed (a zone it made Read
        // Only or Offline), by zone start LBA; more than 511 reads as FFFFh (the
        // host re-reads every zone). Read with RAE clear, the list starts over.
        lid::CHANGED_ZONES if csi == crate::spec::zns::CSI_ZNS => {
            let Some(z) = sh.namespaces.snapshot().active(nsid).and_then(|ns| ns.zoned.clone()) else {
                return fail(Status::INVALID_FIELD);
            };
            let mut t = z.table();
            let changed = if rae { t.changed() } else { t.take_changed() };
            let mut d = vec![0u8; 4096];
            if changed.len() > 511 {
                d[0..2].copy_from_slice(&0xffffu16.to_le_bytes());
            } else {
                d[0..2].copy_from_slice(&(changed.len() as u16).to_le_bytes());
                for (i, zslba) in changed.iter().enumerate() {
                    d[8 + i * 8..16 + i * 8].copy_from_slice(&zslba.to_le_bytes());
                }
            }
            d
        }
        _ => return fail(Status::INVALID_LOG_PAGE),
    };
    if offset > data.len() as u64 {
        return fail(Status::INVALID_FIELD);
    }
    let mut out = vec![0u8; len as usize];
    let avail = &data[offset as usize..];
    let n = avail.len().min(out.len());
    out[..n].copy_from_slice(&avail[..n]);
    let r = write_to_host(ctrl, sqe, &out);
    if r.is_ok() && !rae {
        let done = sh.aer.lock().unwrap().log_read(log_id);
        if log_id == lid::ERROR {
            sh.errors.lock().unwrap().unread = 0;
        }
        sh.complete_aers(done);
    }
    transfer(r, 0)
}

fn put128(d: &mut [u8], off: usize, v: u64) {
    d[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// SMART / Health Information (NVMe-Base Figure 207).
fn smart(c: &Counters, error_entries: u64) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    let temp = super::features::COMPOSITE_TEMPERATURE_K;
    d[1..3].copy_from_slice(&temp.to_le_bytes());
    d[3] = 100; // available spare %
    d[4] = 10; // available spare threshold %
               // Data units are thousands of 512-byte units, rounded up.
    let units = |bytes: u64| (bytes / 512).div_ceil(1000);
    put128(&mut d, 32, units(Counters::get(&c.bytes_read)));
    put128(&mut d, 48, units(Counters::get(&c.bytes_written)));
    put128(&mut d, 64, Counters::get(&c.host_reads));
    put128(&mut d, 80, Counters::get(&c.host_writes));
    put128(&mut d, 112, 1); // power cycles
    put128(&mut d, 160, Counters::get(&c.media_errors));
    put128(&mut d, 176, error_entries);
    d[200..202].copy_from_slice(&temp.to_le_bytes());
    d
}

/// Commands Supported and Effects (NVMe-Base Figure 210) for the NVM command set,
/// or with `zoned` for the Zoned Namespace Command Set.
fn command_effects(ns_management: bool, zoned: bool) -> Vec<u8> {
    const CSUPP: u32 = 1 << 0;
    const LBCC: u32 = 1 << 1;
    const NCC: u32 = 1 << 2;
    const NIC: u32 = 1 << 3;
    let mut d = vec![0u8; 4096];
    let mut put = |base: usize, op: u8, v: u32| {
        d[base + op as usize * 4..base + op as usize * 4 + 4].copy_from_slice(&v.to_le_bytes());
    };
    for op in [
        aop::DELETE_IO_SQ,
        aop::CREATE_IO_SQ,
        aop::GET_LOG_PAGE,
        aop::DELETE_IO_CQ,
        aop::CREATE_IO_CQ,
        aop::IDENTIFY,
        aop::ABORT,
        aop::SET_FEATURES,
        aop::GET_FEATURES,
        aop::ASYNC_EVENT_REQUEST,
        aop::DOORBELL_BUFFER_CONFIG,
    ] {
        put(0, op, CSUPP);
    }
    // Format NVM changes contents and namespace capabilities and inventory;
    // CSE 001b: no other command to the namespace may be outstanding.
    put(0, aop::FORMAT_NVM, CSUPP | LBCC | NCC | NIC | 1 << 16);
    if ns_management {
        // Namespace Management and Attachment change the namespace inventory and
        // capabilities: a host rescans after them (Linux does on NIC/NCC).
        for op in [aop::NAMESPACE_MANAGEMENT, aop::NAMESPACE_ATTACHMENT] {
            put(0, op, CSUPP | NCC | NIC);
        }
    }
    for op in [iop::READ, iop::COMPARE, iop::VERIFY] {
        put(1024, op, CSUPP);
    }
    for op in [iop::WRITE, iop::FLUSH, iop::DATASET_MANAGEMENT, iop::WRITE_ZEROES, iop::WRITE_UNCORRECTABLE, iop::COPY]
    {
        put(1024, op, CSUPP | LBCC);
    }
    if zoned {
        use crate::spec::zns::opcode as zop;
        put(1024, zop::ZONE_MGMT_SEND, CSUPP | LBCC);
        put(1024, zop::ZONE_MGMT_RECV, CSUPP);
        put(1024, zop::ZONE_APPEND, CSUPP | LBCC);
    }
    d
}
