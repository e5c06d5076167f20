//! Copy descriptor formats 0h-3h (and the reserved 4h-Fh) against every kind of
//! destination namespace vnvme serves: no PI (with and without metadata, and with a
//! 64b-guard LBA format whose PI is off), 16b guard, 32b guard and 64b guard.
//!
//! NVM-CS 1.1 3.3.2 (Copy, Figure 38 and the text after it): a format the
//! controller does not support, or 2h/3h not enabled in Host Behavior Support, is
//! Invalid Field in Command; a supported format that does not go with the PI
//! format the destination is *formatted to use* (0h/2h for the 16b guard, 1h/3h for
//! the 32b/64b guards) is Invalid Namespace or Format (generic 0Bh). A namespace
//! formatted without PI uses no PI format, so every supported, enabled format is
//! accepted there (its ELBT/ELBAT/ELBATM are ignored). QEMU answers the mismatch
//! with Invalid Format (1h/0Ah) and refuses 1h/3h on namespaces without PI too
//! (docs/nvm-commands.md).

use super::copy::{enable_cross_namespace_formats, entry};
use super::fake_host::{cmd, pattern, FakeHost, NsConfig};
use crate::nvm::metadata;
use crate::nvm::namespace::{LbaFormat, Namespace, Protection};
use crate::spec::opcode::nvm as iop;
use crate::spec::{CompletionEntry, Status, SubmissionEntry};
use crate::storage::{BlockStore, MemStore};
use std::sync::Arc;

/// The destination kinds: a name, the namespace, its storage tag size (the 32b
/// guard needs 16 or more, NVM-CS Figure 157), and the guard it is formatted to
/// use (None: formatted without PI).
const KINDS: [(&str, NsConfig, u8, Option<&str>); 8] = [
    ("no PI, 512", NsConfig::new(512), 0, None),
    ("no PI, 4096", NsConfig::new(4096), 0, None),
    ("no PI, 4096+16 with a 64b-guard LBA format", NsConfig::new(4096).metadata(16).pi(0, 2), 0, None),
    ("16b guard Type 1, 512+8", NsConfig::new(512).metadata(8).pi(1, 0), 0, Some("16b")),
    ("16b guard Type 3, 4096+8, 8-bit storage tag", NsConfig::new(4096).metadata(8).pi(3, 0), 8, Some("16b")),
    ("32b guard Type 1, 4096+16, 16-bit storage tag", NsConfig::new(4096).metadata(16).pi(1, 1), 16, Some("32b")),
    ("64b guard Type 1, 4096+16", NsConfig::new(4096).metadata(16).pi(1, 2), 0, Some("64b")),
    ("64b guard Type 2, 4096+16", NsConfig::new(4096).metadata(16).pi(2, 2), 0, Some("64b")),
];

/// An enabled host with I/O queue pair 1 and namespace 1 in exactly this format
/// (the only one it advertises), never-written metadata marked as `vnvme serve` does.
fn host(ns: NsConfig, sts: u8) -> FakeHost {
    let store: Arc<dyn BlockStore> = Arc::new(MemStore::new(ns.bytes));
    let lbaf = LbaFormat { lbs: ns.lbs, ms: ns.ms, pif: ns.pif, sts };
    let prot = Protection::new(ns.pi, false).unwrap();
    let n = Namespace::new(1, store, vec![lbaf], 0, false, prot, 0x5eed);
    metadata::fill_unwritten(&*n.store, &n.format()).expect("marking unwritten metadata");
    let mut h = FakeHost::with_namespaces(vec![Arc::new(n)]);
    h.enable();
    h.create_io_queues(1, 64);
    h
}

/// Block data only: PRACT inserts / strips the PI where the metadata is exactly the
/// tuple; without PI the metadata (if any) goes through a separate buffer.
fn rw_data_only(h: &mut FakeHost, sqe: SubmissionEntry, ns: NsConfig, nlb: u64) -> SubmissionEntry {
    if ns.pi != 0 {
        // PRACT (CDW12 bit 29), no checks; ILBRT = SLBA for Type 1.
        let slba = sqe.cdw10();
        sqe.with_cdw(12, (nlb - 1) as u32 | 1 << 29).with_cdw(14, slba)
    } else if ns.ms > 0 {
        let m = h.alloc(nlb * ns.ms as u64);
        sqe.with_mptr(m)
    } else {
        sqe
    }
}

