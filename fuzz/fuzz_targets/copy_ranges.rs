//! Copy source range lists (`spec::ranges::SourceRange`, `nvm::copy`): each
//! input is one Copy command (destination namespace, descriptor format, range
//! count, PRINFOR/PRINFOW/STCW bits, SDLBA) and its range list, run through the
//! fake host on a controller with three namespaces (16b-guard PI, no PI, 64b-guard
//! PI) and cross-namespace formats enabled. Oracles: every entry parses in every
//! format; the command completes in bounded time (the fake host fails after
//! `TIMEOUT`) with its own CID, and a failed Copy's DW0 names a range in the list.
//! The host lives across inputs (building one per input would cost more than the
//! command).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use vnvme::controller::test_support::fake_host::{cmd, FakeHost, NsConfig, Store};
use vnvme::spec::opcode::nvm as iop;
use vnvme::spec::ranges::SourceRange;
use vnvme::spec::{Status, SubmissionEntry};
use vnvme_fuzz::Input;

const NS_BYTES: u64 = 1 << 20;
/// The range list buffer: 128 entries of 40 bytes fit in two pages.
const LIST_PAGES: u64 = 2;

struct Rig {
    host: FakeHost,
    list: u64,
}

fn rig() -> Rig {
    let namespaces = [
        NsConfig::new(512).metadata(8).pi(1, 0).bytes(NS_BYTES),
        NsConfig::new(512).bytes(NS_BYTES),
        NsConfig::new(4096).metadata(16).pi(1, 2).bytes(NS_BYTES),
    ];
    let mut host = FakeHost::enabled(Store::Mem, &namespaces);
    host.create_io_queues(1, 16);
    // Host Behavior Support, CDFE: descriptor formats 2h and 3h enabled.
    let mut hbs = vec![0u8; 512];
    hbs[4] = 0b1100;
    let buf = host.alloc_with(&hbs);
    assert_eq!(host.admin(cmd::set_features(0x16, 0).with_prps(buf, 0)).status, Status::SUCCESS);
    let list = host.alloc(LIST_PAGES * 4096);
    Rig { host, list }
}

thread_local! {
    static RIG: RefCell<Option<Rig>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let nsid = match input.u8() {
        n @ 0..=3 => n as u32 + 1,
        n => n as u32 * 0x0101_0101,
    };
    let nr = input.u8() as u32;
    let format = input.u8() as u32 & 0xf;
    // PRINFOR (bits 15:12), STCW (24), PRINFOW (29:26), and the reserved bits around them.
    let cdw12_rest = input.u32() & !0xfff;
    let sdlba = match input.u8() {
        0 => input.u64(),
        n => n as u64 * 3,
    };
    let list = input.take(LIST_PAGES as usize * 4096);
    for f in 0..4u8 {
        for e in list.chunks_exact(SourceRange::entry_size(f)) {
            let r = SourceRange::parse(e, f, nsid);
            assert!(r.nlb >= 1 && r.nlb <= 0x10000);
        }
    }
    RIG.with(|cell| {
        let mut cell = cell.borrow_mut();
        let rig = cell.get_or_insert_with(rig);
        let mut page = vec![0u8; LIST_PAGES as usize * 4096];
        page[..list.len()].copy_from_slice(list);
        rig.host.put(rig.list, &page);
        let sqe = SubmissionEntry::new(iop::COPY, 0, nsid)
            .with_prps(rig.list, rig.list + 4096)
            .with_cdw(10, sdlba as u32)
            .with_cdw(11, (sdlba >> 32) as u32)
            .with_cdw(12, nr & 0xff | format << 8 | cdw12_rest);
        let c = rig.host.io(1, sqe);
        if c.status != Status::SUCCESS {
            assert!(c.dw0 <= nr, "DW0 {} names no range of {} ({:?})", c.dw0, nr + 1, c.status);
        }
    });
});
