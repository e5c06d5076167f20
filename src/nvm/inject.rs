//! The NVM side of fault injection: spoiling stored PI tags on the medium
//! (sticky until the block is rewritten), spoiling the guard of tuples returned
//! to the host (transient), and the per-command options the I/O path honours.
//!
//! # Sticky corruption is idempotent and stateless
//!
//! [`corrupt`] does not flip what is stored: it stores the tag's *spoiled value*,
//! a fixed function of what the block's tuple should hold, so firing a rule once
//! or a hundred times leaves the same bytes, and a later firing after a rewrite
//! (Write, Write Zeroes, Copy, deallocation, Format: anything that stores a new
//! tuple) spoils the block again. Nothing is remembered between calls, so the
//! same holds after a restart of the server.
//!
//! - Guard: the CRC of the block's data (and of the metadata bytes before the
//!   tuple, NVM-CS 1.2 5.3) with bit 0 inverted.
//! - Type 1 reference tag: the LBA's low bits with bit 0 inverted (NVM-CS 1.2
//!   5.3.3: a Type 1 command's initial reference tag must equal its SLBA's low
//!   bits, so block N's correct tag is N's low bits).
//! - Application tag, and a Type 2 or 3 reference tag: the host chooses these,
//!   so there is no right value to derive a wrong one from. The spoiled value is
//!   a *marker*: a hash of the block's correct guard (its data), its LBA and the
//!   tag, never 0, never all ones (an escape value, and the never-written
//!   pattern), and for a reference tag never the LBA's low bits (what hosts
//!   commonly store). A stored value equal to the marker counts as spoiled
//!   already. The one case this gets wrong: a host that itself stores exactly
//!   the marker (chance 2^-w per written block for a w-bit field, and never for
//!   the values just excluded); that block reads clean until rewritten.
//!
//! Each tag is computed without looking at the others (the guard from the data,
//! not from the stored guard), so two rules spoiling different tags of one block
//! never undo each other.
//!
//! A tuple the controller does not check is left alone: the escape of NVM-CS
//! 1.2 5.3.3 (application tag FFFFh; for Type 3 also a reference tag of all ones),
//! which is how never-written and deallocated blocks read (`metadata.rs`). There
//! is no checked tag to spoil; the first firing after the block is written
//! spoils it. Likewise a reference tag of zero bits (STS filling the Storage and
//! Reference Space). A spoiled Type 3 reference tag fails no check of the
//! controller (5.3.3: it does not compare Type 3 reference tags); only a host
//! reading the metadata sees it.

use super::namespace::{ActiveFormat, Namespace};
use super::protection;
use crate::pi::{PiFormat, PiTuple, PiType};
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Per-command options from the hook, honoured by Read and Write.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoOptions {
    /// Wait this long between fetching a write and reading its data.
    pub widen: Duration,
    /// Fingerprint write data at fetch and at transfer; report differences.
    pub detect_mutation: bool,
    /// Flip the guard of every tuple this read returns to the host.
    pub transient_guard: bool,
}

/// A stored protection information tag that fault injection can spoil (the
/// one definition: the controller's hook and the fault rules use it too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoredTag {
    Guard,
    AppTag,
    RefTag,
}

/// What one [`corrupt`] call did, in blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorruptOutcome {
    /// Blocks whose tag now holds its spoiled value and did not before.
    pub spoiled: u64,
    /// Blocks whose tag held its spoiled value already (left as they were).
    pub already: u64,
    /// Blocks left alone because nothing would check the tag (see module docs).
    pub unchecked: u64,
}

/// Serialises fault injection's read-modify-write of stored tuples (every
/// namespace, every queue worker), so two rules spoiling different tags of one
/// block from two queues cannot lose each other's change. Host writes are not
/// serialised against it: a write racing a firing on the same block is a race
/// the host made, like a medium error arriving during a write.
static SPOILING: Mutex<()> = Mutex::new(());

/// Data read per step: ranges of thousands of blocks take a few large reads
/// and writes, not two per block.
const STEP_BYTES: u64 = 1 << 20;

