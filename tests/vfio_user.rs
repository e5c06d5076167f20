//! The vfio-user transport without QEMU: a small client in this test speaks the
//! protocol to a real `vnvme serve` process, checks the replies QEMU relies on,
//! shares "guest memory" (a file, passed with SCM_RIGHTS as QEMU passes its
//! memfd), enables the controller through BAR0, runs an admin command, and gets
//! its MSI-X interrupt through a passed descriptor. Malformed and unknown
//! messages get error replies with a real errno and leave the stream in sync.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const VERSION: u16 = 1;
const DMA_MAP: u16 = 2;
const GET_INFO: u16 = 4;
const REGION_INFO: u16 = 5;
const SET_IRQS: u16 = 8;
const REGION_READ: u16 = 9;
const REGION_WRITE: u16 = 10;
const NO_REPLY: u32 = 0x10;
const ERROR: u32 = 0x20;
const CONFIG: u32 = 7;
const BAR0: u32 = 0;

mod common;
use common::Server;

fn start(name: &str) -> (Server, UnixStream) {
    start_with(name, &[])
}

/// A server started with `extra` arguments, and a connection to it.
fn start_with(name: &str, extra: &[&str]) -> (Server, UnixStream) {
    let srv = common::serve(name, extra);
    let sock = srv.dir.join("s");
    let t = Instant::now();
    let stream = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "server socket never appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (srv, stream)
}

struct Reply {
    id: u16,
    flags: u32,
    errno: u32,
    payload: Vec<u8>,
}

fn header(id: u16, cmd: u16, payload_len: usize, flags: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&id.to_le_bytes());
    h.extend_from_slice(&cmd.to_le_bytes());
    h.extend_from_slice(&((16 + payload_len) as u32).to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

fn send(s: &mut UnixStream, id: u16, cmd: u16, payload: &[u8], flags: u32, fds: &[i32]) {
    let mut msg = header(id, cmd, payload.len(), flags);
    msg.extend_from_slice(payload);
    if fds.is_empty() {
        s.write_all(&msg).unwrap();
        return;
    }
    let mut cmsg = [0u64; 16];
    let mut iov = libc::iovec { iov_base: msg.as_mut_ptr().cast(), iov_len: msg.len() };
    // SAFETY: building a msghdr over locals that outlive the sendmsg call; the
    // control buffer is large enough for the fds (checked by CMSG_SPACE below).
    unsafe {
        let space = libc::CMSG_SPACE((fds.len() * 4) as u32) as usize;
        assert!(space <= std::mem::size_of_val(&cmsg));
        let mut m: libc::msghdr = std::mem::zeroed();
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        m.msg_control = cmsg.as_mut_ptr().cast();
        m.msg_controllen = space;
        let c = libc::CMSG_FIRSTHDR(&m);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN((fds.len() * 4) as u32) as usize;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c) as *mut i32, fds.len());
        let n = libc::sendmsg(s.as_raw_fd(), &m, 0);
        assert_eq!(n as usize, msg.len(), "sendmsg");
    }
}

fn recv(s: &mut UnixStream) -> Reply {
    let mut h = [0u8; 16];
    s.read_exact(&mut h).unwrap();
    let size = u32::from_le_bytes(h[4..8].try_into().unwrap()) as usize;
    let mut payload = vec![0u8; size - 16];
    s.read_exact(&mut payload).unwrap();
    Reply {
        id: u16::from_le_bytes([h[0], h[1]]),
        flags: u32::from_le_bytes(h[8..12].try_into().unwrap()),
        errno: u32::from_le_bytes(h[12..16].try_into().unwrap()),
        payload,
    }
}

fn call(s: &mut UnixStream, id: u16, cmd: u16, payload: &[u8]) -> Reply {
    send(s, id, cmd, payload, 0, &[]);
    let r = recv(s);
    assert_eq!(r.id, id, "reply matches the request id");
    assert_eq!(r.flags & 0xf, 1, "a reply");
    r
}

