//! Every PRINFO combination on a read (PRACT 0/1 x PRCHK 000b-111b), for each
//! way a stored tuple can be wrong (guard, application tag, reference tag) and
//! for a correct one, on a 16b-guard and a 64b-guard Type 1 namespace whose
//! metadata is exactly the tuple (so PRACT=1 strips it). A check fails the read
//! exactly when its PRCHK bit is set; with several bits set, the guard is checked
//! before the application tag, and that before the reference tag (NVM-CS 5.3.3).

use super::fake_host::{pattern, FakeHost, NsConfig, Store};
use super::pi_io::{corrupt, read, tuples, Prinfo, APP, APP_TAG, GUARD, PRACT, REF};
use crate::spec::{Status, SubmissionEntry};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bad {
    None,
    Guard,
    AppTag,
    RefTag,
}

/// Store `data` with a tuple spoiled as `bad`, bypassing checks (PRCHK 000b).
fn store_block(h: &mut FakeHost, ns: NsConfig, lba: u64, data: &[u8], bad: Bad) {
    let mut md = tuples(ns, data, APP_TAG, lba);
    let guard_bytes = if ns.pif == 0 { 2 } else { 8 };
    match bad {
        Bad::None => {}
        Bad::Guard => corrupt(ns, &mut md, 0, 0),
        Bad::AppTag => corrupt(ns, &mut md, 0, guard_bytes + 1),
        Bad::RefTag => corrupt(ns, &mut md, 0, ns.ms as usize - 1),
    }
    let d = h.alloc_with(data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    let w = super::fake_host::cmd::write(1, lba, 1).with_prps(p1, p2).with_mptr(m);
    assert_eq!(h.io(1, Prinfo::check(0, lba).apply(w)).status, Status::SUCCESS);
}

fn expected(bad: Bad, prchk: u32) -> Status {
    // Checked in the order guard, application tag, reference tag.
    if prchk & GUARD != 0 && bad == Bad::Guard {
        Status::GUARD_CHECK_ERROR
    } else if prchk & APP != 0 && bad == Bad::AppTag {
        Status::APP_TAG_CHECK_ERROR
    } else if prchk & REF != 0 && bad == Bad::RefTag {
        Status::REF_TAG_CHECK_ERROR
    } else {
        Status::SUCCESS
    }
}

fn matrix(ns: NsConfig) {
    let mut h = FakeHost::with_io(Store::Mem, ns);
    let data = pattern(ns.lbs as usize, 9);
    for (i, bad) in [Bad::None, Bad::Guard, Bad::AppTag, Bad::RefTag].into_iter().enumerate() {
        let lba = 10 + i as u64;
        store_block(&mut h, ns, lba, &data, bad);
        for pract in [0, PRACT] {
            for prchk in 0..8u32 {
                let bits = pract | prchk << 26;
                let (status, got, md) = read(&mut h, lba, 1, Prinfo::check(bits, lba));
                let want = expected(bad, prchk << 26);
                assert_eq!(status, want, "{ns:?}: stored {bad:?}, PRACT {} PRCHK {prchk:03b}", pract != 0);
                if want == Status::SUCCESS {
                    assert_eq!(got, data, "data of a successful read");
                    if pract != 0 {
                        assert!(
                            md.iter().all(|&b| b == 0),
                            "PRACT strips the tuple: nothing lands in the metadata buffer"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_prinfo_combination_16b_guard() {
    matrix(NsConfig::new(512).metadata(8).pi(1, 0));
}

#[test]
fn every_prinfo_combination_64b_guard() {
    matrix(NsConfig::new(4096).metadata(16).pi(1, 2));
}

#[test]
fn prinfo_matrix_uses_the_raw_builders() {
    // Guard against a silent change of the PRINFO bit positions used above.
    let s = Prinfo::check(PRACT | GUARD, 0).apply(SubmissionEntry::new(0x02, 0, 1));
    assert_eq!(s.cdw12() >> 26, 0b1100);
}