/// Give the stored `tag` of blocks [first, last] of `ns` (clamped to the
/// namespace) its spoiled value. Does nothing on a namespace without PI.
pub fn corrupt(ns: &Namespace, tag: StoredTag, first: u64, last: u64) -> io::Result<CorruptOutcome> {
    let _serial = SPOILING.lock().unwrap_or_else(PoisonError::into_inner);
    // Held for the whole call: Format NVM waits rather than re-laying the medium under us.
    let f = ns.active.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = CorruptOutcome::default();
    let Some(fmt) = protection::pi_format(&f) else { return Ok(out) };
    let Some(pi_type) = fmt.pi else { return Ok(out) };
    if f.nlbas() == 0 || first >= f.nlbas() || first > last {
        return Ok(out);
    }
    let last = last.min(f.nlbas() - 1);
    let (lbs, ms) = (f.lbs() as usize, f.ms() as usize);
    // Only a Type 1 reference tag is computed without the data.
    let needs_data = !(tag == StoredTag::RefTag && pi_type == PiType::Type1);
    let per_step = (STEP_BYTES / f.lbs()).max(1);
    let (mut data, mut md, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let mut lba = first;
    while lba <= last {
        let n = (last - lba + 1).min(per_step) as usize;
        md.resize(n * ms, 0);
        ns.store.read_at(f.layout.meta_offset(lba), &mut md)?;
        if needs_data {
            data.resize(n * lbs, 0);
            ns.store.read_at(f.layout.data_offset(lba), &mut data)?;
        }
        changed.clear();
        for (i, block_md) in md.chunks_exact_mut(ms).enumerate() {
            let block_data = if needs_data { &data[i * lbs..(i + 1) * lbs] } else { &[][..] };
            let effect = spoil_block(&fmt, pi_type, tag, lba + i as u64, block_data, block_md);
            match effect {
                Effect::Spoiled => out.spoiled += 1,
                Effect::Already => out.already += 1,
                Effect::Unchecked => out.unchecked += 1,
            }
            changed.push(effect == Effect::Spoiled);
        }
        write_changed_runs(ns, &f, lba, &md, &changed)?;
        lba += n as u64;
    }
    Ok(out)
}

/// Writes back the metadata of the changed blocks only, one write per run of
/// consecutive changed blocks (blocks left alone are not rewritten).
fn write_changed_runs(ns: &Namespace, f: &ActiveFormat, lba: u64, md: &[u8], changed: &[bool]) -> io::Result<()> {
    let ms = f.ms() as usize;
    let mut i = 0;
    while i < changed.len() {
        if !changed[i] {
            i += 1;
            continue;
        }
        let end = changed[i..].iter().position(|&c| !c).map_or(changed.len(), |k| i + k);
        ns.store.write_at(f.layout.meta_offset(lba + i as u64), &md[i * ms..end * ms])?;
        i = end;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Spoiled,
    Already,
    Unchecked,
}

/// Stores the spoiled `tag` in the tuple of block `lba` (`md`: its metadata;
/// `data`: its data, or empty for a Type 1 reference tag).
fn spoil_block(fmt: &PiFormat, pi_type: PiType, tag: StoredTag, lba: u64, data: &[u8], md: &mut [u8]) -> Effect {
    let (before, tuple) = md.split_at_mut(fmt.tuple_offset());
    let stored = PiTuple::decode(fmt, tuple);
    let ref_mask = fmt.ref_tag_mask();
    if is_escape(pi_type, &stored, ref_mask) {
        return Effect::Unchecked;
    }
    let correct_guard = || fmt.guard.compute(data, before);
    let mut spoiled = stored;
    match tag {
        StoredTag::Guard => spoiled.guard = correct_guard() ^ 1,
        StoredTag::RefTag if ref_mask == 0 => return Effect::Unchecked,
        StoredTag::RefTag if pi_type == PiType::Type1 => spoiled.ref_tag = (lba & ref_mask) ^ 1,
        StoredTag::RefTag => spoiled.ref_tag = marker(correct_guard(), lba, tag, ref_mask, lba & ref_mask),
        StoredTag::AppTag => spoiled.app_tag = marker(correct_guard(), lba, tag, 0xffff, 0) as u16,
    }
    if spoiled == stored {
        return Effect::Already;
    }
    spoiled.encode(fmt, tuple);
    Effect::Spoiled
}

/// The escape values that turn every check off for a block (NVM-CS 1.2 5.3.3; the
/// same rule as `PiContext::verify_block`).
fn is_escape(pi_type: PiType, t: &PiTuple, ref_mask: u64) -> bool {
    t.app_tag == 0xffff && (pi_type != PiType::Type3 || t.ref_tag == ref_mask)
}

/// The spoiled value of a host-chosen tag `mask` bits wide: a hash of the
/// block's correct guard, its LBA and the tag, never 0, never `mask` (all ones)
/// and never `avoid`. Fields of one or two bits cannot avoid all three; they
/// get `mask ^ 1`, which at least is not all ones.
fn marker(guard: u64, lba: u64, tag: StoredTag, mask: u64, avoid: u64) -> u64 {
    let mut z = guard ^ lba.rotate_left(32) ^ (tag as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for _ in 0..16 {
        // splitmix64's finaliser: every input bit reaches every output bit.
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let v = (x ^ (x >> 31)) & mask;
        if v != 0 && v != mask && v != avoid {
            return v;
        }
    }
    mask ^ 1
}

/// Flip the guard of every tuple in `md` (separate metadata of the blocks read).
pub fn spoil_returned_guards(f: &ActiveFormat, md: &mut [u8]) {
    let Some(fmt) = protection::pi_format(f) else { return };
    let ms = f.ms() as usize;
    if ms == 0 {
        return;
    }
    for block in md.chunks_exact_mut(ms) {
        block[fmt.tuple_offset()] ^= 0x01;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvm::metadata::fill_unwritten;
    use crate::nvm::namespace::{standard_formats, Protection};
    use crate::storage::mem::{Access, TappedStore};
    use crate::storage::{BlockStore, MemStore};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// A namespace in format `index` of `standard_formats(pif, sts)` on `store`,
    /// opened as `vnvme serve` opens one (holes get the never-written pattern).
    fn namespace_on(store: Arc<dyn BlockStore>, pif: u8, sts: u8, index: u8, pi_type: u8) -> Namespace {
        let protection = Protection::new(pi_type, false).unwrap();
        let ns = Namespace::new(1, store, standard_formats(pif, sts), index, false, protection, 1);
        fill_unwritten(&*ns.store, &ns.format()).unwrap();
        ns
    }

    fn namespace(pif: u8, sts: u8, index: u8, pi_type: u8) -> Namespace {
        namespace_on(Arc::new(MemStore::new(4 << 20)), pif, sts, index, pi_type)
    }

    fn pi_fmt(ns: &Namespace) -> PiFormat {
        protection::pi_format(&ns.format()).unwrap()
    }

    /// Writes block `lba` as a host would: data from `seed`, metadata bytes before
    /// the tuple (covered by the guard), and a correct tuple with `app` and `reference`.
    fn write_block(ns: &Namespace, lba: u64, seed: u8, app: u16, reference: u64) {
        let (f, fmt) = (ns.format(), pi_fmt(ns));
        let data: Vec<u8> = (0..f.lbs()).map(|i| (i as u8).wrapping_mul(seed) ^ seed).collect();
        let mut md = vec![seed; f.ms() as usize];
        let (before, tuple) = md.split_at_mut(fmt.tuple_offset());
        let t = PiTuple { guard: fmt.guard.compute(&data, before), app_tag: app, storage_tag: 0, ref_tag: reference };
        t.encode(&fmt, tuple);
        ns.store.write_at(f.layout.data_offset(lba), &data).unwrap();
        ns.store.write_at(f.layout.meta_offset(lba), &md).unwrap();
    }

    fn metadata(ns: &Namespace, lba: u64, nlb: u64) -> Vec<u8> {
        let f = ns.format();
        let mut md = vec![0u8; (nlb * f.ms()) as usize];
        ns.store.read_at(f.layout.meta_offset(lba), &mut md).unwrap();
        md
    }

    fn tuple(ns: &Namespace, lba: u64) -> PiTuple {
        let fmt = pi_fmt(ns);
        PiTuple::decode(&fmt, &metadata(ns, lba, 1)[fmt.tuple_offset()..])
    }

    fn outcome(spoiled: u64, already: u64, unchecked: u64) -> CorruptOutcome {
        CorruptOutcome { spoiled, already, unchecked }
    }

    const TAGS: [StoredTag; 3] = [StoredTag::Guard, StoredTag::AppTag, StoredTag::RefTag];

    #[test]
    fn repeated_firings_change_nothing_and_a_rewrite_is_spoiled_again() {
        // (pif, sts, format index, PI type): 512+8 Types 1-3; 512+16 with PI last
        // (the guard covers 8 metadata bytes); 4096+16 with 64b and 32b guards.
        let cases = [(0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3), (0, 0, 2, 1), (2, 0, 5, 1), (2, 0, 5, 2), (1, 16, 5, 2)];
        for (pif, sts, index, pi_type) in cases {
            for tag in TAGS {
                let what = format!("pif {pif} format {index} type {pi_type} {tag:?}");
                let ns = namespace(pif, sts, index, pi_type);
                let reference = |lba: u64| if pi_type == 1 { lba } else { 0x500 + lba };
                for lba in 10..14 {
                    write_block(&ns, lba, lba as u8, 0x1234, reference(lba));
                }
                let good = tuple(&ns, 11);
                assert_eq!(corrupt(&ns, tag, 11, 12).unwrap(), outcome(2, 0, 0), "{what}");
                let spoiled = metadata(&ns, 10, 4);
                for n in 2..=3 {
                    assert_eq!(corrupt(&ns, tag, 11, 12).unwrap(), outcome(0, 2, 0), "{what}: firing {n}");
                    assert_eq!(metadata(&ns, 10, 4), spoiled, "{what}: firing {n} changed the medium");
                }
                let bad = tuple(&ns, 11);
                let changed = [bad.guard != good.guard, bad.app_tag != good.app_tag, bad.ref_tag != good.ref_tag];
                let want = [tag == StoredTag::Guard, tag == StoredTag::AppTag, tag == StoredTag::RefTag];
                assert_eq!(changed, want, "{what}: only the tag changed");
                assert_eq!(bad.storage_tag, good.storage_tag, "{what}");
                assert_ne!(bad.app_tag, 0xffff, "{what}: never the escape");
                // A rewrite of block 11 with the same data and tags: spoiled again, alike.
                write_block(&ns, 11, 11, 0x1234, reference(11));
                assert_eq!(corrupt(&ns, tag, 10, 13).unwrap(), outcome(3, 1, 0), "{what}: after a rewrite");
                let ms = ns.format().ms() as usize;
                assert_eq!(metadata(&ns, 11, 2), spoiled[ms..3 * ms], "{what}: the same spoiled value");
            }
        }
    }

    #[test]
    fn two_tags_of_one_block_do_not_undo_each_other() {
        for pi_type in [1, 2] {
            let ns = namespace(0, 0, 1, pi_type);
            write_block(&ns, 7, 3, 0, 7);
            let good = tuple(&ns, 7);
            for tag in TAGS {
                assert_eq!(corrupt(&ns, tag, 7, 7).unwrap(), outcome(1, 0, 0), "type {pi_type} {tag:?}");
            }
            for tag in TAGS.iter().rev().chain(&TAGS) {
                assert_eq!(corrupt(&ns, *tag, 7, 7).unwrap(), outcome(0, 1, 0), "type {pi_type} {tag:?} again");
            }
            let bad = tuple(&ns, 7);
            assert!(bad.guard != good.guard && bad.app_tag != good.app_tag && bad.ref_tag != good.ref_tag);
        }
    }

    #[test]
    fn a_restarted_server_leaves_spoiled_blocks_spoiled() {
        let store: Arc<dyn BlockStore> = Arc::new(MemStore::new(4 << 20));
        let ns = namespace_on(store.clone(), 0, 0, 1, 2);
        write_block(&ns, 3, 9, 0x4242, 0x9000);
        for tag in TAGS {
            corrupt(&ns, tag, 3, 3).unwrap();
        }
        let spoiled = metadata(&ns, 3, 1);
        drop(ns);
        // A new process: the same medium, no memory of the last run.
        let ns = namespace_on(store, 0, 0, 1, 2);
        for tag in TAGS {
            assert_eq!(corrupt(&ns, tag, 3, 3).unwrap(), outcome(0, 1, 0), "{tag:?}");
        }
        assert_eq!(metadata(&ns, 3, 1), spoiled);
    }

    #[test]
    fn unchecked_tuples_and_absent_reference_tags_are_left_alone() {
        for pi_type in [1, 2, 3] {
            let ns = namespace(0, 0, 1, pi_type);
            let never_written = metadata(&ns, 0, 4);
            for tag in TAGS {
                assert_eq!(corrupt(&ns, tag, 0, 3).unwrap(), outcome(0, 0, 4), "type {pi_type} {tag:?}");
            }
            assert_eq!(metadata(&ns, 0, 4), never_written);
        }
        // Type 1 with application tag FFFFh: the escape, whatever the reference tag.
        let ns = namespace(0, 0, 1, 1);
        write_block(&ns, 5, 1, 0xffff, 5);
        assert_eq!(corrupt(&ns, StoredTag::Guard, 5, 5).unwrap(), outcome(0, 0, 1));
        // Type 3 with application tag FFFFh but a reference tag not all ones: checked.
        let ns = namespace(0, 0, 1, 3);
        write_block(&ns, 5, 1, 0xffff, 5);
        assert_eq!(corrupt(&ns, StoredTag::AppTag, 5, 5).unwrap(), outcome(1, 0, 0));
        assert_eq!(corrupt(&ns, StoredTag::RefTag, 5, 5).unwrap(), outcome(1, 0, 0));
        assert_ne!(tuple(&ns, 5).ref_tag, 0xffff_ffff, "the spoiled tuple is not the escape");
        // STS 32 with a 16b guard: no reference tag bits at all.
        let ns = namespace(0, 32, 1, 1);
        write_block(&ns, 5, 1, 0, 0);
        assert_eq!(corrupt(&ns, StoredTag::RefTag, 5, 5).unwrap(), outcome(0, 0, 1));
        assert_eq!(corrupt(&ns, StoredTag::Guard, 5, 5).unwrap(), outcome(1, 0, 0));
        // No PI, or a range past the end: nothing.
        let plain = namespace(0, 0, 1, 0);
        assert_eq!(corrupt(&plain, StoredTag::Guard, 0, 3).unwrap(), CorruptOutcome::default());
        assert_eq!(corrupt(&ns, StoredTag::Guard, u64::MAX - 1, u64::MAX).unwrap(), CorruptOutcome::default());
    }

    #[test]
    fn thousands_of_blocks_take_a_few_large_reads_and_writes() {
        // Count the reads and writes made to the store.
        let calls = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let tally = calls.clone();
        let store = TappedStore::new(MemStore::new(4 << 20), move |a| {
            tally[(a == Access::Write) as usize].fetch_add(1, Ordering::Relaxed);
        });
        let ns = namespace_on(Arc::new(store), 0, 0, 1, 1);
        let n = 5000u64;
        let f = ns.format();
        // A correct tuple for every block of zero data (no data write needed).
        let fmt = pi_fmt(&ns);
        let zero_guard = fmt.guard.compute(&vec![0u8; 512], &[]);
        let mut md = vec![0u8; (n * 8) as usize];
        for (lba, t) in md.chunks_exact_mut(8).enumerate() {
            PiTuple { guard: zero_guard, app_tag: 0, storage_tag: 0, ref_tag: lba as u64 }.encode(&fmt, t);
        }
        ns.store.write_at(f.layout.meta_offset(0), &md).unwrap();
        // Every other block already spoiled: only the others are written, one write each.
        corrupt(&ns, StoredTag::Guard, 1, 1).unwrap();
        corrupt(&ns, StoredTag::Guard, 3, 3).unwrap();
        let count = || (calls[0].swap(0, Ordering::Relaxed), calls[1].swap(0, Ordering::Relaxed));
        count();
        assert_eq!(corrupt(&ns, StoredTag::Guard, 0, n - 1).unwrap(), outcome(n - 2, 2, 0));
        let steps = n.div_ceil(STEP_BYTES / 512);
        assert_eq!(count(), (2 * steps, steps + 2), "data and metadata per step; runs 0, 2, 4.. around 1 and 3");
        assert_eq!(corrupt(&ns, StoredTag::Guard, 0, n - 1).unwrap(), outcome(0, n, 0));
        assert_eq!(count(), (2 * steps, 0), "nothing to write");
        assert_eq!(corrupt(&ns, StoredTag::RefTag, 0, n - 1).unwrap(), outcome(n, 0, 0));
        assert_eq!(count(), (steps, steps), "a Type 1 reference tag needs no data");
    }

    #[test]
    fn markers_avoid_zero_all_ones_and_the_lba() {
        for lba in 0..20_000u64 {
            let app = marker(lba.wrapping_mul(31), lba, StoredTag::AppTag, 0xffff, 0);
            assert!(app != 0 && app != 0xffff, "lba {lba}: {app:#x}");
            let r = marker(lba, lba, StoredTag::RefTag, 0xffff_ffff, lba);
            assert!(r != 0 && r != 0xffff_ffff && r != lba, "lba {lba}: {r:#x}");
        }
        assert_eq!(marker(5, 5, StoredTag::RefTag, 1, 1), 0, "one bit: not all ones");
    }
}
