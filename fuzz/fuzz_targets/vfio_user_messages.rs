//! The vfio-user server (`transport::vfio_user`) fed a message stream over a
//! socketpair, as QEMU's side would send it: each message's header (id,
//! command, flags, and a size that is right unless the input says otherwise),
//! its payload, and descriptors passed with SCM_RIGHTS: none, a 64 KiB memfd
//! (what DMA_MAP shares), eventfds (what SET_IRQS wires), or both. The real
//! `Session::run` loop serves the stream on a fresh controller; a thread drains
//! the replies.
//!
//! Oracles: no panic, no hang (libFuzzer's -timeout); the replies are exactly
//! one per command message without NO_REPLY that the stream framed whole before
//! the first bad size, in order, with the request's id; and every region a
//! DMA_MAP asked for can be read through the DMA map afterwards, or is refused,
//! never a crash (a mapping past the end of the passed file would be a SIGBUS).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fs::File;
use std::io::Read;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use vnvme::controller::test_support::fixtures::NsConfig;
use vnvme::controller::{Controller, ControllerConfig, NamespaceTable};
use vnvme::dma::{DmaMemory, GuestAddr};
use vnvme::storage::MemStore;
use vnvme::transport::vfio_user::dma_map::DmaMap;
use vnvme::transport::vfio_user::irq::Interrupts;
use vnvme::transport::vfio_user::protocol::{cmd, flags};
use vnvme::transport::vfio_user::socket::MAX_MESSAGE;
use vnvme::transport::vfio_user::Session;
use vnvme_fuzz::Input;

const MEMFD_SIZE: u64 = 64 << 10;
const MAX_MESSAGES: usize = 32;

