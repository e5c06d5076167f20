//! The command hook: injected statuses, completion delays, sticky corruption of
//! stored PI tags (idempotent however often it fires, healed by a rewrite,
//! re-applied by a later firing; two tags of one block independent; never-written
//! blocks left alone), transient guard corruption of returned
//! tuples, race-window widening, and the buffer-mutation detector reporting the
//! exact bytes a "guest" changed while its write was in flight (and nothing when
//! it did not).

use super::fake_host::NsConfig;
use super::fake_host::{cmd, pattern, FakeHost, Store};
use super::pi_io::{read, tuple_at, tuples, type1_512, Prinfo, ALL, APP, APP_TAG, GUARD, REF};
use crate::controller::hooks::{CommandHook, CommandView, Completed, Injection, Tag};
use crate::spec::opcode::nvm as iop;
use crate::spec::Status;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A hook that injects `plan` into every command whose opcode matches, once
/// unless `sticky`, and records completions.
#[derive(Default)]
struct TestHook {
    plan: Mutex<Option<(u8, Injection, bool)>>,
    detect: bool,
    done: Mutex<Vec<Completed>>,
}

impl CommandHook for TestHook {
    fn active(&self) -> bool {
        true
    }
    fn detect_mutation(&self) -> bool {
        self.detect
    }
    fn before(&self, cmd: &CommandView) -> Injection {
        let mut p = self.plan.lock().unwrap();
        match p.as_ref() {
            Some((op, inj, sticky)) if *op == cmd.opcode => {
                let inj = inj.clone();
                if !*sticky {
                    *p = None;
                }
                inj
            }
            _ => Injection::default(),
        }
    }
    fn completed(&self, done: &Completed) {
        self.done.lock().unwrap().push(done.clone());
    }
}

fn host_with(hook: Arc<TestHook>) -> FakeHost {
    host_on(hook, type1_512())
}

fn host_on(hook: Arc<TestHook>, ns: super::fake_host::NsConfig) -> FakeHost {
    let h = FakeHost::with_io(Store::Mem, ns);
    assert!(h.ctrl.shared.hook.set(hook).is_ok());
    h
}

fn write_good(h: &mut FakeHost, lba: u64, nlb: u64, seed: u8) -> Vec<u8> {
    write_good_ref(h, lba, nlb, seed, lba)
}

/// Writes `nlb` blocks of pattern `seed` at `lba` with correct PI whose
/// reference tags start at `first_ref` (the LBA for Type 1; any value for Type 2).
fn write_good_ref(h: &mut FakeHost, lba: u64, nlb: u64, seed: u8, first_ref: u64) -> Vec<u8> {
    let ns = h.config(1);
    let data = pattern(nlb as usize * ns.lbs as usize, seed);
    let md = tuples(ns, &data, APP_TAG, first_ref);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    let w = cmd::write(1, lba, nlb).with_prps(p1, p2).with_mptr(m);
    assert_eq!(h.io(1, Prinfo::check(ALL, first_ref).apply(w)).status, Status::SUCCESS);
    data
}

/// From now on every read fires the hook, spoiling `tags` (as `when=always` does).
fn corrupt_on_every_read(hook: &TestHook, tags: &[(Tag, u64, u64)]) {
    let inj = Injection { corrupt: tags.to_vec(), ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::READ, inj, true));
}

fn stop_firing(hook: &TestHook) {
    *hook.plan.lock().unwrap() = None;
}

#[test]
fn injected_status_completes_without_executing_and_is_traced() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_on(hook.clone(), super::fake_host::NsConfig::new(512));
    let inj = Injection { status: Some(Status::new(2, 0x81)), fired: vec!["r1".into()], ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::WRITE, inj, false));
    let c = h.io(1, cmd::write(1, 0, 1).with_prps(0x1000_0000, 0)); // bad PRP: never looked at
    assert_eq!(c.status, Status::new(2, 0x81));
    assert_eq!(h.write_blocks(1, 0, &[1u8; 512]), Status::SUCCESS, "one-shot: the next write runs");
    let done = hook.done.lock().unwrap();
    assert_eq!(done[0].fired, vec!["r1".to_string()]);
    assert_eq!(done[0].status, Status::new(2, 0x81));
}

