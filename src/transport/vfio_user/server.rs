//! Accepting QEMU's connection and serving its messages, strictly in order, on
//! one thread. Replies are sent for every message without NO_REPLY; errors carry
//! a positive errno (QEMU treats errno 0 as success). A message is always read
//! whole before it is handled, so an unknown command cannot desynchronise the
//! stream.

use super::bar0_doorbells::{MappedDoorbells, SPARSE_OFFSET, SPARSE_SIZE};
use super::dma_map::DmaMap;
use super::irq::Interrupts;
use super::pci::{self, ConfigSpace};
use super::protocol::{
    cmd, flags, irq, region, Builder, Header, Payload, ShortPayload, DEVICE_FLAGS_PCI, DEVICE_FLAGS_RESET,
    DMA_UNMAP_FLAG_ALL, SERVER_CAPS,
};
use super::socket::{self, Message};
use crate::controller::Controller;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The listening socket. Created mode 0600; removed on drop.
pub struct Listener {
    pub listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    pub fn bind(path: &Path) -> io::Result<Self> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running server", path.display()),
                ));
            }
            // A stale socket from a server that is gone.
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Listener { listener, path: path.to_path_buf() })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Turn away a client that connects while another is attached: answer its first
/// message (QEMU's VERSION) with EBUSY and close. A client that sends nothing
/// within a second is closed without an answer.
pub fn refuse(mut stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(1)));
    if let Ok(Some(msg)) = socket::recv(&mut stream) {
        let _ = send_reply(&mut stream, &msg.header, Reply::Error(libc::EBUSY));
    }
}

/// Send the reply to the message whose header is `request`: an error carries its
/// errno in the header and no payload.
fn send_reply(stream: &mut UnixStream, request: &Header, reply: Reply) -> io::Result<()> {
    let (flags_v, err, payload, fd) = match reply {
        Reply::Payload(p) => (flags::TYPE_REPLY, 0, p, None),
        Reply::PayloadWithFd(p, fd) => (flags::TYPE_REPLY, 0, p, Some(fd)),
        Reply::Error(e) => (flags::TYPE_REPLY | flags::ERROR, e as u32, Vec::new(), None),
        Reply::None => (flags::TYPE_REPLY, 0, Vec::new(), None),
    };
    let h = Header {
        id: request.id,
        command: request.command,
        size: (16 + payload.len()) as u32,
        flags: flags_v,
        error: err,
    };
    match fd {
        Some(fd) => socket::send_with_fds(stream, &h, &payload, &[fd]),
        None => socket::send(stream, &h, &payload),
    }
}

/// Whether `len` bytes at `offset` lie inside BAR0; the offset is the client's,
/// so the end is computed without overflow (an offset near u64::MAX once wrapped
/// past the check).
fn in_bar0(offset: u64, len: u64) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= pci::BAR0_SIZE)
}

/// One client connection and the device state behind it.
pub struct Session {
    pub config: ConfigSpace,
    pub dma: Arc<DmaMap>,
    pub irqs: Arc<Interrupts>,
    pub ctrl: Controller,
    /// BAR0's doorbells as a shared file, in mmap-poll mode.
    bar0: Option<Arc<MappedDoorbells>>,
    warned_unshared: bool,
}

enum Reply {
    Payload(Vec<u8>),
    /// A payload and one file descriptor (a mappable region's).
    PayloadWithFd(Vec<u8>, std::os::unix::io::RawFd),
    Error(i32),
    None,
}

impl From<ShortPayload> for Reply {
    fn from(_: ShortPayload) -> Self {
        Reply::Error(libc::EINVAL)
    }
}

impl Session {
    pub fn new(dma: Arc<DmaMap>, irqs: Arc<Interrupts>, ctrl: Controller) -> Self {
        let s = Session {
            config: ConfigSpace::new(irqs.vectors_count()),
            dma,
            irqs,
            ctrl,
            bar0: None,
            warned_unshared: false,
        };
        // Bus mastering starts off, as the Command register does.
        s.dma.set_bus_master(s.config.bus_master_enabled());
        s.irqs.set_bus_master(s.config.bus_master_enabled());
        s
    }