fn le32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn region_read(s: &mut UnixStream, region: u32, offset: u64, count: u32) -> Vec<u8> {
    let mut p = offset.to_le_bytes().to_vec();
    p.extend(le32(&[region, count]));
    let r = call(s, 900, REGION_READ, &p);
    assert_eq!(r.flags & ERROR, 0, "region read failed: errno {}", r.errno);
    r.payload[16..].to_vec()
}

fn region_write(s: &mut UnixStream, region: u32, offset: u64, data: &[u8], posted: bool) {
    let mut p = offset.to_le_bytes().to_vec();
    p.extend(le32(&[region, data.len() as u32]));
    p.extend_from_slice(data);
    if posted {
        send(s, 901, REGION_WRITE, &p, NO_REPLY, &[]);
    } else {
        let r = call(s, 901, REGION_WRITE, &p);
        assert_eq!(r.flags & ERROR, 0);
    }
}

#[test]
fn handshake_info_and_config_space() {
    let (_srv, mut s) = start("info");
    let mut v = vec![0u8, 0, 0, 0];
    v.extend_from_slice(br#"{"capabilities":{"max_msg_fds":16}}"#);
    v.push(0);
    let r = call(&mut s, 1, VERSION, &v);
    assert_eq!(&r.payload[..4], &[0, 0, 0, 0], "version 0.0");
    assert_eq!(*r.payload.last().unwrap(), 0, "NUL-terminated JSON");
    let json: serde_json::Value = serde_json::from_slice(&r.payload[4..r.payload.len() - 1]).unwrap();
    assert_eq!(json["capabilities"]["max_msg_fds"], 16);
    assert!(r.payload.len() + 16 <= v.len() + 16 + 200, "fits QEMU's receive buffer");

    let r = call(&mut s, 2, GET_INFO, &le32(&[16, 0, 0, 0]));
    assert_eq!(&r.payload, &le32(&[16, 0b11, 9, 5]), "PCI|RESET, 9 regions, 5 irq indexes");
    let r = call(&mut s, 3, REGION_INFO, &le32(&[32, 0, BAR0, 0, 0, 0, 0, 0]));
    assert_eq!(u64::from_le_bytes(r.payload[16..24].try_into().unwrap()), 0x4000, "BAR0 16 KiB");
    let r = call(&mut s, 4, REGION_INFO, &le32(&[32, 0, CONFIG, 0, 0, 0, 0, 0]));
    assert_eq!(u64::from_le_bytes(r.payload[16..24].try_into().unwrap()), 4096, "PCIe config space");
    let r = call(&mut s, 5, REGION_INFO, &le32(&[32, 0, 42, 0, 0, 0, 0, 0]));
    assert_eq!((r.flags & ERROR, r.errno), (ERROR, libc::EINVAL as u32), "bad index: errno, not 0");

    let cfg = region_read(&mut s, CONFIG, 0, 64);
    assert_eq!(&cfg[9..12], &[0x02, 0x08, 0x01], "class code: NVM Express");
    assert_eq!(cfg[0x34], 0x40, "capability list");
}

#[test]
fn unknown_and_short_messages_get_errors_and_the_stream_stays_in_sync() {
    let (_srv, mut s) = start("robust");
    let r = call(&mut s, 7, 99, &[0xaa; 100]);
    assert_eq!((r.flags & ERROR, r.errno), (ERROR, libc::ENOSYS as u32));
    // A DMA_MAP cut short: an error reply, not a crash or a hang.
    let r = call(&mut s, 8, DMA_MAP, &[0u8; 6]);
    assert_eq!((r.flags & ERROR, r.errno), (ERROR, libc::EINVAL as u32));
    let r = call(&mut s, 9, GET_INFO, &le32(&[16, 0, 0, 0]));
    assert_eq!(r.flags & ERROR, 0, "the next request is still understood");
}

/// Found by the fuzz targets (docs/fuzzing.md): MSI-X vectors past the last
/// one, and a DMA_MAP past the end of the file it shares, are refused with
/// EINVAL; the server neither allocates for the bogus count nor maps pages it
/// would fault on, and goes on answering.
#[test]
fn set_irqs_past_the_last_vector_and_dma_map_past_the_end_of_its_file_are_einval() {
    let (_srv, mut s) = start("hostile-ranges");
    // MSI-X (index 2), ACTION_TRIGGER | DATA_NONE, start 0, ~600 million vectors.
    let r = call(&mut s, 1, SET_IRQS, &le32(&[20, 0x20 | 0x1, 2, 0, 608_174_082]));
    assert_eq!((r.flags & ERROR, r.errno), (ERROR, libc::EINVAL as u32));
    let mem = guest_ram("hostile", 64 << 10);
    let r = dma_map(&mut s, 2, &mem, 128 << 10);
    assert_eq!((r.id, r.flags & ERROR, r.errno), (2, ERROR, libc::EINVAL as u32), "128 KiB of a 64 KiB file");
    let r = call(&mut s, 3, GET_INFO, &le32(&[16, 0, 0, 0]));
    assert_eq!(r.flags & ERROR, 0, "the next request is still understood");
}

/// A client that has shared 2 MiB of "guest memory" at IOVA 0x100000, routed
/// MSI-X vector 0 to a non-blocking pipe, set the PCI Command register, and
/// enabled the controller with its admin queues in that memory.
struct Attached {
    /// The server this client started (None: a client of a server someone else owns).
    _srv: Option<Server>,
    s: UnixStream,
    mem: File,
    irq_read: File,
}

const BASE: u64 = 0x100000;
const ASQ: u64 = BASE + 0x1000;
const ACQ: u64 = BASE + 0x2000;
const DATA: u64 = BASE + 0x3000;
/// PCI Command register: Memory Space Enable and Bus Master Enable.
const CMD_MEM_BM: u16 = 0x0006;
const CMD_MEM: u16 = 0x0002;

fn attach(name: &str) -> Attached {
    let (srv, s) = start(name);
    attach_on(Some(srv), s, name)
}

/// "Guest RAM" of `size` bytes: an unlinked temporary file, as QEMU's memfd.
fn guest_ram(name: &str, size: u64) -> File {
    let mem_path = std::env::temp_dir().join(format!("vnvme-vu-mem-{}-{name}", std::process::id()));
    let mem = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&mem_path).unwrap();
    std::fs::remove_file(&mem_path).unwrap();
    mem.set_len(size).unwrap();
    mem
}