#[test]
fn delay_shows_in_the_latency() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_on(hook.clone(), super::fake_host::NsConfig::new(512));
    let inj = Injection { delay: Duration::from_millis(30), ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::READ, inj, false));
    assert_eq!(h.read_blocks(1, 0, 1).0, Status::SUCCESS);
    let done = hook.done.lock().unwrap();
    assert!(done[0].latency >= Duration::from_millis(30), "latency {:?}", done[0].latency);
}

#[test]
fn sticky_guard_corruption_fails_checked_reads_until_rewritten() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_with(hook.clone());
    let data = write_good(&mut h, 10, 4, 1);
    // Fires on a read of 10..=13, spoiling the stored guards of 11 and 12.
    let inj = Injection { corrupt: vec![(Tag::Guard, 11, 12)], ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::READ, inj, false));
    assert_eq!(read(&mut h, 10, 4, Prinfo::check(ALL, 10)).0, Status::GUARD_CHECK_ERROR);
    assert_eq!(read(&mut h, 11, 1, Prinfo::check(ALL, 11)).0, Status::GUARD_CHECK_ERROR, "sticky");
    assert_eq!(read(&mut h, 10, 1, Prinfo::check(ALL, 10)).0, Status::SUCCESS, "other blocks fine");
    assert_eq!(read(&mut h, 13, 1, Prinfo::check(ALL, 13)).0, Status::SUCCESS);
    let (s, got, _) = read(&mut h, 10, 4, Prinfo::check(0, 10));
    assert_eq!((s, got), (Status::SUCCESS, data), "unchecked reads return the data");
    write_good(&mut h, 11, 2, 2);
    assert_eq!(read(&mut h, 10, 4, Prinfo::check(ALL, 10)).0, Status::SUCCESS, "a rewrite heals");
}

#[test]
fn app_and_ref_tag_corruption() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_with(hook.clone());
    write_good(&mut h, 20, 2, 3);
    let inj = Injection { corrupt: vec![(Tag::AppTag, 20, 20), (Tag::RefTag, 21, 21)], ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::READ, inj, false));
    assert_eq!(read(&mut h, 20, 1, Prinfo::check(ALL, 20)).0, Status::APP_TAG_CHECK_ERROR);
    assert_eq!(read(&mut h, 21, 1, Prinfo::check(ALL, 21)).0, Status::REF_TAG_CHECK_ERROR);
}

/// One tag of one block spoiled by every read: checked reads fail the same way
/// on every firing (Linux retries a 0x282 without DNR; the retry fired the rule
/// again and used to flip the bit back), unchecked reads return the same tuple;
/// a rewrite heals, a later firing spoils again. `ilbrt` is the first block's
/// reference tag (the LBA for Type 1).
fn stays_spoiled(ns: NsConfig, tag: Tag, prchk: u32, status: Status, ilbrt: u64) {
    let hook = Arc::new(TestHook::default());
    let mut h = host_on(hook.clone(), ns);
    let data = write_good_ref(&mut h, 50, 2, 5, ilbrt);
    corrupt_on_every_read(&hook, &[(tag, 50, 50)]);
    let mut first_md = None;
    for n in 1..=3 {
        let what = format!("{tag:?} on {ns:?}, firing {n}");
        assert_eq!(read(&mut h, 50, 1, Prinfo::check(prchk, ilbrt)).0, status, "{what}");
        let (s, got, md) = read(&mut h, 50, 2, Prinfo::check(0, ilbrt));
        assert_eq!((s, &got), (Status::SUCCESS, &data), "{what}: unchecked reads return the data");
        assert_eq!(&md, first_md.get_or_insert_with(|| md.clone()), "{what}: the same spoiled tuple");
        assert_eq!(read(&mut h, 51, 1, Prinfo::check(ALL, ilbrt + 1)).0, Status::SUCCESS, "{what}: block 51 fine");
    }
    write_good_ref(&mut h, 50, 1, 6, ilbrt);
    stop_firing(&hook);
    assert_eq!(read(&mut h, 50, 1, Prinfo::check(ALL, ilbrt)).0, Status::SUCCESS, "{tag:?}: a rewrite heals");
    corrupt_on_every_read(&hook, &[(tag, 50, 50)]);
    for n in 1..=2 {
        assert_eq!(read(&mut h, 50, 1, Prinfo::check(prchk, ilbrt)).0, status, "{tag:?}: spoiled again, firing {n}");
    }
}

