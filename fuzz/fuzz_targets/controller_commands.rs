//! The controller through the fake host: a program of register writes, admin and
//! I/O submission entries with fuzzed fields, and PRP lists, SGL segments and
//! raw bytes placed in guest memory, run on a fresh controller per input (two
//! namespaces: 16b-guard PI with separate metadata, and 4 KiB blocks with 64b
//! guard in extended LBAs).
//!
//! Data pointers, PRP list entries and SGL descriptor addresses go through
//! [`addr`]: anywhere in a 1 MiB data window (with a poisoned page inside it),
//! on the poisoned page 0, straddling the end of guest memory, or a raw 64-bit
//! value, so lists that point at themselves and segment chains that loop are a
//! few bytes away. The queue rings are kept out of reach (a raw value in their
//! pages is moved to page 0): a Read that lands its data on the completion ring
//! would break the host's view of its queue, not the controller.
//!
//! Oracles: no panic; every command but an AER completes within the fake
//! host's `TIMEOUT`, on the queue it was submitted to, with its CID, unless the
//! controller reports a fatal status (CSTS.CFS); no completion comes twice or
//! for a command never submitted; the controller is ready again after each
//! reset the program asks for; the poisoned page's bytes are untouched (the
//! fake memory refuses any access that touches it, and `VecMemory::backing`
//! shows it did).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use vnvme::controller::test_support::fake_host::{sq_doorbell, FakeHost, NsConfig, Store, MEM_SIZE, TIMEOUT};
use vnvme::dma::DmaMemory;
use vnvme::spec::opcode::admin as aop;
use vnvme::spec::registers::{self as reg, csts};
use vnvme::spec::{CompletionEntry, SubmissionEntry};
use vnvme_fuzz::Input;

const PAGE: u64 = 4096;
/// Guest memory the program's pointers land in.
const WINDOW: u64 = 0x40_0000;
const WINDOW_LEN: u64 = 1 << 20;
/// A poisoned page inside the window: an unmapped hole in the DMA map.
const HOLE: u64 = WINDOW + WINDOW_LEN / 2;
/// Where the fake host allocates the queues; kept out of [`addr`]'s reach.
const RINGS: std::ops::Range<u64> = 0x10000..WINDOW;
const CANARY: u8 = 0xa5;
/// Operations per input, and commands waited for: bounds a run's time.
const MAX_OPS: usize = 48;

/// A guest address chosen by the input (see the module docs).
fn addr(input: &mut Input) -> u64 {
    match input.u8() % 8 {
        0..=3 => WINDOW + input.u32() as u64 % WINDOW_LEN,
        4 => HOLE + input.u16() as u64 % (2 * PAGE) - PAGE,
        5 => input.u16() as u64 % PAGE,
        6 => MEM_SIZE as u64 - PAGE + input.u16() as u64 % (2 * PAGE),
        _ => match input.u64() {
            a if RINGS.contains(&a) => a % PAGE,
            a => a,
        },
    }
}

struct Run {
    host: FakeHost,
    /// Where the queues start: freed back to on every reset.
    mark: u64,
    /// Outstanding AER CIDs: they complete when an event comes, or never.
    aers: Vec<u16>,
    /// The controller reported a fatal status: commands may go unanswered until a reset.
    fatal: bool,
}

impl Run {
    fn new() -> Self {
        let namespaces = [
            NsConfig::new(512).metadata(8).pi(1, 0).bytes(256 << 10),
            NsConfig::new(4096).metadata(16).pi(1, 2).extended().bytes(256 << 10),
        ];
        let host = FakeHost::new(Store::Mem, &namespaces);
        host.put(HOLE, &[CANARY; PAGE as usize]);
        host.mem.poison(HOLE, PAGE);
        let mark = host.alloc_mark();
        let mut run = Run { host, mark, aers: Vec::new(), fatal: false };
        run.reset();
        run
    }

    /// Controller reset by the host: CC.EN cleared and set again, the I/O queue pair re-created.
    fn reset(&mut self) {
        self.host.disable();
        self.host.free_to(self.mark);
        self.host.enable();
        self.host.create_io_queues(1, 16);
        self.aers.clear();
        self.fatal = false;
    }

    fn fatal_status(&self) -> bool {
        self.host.csts() & csts::CFS != 0
    }