    /// Bus Master Enable changed: stop or resume every memory access the device
    /// makes (DMA and MSI-X). A controller that needs memory meanwhile (a
    /// doorbell rung, a command in flight) finds it refused and reports a fatal
    /// status (CSTS.CFS), as a failed completion write does; the host resets it.
    fn set_bus_master(&mut self, on: bool) {
        self.dma.set_bus_master(on);
        self.irqs.set_bus_master(on);
        if on {
            let refused = self.dma.refused_without_bus_master();
            tracing::warn!(
                "bus mastering on (PCI Command bit 2); {refused} DMA accesses refused while it was off so far"
            );
        } else {
            tracing::info!("bus mastering off (PCI Command bit 2): no DMA and no MSI-X until it is set again");
        }
    }

    /// Offer BAR0's doorbells as a mappable area (mmap-poll): the client writes
    /// them in shared memory, the controller polls them. Before the client asks
    /// for region info.
    pub fn map_doorbells(&mut self) -> io::Result<()> {
        let area = Arc::new(MappedDoorbells::create()?);
        self.ctrl.map_doorbells(area.clone());
        self.bar0 = Some(area);
        Ok(())
    }

    /// Serve messages until the client disconnects. With mapped doorbells, the
    /// admin queue's doorbells are looked at between messages and whenever the
    /// socket is quiet for a while (1 us growing to 1 ms; no message tells of
    /// them).
    pub fn run(&mut self, stream: &mut UnixStream) -> io::Result<()> {
        use crate::controller::doorbell_area::{IdleBackoff, MAX_IDLE_SLEEP};
        let mut idle = IdleBackoff::new(std::time::Duration::ZERO, MAX_IDLE_SLEEP);
        loop {
            if self.bar0.is_some() {
                let wait = if self.ctrl.poll_mapped_doorbells() {
                    idle.busy();
                    std::time::Duration::ZERO
                } else {
                    idle.idle()
                };
                if !socket::wait_readable(stream, wait)? {
                    continue;
                }
                idle.busy();
            }
            let Some(msg) = socket::recv(stream)? else { return Ok(()) };
            if !msg.header.is_command() {
                tracing::warn!("ignoring a non-command message (id {})", msg.header.id);
                continue;
            }
            let no_reply = msg.header.no_reply();
            let reply = self.handle(&msg);
            if no_reply {
                continue;
            }
            send_reply(stream, &msg.header, reply)?;
        }
    }

    fn handle(&mut self, msg: &Message) -> Reply {
        let p = Payload::new(&msg.payload);
        let r = match msg.header.command {
            cmd::VERSION => Ok(self.version(&p)),
            cmd::DMA_MAP => self.dma_map(&p, msg.fds.first()),
            cmd::DMA_UNMAP => self.dma_unmap(&p),
            cmd::DEVICE_GET_INFO => Ok(Reply::Payload(
                Builder::default()
                    .u32(16)
                    .u32(DEVICE_FLAGS_PCI | DEVICE_FLAGS_RESET)
                    .u32(region::COUNT)
                    .u32(irq::COUNT)
                    .0,
            )),
            cmd::DEVICE_GET_REGION_INFO => self.region_info(&p),
            cmd::DEVICE_GET_IRQ_INFO => self.irq_info(&p),
            cmd::DEVICE_SET_IRQS => self.set_irqs(&p, &msg.fds),
            cmd::REGION_READ => self.region_read(&p),
            cmd::REGION_WRITE => self.region_write(&p),
            cmd::REGION_WRITE_MULTI => self.write_multi(&p),
            cmd::DEVICE_RESET => {
                self.ctrl.hard_reset();
                Ok(Reply::None)
            }
            c => {
                tracing::warn!("unsupported vfio-user command {c} ({})", cmd::name(c));
                Ok(Reply::Error(libc::ENOSYS))
            }
        };
        r.unwrap_or_else(|e| e)
    }

    fn version(&self, p: &Payload) -> Reply {
        let major = p.u16(0).unwrap_or(0);
        let minor = p.u16(2).unwrap_or(0);
        if major != 0 {
            tracing::info!("client speaks vfio-user {major}.{minor}; replying 0.0");
        }
        let mut b = Builder::default().u16(0).u16(0).bytes(SERVER_CAPS.as_bytes()).0;
        b.push(0);
        Reply::Payload(b)
    }