#[test]
fn sticky_corruption_stays_however_often_it_fires() {
    let type1 = type1_512();
    stays_spoiled(type1, Tag::Guard, GUARD, Status::GUARD_CHECK_ERROR, 50);
    stays_spoiled(type1, Tag::AppTag, APP, Status::APP_TAG_CHECK_ERROR, 50);
    stays_spoiled(type1, Tag::RefTag, REF, Status::REF_TAG_CHECK_ERROR, 50);
    // 64b guard, 4 KiB blocks.
    let crc64 = NsConfig::new(4096).metadata(16).pi(1, 2);
    stays_spoiled(crc64, Tag::Guard, GUARD, Status::GUARD_CHECK_ERROR, 50);
    stays_spoiled(crc64, Tag::RefTag, REF, Status::REF_TAG_CHECK_ERROR, 50);
    // Type 2: the host chooses the reference tags, here unrelated to the LBA.
    let type2 = NsConfig::new(512).metadata(8).pi(2, 0);
    stays_spoiled(type2, Tag::RefTag, REF, Status::REF_TAG_CHECK_ERROR, 0x7000_0000);
    stays_spoiled(type2, Tag::AppTag, APP, Status::APP_TAG_CHECK_ERROR, 0x7000_0000);
    stays_spoiled(type2, Tag::Guard, GUARD, Status::GUARD_CHECK_ERROR, 0x7000_0000);
}

#[test]
fn guard_and_ref_spoiled_on_one_block_do_not_undo_each_other() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_with(hook.clone());
    write_good(&mut h, 60, 1, 7);
    let (_, _, good) = read(&mut h, 60, 1, Prinfo::check(0, 60));
    corrupt_on_every_read(&hook, &[(Tag::Guard, 60, 60)]);
    assert_eq!(read(&mut h, 60, 1, Prinfo::check(GUARD, 60)).0, Status::GUARD_CHECK_ERROR);
    // A second rule, on the reference tag, fires on the same block.
    corrupt_on_every_read(&hook, &[(Tag::RefTag, 60, 60)]);
    assert_eq!(read(&mut h, 60, 1, Prinfo::check(REF, 60)).0, Status::REF_TAG_CHECK_ERROR);
    assert_eq!(read(&mut h, 60, 1, Prinfo::check(GUARD, 60)).0, Status::GUARD_CHECK_ERROR, "guard still spoiled");
    // Both rules on every read, in either order.
    for tags in [[(Tag::Guard, 60, 60), (Tag::RefTag, 60, 60)], [(Tag::RefTag, 60, 60), (Tag::Guard, 60, 60)]] {
        corrupt_on_every_read(&hook, &tags);
        for _ in 0..3 {
            assert_eq!(read(&mut h, 60, 1, Prinfo::check(GUARD, 60)).0, Status::GUARD_CHECK_ERROR);
            assert_eq!(read(&mut h, 60, 1, Prinfo::check(REF, 60)).0, Status::REF_TAG_CHECK_ERROR);
            assert_eq!(read(&mut h, 60, 1, Prinfo::check(APP, 60)).0, Status::SUCCESS, "the app tag is untouched");
        }
    }
    stop_firing(&hook);
    let (_, _, md) = read(&mut h, 60, 1, Prinfo::check(0, 60));
    let (now, was) = (tuple_at(type1_512(), &md, 0), tuple_at(type1_512(), &good, 0));
    assert_ne!(now.guard, was.guard);
    assert_ne!(now.ref_tag, was.ref_tag);
    assert_eq!(now.app_tag, was.app_tag);
}

