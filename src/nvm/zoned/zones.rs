//! The zones of a namespace as the I/O path uses them: the [`ZoneTable`] under a
//! mutex, one I/O lock per zone, and the zone file beside the image.
//!
//! Concurrency: a write (or append, or a management action on one zone) holds
//! its zone's I/O lock from the moment it is admitted until the write pointer
//! has moved, so writes to one zone are applied one at a time in the order they
//! were admitted, and a Reset never overlaps a write to the same zone. Other
//! zones go on in parallel. The table mutex is held only for the checks and
//! transitions, never across I/O. Lock order: a zone's I/O lock, then the table.
//!
//! Durability: a zone's record is written to the zone file when its state
//! changes by Zone Management Send (and synced), and after a write when the
//! write is durable (FUA or no volatile write cache). Other writes leave the
//! zone dirty; [`Zones::flush`] (Flush, shutdown) writes and syncs the dirty
//! records. After a crash a zone's write pointer is therefore never ahead of
//! durable data.

use super::persist::ZoneFile;
use super::table::{SendOutcome, WriteGrant, WriteKind, Zone, ZoneGeometry, ZoneTable};
use crate::spec::status::Status;
use crate::spec::zns::SendAction;
use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub struct Zones {
    /// The table's geometry, which never changes: read without the table's lock
    /// (every command's range check asks for the namespace size).
    geo: ZoneGeometry,
    table: Mutex<ZoneTable>,
    io: Vec<Mutex<()>>,
    file: Option<ZoneFile>,
    dirty: Mutex<BTreeSet<u32>>,
    /// Zone Append Size Limit (ZNS Figure 50), as given (0: the maximum transfer).
    pub zasl: u8,
}

/// A write that failed: on admission (a zone status) or while writing.
#[derive(Debug, PartialEq, Eq)]
pub enum ZoneWriteError<E> {
    Zone(Status),
    Write(E),
}

impl Zones {
    /// Zones kept in memory only (tests, in-memory stores): every zone Empty.
    pub fn in_memory(geo: ZoneGeometry, zasl: u8) -> Self {
        Self::with_table(ZoneTable::new(geo), None, zasl)
    }

    /// The zones of `image`, from its zone file (created with every zone Empty
    /// when missing). Opening is a power cycle: open zones come back Closed, or
    /// Empty when nothing was written (ZNS 2.1.1.3), and that is saved.
    pub fn open(image: &Path, geo: ZoneGeometry, zasl: u8) -> io::Result<Self> {
        let (file, zones) = ZoneFile::open(image, geo, || ZoneTable::new(geo).zones().to_vec())?;
        let mut table = ZoneTable::from_zones(geo, zones)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", file.path().display())))?;
        let before: Vec<Zone> = table.zones().to_vec();
        table.reinitialize();
        for (i, z) in table.zones().iter().enumerate() {
            if *z != before[i] {
                file.save(i as u32, z)?;
            }
        }
        file.sync()?;
        Ok(Self::with_table(table, Some(file), zasl))
    }

    fn with_table(table: ZoneTable, file: Option<ZoneFile>, zasl: u8) -> Self {
        let io = (0..table.geometry().zones).map(|_| Mutex::new(())).collect();
        Zones { geo: *table.geometry(), table: Mutex::new(table), io, file, dirty: Mutex::new(BTreeSet::new()), zasl }
    }

    /// Blocks in whole zones: the namespace's size.
    pub fn blocks(&self) -> u64 {
        self.geo.zones as u64 * self.geo.zone_size
    }

    pub fn geometry(&self) -> ZoneGeometry {
        self.geo
    }

