//! A minimal vfio-user client, as QEMU's `vfio-user-pci` speaks to vnvme: version
//! negotiation, DMA_MAP of shared "guest RAM" by file descriptor, config space and
//! BAR0 accesses, with doorbell writes posted (no reply), as QEMU posts them. Used
//! by `vnvme bench io --client` to measure the device through the real socket.

use super::bar0_doorbells::{MappedDoorbells, SPARSE_OFFSET, SPARSE_SIZE};
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
    /// BAR0's doorbells, when the server offered them mapped (mmap-poll) and
    /// [`Client::map_doorbells`] mapped them: doorbell writes become stores.
    doorbells: Option<MappedDoorbells>,
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
            let c = Client { stream: Mutex::new((s, 0)), peer, doorbells: None };
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
        self.call_for_fds(command, payload, fds).map(|(p, _)| p)
    }

    /// [`Client::call`], keeping the descriptors the reply carried.
    fn call_for_fds(&self, command: u16, payload: &[u8], fds: &[i32]) -> Result<(Vec<u8>, Vec<File>), String> {
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
        Ok((m.payload, m.fds))
    }

    /// Map BAR0's doorbells if the server offers them as a sparse-mmap area
    /// covering the whole doorbell range (`serve --doorbells mmap-poll`), as
    /// SPDK's driver does. Returns whether they are mapped now.
    pub fn map_doorbells(&mut self) -> Result<bool, String> {
        let mut p = vec![0u8; 64];
        p[0..4].copy_from_slice(&64u32.to_le_bytes());
        p[8..12].copy_from_slice(&region::BAR0.to_le_bytes());
        let (info, mut fds) = self.call_for_fds(cmd::DEVICE_GET_REGION_INFO, &p, &[])?;
        let u32_at = |o: usize| info.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
        let u64_at = |o: usize| info.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()));
        let flags = u32_at(4).unwrap_or(0);
        if flags & region::FLAG_MMAP == 0 || flags & region::FLAG_CAPS == 0 || fds.is_empty() {
            return Ok(false);
        }
        let cap = u32_at(12).unwrap_or(0) as usize;
        let id = info.get(cap..cap + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        let (Some(region::CAP_SPARSE_MMAP), Some(1), Some(off), Some(size), Some(region_off)) =
            (id, u32_at(cap + 8), u64_at(cap + 16), u64_at(cap + 24), u64_at(24))
        else {
            return Ok(false);
        };
        if off != SPARSE_OFFSET || size < SPARSE_SIZE {
            return Ok(false);
        }
        let area = MappedDoorbells::from_client_fd(fds.remove(0), region_off + off)
            .map_err(|e| err("mapping BAR0's doorbells", e))?;
        self.doorbells = Some(area);
        Ok(true)
    }

    /// The mapped doorbells, if [`Client::map_doorbells`] mapped them.
    pub fn doorbells(&self) -> Option<&MappedDoorbells> {
        self.doorbells.as_ref()
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