/// DMA_MAP of `size` bytes of `mem` (offset 0, read-write) at IOVA [`BASE`]; the reply.
fn dma_map(s: &mut UnixStream, id: u16, mem: &File, size: u64) -> Reply {
    let mut p = le32(&[32, 3]);
    for v in [0u64, BASE, size] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    send(s, id, DMA_MAP, &p, 0, &[mem.as_raw_fd()]);
    recv(s)
}

/// Share guest memory, set up MSI-X and enable the controller over `s`.
fn attach_on(srv: Option<Server>, mut s: UnixStream, name: &str) -> Attached {
    let mem = guest_ram(name, 2 << 20);
    let r = dma_map(&mut s, 10, &mem, 2 << 20);
    assert_eq!(r.flags & ERROR, 0, "DMA_MAP with an fd");

    // MSI-X on, vector 0 -> the write end of a pipe (it only needs to be writable).
    let mut fds = [0i32; 2];
    // SAFETY: pipe2(2) fills the two-element array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) }, 0);
    // SAFETY: fds[0] is the read end we now own.
    let irq_read = unsafe { <File as std::os::unix::io::FromRawFd>::from_raw_fd(fds[0]) };
    region_write(&mut s, CONFIG, 0x52, &0x8000u16.to_le_bytes(), false);
    send(&mut s, 11, SET_IRQS, &le32(&[20, 0x24, 2, 0, 1]), 0, &[fds[1]]);
    assert_eq!(recv(&mut s).flags & ERROR, 0, "SET_IRQS MSI-X vector 0");
    // SAFETY: closing our copy of the write end; the server holds its own.
    unsafe { libc::close(fds[1]) };
    // The host enables memory decoding and bus mastering, as pci_set_master does.
    region_write(&mut s, CONFIG, 0x04, &CMD_MEM_BM.to_le_bytes(), false);
    let mut a = Attached { _srv: srv, s, mem, irq_read };
    a.enable();
    a
}