    /// Submit `sqe` on `qid` and wait for its completion (see the oracles).
    fn exec(&mut self, qid: u16, sqe: SubmissionEntry) -> Option<CompletionEntry> {
        let is_aer = qid == 0 && sqe.opcode() == aop::ASYNC_EVENT_REQUEST;
        let cid = self.host.submit(qid, sqe);
        if is_aer {
            self.aers.push(cid);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(e) = self.host.try_completion(qid) {
                self.host.ring_cq(qid);
                assert_eq!(e.sq_id, qid, "completion on queue {qid} names its submission queue");
                if e.cid == cid && !is_aer {
                    return Some(e);
                }
                let aer = self.aers.iter().position(|&a| a == e.cid);
                assert!(qid == 0 && aer.is_some(), "completion {e:?} on queue {qid} for no outstanding command");
                self.aers.swap_remove(aer.unwrap());
                if is_aer && e.cid == cid {
                    return Some(e);
                }
                continue;
            }
            if is_aer {
                return None;
            }
            if self.fatal_status() {
                self.fatal = true;
                return None;
            }
            assert!(Instant::now() < deadline, "command {sqe:?} on queue {qid}: no completion within {TIMEOUT:?}");
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// A submission entry: opcode, flags (PSDT, fused bits), NSID, CDW2-3, MPTR,
/// the data pointer (PRPs or an SGL descriptor, as PSDT says), CDW10-15.
fn sqe(input: &mut Input) -> SubmissionEntry {
    let opcode = input.u8();
    let flags = input.u8();
    let nsid = match input.u8() {
        n @ 0..=3 => n as u32,
        0xff => u32::MAX,
        _ => input.u32(),
    };
    let mut e = SubmissionEntry::new(opcode, 0, nsid);
    e.dw[0] |= (flags as u32) << 8;
    e.dw[2] = input.u32();
    e.dw[3] = input.u32();
    let mptr = addr(input);
    e = e.with_mptr(mptr);
    if flags >> 6 == 0 {
        e = e.with_prps(addr(input), addr(input));
    } else {
        e = e.with_sgl1(sgl_descriptor(input));
    }
    for i in 10..16 {
        e.dw[i] = input.u32();
    }
    e
}

/// One SGL descriptor: address, length, and the identifier byte (type, subtype) as given.
fn sgl_descriptor(input: &mut Input) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[0..8].copy_from_slice(&addr(input).to_le_bytes());
    let len = match input.u8() {
        0 => input.u32(),
        n => n as u32 * 16,
    };
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[15] = input.u8();
    d
}

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mut r = Run::new();
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        match input.u8() % 8 {
            0 => {
                let e = sqe(&mut input);
                let queues_changed = matches!(
                    e.opcode(),
                    aop::DELETE_IO_SQ
                        | aop::CREATE_IO_SQ
                        | aop::DELETE_IO_CQ
                        | aop::CREATE_IO_CQ
                        | aop::DOORBELL_BUFFER_CONFIG
                );
                r.exec(0, e);
                // The host's queue bookkeeping no longer holds: start afresh.
                if queues_changed || r.fatal {
                    r.reset();
                }
            }
            1 | 2 => {
                let e = sqe(&mut input);
                r.exec(1, e);
                if r.fatal {
                    r.reset();
                }
            }
            3 => {
                // A PRP list: up to 64 entries.
                let at = addr(&mut input);
                let n = input.u8() as usize % 64 + 1;
                let list: Vec<u8> = (0..n).flat_map(|_| addr(&mut input).to_le_bytes()).collect();
                let _ = r.host.mem.write(vnvme::dma::GuestAddr(at), &list);
            }
            4 => {
                // An SGL segment: up to 16 descriptors.
                let at = addr(&mut input);
                let n = input.u8() as usize % 16 + 1;
                let seg: Vec<u8> = (0..n).flat_map(|_| sgl_descriptor(&mut input)).collect();
                let _ = r.host.mem.write(vnvme::dma::GuestAddr(at), &seg);
            }
            5 => {
                // Raw bytes (range lists, data, Identify-sized structures).
                let at = addr(&mut input);
                let n = input.u8() as usize * 4;
                let bytes = input.take(n).to_vec();
                let _ = r.host.mem.write(vnvme::dma::GuestAddr(at), &bytes);
            }
            6 => {
                // A register or doorbell write of any value.
                let offset = input.u16() as u64 % 0x1100;
                let size = if input.u8() & 1 == 0 { 4 } else { 8 };
                let value = input.u64();
                r.host.ctrl.mmio_write(offset, size, value);
                let _ = r.host.ctrl.mmio_read(offset, size);
                let settles =
                    offset >= reg::DOORBELL_BASE || matches!(offset, reg::CC | reg::AQA | reg::ASQ | reg::ACQ);
                // A shutdown (CC.SHN, also reached by an 8-byte write at INTMC, whose high half
                // is CC) stops command processing until a reset, as NVMe-Base 3.6 has it: the
                // host resets before it submits again.
                let st = r.host.csts();
                if settles || st & (csts::RDY | csts::CFS) != csts::RDY || st & csts::SHST_MASK != 0 {
                    r.reset();
                }
            }
            _ => {
                // Several I/O commands in one doorbell write, then every completion.
                let n = input.u8() as usize % 8 + 1;
                let cids: Vec<u16> = (0..n).map(|_| r.host.push(1, sqe(&mut input))).collect();
                let tail = r.host.queue(1).sq_tail;
                r.host.ctrl.mmio_write(sq_doorbell(1), 4, tail as u64);
                let mut pending = cids;
                let deadline = Instant::now() + TIMEOUT;
                while !pending.is_empty() {
                    if let Some(e) = r.host.try_completion(1) {
                        r.host.ring_cq(1);
                        let i = pending.iter().position(|&c| c == e.cid);
                        assert!(i.is_some(), "completion {e:?} for no outstanding command");
                        pending.swap_remove(i.unwrap());
                        continue;
                    }
                    if r.fatal_status() {
                        r.reset();
                        break;
                    }
                    assert!(Instant::now() < deadline, "commands {pending:?}: no completion within {TIMEOUT:?}");
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
    }
    assert_eq!(r.host.mem.backing(HOLE, PAGE), vec![CANARY; PAGE as usize], "the poisoned page was written");
}

fuzz_target!(|data: &[u8]| run(data));
