//! The zones of one zoned namespace and their state machine (ZNS 2.1.1, the Zone
//! State Machine; 2.1.1.4 Zone Resources), as plain data: which command may write
//! where, what each Zone Management Send action does in each state, and the open
//! and active resource limits. No I/O and no locks: the namespace keeps the table
//! under a mutex and does the reads and writes.
//!
//! A write is two steps. [`ZoneTable::begin_write`] checks the command against
//! the zone (state, write pointer, capacity, resources), opens the zone
//! implicitly if it must, and says at which LBA the data goes (a Zone Append's
//! assigned LBA). The caller writes the blocks, then [`ZoneTable::end_write`]
//! moves the write pointer, and a zone that reaches its capacity becomes Full. A
//! failed write leaves the write pointer where it was. Between the two steps the
//! caller holds the zone's I/O lock (`ZonedNamespace`), so no other write,
//! append or state change reaches that zone.
//!
//! Not here: the data of a reset zone (the namespace deallocates it), the
//! persistence of the table (`persist.rs`), and the report's byte layout
//! (`report.rs`).

use crate::spec::status::Status;
use crate::spec::zns::{status as zs, zone_attr, ReportFilter, SendAction, ZoneState};
use std::collections::BTreeSet;

/// The shape of a zoned namespace, in logical blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneGeometry {
    /// Zone Size (ZSZE): LBAs from one zone's start to the next.
    pub zone_size: u64,
    /// Zone Capacity: writable LBAs of each zone, at most `zone_size`.
    pub zone_capacity: u64,
    pub zones: u32,
    /// Maximum Open Resources as a count (MOR + 1); 0 for no limit.
    pub max_open: u32,
    /// Maximum Active Resources as a count (MAR + 1); 0 for no limit.
    pub max_active: u32,
    /// Zone Descriptor Extension Size in bytes (a multiple of 64; 0 for none).
    pub ext_size: usize,
    /// Reads may cross zone boundaries (OZCS.RAZB, ZNS Figure 48).
    pub cross_read: bool,
}

impl ZoneGeometry {
    /// The index of the zone holding `lba`, if the namespace has it.
    pub fn index_of(&self, lba: u64) -> Option<u32> {
        let i = lba / self.zone_size;
        (i < self.zones as u64).then_some(i as u32)
    }

    /// The zones holding any block of [first, last], cut at the last zone (empty
    /// when `first` is past it).
    pub fn zones_holding(&self, first: u64, last: u64) -> std::ops::Range<u32> {
        let end = (last / self.zone_size + 1).min(self.zones as u64) as u32;
        (first / self.zone_size).min(end as u64) as u32..end
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub state: ZoneState,
    /// The next LBA to write (absolute). Meaningful in Empty, the open states and
    /// Closed; reports show it only there (`report.rs`).
    pub wp: u64,
    /// Zone Attributes (ZFC, FZR, RZR, ZDEV).
    pub attrs: u8,
    /// The Zone Descriptor Extension, `ext_size` bytes, valid when ZDEV is set.
    pub ext: Vec<u8>,
}

/// Where an admitted write goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteGrant {
    pub zone: u32,
    /// The first LBA written: the command's SLBA, or for Zone Append the write
    /// pointer (the LBA the completion reports).
    pub lba: u64,
    pub nlb: u64,
}

/// What a Zone Management Send changed: the zones it reset (their data is to be
/// deallocated) and every zone whose state changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    pub reset: Vec<u32>,
    pub changed: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneTable {
    geo: ZoneGeometry,
    zones: Vec<Zone>,
    open: u32,
    active: u32,
    /// When each zone last became open (a tick of `clock`): the oldest implicitly
    /// opened zone is the one closed to free an open resource.
    opened_at: Vec<u64>,
    clock: u64,
    /// Zones for the Changed Zone List log page (ZNS 4.1.4.1), by index.
    changed: BTreeSet<u32>,
}

/// The write kinds [`ZoneTable::begin_write`] admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// Write, Write Zeroes, Write Uncorrectable, Copy's destination: at the write pointer.
    AtWritePointer,
    /// Zone Append: SLBA names the zone; the data goes at its write pointer.
    Append,
}

impl ZoneTable {
    /// Every zone Empty.
    pub fn new(geo: ZoneGeometry) -> Self {
        let zones = (0..geo.zones as u64)
            .map(|i| Zone { state: ZoneState::Empty, wp: i * geo.zone_size, attrs: 0, ext: vec![0; geo.ext_size] })
            .collect();
        let opened_at = vec![0; geo.zones as usize];
        ZoneTable { geo, zones, open: 0, active: 0, opened_at, clock: 0, changed: BTreeSet::new() }
    }

