//! The intent log: a block's data and metadata change together across a crash
//! of the server.
//!
//! In the QEMU image layout a block's data and its metadata (the PI) are two
//! ranges of the file, written by two system calls. A server killed between them
//! (SIGKILL, an OOM kill, a crash) would leave a block whose PI does not match its
//! data, and the next read would report a PI error that the guest did not cause.
//! So before a command changes blocks of a namespace with metadata, it records
//! its intent in a slot of a sidecar file (`IMAGE.intents`), and clears the slot
//! once data and metadata are both in place:
//!
//! - **Blocks** (Write, Copy's destination): per block, a CRC-64 of the new data
//!   and the new metadata. The data is written before the metadata. On the next
//!   open, a block whose data matches its CRC gets the recorded metadata (the
//!   write finishes); any other block still has its old data, and so its old
//!   metadata (the write never happened). Either way data and PI belong
//!   together.
//! - **Zeroes** (Write Zeroes, deallocation): the range and how its metadata is
//!   made. These are idempotent, so the next open runs them again.
//!
//! A slot holds one record; a command larger than a slot is recorded and written
//! in pieces, which keeps every block whole (Identify's AWUN and AWUPF are 0:
//! one block). Writes go to the page cache like the image's, so a record is as
//! durable as the data it covers: it survives the server's death, and a host
//! crash loses both alike (durability is still only what Flush, FUA or
//! `--no-write-cache` give; docs/reliability.md).
//!
//! A record is `HEADER` bytes, then per block an 8-byte CRC, then every block's
//! metadata; the header carries a CRC-64 over the whole record, so a record cut
//! short by the crash is ignored (its command had not written any block yet).

use super::namespace::ActiveFormat;
use crate::pi::GuardFormat;
use crate::spec::PiTags;
use crate::storage::BlockStore;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Slots: at most this many commands record intents at once (one per I/O queue
/// worker is enough: a queue runs one command at a time).
pub const SLOTS: usize = 64;
/// Bytes per slot.
pub const SLOT_BYTES: u64 = 256 << 10;
const HEADER: usize = 104;
const MAGIC: [u8; 8] = *b"VNVMEINT";
const VERSION: u16 = 1;
const KIND_BLOCKS: u16 = 1;
const KIND_ZEROES: u16 = 2;

/// How a zeroed range's metadata is made (Write Zeroes, NVM-CS 3.3.7; deallocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroMeta {
    /// The never-written pattern (a deallocated block).
    Unwritten,
    /// All zeroes, PI included.
    Zeroes,
    /// PI generated for zeroed data with these tags (PRACT).
    Generated(PiTags),
}

/// A range zeroed (or with `deac`, deallocated) and how its metadata is made:
/// a Write Zeroes, a deallocate, or the record of either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zeroing {
    pub slba: u64,
    pub nlb: u64,
    pub deac: bool,
    pub meta: ZeroMeta,
}

/// A record found in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Blocks { shape: Shape, slba: u64, hashes: Vec<u64>, md: Vec<u8> },
    Zeroes { shape: Shape, zeroing: Zeroing },
}

/// The layout a record was written for; a record for another layout (the
/// namespace was formatted since) is not replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub lbs: u64,
    pub ms: u64,
    pub nlbas: u64,
}

impl Shape {
    pub fn of(f: &ActiveFormat) -> Self {
        Shape { lbs: f.lbs(), ms: f.ms(), nlbas: f.layout.nlbas }
    }
}

/// The CRC a Blocks record keeps of each block's data.
pub fn block_hash(data: &[u8]) -> u64 {
    GuardFormat::Crc64Nvme.compute(data, &[])
}

pub struct IntentLog {
    file: Option<Arc<dyn BlockStore>>,
    /// Bit i set: slot i is taken.
    busy: AtomicU64,
    seq: AtomicU64,
    /// The image's inode number (0 for a store that is not a file).
    image: u64,
    /// One encoding buffer per slot, so recording allocates nothing in steady state.
    bufs: Box<[Mutex<Vec<u8>>]>,
}