    fn dma_map(&mut self, p: &Payload, fd: Option<&File>) -> Result<Reply, Reply> {
        let fl = p.u32(4)?;
        let offset = p.u64(8)?;
        let iova = p.u64(16)?;
        let size = p.u64(24)?;
        let writable = fl & 2 != 0;
        match self.dma.map(iova, size, offset, writable, fd) {
            Ok(()) => {
                if fd.is_none() && !self.warned_unshared && size >= (1 << 20) {
                    self.warned_unshared = true;
                    tracing::info!(
                        "DMA_MAP of {iova:#x}+{size:#x} came without an fd: guest RAM must be memory-backend-memfd (or -file) with share=on"
                    );
                }
                Ok(Reply::None)
            }
            Err(e) => {
                tracing::warn!("DMA_MAP of {iova:#x}+{size:#x} (file offset {offset:#x}) refused: {e}");
                Err(Reply::Error(e.raw_os_error().unwrap_or(libc::EINVAL)))
            }
        }
    }

    fn dma_unmap(&mut self, p: &Payload) -> Result<Reply, Reply> {
        let fl = p.u32(4)?;
        let iova = p.u64(8)?;
        let size = p.u64(16)?;
        if fl & DMA_UNMAP_FLAG_ALL != 0 {
            self.dma.unmap_all();
        } else {
            self.dma.unmap(iova, size);
        }
        Ok(Reply::Payload(p.bytes(0, 24)?.to_vec()))
    }

    fn region_info(&self, p: &Payload) -> Result<Reply, Reply> {
        let argsz = p.u32(0)?;
        let index = p.u32(8)?;
        let rw = region::FLAG_READ | region::FLAG_WRITE;
        let (fl, size) = match index {
            region::BAR0 => (rw, pci::BAR0_SIZE),
            region::BAR4 => (rw, pci::BAR4_SIZE),
            region::CONFIG => (rw, pci::CONFIG_SIZE as u64),
            i if i < region::COUNT => (0, 0),
            _ => return Err(Reply::Error(libc::EINVAL)),
        };
        if let (region::BAR0, Some(area)) = (index, &self.bar0) {
            // vfio_region_info, then one sparse-mmap capability listing the
            // doorbell area; the region's fd offset is 0. A client that asked
            // for less learns the size it needs from argsz and asks again; the
            // fd goes with the whole answer only.
            let b = Builder::default()
                .u32(64)
                .u32(fl | region::FLAG_MMAP | region::FLAG_CAPS)
                .u32(index)
                .u32(32)
                .u64(size)
                .u64(0)
                .u16(region::CAP_SPARSE_MMAP)
                .u16(1)
                .u32(0)
                .u32(1)
                .u32(0)
                .u64(SPARSE_OFFSET)
                .u64(SPARSE_SIZE)
                .0;
            return Ok(if argsz as usize >= b.len() {
                Reply::PayloadWithFd(b, area.file().as_raw_fd())
            } else {
                Reply::Payload(b[..(argsz as usize).clamp(16, 32)].to_vec())
            });
        }
        let mut b = Builder::default().u32(32).u32(fl).u32(index).u32(0).u64(size).u64(0).0;
        b.truncate(argsz.max(16) as usize);
        Ok(Reply::Payload(b))
    }

    fn irq_info(&self, p: &Payload) -> Result<Reply, Reply> {
        let index = p.u32(8)?;
        let (fl, count) = match index {
            irq::INTX => (irq::INFO_EVENTFD | irq::INFO_MASKABLE | irq::INFO_AUTOMASKED, 1),
            irq::MSIX => (irq::INFO_EVENTFD, self.irqs.vectors_count() as u32),
            irq::MSI | irq::ERR | irq::REQ => (irq::INFO_EVENTFD, 0),
            _ => return Err(Reply::Error(libc::EINVAL)),
        };
        Ok(Reply::Payload(Builder::default().u32(16).u32(fl).u32(index).u32(count).0))
    }

