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
    let srv = common::serve(name, &[]);
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

#[test]
fn dma_map_enable_identify_and_msix_interrupt() {
    let (_srv, mut s) = start("dma");
    // Guest RAM: a 2 MiB file mapped at IOVA 0x100000, passed as QEMU passes its memfd.
    let mem_path = std::env::temp_dir().join(format!("vnvme-vu-mem-{}", std::process::id()));
    let mem = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&mem_path).unwrap();
    std::fs::remove_file(&mem_path).unwrap();
    mem.set_len(2 << 20).unwrap();
    let base = 0x100000u64;
    let mut p = le32(&[32, 3]);
    for v in [0u64, base, 2 << 20] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    send(&mut s, 10, DMA_MAP, &p, 0, &[mem.as_raw_fd()]);
    let r = recv(&mut s);
    assert_eq!(r.flags & ERROR, 0, "DMA_MAP with an fd");

    // MSI-X on, vector 0 -> the write end of a pipe (it only needs to be writable).
    let mut fds = [0i32; 2];
    // SAFETY: pipe(2) fills the two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fds[0] is the read end we now own.
    let mut irq_read = unsafe { <File as std::os::unix::io::FromRawFd>::from_raw_fd(fds[0]) };
    region_write(&mut s, CONFIG, 0x52, &0x8000u16.to_le_bytes(), false);
    send(&mut s, 11, SET_IRQS, &le32(&[20, 0x24, 2, 0, 1]), 0, &[fds[1]]);
    assert_eq!(recv(&mut s).flags & ERROR, 0, "SET_IRQS MSI-X vector 0");
    // SAFETY: closing our copy of the write end; the server holds its own.
    unsafe { libc::close(fds[1]) };

    // Admin queues at base+0x1000 (SQ) and base+0x2000 (CQ), enable.
    let (asq, acq, data) = (base + 0x1000, base + 0x2000, base + 0x3000);
    region_write(&mut s, BAR0, 0x24, &(7u32 << 16 | 7).to_le_bytes(), true);
    region_write(&mut s, BAR0, 0x28, &asq.to_le_bytes(), true);
    region_write(&mut s, BAR0, 0x30, &acq.to_le_bytes(), true);
    region_write(&mut s, BAR0, 0x14, &0x0046_0001u32.to_le_bytes(), true);
    let csts = region_read(&mut s, BAR0, 0x1c, 4);
    assert_eq!(csts[0] & 1, 1, "CSTS.RDY after posted register writes");

    // Identify Controller, PRP1 = data page; ring the admin SQ doorbell (posted).
    let mut sqe = [0u8; 64];
    sqe[0] = 0x06;
    sqe[2..4].copy_from_slice(&0x1234u16.to_le_bytes());
    sqe[24..32].copy_from_slice(&data.to_le_bytes());
    sqe[40] = 1; // CNS 01h
    mem.write_all_at(&sqe, asq - base).unwrap();
    region_write(&mut s, BAR0, 0x1000, &1u32.to_le_bytes(), true);
    let mut cqe = [0u8; 16];
    let t = Instant::now();
    loop {
        mem.read_exact_at(&mut cqe, acq - base).unwrap();
        if cqe[14] & 1 == 1 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "no completion");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(u16::from_le_bytes([cqe[12], cqe[13]]), 0x1234, "command id");
    assert_eq!(u16::from_le_bytes([cqe[14], cqe[15]]) >> 1, 0, "status success");
    let mut id = [0u8; 64];
    mem.read_exact_at(&mut id, data - base).unwrap();
    assert_eq!(u16::from_le_bytes([id[0], id[1]]), 0x4e58, "VID in Identify Controller");
    let mut kick = [0u8; 8];
    irq_read.read_exact(&mut kick).unwrap();
    assert_eq!(u64::from_ne_bytes(kick), 1, "MSI-X vector 0 was signalled");
}