impl Default for IntentLog {
    /// No log: for stores that cannot outlive the process (in-memory test stores).
    fn default() -> Self {
        IntentLog { file: None, busy: AtomicU64::new(0), seq: AtomicU64::new(0), image: 0, bufs: Box::new([]) }
    }
}

/// A recorded intent; the slot is cleared and freed when this is dropped, which
/// the command does once its data and metadata are written (or failed).
pub struct Pending<'a> {
    log: &'a IntentLog,
    slot: Option<usize>,
}

/// The body of a Blocks record: header, one hash per block's data, the metadata.
fn blocks_body<'a>(f: &ActiveFormat, slba: u64, data: &'a [u8], md: &'a [u8]) -> impl FnOnce(&mut Vec<u8>) + 'a {
    let shape = Shape::of(f);
    move |b| {
        let nlb = data.len() as u64 / shape.lbs;
        header(b, KIND_BLOCKS, shape, slba, nlb);
        for block in data.chunks_exact(shape.lbs as usize) {
            b.extend_from_slice(&block_hash(block).to_le_bytes());
        }
        b.extend_from_slice(md);
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        if let Some(file) = &self.log.file {
            if let Err(e) = file.write_at(slot as u64 * SLOT_BYTES, &[0u8; 8]) {
                // The record stays; replaying a finished command is harmless (its
                // blocks' data matches and so does their metadata).
                tracing::warn!("intent log: clearing slot {slot}: {e}");
            }
        }
        self.log.busy.fetch_and(!(1u64 << slot), Ordering::Release);
    }
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

// Header fields (byte offsets).
const H_VERSION: usize = 8;
const H_KIND: usize = 10;
const H_SEQ: usize = 16;
const H_SLBA: usize = 24;
const H_NLB: usize = 32;
const H_LBS: usize = 40;
const H_MS: usize = 48;
const H_NLBAS: usize = 56;
const H_ZFLAGS: usize = 64; // Zeroes: bit 0 DEAC; bits 2:1 metadata (0 unwritten, 1 zeroes, 2 generated)
const H_TAGS: usize = 68; // Zeroes, generated: cdw2, cdw3, cdw14, lbat, lbatm (16 bytes)
const H_LEN: usize = 84; // body bytes
const H_CRC: usize = 88;
const H_IMAGE: usize = 96; // the image file's inode number: a record is replayed on its own image only

impl IntentLog {
    /// The log kept beside `image` (created, sparse, if missing).
    pub fn open(image: &Path) -> io::Result<Self> {
        let path = crate::storage::sidecar(image, "intents");
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        let want = SLOTS as u64 * SLOT_BYTES;
        if f.metadata()?.len() < want {
            f.set_len(want)?;
        }
        drop(f);
        use std::os::unix::fs::MetadataExt;
        let mut log = Self::on(Arc::new(crate::storage::FileStore::open(&path)?))?;
        log.image = std::fs::metadata(image)?.ino();
        Ok(log)
    }

    /// A log in `store` (at least `SLOTS * SLOT_BYTES` bytes).
    pub fn on(store: Arc<dyn BlockStore>) -> io::Result<Self> {
        if store.size() < SLOTS as u64 * SLOT_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "intent log smaller than its slots"));
        }
        Ok(IntentLog {
            file: Some(store),
            busy: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            image: 0,
            bufs: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.file.is_some()
    }

    /// Blocks one Blocks record can cover for `ms` bytes of metadata per block.
    pub fn blocks_per_record(ms: u64) -> u64 {
        (SLOT_BYTES - HEADER as u64) / (8 + ms)
    }

    fn take_slot(&self) -> usize {
        loop {
            let cur = self.busy.load(Ordering::Acquire);
            if cur == u64::MAX {
                std::thread::yield_now();
                continue;
            }
            let slot = (!cur).trailing_zeros() as usize;
            if self.busy.compare_exchange_weak(cur, cur | 1 << slot, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                return slot;
            }
        }
    }

    /// A free slot, without waiting: None when all are taken. For a worker that
    /// keeps several commands in flight, which must not wait for a slot that one of
    /// its own commands holds. Fill it with [`record_blocks`](Self::record_blocks).
    pub fn try_reserve(&self) -> Option<Pending<'_>> {
        if self.file.is_none() {
            return Some(Pending { log: self, slot: None });
        }
        loop {
            let cur = self.busy.load(Ordering::Acquire);
            if cur == u64::MAX {
                return None;
            }
            let slot = (!cur).trailing_zeros() as usize;
            if self.busy.compare_exchange_weak(cur, cur | 1 << slot, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                return Some(Pending { log: self, slot: Some(slot) });
            }
        }
    }

    /// [`begin_blocks`](Self::begin_blocks) into a slot taken with [`try_reserve`](Self::try_reserve).
    pub fn record_blocks(&self, p: &Pending, f: &ActiveFormat, slba: u64, data: &[u8], md: &[u8]) -> io::Result<()> {
        let (Some(file), Some(slot)) = (&self.file, p.slot) else { return Ok(()) };
        self.fill_slot(file, slot, blocks_body(f, slba, data, md))
    }

    fn write_record(&self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<Pending<'_>> {
        let Some(file) = &self.file else { return Ok(Pending { log: self, slot: None }) };
        let slot = self.take_slot();
        let pending = Pending { log: self, slot: Some(slot) };
        self.fill_slot(file, slot, fill)?;
        Ok(pending)
    }

    fn fill_slot(&self, file: &Arc<dyn BlockStore>, slot: usize, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let mut buf = self.bufs[slot].lock().unwrap_or_else(|e| e.into_inner());
        buf.clear();
        buf.resize(HEADER, 0);
        fill(&mut buf);
        let len = buf.len() - HEADER;
        assert!(buf.len() as u64 <= SLOT_BYTES, "intent record of {} bytes overflows its slot", buf.len());
        buf[..8].copy_from_slice(&MAGIC);
        put_u16(&mut buf, H_VERSION, VERSION);
        put_u64(&mut buf, H_SEQ, self.seq.fetch_add(1, Ordering::Relaxed));
        put_u32(&mut buf, H_LEN, len as u32);
        put_u64(&mut buf, H_IMAGE, self.image);
        let crc = record_crc(&buf);
        put_u64(&mut buf, H_CRC, crc);
        file.write_at(slot as u64 * SLOT_BYTES, &buf)
    }

    /// Record that blocks `slba..` get `data` and `md` (at most
    /// [`blocks_per_record`](Self::blocks_per_record) blocks).
    pub fn begin_blocks(&self, f: &ActiveFormat, slba: u64, data: &[u8], md: &[u8]) -> io::Result<Pending<'_>> {
        self.write_record(blocks_body(f, slba, data, md))
    }

    /// Record that a range is zeroed (or deallocated) as `z` says.
    pub fn begin_zeroes(&self, f: &ActiveFormat, z: Zeroing) -> io::Result<Pending<'_>> {
        let (shape, Zeroing { slba, nlb, deac, meta }) = (Shape::of(f), z);
        self.write_record(|b| {
            header(b, KIND_ZEROES, shape, slba, nlb);
            let m = match meta {
                ZeroMeta::Unwritten => 0,
                ZeroMeta::Zeroes => 1,
                ZeroMeta::Generated(t) => {
                    put_u32(b, H_TAGS, t.cdw2);
                    put_u32(b, H_TAGS + 4, t.cdw3);
                    put_u32(b, H_TAGS + 8, t.cdw14);
                    put_u16(b, H_TAGS + 12, t.lbat);
                    put_u16(b, H_TAGS + 14, t.lbatm);
                    2
                }
            };
            put_u32(b, H_ZFLAGS, deac as u32 | m << 1);
        })
    }

    /// The records of commands that had not finished (a crash), in the order they
    /// were begun.
    pub fn unfinished(&self) -> io::Result<Vec<Record>> {
        let Some(file) = &self.file else { return Ok(Vec::new()) };
        let mut found = Vec::new();
        let mut buf = vec![0u8; SLOT_BYTES as usize];
        for slot in 0..SLOTS as u64 {
            let off = slot * SLOT_BYTES;
            file.read_at(off, &mut buf[..HEADER])?;
            if buf[..8] != MAGIC || get_u16(&buf, H_VERSION) != VERSION {
                continue;
            }
            let len = get_u32(&buf, H_LEN) as usize;
            if HEADER + len > buf.len() {
                continue;
            }
            file.read_at(off + HEADER as u64, &mut buf[HEADER..HEADER + len])?;
            if record_crc(&buf[..HEADER + len]) != get_u64(&buf, H_CRC) {
                continue; // cut short by the crash: its command wrote nothing yet
            }
            if get_u64(&buf, H_IMAGE) != self.image {
                tracing::warn!("intent log: slot {slot} was written for another image file; not replayed");
                continue;
            }
            if let Some(r) = decode(&buf[..HEADER + len]) {
                found.push((get_u64(&buf, H_SEQ), r));
            }
        }
        found.sort_by_key(|(seq, _)| *seq);
        Ok(found.into_iter().map(|(_, r)| r).collect())
    }

    /// Clear every slot (after recovery).
    pub fn clear(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.deallocate(0, f.size()),
            None => Ok(()),
        }
    }
}