    fn set_irqs(&mut self, p: &Payload, fds: &[File]) -> Result<Reply, Reply> {
        let fl = p.u32(4)?;
        let index = p.u32(8)?;
        let start = p.u32(12)?;
        let count = p.u32(16)?;
        let trigger = fl & irq::ACTION_TRIGGER != 0;
        let eventfd = fl & irq::DATA_EVENTFD != 0;
        let clone = |f: &File| f.try_clone().map_err(|e| Reply::Error(e.raw_os_error().unwrap_or(libc::EBADF)));
        match index {
            irq::MSIX if count != 0 && !self.irqs.msix_range_valid(start, count) => {
                return Err(Reply::Error(libc::EINVAL));
            }
            irq::MSIX if trigger => {
                if !eventfd || count == 0 {
                    if count == 0 {
                        self.irqs.clear_msix();
                    }
                } else if fds.is_empty() {
                    self.irqs.set_msix(start, (0..count).map(|_| None).collect());
                } else if fds.len() as u32 == count {
                    let v: Result<Vec<_>, _> = fds.iter().map(|f| clone(f).map(Some)).collect();
                    self.irqs.set_msix(start, v?);
                } else {
                    return Err(Reply::Error(libc::EINVAL));
                }
            }
            irq::INTX if trigger => {
                if eventfd && !fds.is_empty() {
                    self.irqs.set_intx(Some(clone(&fds[0])?));
                } else if count == 0 || !eventfd {
                    self.irqs.set_intx(None);
                }
            }
            // INTx mask/unmask, the resample fd, ERR and REQ: accepted; vfio's INTx
            // masking is done by QEMU, and there are no error or request events.
            i if i < irq::COUNT => {}
            _ => return Err(Reply::Error(libc::EINVAL)),
        }
        Ok(Reply::None)
    }

    fn region_read(&mut self, p: &Payload) -> Result<Reply, Reply> {
        let offset = p.u64(0)?;
        let index = p.u32(8)?;
        let count = p.u32(12)?;
        if count as usize > (1 << 20) {
            return Err(Reply::Error(libc::E2BIG));
        }
        let mut data = vec![0u8; count as usize];
        match index {
            region::CONFIG => self.config.read(offset as usize, &mut data),
            region::BAR0 if matches!(count, 1 | 2 | 4 | 8) && in_bar0(offset, count as u64) => {
                let v = self.ctrl.mmio_read(offset, count as usize);
                data.copy_from_slice(&v.to_le_bytes()[..count as usize]);
            }
            // BAR4: the MSI-X table lives in QEMU; the PBA reads as nothing pending,
            // because the device never holds back a vector QEMU has not masked.
            region::BAR0 | region::BAR4 => {}
            i if i < region::COUNT => return Err(Reply::Error(libc::EINVAL)),
            _ => return Err(Reply::Error(libc::EINVAL)),
        }
        Ok(Reply::Payload(Builder::default().u64(offset).u32(index).u32(count).bytes(&data).0))
    }

    fn region_write(&mut self, p: &Payload) -> Result<Reply, Reply> {
        let offset = p.u64(0)?;
        let index = p.u32(8)?;
        let count = p.u32(12)?;
        let data = p.bytes(16, count as usize)?;
        self.apply_write(index, offset, data)?;
        Ok(Reply::Payload(Builder::default().u64(offset).u32(index).u32(count).0))
    }

    fn write_multi(&mut self, p: &Payload) -> Result<Reply, Reply> {
        let n = p.u64(0)?;
        for i in 0..n.min(200) as usize {
            let at = 8 + i * 24;
            let offset = p.u64(at)?;
            let index = p.u32(at + 8)?;
            let count = p.u32(at + 12)?.min(8);
            let data = p.bytes(at + 16, count as usize)?;
            self.apply_write(index, offset, data)?;
        }
        Ok(Reply::None)
    }

