//! A minimal vfio-user client, as QEMU's `vfio-user-pci` speaks to vnvme: version
//! negotiation, DMA_MAP of shared "guest RAM" by file descriptor, config space and
//! BAR0 accesses, with doorbell writes posted (no reply), as QEMU posts them. Used
//! by `vnvme bench io --client` to measure the device through the real socket.

use super::protocol::{cmd, flags, region, Header, HEADER_SIZE};
use super::socket;
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Mutex;

pub struct Client {
    stream: Mutex<(UnixStream, u16)>,
    peer: u32,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("vfio-user client: {what}: {e}")
}

impl Client {
    /// Connect and negotiate the protocol version. A server still busy with a
    /// client that has just left is asked again for up to 5 s.
    pub fn connect(path: &Path) -> Result<Client, String> {
        let start = std::time::Instant::now();
        loop {
            let s = UnixStream::connect(path).map_err(|e| err(&path.display().to_string(), e))?;
            let peer = socket::peer_pid(&s).map_err(|e| err("SO_PEERCRED", e))?;
            let c = Client { stream: Mutex::new((s, 0)), peer };
            let mut v = vec![0u8, 0, 0, 0];
            v.extend_from_slice(br#"{"capabilities":{"max_msg_fds":16,"max_data_xfer_size":1048576}}"#);
            v.push(0);
            match c.call(cmd::VERSION, &v, &[]) {
                Ok(_) => return Ok(c),
                Err(e) if e.contains("busy") && start.elapsed() < std::time::Duration::from_secs(5) => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(format!("{e} (is another client attached?)")),
            }
        }
    }

    /// The server's process id.
    pub fn server_pid(&self) -> u32 {
        self.peer
    }

    /// One request and its reply's payload; an error reply is an error.
    fn call(&self, command: u16, payload: &[u8], fds: &[i32]) -> Result<Vec<u8>, String> {
        let mut g = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        let (s, id) = &mut *g;
        *id = id.wrapping_add(1);
        let h = Header { id: *id, command, size: (HEADER_SIZE + payload.len()) as u32, flags: 0, error: 0 };
        socket::send_with_fds(s, &h, payload, fds).map_err(|e| err("send", e))?;
        let m = socket::recv(s).map_err(|e| err("receive", e))?.ok_or_else(|| err("receive", "server closed"))?;
        if m.header.id != *id || m.header.command != command {
            return Err(err("reply", format!("id {} command {} for request {id}", m.header.id, m.header.command)));
        }
        if m.header.flags & flags::ERROR != 0 {
            return Err(err(&format!("command {command}"), io::Error::from_raw_os_error(m.header.error as i32)));
        }
        Ok(m.payload)
    }

    /// Share `size` bytes of `mem` from offset 0 at `iova`, read-write.
    pub fn dma_map(&self, mem: &File, iova: u64, size: u64) -> Result<(), String> {
        let mut p = Vec::new();
        p.extend_from_slice(&32u32.to_le_bytes());
        p.extend_from_slice(&3u32.to_le_bytes()); // read | write
        for v in [0u64, iova, size] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        self.call(cmd::DMA_MAP, &p, &[mem.as_raw_fd()]).map(|_| ())
    }

    fn access_payload(index: u32, offset: u64, count: usize) -> Vec<u8> {
        let mut p = offset.to_le_bytes().to_vec();
        p.extend_from_slice(&index.to_le_bytes());
        p.extend_from_slice(&(count as u32).to_le_bytes());
        p
    }

    pub fn region_read(&self, index: u32, offset: u64, count: usize) -> Result<Vec<u8>, String> {
        let r = self.call(cmd::REGION_READ, &Self::access_payload(index, offset, count), &[])?;
        r.get(16..16 + count).map(|b| b.to_vec()).ok_or_else(|| err("REGION_READ", "short reply"))
    }

    /// A region write; `posted` sends it without asking for a reply.
    pub fn region_write(&self, index: u32, offset: u64, data: &[u8], posted: bool) -> Result<(), String> {
        let mut p = Self::access_payload(index, offset, data.len());
        p.extend_from_slice(data);
        if !posted {
            return self.call(cmd::REGION_WRITE, &p, &[]).map(|_| ());
        }
        let mut g = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        let (s, id) = &mut *g;
        *id = id.wrapping_add(1);
        let h = Header {
            id: *id,
            command: cmd::REGION_WRITE,
            size: (HEADER_SIZE + p.len()) as u32,
            flags: flags::NO_REPLY,
            error: 0,
        };
        socket::send(s, &h, &p).map_err(|e| err("send", e))
    }

    /// PCI Command register: memory decoding and bus mastering on, as a driver's
    /// pci_set_master does.
    pub fn enable_bus_master(&self) -> Result<(), String> {
        self.region_write(region::CONFIG, 0x04, &0x0006u16.to_le_bytes(), false)
    }
}
