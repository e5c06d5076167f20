//! Message framing on the vfio-user UNIX stream socket, with file descriptors
//! passed as SCM_RIGHTS ancillary data (they arrive with the header's bytes).

use super::protocol::{Header, HEADER_SIZE};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// The most descriptors one message may carry (QEMU never sends more than 16).
pub const MAX_FDS: usize = 16;
/// Messages larger than this are refused (the data transfer limit plus headers).
pub const MAX_MESSAGE: u32 = (1 << 20) + 64;

pub struct Message {
    pub header: Header,
    pub payload: Vec<u8>,
    pub fds: Vec<File>,
}

/// Read one whole message. `Ok(None)` at a clean end of stream.
pub fn recv(stream: &mut UnixStream) -> io::Result<Option<Message>> {
    let mut hdr = [0u8; HEADER_SIZE];
    let (n, mut fds) = recv_with_fds(stream.as_raw_fd(), &mut hdr)?;
    if n == 0 {
        return Ok(None);
    }
    let mut got = n;
    while got < HEADER_SIZE {
        let (m, more) = recv_with_fds(stream.as_raw_fd(), &mut hdr[got..])?;
        if m == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short vfio-user header"));
        }
        fds.extend(more);
        got += m;
    }
    let header = Header::parse(&hdr);
    if header.size < HEADER_SIZE as u32 || header.size > MAX_MESSAGE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad vfio-user message size {}", header.size)));
    }
    let mut payload = vec![0u8; header.size as usize - HEADER_SIZE];
    stream.read_exact(&mut payload)?;
    Ok(Some(Message { header, payload, fds }))
}

/// Send a whole message in one write (a short header read is fatal for QEMU).
pub fn send(stream: &mut UnixStream, header: &Header, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(HEADER_SIZE + payload.len());
    buf.extend_from_slice(&header.encode());
    buf.extend_from_slice(payload);
    stream.write_all(&buf)
}

fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<File>)> {
    // Room for MAX_FDS descriptors in one control message, 8-byte aligned.
    let mut cmsg_space = [0u64; 16];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    loop {
        // SAFETY: zeroed msghdr is a valid "empty" value; every pointer we set below
        // points into locals that outlive the recvmsg call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg_space.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cmsg_space);
        // SAFETY: recvmsg on a socket fd we own, with a msghdr whose buffers are valid
        // for the lengths given; MSG_CMSG_CLOEXEC keeps received fds from leaking.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut fds = Vec::new();
        // SAFETY: CMSG_FIRSTHDR/NXTHDR walk the control buffer the kernel filled,
        // bounded by msg_controllen; SCM_RIGHTS data is an array of c_int fds that
        // now belong to this process, so wrapping each in a File transfers ownership.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c) as *const libc::c_int;
                    let count =
                        ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<libc::c_int>();
                    for i in 0..count {
                        fds.push(File::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "vfio-user message carried too many fds"));
        }
        return Ok((n as usize, fds));
    }
}

/// Send a whole message with `fds` as SCM_RIGHTS (a client's DMA_MAP, SET_IRQS).
pub fn send_with_fds(stream: &UnixStream, header: &Header, payload: &[u8], fds: &[RawFd]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too many fds for one message"));
    }
    let mut buf = Vec::with_capacity(HEADER_SIZE + payload.len());
    buf.extend_from_slice(&header.encode());
    buf.extend_from_slice(payload);
    let mut cmsg_space = [0u64; 16];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: zeroed msghdr is a valid "empty" value; the pointers set below point
    // into locals (buf, iov, cmsg_space) that outlive the sendmsg call, and the
    // control buffer holds MAX_FDS descriptors (CMSG_SPACE(64) <= 128 bytes).
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            let bytes = std::mem::size_of_val(fds) as u32;
            msg.msg_control = cmsg_space.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(bytes) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(bytes) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c) as *mut RawFd, fds.len());
        }
        libc::sendmsg(stream.as_raw_fd(), &msg, 0)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != buf.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short vfio-user send"));
    }
    Ok(())
}

/// Wait up to `timeout` for the stream to have something to read (or to be
/// closed); true when it has. A zero timeout only looks.
pub fn wait_readable(stream: &UnixStream, timeout: std::time::Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ts = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
    // SAFETY: ppoll over one pollfd that lives on this stack frame, a timeout
    // that outlives the call, and no signal mask.
    let n = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
    }
    Ok(n > 0)
}

/// The process at the other end of a UNIX socket (SO_PEERCRED).
pub fn peer_pid(stream: &UnixStream) -> io::Result<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a local of that size.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.pid as u32)
}