    /// The table, locked: for reports and the control plane.
    pub fn table(&self) -> MutexGuard<'_, ZoneTable> {
        self.table.lock().unwrap()
    }

    pub fn check_read(&self, slba: u64, nlb: u64) -> Result<(), Status> {
        self.table.lock().unwrap().check_read(slba, nlb)
    }

    /// Admit a write of `nlb` blocks at `slba` (for an append, into the zone
    /// starting at `slba`), run `write` with the LBA the data goes to, and move
    /// the write pointer if it succeeded. Returns that LBA.
    pub fn write<E>(
        &self,
        kind: WriteKind,
        slba: u64,
        nlb: u64,
        durable: bool,
        write: impl FnOnce(u64) -> Result<(), E>,
    ) -> Result<u64, ZoneWriteError<E>> {
        let zone = self.geo.index_of(slba).ok_or(ZoneWriteError::Zone(Status::LBA_OUT_OF_RANGE))?;
        let _io = self.io[zone as usize].lock().unwrap();
        let grant = self.table.lock().unwrap().begin_write(kind, slba, nlb).map_err(ZoneWriteError::Zone)?;
        let result = write(grant.lba);
        self.finish(grant, result.is_ok(), durable).map_err(|_| ZoneWriteError::Zone(Status::WRITE_FAULT))?;
        result.map(|()| grant.lba).map_err(ZoneWriteError::Write)
    }

    fn finish(&self, grant: WriteGrant, ok: bool, durable: bool) -> io::Result<()> {
        let mut t = self.table.lock().unwrap();
        t.end_write(grant, ok);
        let Some(file) = &self.file else { return Ok(()) };
        if durable {
            file.save(grant.zone, t.zone(grant.zone))?;
            drop(t);
            file.sync()
        } else {
            drop(t);
            self.dirty.lock().unwrap().insert(grant.zone);
            Ok(())
        }
    }

    /// Zone Management Send. `reset` runs for each zone being reset, under that
    /// zone's I/O lock and before the zone is Empty in the table, to deallocate
    /// its blocks (ZNS 2.1.1.5: every LBA of an Empty zone is deallocated).
    pub fn send(
        &self,
        action: SendAction,
        slba: u64,
        select_all: bool,
        ext: &[u8],
        mut reset: impl FnMut(u64, u64) -> io::Result<()>,
    ) -> Result<SendOutcome, Status> {
        let zones: Vec<u32> = if select_all {
            // Which zones Select All acts on, and the all-or-nothing check of Open,
            // on a copy; then zone by zone, each under its I/O lock.
            let mut probe = self.table.lock().unwrap().clone();
            probe.send(action, slba, true, ext)?.changed
        } else {
            let t = self.table.lock().unwrap();
            let i = t.index_of(slba).ok_or(Status::LBA_OUT_OF_RANGE)?;
            if slba != t.zslba(i) {
                return Err(Status::INVALID_FIELD);
            }
            vec![i]
        };
        let mut out = SendOutcome::default();
        for i in zones {
            let _io = self.io[i as usize].lock().unwrap();
            let mut t = self.table.lock().unwrap();
            let zslba = t.zslba(i);
            let state = t.zone(i).state;
            if action == SendAction::Reset && (state.is_active() || state == crate::spec::zns::ZoneState::Full) {
                // Deallocate first; only then is the zone Empty.
                let size = t.geometry().zone_size;
                drop(t);
                reset(zslba, size).map_err(|e| {
                    tracing::warn!("zone reset at LBA {zslba:#x}: deallocating failed: {e}");
                    Status::INTERNAL_ERROR
                })?;
                t = self.table.lock().unwrap();
            }
            let done = match t.send(action, zslba, false, ext) {
                Ok(d) => d,
                // A zone that a write changed since it was picked is left as it is.
                Err(_) if select_all => continue,
                Err(s) => return Err(s),
            };
            if !done.changed.is_empty() {
                self.save_now(&t, i).map_err(|_| Status::INTERNAL_ERROR)?;
            }
            out.reset.extend(done.reset);
            out.changed.extend(done.changed);
        }
        Ok(out)
    }

    fn save_now(&self, t: &ZoneTable, i: u32) -> io::Result<()> {
        match &self.file {
            Some(f) => {
                f.save(i, t.zone(i))?;
                self.dirty.lock().unwrap().remove(&i);
                f.sync()
            }
            None => Ok(()),
        }
    }

    /// The controller fails every zone holding an LBA of [first, last] (a fault
    /// rule): Read Only or Offline, saved at once. Returns how many zones changed.
    pub fn fail(&self, first: u64, last: u64, to: crate::spec::zns::ZoneState) -> io::Result<usize> {
        let mut t = self.table.lock().unwrap();
        let mut changed = 0;
        for i in self.geo.zones_holding(first, last) {
            if t.zone(i).state != to && t.zone(i).state != crate::spec::zns::ZoneState::Offline {
                t.fail_zone(i, to);
                self.save_now(&t, i)?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Write the records of zones written since the last flush and sync them
    /// (Flush with a volatile write cache, shutdown).
    pub fn flush(&self) -> io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let dirty = std::mem::take(&mut *self.dirty.lock().unwrap());
        if dirty.is_empty() {
            return Ok(());
        }
        let t = self.table.lock().unwrap();
        for i in dirty {
            file.save(i, t.zone(i))?;
        }
        drop(t);
        file.sync()
    }

    /// Shutdown (CC.SHN): the zone state machine starts again, and every record
    /// is made durable.
    pub fn shutdown(&self) -> io::Result<()> {
        let mut t = self.table.lock().unwrap();
        t.reinitialize();
        if let Some(file) = &self.file {
            for i in 0..t.geometry().zones {
                file.save(i, t.zone(i))?;
            }
            self.dirty.lock().unwrap().clear();
            file.sync()?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "zones_tests.rs"]
mod tests;