fn header(b: &mut [u8], kind: u16, shape: Shape, slba: u64, nlb: u64) {
    put_u16(b, H_KIND, kind);
    put_u64(b, H_SLBA, slba);
    put_u64(b, H_NLB, nlb);
    put_u64(b, H_LBS, shape.lbs);
    put_u64(b, H_MS, shape.ms);
    put_u64(b, H_NLBAS, shape.nlbas);
}

/// CRC-64 of a record with its CRC field taken as zero.
fn record_crc(rec: &[u8]) -> u64 {
    let mut d = GuardFormat::Crc64Nvme.digest();
    d.update(&rec[..H_CRC]);
    d.update(&[0u8; 8]);
    d.update(&rec[H_CRC + 8..]);
    d.finalize()
}

fn decode(rec: &[u8]) -> Option<Record> {
    let shape = Shape { lbs: get_u64(rec, H_LBS), ms: get_u64(rec, H_MS), nlbas: get_u64(rec, H_NLBAS) };
    let (slba, nlb) = (get_u64(rec, H_SLBA), get_u64(rec, H_NLB));
    let body = &rec[HEADER..];
    match get_u16(rec, H_KIND) {
        KIND_BLOCKS => {
            let n = nlb as usize;
            if body.len() as u64 != nlb.checked_mul(8 + shape.ms)? {
                return None;
            }
            let hashes = body[..8 * n].chunks_exact(8).map(|c| get_u64(c, 0)).collect();
            Some(Record::Blocks { shape, slba, hashes, md: body[8 * n..].to_vec() })
        }
        KIND_ZEROES => {
            let flags = get_u32(rec, H_ZFLAGS);
            let meta = match flags >> 1 & 3 {
                0 => ZeroMeta::Unwritten,
                1 => ZeroMeta::Zeroes,
                2 => ZeroMeta::Generated(PiTags {
                    cdw2: get_u32(rec, H_TAGS),
                    cdw3: get_u32(rec, H_TAGS + 4),
                    cdw14: get_u32(rec, H_TAGS + 8),
                    lbat: get_u16(rec, H_TAGS + 12),
                    lbatm: get_u16(rec, H_TAGS + 14),
                }),
                _ => return None,
            };
            Some(Record::Zeroes { shape, zeroing: Zeroing { slba, nlb, deac: flags & 1 != 0, meta } })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStore;

    fn format(lbs: u32, ms: u16) -> ActiveFormat {
        use crate::nvm::namespace::{standard_formats, Protection};
        let lbaf = *standard_formats(0, 0).iter().find(|f| f.lbs == lbs && f.ms == ms).unwrap();
        let layout = crate::storage::ImageLayout::new(1 << 20, lbs as u64, ms as u64);
        ActiveFormat { index: 0, lbaf, extended: false, protection: Protection::new(1, false).unwrap(), layout }
    }

    fn log() -> (Arc<MemStore>, IntentLog) {
        let store = Arc::new(MemStore::new(SLOTS as u64 * SLOT_BYTES));
        let log = IntentLog::on(store.clone()).unwrap();
        (store, log)
    }

    #[test]
    fn unfinished_records_come_back_and_finished_ones_do_not() {
        let (_, log) = log();
        let f = format(512, 8);
        let data: Vec<u8> = (0..1024).map(|i| i as u8).collect();
        let md = [7u8; 16];
        let a = log.begin_blocks(&f, 10, &data, &md).unwrap();
        let tags = PiTags { cdw2: 1, cdw3: 2, cdw14: 3, lbat: 4, lbatm: 5 };
        let b =
            log.begin_zeroes(&f, Zeroing { slba: 100, nlb: 9, deac: false, meta: ZeroMeta::Generated(tags) }).unwrap();
        let dealloc = Zeroing { slba: 200, nlb: 1, deac: true, meta: ZeroMeta::Unwritten };
        let c = log.begin_zeroes(&f, dealloc).unwrap();
        drop(b);
        std::mem::forget(a); // a crash: never cleared
        std::mem::forget(c);
        let shape = Shape::of(&f);
        let want = vec![
            Record::Blocks {
                shape,
                slba: 10,
                hashes: vec![block_hash(&data[..512]), block_hash(&data[512..])],
                md: md.to_vec(),
            },
            Record::Zeroes { shape, zeroing: dealloc },
        ];
        assert_eq!(log.unfinished().unwrap(), want);
        log.clear().unwrap();
        assert!(log.unfinished().unwrap().is_empty());
        let _ = tags;
    }

    #[test]
    fn a_record_cut_short_is_ignored() {
        let (store, log) = log();
        let f = format(4096, 64);
        let data = vec![3u8; 4096 * 4];
        std::mem::forget(log.begin_blocks(&f, 0, &data, &[9u8; 256]).unwrap());
        assert_eq!(log.unfinished().unwrap().len(), 1);
        // The crash came in the middle of the record's write: its tail never landed.
        store.write_at(HEADER as u64 + 8, &[0u8; 8]).unwrap();
        assert!(log.unfinished().unwrap().is_empty());
    }

    #[test]
    fn slots_are_taken_once_and_given_back() {
        let (_, log) = log();
        let f = format(512, 8);
        let held: Vec<_> = (0..SLOTS)
            .map(|i| {
                log.begin_zeroes(&f, Zeroing { slba: i as u64, nlb: 1, deac: false, meta: ZeroMeta::Zeroes }).unwrap()
            })
            .collect();
        assert_eq!(log.busy.load(Ordering::SeqCst), u64::MAX);
        drop(held);
        assert_eq!(log.busy.load(Ordering::SeqCst), 0);
        assert!(log.unfinished().unwrap().is_empty());
    }

    #[test]
    fn the_largest_record_fits_its_slot() {
        let (_, log) = log();
        for (lbs, ms) in [(512u32, 8u16), (512, 64), (4096, 16), (4096, 64)] {
            let f = format(lbs, ms);
            let n = IntentLog::blocks_per_record(ms as u64);
            let data = vec![1u8; (n * lbs as u64) as usize];
            let md = vec![2u8; (n * ms as u64) as usize];
            drop(log.begin_blocks(&f, 0, &data, &md).unwrap());
        }
    }
}