fn memfd() -> File {
    // SAFETY: memfd_create with a static NUL-terminated name; the fd is checked and then owned by the File.
    let fd = unsafe { libc::memfd_create(c"vnvme-fuzz-ram".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create");
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let f = unsafe { File::from_raw_fd(fd) };
    f.set_len(MEMFD_SIZE).expect("sizing the memfd");
    f
}

fn eventfd() -> File {
    // SAFETY: eventfd with no pointers; the fd is checked and then owned by the File.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(fd >= 0, "eventfd");
    // SAFETY: fd is a fresh descriptor nobody else owns.
    unsafe { File::from_raw_fd(fd) }
}

/// Send `bytes` with `fds` as SCM_RIGHTS in one sendmsg.
fn send(s: &UnixStream, bytes: &[u8], fds: &[File]) {
    let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let mut cmsg = [0u64; 16];
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut _, iov_len: bytes.len() };
    // SAFETY: a msghdr over locals that outlive the call; the control buffer holds
    // CMSG_SPACE of at most 8 fds (checked), written through the CMSG macros.
    let n = unsafe {
        let mut m: libc::msghdr = std::mem::zeroed();
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        if !raw.is_empty() {
            let space = libc::CMSG_SPACE((raw.len() * 4) as u32) as usize;
            assert!(space <= std::mem::size_of_val(&cmsg));
            m.msg_control = cmsg.as_mut_ptr().cast();
            m.msg_controllen = space;
            let c = libc::CMSG_FIRSTHDR(&m);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN((raw.len() * 4) as u32) as usize;
            std::ptr::copy_nonoverlapping(raw.as_ptr(), libc::CMSG_DATA(c) as *mut i32, raw.len());
        }
        libc::sendmsg(s.as_raw_fd(), &m, 0)
    };
    assert_eq!(n, bytes.len() as isize, "sendmsg");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let (client, mut server) = UnixStream::pair().expect("socketpair");
    let mut stream = Vec::new();
    let mut maps = Vec::new();
    for _ in 0..MAX_MESSAGES {
        if input.is_empty() {
            break;
        }
        let ctl = input.u8();
        let id = input.u16();
        let command = match input.u8() {
            c if c & 0x80 == 0 => (c & 0xf) as u16,
            _ => input.u16(),
        };
        let fl = input.u8() as u32;
        let len = input.u16() as usize % 1024;
        let size = if ctl & 0x20 != 0 { input.u32() } else { 16 + len as u32 };
        let mut payload = input.take(len).to_vec();
        payload.resize(len, 0);
        if command == cmd::DMA_MAP && len >= 32 {
            let at = |o: usize| u64::from_le_bytes(payload[o..o + 8].try_into().unwrap());
            maps.push((at(16), at(24)));
        }
        let mut msg = Vec::with_capacity(16 + len);
        msg.extend_from_slice(&id.to_le_bytes());
        msg.extend_from_slice(&command.to_le_bytes());
        msg.extend_from_slice(&size.to_le_bytes());
        msg.extend_from_slice(&fl.to_le_bytes());
        msg.extend_from_slice(&0u32.to_le_bytes());
        msg.extend_from_slice(&payload);
        let fds: Vec<File> = match ctl & 3 {
            0 => Vec::new(),
            1 => vec![memfd()],
            2 => (0..(ctl >> 2 & 7) + 1).map(|_| eventfd()).collect(),
            _ => vec![memfd(), eventfd()],
        };
        send(&client, &msg, &fds);
        stream.extend_from_slice(&msg);
    }
    client.shutdown(std::net::Shutdown::Write).expect("shutdown");

    // What the server must answer: the ids of the command messages without
    // NO_REPLY framed whole before the first bad size or the end of the stream.
    let mut expected = Vec::new();
    let mut at = 0;
    while at + 16 <= stream.len() {
        let size = u32::from_le_bytes(stream[at + 4..at + 8].try_into().unwrap());
        if size < 16 || size > MAX_MESSAGE || at + size as usize > stream.len() {
            break;
        }
        let fl = u32::from_le_bytes(stream[at + 8..at + 12].try_into().unwrap());
        if fl & flags::TYPE_MASK == flags::TYPE_COMMAND && fl & flags::NO_REPLY == 0 {
            expected.push(u16::from_le_bytes([stream[at], stream[at + 1]]));
        }
        at += size as usize;
    }

    let drain = std::thread::spawn(move || {
        let mut client = client;
        let mut replies = Vec::new();
        let _ = client.read_to_end(&mut replies);
        replies
    });
    let ns = NsConfig::new(512).metadata(8).pi(1, 0).bytes(64 << 10).build(1, Arc::new(MemStore::new(64 << 10)));
    let config = ControllerConfig::default();
    let dma = Arc::new(DmaMap::default());
    let irqs = Arc::new(Interrupts::new(config.msix_vectors));
    let table = Arc::new(NamespaceTable::fixed(vec![ns]));
    let ctrl = Controller::with_table(config, dma.clone(), irqs.clone(), table);
    let mut session = Session::new(dma.clone(), irqs, ctrl);
    let _ = session.run(&mut server);
    session.dma.set_bus_master(true);
    for (iova, size) in maps {
        for a in [iova, iova.wrapping_add(size / 2), iova.wrapping_add(size).wrapping_sub(1)] {
            let _ = dma.read(GuestAddr(a), &mut [0u8; 1]);
        }
    }
    session.ctrl.close();
    drop(session);
    drop(server);
    let replies = drain.join().expect("the drain thread");

    let mut ids = Vec::new();
    let mut at = 0;
    while at + 16 <= replies.len() {
        let size = u32::from_le_bytes(replies[at + 4..at + 8].try_into().unwrap()) as usize;
        let fl = u32::from_le_bytes(replies[at + 8..at + 12].try_into().unwrap());
        assert_eq!(fl & flags::TYPE_MASK, flags::TYPE_REPLY, "a reply");
        assert!(size >= 16 && at + size <= replies.len(), "reply framed whole");
        ids.push(u16::from_le_bytes([replies[at], replies[at + 1]]));
        at += size;
    }
    assert_eq!(at, replies.len(), "no trailing bytes after the last reply");
    assert_eq!(ids, expected, "one reply per command message, in order");
});