fn write(h: &mut FakeHost, ns: NsConfig, slba: u64, data: &[u8]) -> Status {
    let nlb = data.len() as u64 / ns.lbs as u64;
    let buf = h.alloc_with(data);
    let (p1, p2) = h.prps(buf, data.len() as u64);
    let sqe = rw_data_only(h, cmd::write(1, slba, nlb).with_prps(p1, p2), ns, nlb);
    h.io(1, sqe).status
}

fn read(h: &mut FakeHost, ns: NsConfig, slba: u64, nlb: u64) -> (Status, Vec<u8>) {
    let len = nlb * ns.lbs as u64;
    let buf = h.alloc(len);
    let (p1, p2) = h.prps(buf, len);
    let sqe = rw_data_only(h, cmd::read(1, slba, nlb).with_prps(p1, p2), ns, nlb);
    let s = h.io(1, sqe).status;
    (s, h.get(buf, len))
}

/// Copy one block, LBA 0 -> LBA 8, in descriptor format `format`, PRINFOR and
/// PRINFOW zero (PI passed through unchecked).
fn copy_one(h: &mut FakeHost, format: u8) -> CompletionEntry {
    let list = entry(format & 3, 1, 0, 1, 0, 0, 0);
    let buf = h.alloc_with(&list);
    let (p1, p2) = h.prps(buf, list.len() as u64);
    let sqe =
        SubmissionEntry::new(iop::COPY, 0, 1).with_prps(p1, p2).with_cdw(10, 8).with_cdw(12, (format as u32) << 8);
    h.io(1, sqe)
}

/// The status NVM-CS 1.1 3.3.2 names for `format` on a destination formatted to
/// use `guard`, with formats 2h/3h enabled or not.
fn expected(format: u8, guard: Option<&str>, cdfe: bool) -> Status {
    match (format, guard) {
        (4.., _) => Status::INVALID_FIELD,
        (2 | 3, _) if !cdfe => Status::INVALID_FIELD,
        (_, None) => Status::SUCCESS,
        (0 | 2, Some("16b")) | (1 | 3, Some("32b" | "64b")) => Status::SUCCESS,
        _ => Status::INVALID_NAMESPACE,
    }
}

#[test]
fn every_descriptor_format_against_every_pi_format() {
    for (name, ns, sts, guard) in KINDS {
        for cdfe in [false, true] {
            let mut h = host(ns, sts);
            if cdfe {
                enable_cross_namespace_formats(&mut h);
            }
            let data = pattern(ns.lbs as usize, 0x31);
            assert_eq!(write(&mut h, ns, 0, &data), Status::SUCCESS, "{name}: source write");
            for format in 0..16u8 {
                let want = expected(format, guard, cdfe);
                let c = copy_one(&mut h, format);
                let what = format!("{name}, format {format:X}h, CDFE 2h/3h {}", if cdfe { "on" } else { "off" });
                assert_eq!(c.status, want, "{what}");
                // Status field as the host reads it: SCT, SC, DNR; DW0 0 (nothing written).
                let (sct, sc, dnr) = (c.status.sct, c.status.sc, c.status.dnr);
                match want {
                    Status::INVALID_NAMESPACE => assert_eq!((sct, sc, dnr, c.dw0), (0, 0x0b, true, 0), "{what}"),
                    Status::INVALID_FIELD => assert_eq!((sct, sc, dnr, c.dw0), (0, 0x02, true, 0), "{what}"),
                    _ => {
                        assert_eq!(c.dw0, 0, "{what}");
                        assert_eq!(read(&mut h, ns, 8, 1), (Status::SUCCESS, data.clone()), "{what}: copied block");
                    }
                }
            }
        }
    }
}

#[test]
fn a_refused_format_writes_nothing() {
    let ns = NsConfig::new(4096).metadata(16).pi(1, 2);
    let mut h = host(ns, 0);
    enable_cross_namespace_formats(&mut h);
    assert_eq!(write(&mut h, ns, 0, &pattern(4096, 0x44)), Status::SUCCESS);
    for format in [0, 2] {
        assert_eq!(copy_one(&mut h, format).status, Status::INVALID_NAMESPACE, "format {format}h on a 64b guard");
    }
    // The destination is still never written: its PI reads as the escape pattern.
    assert_eq!(read(&mut h, ns, 8, 1), (Status::SUCCESS, vec![0u8; 4096]));
}