#[test]
fn never_written_blocks_are_left_alone_until_written() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_with(hook.clone());
    corrupt_on_every_read(&hook, &[(Tag::Guard, 120, 121), (Tag::AppTag, 120, 121), (Tag::RefTag, 120, 121)]);
    for _ in 0..2 {
        let (s, _, md) = read(&mut h, 120, 2, Prinfo::check(ALL, 120));
        assert_eq!(s, Status::SUCCESS, "an all-ones tuple is not checked, so there is nothing to spoil");
        assert!(md.iter().all(|&b| b == 0xff), "the never-written pattern stays");
    }
    write_good(&mut h, 120, 1, 8);
    assert_eq!(read(&mut h, 120, 1, Prinfo::check(ALL, 120)).0, Status::GUARD_CHECK_ERROR, "written: spoiled");
    assert_eq!(read(&mut h, 121, 1, Prinfo::check(ALL, 121)).0, Status::SUCCESS);
}

#[test]
fn transient_guard_spoils_only_what_is_returned_once() {
    let hook = Arc::new(TestHook::default());
    let mut h = host_with(hook.clone());
    write_good(&mut h, 30, 1, 4);
    let inj = Injection { transient_guard: true, ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::READ, inj, false));
    let (s, _, md) = read(&mut h, 30, 1, Prinfo::check(GUARD, 30));
    assert_eq!(s, Status::SUCCESS, "the medium is fine, so the device's own check passes");
    let (_, _, good) = read(&mut h, 30, 1, Prinfo::check(GUARD, 30));
    assert_ne!(md, good, "the first read returned a spoiled guard");
    assert_eq!(md[1..], good[1..], "only the guard's first byte differs");
}

#[test]
fn mutation_detector_reports_bytes_changed_during_the_widened_window() {
    let hook = Arc::new(TestHook { detect: true, ..Default::default() });
    let mut h = FakeHost::with_io(Store::Mem, super::fake_host::NsConfig::new(512));
    assert!(h.ctrl.shared.hook.set(hook.clone()).is_ok());
    let inj = Injection { widen: Duration::from_millis(200), ..Default::default() };
    *hook.plan.lock().unwrap() = Some((iop::WRITE, inj, true));
    let buf = h.alloc_with(&[5u8; 2048]);
    let (p1, p2) = h.prps(buf, 2048);
    let mem = h.mem.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        crate::dma::DmaMemory::write(&*mem, crate::dma::GuestAddr(buf + 512 + 100), &[9u8; 20]).unwrap();
    });
    assert_eq!(h.io(1, cmd::write(1, 40, 4).with_prps(p1, p2)).status, Status::SUCCESS);
    writer.join().unwrap();
    // A write nobody touches: no report.
    assert_eq!(h.write_blocks(1, 80, &[1u8; 512]), Status::SUCCESS);
    let done = hook.done.lock().unwrap();
    let m = done[0].mutation.as_ref().expect("mutation reported");
    assert_eq!(m.blocks, vec![(41, 100, 119)], "LBA 41, bytes 100..=119");
    assert!(m.window >= Duration::from_millis(200));
    assert!(done[1].mutation.is_none(), "no false positive");
    let (_, stored) = h.read_blocks(1, 41, 1);
    assert_eq!(&stored[100..120], &[9u8; 20], "the device wrote what it saw at transfer time");
}
