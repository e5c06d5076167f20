//! The command hook: injected statuses, completion delays, sticky corruption of
//! stored PI tags (healed by a rewrite), transient guard corruption of returned
//! tuples, race-window widening, and the buffer-mutation detector reporting the
//! exact bytes a "guest" changed while its write was in flight (and nothing when
//! it did not).

use super::fake_host::{cmd, pattern, FakeHost, Store};
use super::pi_io::{read, tuples, type1_512, Prinfo, ALL, APP_TAG, GUARD};
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
    let ns = type1_512();
    let data = pattern(nlb as usize * 512, seed);
    let md = tuples(ns, &data, APP_TAG, lba);
    let d = h.alloc_with(&data);
    let m = h.alloc_with(&md);
    let (p1, p2) = h.prps(d, data.len() as u64);
    let w = cmd::write(1, lba, nlb).with_prps(p1, p2).with_mptr(m);
    assert_eq!(h.io(1, Prinfo::check(ALL, lba).apply(w)).status, Status::SUCCESS);
    data
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
        crate::dma::DmaMemory::write(&*mem, buf + 512 + 100, &[9u8; 20]).unwrap();
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