    /// A table from saved zones (`persist.rs`), with the resource counts
    /// recomputed. Refuses zones that do not fit the geometry.
    pub fn from_zones(geo: ZoneGeometry, zones: Vec<Zone>) -> Result<Self, String> {
        if zones.len() != geo.zones as usize {
            return Err(format!("{} zones saved, the namespace has {}", zones.len(), geo.zones));
        }
        for (i, z) in zones.iter().enumerate() {
            let start = i as u64 * geo.zone_size;
            if z.wp < start || z.wp > start + geo.zone_capacity {
                return Err(format!("zone {i}: write pointer {:#x} outside the zone", z.wp));
            }
            if z.ext.len() != geo.ext_size {
                return Err(format!(
                    "zone {i}: descriptor extension of {} bytes, expected {}",
                    z.ext.len(),
                    geo.ext_size
                ));
            }
        }
        let open = zones.iter().filter(|z| z.state.is_open()).count() as u32;
        let active = zones.iter().filter(|z| z.state.is_active()).count() as u32;
        if geo.max_open != 0 && open > geo.max_open || geo.max_active != 0 && active > geo.max_active {
            return Err(format!(
                "{open} open and {active} active zones saved, over the limits ({} open, {} active)",
                geo.max_open, geo.max_active
            ));
        }
        let opened_at = vec![0; geo.zones as usize];
        Ok(ZoneTable { geo, zones, open, active, opened_at, clock: 0, changed: BTreeSet::new() })
    }