    fn apply_write(&mut self, index: u32, offset: u64, data: &[u8]) -> Result<(), Reply> {
        match index {
            region::CONFIG => {
                let bus_master = self.config.bus_master_enabled();
                self.config.write(offset as usize, data);
                self.irqs.msix_enabled.store(self.config.msix_enabled(), std::sync::atomic::Ordering::Release);
                self.irqs.intx_disabled.store(self.config.intx_disabled(), std::sync::atomic::Ordering::Release);
                if self.config.bus_master_enabled() != bus_master {
                    self.set_bus_master(!bus_master);
                }
            }
            region::BAR0 if matches!(data.len(), 1 | 2 | 4 | 8) && in_bar0(offset, data.len() as u64) => {
                let mut v = [0u8; 8];
                v[..data.len()].copy_from_slice(data);
                self.ctrl.mmio_write(offset, data.len(), u64::from_le_bytes(v));
            }
            region::BAR0 | region::BAR4 => {}
            _ => return Err(Reply::Error(libc::EINVAL)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// Found by the vfio_user_messages fuzz target: REGION_WRITE to BAR0 at an
    /// offset near u64::MAX overflowed the bounds check.
    #[test]
    fn bar0_bounds_check_does_not_overflow() {
        use super::{in_bar0, pci::BAR0_SIZE};
        assert!(in_bar0(0, 8) && in_bar0(BAR0_SIZE - 4, 4));
        assert!(!in_bar0(BAR0_SIZE - 2, 4) && !in_bar0(u64::MAX - 2, 4) && !in_bar0(u64::MAX, 1));
    }
}

#[cfg(test)]
mod region_info_tests {
    use super::*;
    use crate::controller::ControllerConfig;

    fn session(mapped: bool) -> Session {
        let dma = Arc::new(DmaMap::default());
        let irqs = Arc::new(Interrupts::new(4));
        let ctrl = Controller::new(ControllerConfig::default(), dma.clone(), irqs.clone(), Vec::new());
        let mut s = Session::new(dma, irqs, ctrl);
        if mapped {
            s.map_doorbells().unwrap();
        }
        s
    }

    fn ask(s: &Session, argsz: u32, index: u32) -> Reply {
        let mut p = vec![0u8; 32];
        p[0..4].copy_from_slice(&argsz.to_le_bytes());
        p[8..12].copy_from_slice(&index.to_le_bytes());
        s.region_info(&Payload::new(&p)).unwrap_or_else(|e| e)
    }

    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    }

    /// mmap-poll: BAR0 is mappable with one sparse area, the doorbells; a client
    /// that asks with room for the plain info only (QEMU's first ask) learns the
    /// size it needs and gets no fd; asked again, the capability and the fd.
    #[test]
    fn bar0_offers_its_doorbell_area_as_one_sparse_mmap_area_with_the_fd() {
        let s = session(true);
        let Reply::Payload(short) = ask(&s, 32, region::BAR0) else { panic!("no fd in a truncated reply") };
        assert_eq!(short.len(), 32);
        assert_eq!(u32_at(&short, 0), 64, "argsz: the size needed");
        assert_eq!(u32_at(&short, 4), 0xf, "read, write, mmap, caps");
        let Reply::PayloadWithFd(full, fd) = ask(&s, 4096, region::BAR0) else { panic!("the fd") };
        assert_eq!(full.len(), 64);
        assert_eq!((u32_at(&full, 12), u64_at(&full, 16), u64_at(&full, 24)), (32, pci::BAR0_SIZE, 0));
        assert_eq!(&full[32..36], &[1, 0, 1, 0], "sparse-mmap capability, version 1");
        assert_eq!((u32_at(&full, 36), u32_at(&full, 40)), (0, 1), "last capability, one area");
        assert_eq!((u64_at(&full, 48), u64_at(&full, 56)), (0x1000, pci::BAR0_SIZE - 0x1000));
        assert_eq!(fd, s.bar0.as_ref().unwrap().file().as_raw_fd());
        let Reply::Payload(bar4) = ask(&s, 4096, region::BAR4) else { panic!("BAR4 is not mappable") };
        assert_eq!(u32_at(&bar4, 4), 0b11);
        // Without mmap-poll nothing is mappable.
        let Reply::Payload(plain) = ask(&session(false), 4096, region::BAR0) else { panic!("no fd") };
        assert_eq!((plain.len(), u32_at(&plain, 4)), (32, 0b11));
    }
}