impl Attached {
    /// Admin queues of 8 entries at ASQ/ACQ; CC.EN = 1; wait for CSTS.RDY.
    fn enable(&mut self) {
        let s = &mut self.s;
        region_write(s, BAR0, 0x24, &(7u32 << 16 | 7).to_le_bytes(), true);
        region_write(s, BAR0, 0x28, &ASQ.to_le_bytes(), true);
        region_write(s, BAR0, 0x30, &ACQ.to_le_bytes(), true);
        region_write(s, BAR0, 0x14, &0x0046_0001u32.to_le_bytes(), true);
        assert_eq!(self.csts() & 1, 1, "CSTS.RDY after posted register writes");
    }
    fn disable(&mut self) {
        region_write(&mut self.s, BAR0, 0x14, &0x0046_0000u32.to_le_bytes(), true);
        assert_eq!(self.csts() & 1, 0, "CSTS.RDY clear after CC.EN = 0");
    }
    fn csts(&mut self) -> u32 {
        let b = region_read(&mut self.s, BAR0, 0x1c, 4);
        u32::from_le_bytes(b.try_into().unwrap())
    }
    fn command_register(&mut self, v: u16) {
        region_write(&mut self.s, CONFIG, 0x04, &v.to_le_bytes(), false);
    }
    /// Identify Controller into DATA from admin SQ slot `slot`, then ring the
    /// admin SQ tail doorbell (posted, as QEMU sends it).
    fn submit_identify(&mut self, slot: u64, cid: u16) {
        let mut sqe = [0u8; 64];
        sqe[0] = 0x06;
        sqe[2..4].copy_from_slice(&cid.to_le_bytes());
        sqe[24..32].copy_from_slice(&DATA.to_le_bytes());
        sqe[40] = 1; // CNS 01h
        self.mem.write_all_at(&sqe, ASQ - BASE + slot * 64).unwrap();
        region_write(&mut self.s, BAR0, 0x1000, &((slot + 1) as u32).to_le_bytes(), true);
    }
    fn cqe(&self, slot: u64) -> [u8; 16] {
        let mut cqe = [0u8; 16];
        self.mem.read_exact_at(&mut cqe, ACQ - BASE + slot * 16).unwrap();
        cqe
    }
    /// Wait for CQ slot `slot` to carry phase 1; returns the entry.
    fn wait_cqe(&self, slot: u64) -> [u8; 16] {
        let t = Instant::now();
        loop {
            let cqe = self.cqe(slot);
            if cqe[14] & 1 == 1 {
                return cqe;
            }
            assert!(t.elapsed() < Duration::from_secs(5), "no completion");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn vid_in_data(&self) -> u16 {
        let mut id = [0u8; 2];
        self.mem.read_exact_at(&mut id, DATA - BASE).unwrap();
        u16::from_le_bytes(id)
    }
    /// MSI-X vector 0 signals since the last call (the eventfd stand-in is a pipe).
    fn interrupts(&mut self) -> usize {
        let mut b = [0u8; 64];
        self.irq_read.read(&mut b).map(|n| n / 8).unwrap_or(0)
    }
    fn wait_interrupt(&mut self) {
        let t = Instant::now();
        while self.interrupts() == 0 {
            assert!(t.elapsed() < Duration::from_secs(5), "no MSI-X interrupt");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn dma_map_enable_identify_and_msix_interrupt() {
    let mut a = attach("dma");
    a.submit_identify(0, 0x1234);
    let cqe = a.wait_cqe(0);
    assert_eq!(u16::from_le_bytes([cqe[12], cqe[13]]), 0x1234, "command id");
    assert_eq!(u16::from_le_bytes([cqe[14], cqe[15]]) >> 1, 0, "status success");
    assert_eq!(a.vid_in_data(), 0x4e58, "VID in Identify Controller");
    a.wait_interrupt();
}

#[test]
fn cache_modes_without_a_write_cache_report_none_in_identify() {
    // VWC (Identify Controller byte 525): bit 0 present, bits 2:1 = 11b (Flush with
    // the broadcast NSID supported).
    for (mode, vwc) in [("writeback", 0x07), ("none", 0x07), ("writethrough", 0x06), ("directsync", 0x06)] {
        let name = format!("cache-{mode}");
        let (srv, s) = start_with(&name, &["--cache", mode]);
        let mut a = attach_on(Some(srv), s, &name);
        a.submit_identify(0, 7);
        let cqe = a.wait_cqe(0);
        assert_eq!(u16::from_le_bytes([cqe[14], cqe[15]]) >> 1, 0, "{mode}: status success");
        let mut b = [0u8; 1];
        a.mem.read_exact_at(&mut b, DATA - BASE + 525).unwrap();
        assert_eq!(b[0], vwc, "--cache {mode}: VWC");
    }
}

/// PCI forbids memory requests while the Command register's Bus Master Enable
/// is clear: a doorbell rung then leaves guest memory alone (no data, no
/// completion, no MSI-X), the controller reports a fatal status, and a reset
/// after bus mastering returns brings it back.
#[test]
fn no_dma_without_bus_master_enable_then_reset() {
    let mut a = attach("bme");
    a.command_register(CMD_MEM);
    a.submit_identify(0, 0x0bad);
    let t = Instant::now();
    while a.csts() & 2 == 0 {
        assert!(t.elapsed() < Duration::from_secs(5), "CSTS.CFS never set");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(a.cqe(0), [0u8; 16], "no completion written");
    assert_eq!(a.vid_in_data(), 0, "no data written");
    assert_eq!(a.interrupts(), 0, "no MSI-X");

    a.command_register(CMD_MEM_BM);
    a.disable();
    assert_eq!(a.csts() & 2, 0, "a reset clears CSTS.CFS");
    a.enable();
    a.submit_identify(0, 0x600d);
    let cqe = a.wait_cqe(0);
    assert_eq!(u16::from_le_bytes([cqe[12], cqe[13]]), 0x600d);
    assert_eq!(u16::from_le_bytes([cqe[14], cqe[15]]) >> 1, 0, "status success");
    assert_eq!(a.vid_in_data(), 0x4e58);
    a.wait_interrupt();
}

/// Bus mastering off and on again with no command in between: nothing to
/// refuse, so the controller carries on without a reset.
#[test]
fn bus_master_off_on_cycle_without_dma_keeps_the_controller_running() {
    let mut a = attach("bme-cycle");
    a.submit_identify(0, 1);
    a.wait_cqe(0);
    a.wait_interrupt();
    a.command_register(CMD_MEM);
    a.command_register(CMD_MEM_BM);
    a.submit_identify(1, 2);
    let cqe = a.wait_cqe(1);
    assert_eq!(u16::from_le_bytes([cqe[12], cqe[13]]), 2);
    assert_eq!(a.csts() & 3, 1, "ready, no fatal status");
    a.wait_interrupt();
}

/// Entries in /proc/PID/DIR (fd, task) or lines in /proc/PID/maps.
fn proc_count(pid: u32, what: &str) -> usize {
    let path = format!("/proc/{pid}/{what}");
    if what == "maps" {
        std::fs::read_to_string(path).unwrap().lines().count()
    } else {
        std::fs::read_dir(path).unwrap().count()
    }
}

fn version_reply(s: &mut UnixStream) -> Reply {
    let mut p = Vec::new();
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(b"{}\0");
    send(s, 1, VERSION, &p, 0, &[]);
    recv(s)
}

#[test]
fn a_second_client_is_refused_and_the_first_is_undisturbed() {
    let mut a = attach("second");
    let sock = a._srv.as_ref().unwrap().dir.join("s");
    let mut second = UnixStream::connect(&sock).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = version_reply(&mut second);
    assert_eq!((r.flags & ERROR, r.errno), (ERROR, libc::EBUSY as u32), "the second client's VERSION");
    let mut rest = Vec::new();
    assert_eq!(second.read_to_end(&mut rest).unwrap(), 0, "then the connection closes");
    // The first client goes on: an admin command completes with its interrupt.
    a.submit_identify(0, 7);
    assert_eq!(u16::from_le_bytes([a.wait_cqe(0)[12], a.wait_cqe(0)[13]]), 7);
    a.wait_interrupt();
    assert_eq!(a.vid_in_data(), 0x4e58, "Identify data from the first client's command");
    // Once it leaves, the next client is served.
    let srv = a._srv.take();
    drop(a);
    let mut third = connect_when_served(&sock);
    assert_eq!(version_reply(&mut third).flags & ERROR, 0, "VERSION after the first client left");
    drop(srv);
}

/// Connect until the server serves (not refuses) the connection, VERSION done:
/// the server frees its slot only after the previous client's teardown.
fn connect_when_served(sock: &std::path::Path) -> UnixStream {
    let t = Instant::now();
    loop {
        let mut s = UnixStream::connect(sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        if version_reply(&mut s).flags & ERROR == 0 {
            return s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the server never took a new client");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn twenty_clients_in_a_row_leak_no_fds_threads_or_mappings() {
    let (srv, first) = start("reconnect");
    let sock = srv.dir.join("s");
    let pid = srv.child.id();
    let mut counts = Vec::new();
    let mut s = first;
    for i in 0..20 {
        let mut a = attach_on(None, s, &format!("reconnect-{i}"));
        a.submit_identify(0, i as u16);
        assert_eq!(u16::from_le_bytes([a.wait_cqe(0)[12], a.wait_cqe(0)[13]]), i as u16, "client {i}");
        a.disable();
        drop(a);
        s = connect_when_served(&sock);
        counts.push((proc_count(pid, "fd"), proc_count(pid, "task"), proc_count(pid, "maps")));
    }
    // The counts after the second client are the steady state (the first may warm up lazily).
    assert!(counts[1..].iter().all(|c| *c == counts[1]), "fds, threads, mappings per client: {counts:?}");
    drop(s);
}

/// `vnvme bench io --client` drives a served namespace through the socket (as
/// QEMU would) and reads the server's worker CPU time; a format the namespace
/// does not have is refused with a clear message.
#[test]
fn bench_io_client_drives_a_served_namespace_through_the_socket() {
    let srv = common::serve("bench-client", &[]);
    let sock = srv.dir.join("s");
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "server socket never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let json = srv.dir.join("rows.json");
    let bench = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vnvme"))
            .args(["bench", "io", "--client", sock.to_str().unwrap(), "--formats", format, "--quick"])
            .args(["--seconds", "0.3", "--no-fio", "--json", json.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = bench("512");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4, "4 KiB read and write at QD 1 and 32");
    for r in rows {
        assert!(r["iops"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["worker_cpu_ns_per_io"].as_f64().unwrap() > 0.0, "the server's workers were measured: {r}");
        assert!(r["interrupts_per_io"].is_null() && r["allocations_per_io"].is_null(), "{r}");
    }
    let out = bench("512+8-t1");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("512+0") && err.contains("not format 512+8-t1"), "{err}");
}

/// `serve --doorbells mmap-poll`: the client maps BAR0's doorbell page (the fd
/// and sparse area of BAR0's region info) and rings with plain stores, sending
/// no doorbell message at all. The admin queue runs from the transport thread's
/// poll of the page, an I/O queue from its worker's: Identify, queue creation,
/// and a write read back.
#[test]
fn mmap_poll_doorbells_rung_with_stores_run_admin_and_io() {
    use vnvme::controller::doorbell_area::DoorbellArea;
    let srv = common::serve("mmap-poll", &["--doorbells", "mmap-poll"]);
    let sock = srv.dir.join("s");
    let t = Instant::now();
    while !sock.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "server socket never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = vnvme::transport::vfio_user::client::Client::connect(&sock).unwrap();
    assert!(c.map_doorbells().unwrap(), "BAR0's doorbells are offered mapped");
    let mem = guest_ram("mmap-poll", 2 << 20);
    c.dma_map(&mem, BASE, 2 << 20).unwrap();
    c.enable_bus_master().unwrap();
    for (off, v, n) in [(0x24u64, 7u64 << 16 | 7, 4), (0x28, ASQ, 8), (0x30, ACQ, 8), (0x14, 0x0046_0001, 4)] {
        c.region_write(BAR0, off, &v.to_le_bytes()[..n], false).unwrap();
    }
    let csts = c.region_read(BAR0, 0x1c, 4).unwrap();
    assert_eq!(csts[0] & 1, 1, "CSTS.RDY");
    let db = c.doorbells().unwrap();
    let sqe = |opcode: u8, cid: u16, prp1: u64, dw: &[(usize, u32)]| {
        let mut e = [0u8; 64];
        e[0] = opcode;
        e[2..4].copy_from_slice(&cid.to_le_bytes());
        e[24..32].copy_from_slice(&prp1.to_le_bytes());
        for &(i, v) in dw {
            e[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        e
    };
    // Write an entry at `slot` of the ring at `sq`, store the new tail in the
    // page, and wait for the completion at `slot` of `cq`: (cid, status).
    let run = |sq: u64, cq: u64, qid: u16, slot: u64, e: [u8; 64]| {
        mem.write_all_at(&e, sq - BASE + slot * 64).unwrap();
        db.store(qid as usize * 2, slot as u32 + 1);
        let t = Instant::now();
        let mut cqe = [0u8; 16];
        loop {
            mem.read_exact_at(&mut cqe, cq - BASE + slot * 16).unwrap();
            if cqe[14] & 1 == 1 {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(5), "no completion for queue {qid} slot {slot}");
            std::thread::sleep(Duration::from_micros(200));
        }
        db.store(qid as usize * 2 + 1, slot as u32 + 1);
        (u16::from_le_bytes([cqe[12], cqe[13]]), u16::from_le_bytes([cqe[14], cqe[15]]) >> 1)
    };
    assert_eq!(run(ASQ, ACQ, 0, 0, sqe(0x06, 0x71, DATA, &[(10, 1)])), (0x71, 0), "Identify Controller");
    let mut vid = [0u8; 2];
    mem.read_exact_at(&mut vid, DATA - BASE).unwrap();
    assert_eq!(u16::from_le_bytes(vid), 0x4e58);
    let (cq1, sq1, wbuf, rbuf) = (BASE + 0x4000, BASE + 0x5000, BASE + 0x6000, BASE + 0x7000);
    assert_eq!(run(ASQ, ACQ, 0, 1, sqe(0x05, 0x72, cq1, &[(10, 15 << 16 | 1), (11, 1)])), (0x72, 0), "Create I/O CQ");
    assert_eq!(run(ASQ, ACQ, 0, 2, sqe(0x01, 0x73, sq1, &[(10, 15 << 16 | 1), (11, 1 << 16 | 1)])), (0x73, 0));
    let data: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
    mem.write_all_at(&data, wbuf - BASE).unwrap();
    let mut write = sqe(0x01, 0x81, wbuf, &[(12, 0)]);
    write[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(run(sq1, cq1, 1, 0, write), (0x81, 0), "Write");
    let mut read = sqe(0x02, 0x82, rbuf, &[(12, 0)]);
    read[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(run(sq1, cq1, 1, 1, read), (0x82, 0), "Read");
    let mut back = vec![0u8; 512];
    mem.read_exact_at(&mut back, rbuf - BASE).unwrap();
    assert_eq!(back, data, "the block written by store-rung doorbells reads back");
}