    pub fn geometry(&self) -> &ZoneGeometry {
        &self.geo
    }
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }
    pub fn zone(&self, i: u32) -> &Zone {
        &self.zones[i as usize]
    }
    pub fn open_count(&self) -> u32 {
        self.open
    }
    pub fn active_count(&self) -> u32 {
        self.active
    }
    /// The index of the zone holding `lba`, if the namespace has it.
    pub fn index_of(&self, lba: u64) -> Option<u32> {
        self.geo.index_of(lba)
    }
    /// Zone Start LBA of zone `i`.
    pub fn zslba(&self, i: u32) -> u64 {
        i as u64 * self.geo.zone_size
    }

    /// A read of `nlb` blocks at `slba` (ZNS 2.1.1.1, 3.3.5): refused in an
    /// Offline zone, and across a zone boundary unless cross-zone reads are on.
    pub fn check_read(&self, slba: u64, nlb: u64) -> Result<(), Status> {
        let (Some(first), Some(last)) = (self.index_of(slba), self.index_of(slba + nlb.max(1) - 1)) else {
            return Err(Status::LBA_OUT_OF_RANGE);
        };
        if first != last && !self.geo.cross_read {
            return Err(zs::ZONE_BOUNDARY_ERROR);
        }
        if (first..=last).any(|i| self.zones[i as usize].state == ZoneState::Offline) {
            return Err(zs::ZONE_IS_OFFLINE);
        }
        Ok(())
    }

    /// Whether any zone that `[slba, slba + nlb)` touches is Offline (Dataset
    /// Management on a zoned namespace, ZNS 3.3.3).
    pub fn any_offline(&self, slba: u64, nlb: u64) -> bool {
        self.geo.zones_holding(slba, slba + nlb.max(1) - 1).any(|i| self.zones[i as usize].state == ZoneState::Offline)
    }

    /// Admit a write of `nlb` blocks (ZNS 2.1.1.2 writing to zones, 3.4.1 Zone
    /// Append): the zone must be writable, a write must start at the write
    /// pointer and every write must end within the zone's capacity. An Empty or
    /// Closed zone is opened implicitly, taking the resources it needs.
    pub fn begin_write(&mut self, kind: WriteKind, slba: u64, nlb: u64) -> Result<WriteGrant, Status> {
        let i = self.index_of(slba).ok_or(Status::LBA_OUT_OF_RANGE)?;
        let zslba = self.zslba(i);
        if kind == WriteKind::Append && slba != zslba {
            // ZNS 3.4.1: SLBA of a Zone Append is the zone's lowest LBA.
            return Err(Status::INVALID_FIELD);
        }
        let z = &self.zones[i as usize];
        match z.state {
            ZoneState::Full => return Err(zs::ZONE_IS_FULL),
            ZoneState::ReadOnly => return Err(zs::ZONE_IS_READ_ONLY),
            ZoneState::Offline => return Err(zs::ZONE_IS_OFFLINE),
            _ => {}
        }
        let lba = match kind {
            WriteKind::Append => z.wp,
            WriteKind::AtWritePointer if slba != z.wp => return Err(zs::ZONE_INVALID_WRITE),
            WriteKind::AtWritePointer => slba,
        };
        if lba + nlb > zslba + self.geo.zone_capacity {
            return Err(zs::ZONE_BOUNDARY_ERROR);
        }
        if !z.state.is_open() {
            self.open_zone(i, ZoneState::ImplicitlyOpened)?;
        }
        Ok(WriteGrant { zone: i, lba, nlb })
    }

    /// The write admitted by `grant` is done: its blocks are written when `ok`.
    /// The write pointer moves past them, and a zone written to its capacity is
    /// Full and gives its resources back. A zone that changed state meanwhile
    /// (made read-only or offline by a fault) keeps the state it has.
    pub fn end_write(&mut self, grant: WriteGrant, ok: bool) {
        let cap_end = self.zslba(grant.zone) + self.geo.zone_capacity;
        let z = &mut self.zones[grant.zone as usize];
        if !ok || !z.state.is_open() || z.wp != grant.lba {
            return;
        }
        z.wp = grant.lba + grant.nlb;
        if z.wp == cap_end {
            self.set_state(grant.zone, ZoneState::Full);
        }
    }

    /// Zone Management Send (ZNS 3.4.3): `action` on the zone starting at `slba`,
    /// or with `select_all` on every zone the action applies to. `ext` is the
    /// descriptor extension for Set Zone Descriptor Extension.
    pub fn send(&mut self, action: SendAction, slba: u64, select_all: bool, ext: &[u8]) -> Result<SendOutcome, Status> {
        let mut out = SendOutcome::default();
        if select_all {
            if action == SendAction::SetDescriptorExtension {
                return Err(Status::INVALID_FIELD);
            }
            let pick: fn(ZoneState) -> bool = match action {
                SendAction::Open => |s| s == ZoneState::Closed,
                SendAction::Close => ZoneState::is_open,
                SendAction::Finish => ZoneState::is_active,
                SendAction::Reset => |s| s.is_active() || s == ZoneState::Full,
                SendAction::Offline => |s| s == ZoneState::ReadOnly,
                SendAction::SetDescriptorExtension => unreachable!(),
            };
            let picked: Vec<u32> = (0..self.geo.zones).filter(|&i| pick(self.zones[i as usize].state)).collect();
            if action == SendAction::Open && self.geo.max_open != 0 {
                // Every Closed zone opens, or none does (ZNS 3.4.3.1).
                if self.open + picked.len() as u32 > self.geo.max_open {
                    return Err(zs::TOO_MANY_OPEN_ZONES);
                }
            }
            for i in picked {
                self.apply(action, i, ext, &mut out)?;
            }
            return Ok(out);
        }
        let i = self.index_of(slba).ok_or(Status::LBA_OUT_OF_RANGE)?;
        if slba != self.zslba(i) {
            return Err(Status::INVALID_FIELD);
        }
        self.apply(action, i, ext, &mut out)?;
        Ok(out)
    }

    fn apply(&mut self, action: SendAction, i: u32, ext: &[u8], out: &mut SendOutcome) -> Result<(), Status> {
        use ZoneState::*;
        let state = self.zones[i as usize].state;
        let to = match (action, state) {
            (SendAction::Open, ExplicitlyOpened) => return Ok(()),
            (SendAction::Open, Empty | Closed | ImplicitlyOpened) => {
                self.open_zone(i, ExplicitlyOpened)?;
                out.changed.push(i);
                return Ok(());
            }
            (SendAction::Close, Closed) => return Ok(()),
            (SendAction::Close, ImplicitlyOpened | ExplicitlyOpened) => Closed,
            (SendAction::Finish, Full) => return Ok(()),
            // Empty to Full takes and gives back no resource (ZNS 2.1.1.4.1).
            (SendAction::Finish, Empty | ImplicitlyOpened | ExplicitlyOpened | Closed) => Full,
            (SendAction::Reset, Empty) => return Ok(()),
            (SendAction::Reset, ImplicitlyOpened | ExplicitlyOpened | Closed | Full) => {
                out.reset.push(i);
                Empty
            }
            (SendAction::Offline, Offline) => return Ok(()),
            (SendAction::Offline, ReadOnly) => Offline,
            (SendAction::SetDescriptorExtension, Empty) => {
                if self.geo.ext_size == 0 {
                    return Err(Status::INVALID_FIELD);
                }
                // The zone becomes active (Closed) with its extension valid.
                if self.geo.max_active != 0 && self.active >= self.geo.max_active {
                    return Err(zs::TOO_MANY_ACTIVE_ZONES);
                }
                let z = &mut self.zones[i as usize];
                let n = self.geo.ext_size.min(ext.len());
                z.ext.fill(0);
                z.ext[..n].copy_from_slice(&ext[..n]);
                z.attrs |= zone_attr::ZDEV;
                Closed
            }
            _ => return Err(zs::INVALID_ZONE_STATE_TRANSITION),
        };
        self.set_state(i, to);
        out.changed.push(i);
        Ok(())
    }

    /// Make zone `i` open (`to` is one of the open states), taking an open
    /// resource, and an active one if it was not active. With every open
    /// resource in use, an implicitly opened zone is closed to free one (ZNS
    /// 2.1.1.4.1); with none to close, Too Many Open Zones.
    fn open_zone(&mut self, i: u32, to: ZoneState) -> Result<(), Status> {
        let from = self.zones[i as usize].state;
        if !from.is_active() && self.geo.max_active != 0 && self.active >= self.geo.max_active {
            return Err(zs::TOO_MANY_ACTIVE_ZONES);
        }
        if !from.is_open() && self.geo.max_open != 0 && self.open >= self.geo.max_open {
            let victim = (0..self.geo.zones)
                .filter(|&j| j != i && self.zones[j as usize].state == ZoneState::ImplicitlyOpened)
                .min_by_key(|&j| self.opened_at[j as usize]);
            match victim {
                Some(j) => self.set_state(j, ZoneState::Closed),
                None => return Err(zs::TOO_MANY_OPEN_ZONES),
            }
        }
        if !from.is_open() {
            self.clock += 1;
            self.opened_at[i as usize] = self.clock;
        }
        self.set_state(i, to);
        Ok(())
    }

    /// A shutdown, or a power cycle (vnvme's restart): the zone state machine
    /// starts again (ZNS 2.1.1.3). An open zone comes back Closed, or Empty if
    /// nothing was written to it and it has no descriptor extension; the other
    /// states stay. A controller reset does not do this.
    pub fn reinitialize(&mut self) {
        for i in 0..self.geo.zones {
            let z = &self.zones[i as usize];
            if z.state.is_open() {
                let unused = z.wp == self.zslba(i) && z.attrs & zone_attr::ZDEV == 0;
                self.set_state(i, if unused { ZoneState::Empty } else { ZoneState::Closed });
            }
        }
    }

    /// The controller makes zone `i` Read Only or Offline (a zone active
    /// excursion or a media failure, ZNS 5.6; here a fault rule). The zone is
    /// put on the Changed Zone List.
    pub fn fail_zone(&mut self, i: u32, to: ZoneState) {
        debug_assert!(matches!(to, ZoneState::ReadOnly | ZoneState::Offline));
        if self.zones[i as usize].state != to {
            self.set_state(i, to);
            self.changed.insert(i);
        }
    }

    /// The Changed Zone List without clearing it (a log read with RAE set).
    pub fn changed(&self) -> Vec<u64> {
        self.changed.iter().map(|&i| self.zslba(i)).collect()
    }

    /// Take the Changed Zone List: the zones whose descriptors the controller
    /// changed since the last read (ZNS 4.1.4.1), as zone start LBAs.
    pub fn take_changed(&mut self) -> Vec<u64> {
        let v = self.changed.iter().map(|&i| self.zslba(i)).collect();
        self.changed.clear();
        v
    }

    /// Zone indexes from the one holding `slba` to the last, that `filter`
    /// selects: what Zone Management Receive reports.
    pub fn select(&self, slba: u64, filter: ReportFilter) -> impl Iterator<Item = u32> + '_ {
        let from = self.index_of(slba).unwrap_or(self.geo.zones);
        (from..self.geo.zones).filter(move |&i| filter.matches(self.zones[i as usize].state))
    }

    /// Every transition goes through here, so the resource counts follow the states.
    fn set_state(&mut self, i: u32, to: ZoneState) {
        let zslba = self.zslba(i);
        let z = &mut self.zones[i as usize];
        let from = z.state;
        // Added before subtracting: a zone leaving a state was counted in it.
        self.open = self.open + to.is_open() as u32 - from.is_open() as u32;
        self.active = self.active + to.is_active() as u32 - from.is_active() as u32;
        z.state = to;
        match to {
            ZoneState::Empty => {
                // Reset: the write pointer back at the start, the extension and
                // the recommendations gone (ZNS 5.3, 5.4).
                z.wp = zslba;
                z.attrs = 0;
                z.ext.fill(0);
            }
            ZoneState::Full => z.wp = zslba + self.geo.zone_capacity,
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
