use super::*;
use crate::spec::zns::ZoneState::*;

use super::super::test_fixtures::geo;

fn states(t: &ZoneTable) -> Vec<ZoneState> {
    t.zones().iter().map(|z| z.state).collect()
}

fn write(t: &mut ZoneTable, slba: u64, nlb: u64) -> Result<WriteGrant, Status> {
    let g = t.begin_write(WriteKind::AtWritePointer, slba, nlb)?;
    t.end_write(g, true);
    Ok(g)
}

/// Put zone `i` in `s` through host commands (and a fault for read-only/offline).
fn put(t: &mut ZoneTable, i: u32, s: ZoneState) {
    let zslba = t.zslba(i);
    match s {
        Empty => {}
        ImplicitlyOpened => drop(write(t, zslba, 1).unwrap()),
        ExplicitlyOpened => drop(t.send(SendAction::Open, zslba, false, &[]).unwrap()),
        Closed => {
            write(t, zslba, 1).unwrap();
            t.send(SendAction::Close, zslba, false, &[]).unwrap();
        }
        Full => drop(t.send(SendAction::Finish, zslba, false, &[]).unwrap()),
        ReadOnly | Offline => t.fail_zone(i, s),
    }
    assert_eq!(t.zone(i).state, s);
}

#[test]
fn writes_open_the_zone_implicitly_move_the_write_pointer_and_fill_it() {
    let mut t = ZoneTable::new(geo());
    assert_eq!(write(&mut t, 0, 4).unwrap(), WriteGrant { zone: 0, lba: 0, nlb: 4 });
    assert_eq!((t.zone(0).state, t.zone(0).wp, t.open_count(), t.active_count()), (ImplicitlyOpened, 4, 1, 1));
    write(&mut t, 4, 8).unwrap();
    assert_eq!((t.zone(0).state, t.open_count(), t.active_count()), (Full, 0, 0), "written to its capacity");
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 12, 1), Err(zs::ZONE_IS_FULL));
}

#[test]
fn each_bad_write_gets_its_own_status_and_changes_nothing() {
    let mut t = ZoneTable::new(geo());
    write(&mut t, 16, 2).unwrap();
    let before = t.clone();
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 17, 1), Err(zs::ZONE_INVALID_WRITE), "behind the pointer");
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 19, 1), Err(zs::ZONE_INVALID_WRITE), "past the pointer");
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 18, 11), Err(zs::ZONE_BOUNDARY_ERROR), "past the capacity");
    assert_eq!(t.begin_write(WriteKind::Append, 17, 1), Err(Status::INVALID_FIELD), "append not at the zone start");
    assert_eq!(t.begin_write(WriteKind::Append, 16, 11), Err(zs::ZONE_BOUNDARY_ERROR));
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 64, 1), Err(Status::LBA_OUT_OF_RANGE));
    assert_eq!(t, before);
    t.fail_zone(2, ReadOnly);
    t.fail_zone(3, Offline);
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 32, 1), Err(zs::ZONE_IS_READ_ONLY));
    assert_eq!(t.begin_write(WriteKind::Append, 48, 1), Err(zs::ZONE_IS_OFFLINE));
}

#[test]
fn appends_go_at_the_write_pointer_and_a_failed_write_leaves_it() {
    let mut t = ZoneTable::new(geo());
    let a = t.begin_write(WriteKind::Append, 32, 3).unwrap();
    assert_eq!(a.lba, 32);
    t.end_write(a, true);
    let b = t.begin_write(WriteKind::Append, 32, 2).unwrap();
    assert_eq!(b.lba, 35, "the assigned LBA is the write pointer");
    t.end_write(b, false);
    assert_eq!(t.zone(2).wp, 35, "a failed append moves nothing");
    assert_eq!(t.begin_write(WriteKind::Append, 32, 2).unwrap().lba, 35);
}

#[test]
fn open_resources_are_freed_by_closing_an_implicitly_opened_zone_never_an_explicit_one() {
    let mut t = ZoneTable::new(geo());
    write(&mut t, 0, 1).unwrap();
    write(&mut t, 16, 1).unwrap();
    // Both open resources in use: the third write closes an implicitly opened zone.
    write(&mut t, 32, 1).unwrap();
    assert_eq!(states(&t), [Closed, ImplicitlyOpened, ImplicitlyOpened, Empty]);
    assert_eq!((t.open_count(), t.active_count()), (2, 3));
    // Three active: a fourth zone cannot become active.
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 48, 1), Err(zs::TOO_MANY_ACTIVE_ZONES));
    assert_eq!(t.send(SendAction::Open, 48, false, &[]), Err(zs::TOO_MANY_ACTIVE_ZONES));
    // Explicitly opened zones are the host's: with two of them, nothing can be closed for it.
    t.send(SendAction::Open, 16, false, &[]).unwrap();
    t.send(SendAction::Open, 32, false, &[]).unwrap();
    assert_eq!(t.begin_write(WriteKind::AtWritePointer, 1, 1), Err(zs::TOO_MANY_OPEN_ZONES));
    assert_eq!(t.send(SendAction::Open, 0, false, &[]), Err(zs::TOO_MANY_OPEN_ZONES));
    assert_eq!(states(&t), [Closed, ExplicitlyOpened, ExplicitlyOpened, Empty]);
    // Writing an explicitly opened zone needs nothing more.
    write(&mut t, 17, 1).unwrap();
}

#[test]
fn every_action_in_every_state() {
    use SendAction::{Close, Finish, Open, Reset, SetDescriptorExtension};
    let all = [Empty, ImplicitlyOpened, ExplicitlyOpened, Closed, ReadOnly, Full, Offline];
    let bad = Err(zs::INVALID_ZONE_STATE_TRANSITION);
    // (action, from, expected state or status)
    let expect = |a: SendAction, s: ZoneState| -> Result<ZoneState, Status> {
        match (a, s) {
            (Open, Empty | ImplicitlyOpened | ExplicitlyOpened | Closed) => Ok(ExplicitlyOpened),
            (Close, ImplicitlyOpened | ExplicitlyOpened | Closed) => Ok(Closed),
            (Finish, Empty | ImplicitlyOpened | ExplicitlyOpened | Closed | Full) => Ok(Full),
            (Reset, Empty | ImplicitlyOpened | ExplicitlyOpened | Closed | Full) => Ok(Empty),
            (SendAction::Offline, ReadOnly | Offline) => Ok(Offline),
            (SetDescriptorExtension, Empty) => Ok(Closed),
            _ => bad,
        }
    };
    for a in [Open, Close, Finish, Reset, SendAction::Offline, SetDescriptorExtension] {
        for s in all {
            let mut t = ZoneTable::new(geo());
            put(&mut t, 1, s);
            let before = t.clone();
            let got = t.send(a, 16, false, &[0xab; 64]).map(|_| t.zone(1).state);
            assert_eq!(got, expect(a, s), "{a:?} on {s:?}");
            if got.is_err() {
                assert_eq!(t, before, "{a:?} on {s:?} failed and changed nothing");
            }
            let z = t.zone(1).clone();
            assert_eq!(t.open_count(), t.zones().iter().filter(|z| z.state.is_open()).count() as u32);
            assert_eq!(t.active_count(), t.zones().iter().filter(|z| z.state.is_active()).count() as u32);
            match z.state {
                Empty => assert_eq!((z.wp, z.attrs, z.ext[0]), (16, 0, 0), "{a:?} on {s:?}: reset clears"),
                Full => assert_eq!(z.wp, 16 + 12),
                _ => {}
            }
        }
    }
}

#[test]
fn select_all_acts_on_the_states_the_action_applies_to_and_skips_the_rest() {
    let mut t = ZoneTable::new(ZoneGeometry { max_open: 0, max_active: 0, ..geo() });
    put(&mut t, 0, ImplicitlyOpened);
    put(&mut t, 1, Closed);
    put(&mut t, 2, Full);
    put(&mut t, 3, ReadOnly);
    t.send(SendAction::Close, 0, true, &[]).unwrap();
    assert_eq!(states(&t), [Closed, Closed, Full, ReadOnly]);
    t.send(SendAction::Open, 0, true, &[]).unwrap();
    assert_eq!(states(&t), [ExplicitlyOpened, ExplicitlyOpened, Full, ReadOnly], "closed zones open");
    let out = t.send(SendAction::Reset, 0, true, &[]).unwrap();
    assert_eq!(out.reset, [0, 1, 2]);
    assert_eq!(states(&t), [Empty, Empty, Empty, ReadOnly]);
    t.send(SendAction::Offline, 0, true, &[]).unwrap();
    assert_eq!(states(&t), [Empty, Empty, Empty, Offline]);
    assert_eq!(t.send(SendAction::SetDescriptorExtension, 0, true, &[]), Err(Status::INVALID_FIELD));
    // Select All Open opens every Closed zone or none.
    let mut t = ZoneTable::new(geo());
    put(&mut t, 0, Closed);
    put(&mut t, 1, Closed);
    put(&mut t, 2, ImplicitlyOpened);
    assert_eq!(t.send(SendAction::Open, 0, true, &[]), Err(zs::TOO_MANY_OPEN_ZONES));
    assert_eq!(states(&t), [Closed, Closed, ImplicitlyOpened, Empty]);
}

#[test]
fn a_single_zone_action_names_the_zone_by_its_start() {
    let mut t = ZoneTable::new(geo());
    assert_eq!(t.send(SendAction::Open, 17, false, &[]), Err(Status::INVALID_FIELD));
    assert_eq!(t.send(SendAction::Open, 64, false, &[]), Err(Status::LBA_OUT_OF_RANGE));
}

#[test]
fn reads_stop_at_zone_boundaries_unless_allowed_and_never_enter_an_offline_zone() {
    let mut t = ZoneTable::new(geo());
    assert_eq!(t.check_read(0, 16), Ok(()), "a whole zone, past its capacity");
    assert_eq!(t.check_read(15, 2), Err(zs::ZONE_BOUNDARY_ERROR));
    assert_eq!(t.check_read(60, 5), Err(Status::LBA_OUT_OF_RANGE));
    t.fail_zone(1, Offline);
    assert_eq!(t.check_read(16, 1), Err(zs::ZONE_IS_OFFLINE));
    let mut t = ZoneTable::new(ZoneGeometry { cross_read: true, ..geo() });
    assert_eq!(t.check_read(15, 2), Ok(()));
    t.fail_zone(1, Offline);
    assert_eq!(t.check_read(15, 2), Err(zs::ZONE_IS_OFFLINE));
}

#[test]
fn descriptor_extensions_make_the_zone_active_and_go_with_a_reset() {
    let mut t = ZoneTable::new(geo());
    t.send(SendAction::SetDescriptorExtension, 0, false, &[7; 64]).unwrap();
    let z = t.zone(0);
    assert_eq!((z.state, z.attrs & zone_attr::ZDEV, z.ext[63], t.active_count()), (Closed, zone_attr::ZDEV, 7, 1));
    t.send(SendAction::Reset, 0, false, &[]).unwrap();
    assert_eq!((t.zone(0).attrs, t.zone(0).ext[63]), (0, 0));
    let mut none = ZoneTable::new(ZoneGeometry { ext_size: 0, ..geo() });
    assert_eq!(none.send(SendAction::SetDescriptorExtension, 0, false, &[]), Err(Status::INVALID_FIELD));
}

#[test]
fn zones_the_controller_fails_are_listed_once_as_changed() {
    let mut t = ZoneTable::new(geo());
    put(&mut t, 2, ImplicitlyOpened);
    t.fail_zone(2, ReadOnly);
    t.fail_zone(2, ReadOnly);
    t.fail_zone(0, Offline);
    assert_eq!((t.open_count(), t.active_count()), (0, 0), "a failed zone holds no resources");
    assert_eq!(t.take_changed(), [0, 32]);
    assert!(t.take_changed().is_empty());
}

#[test]
fn saved_zones_are_checked_and_their_resources_recounted() {
    let mut t = ZoneTable::new(geo());
    put(&mut t, 0, ImplicitlyOpened);
    put(&mut t, 1, Closed);
    let saved = t.zones().to_vec();
    let back = ZoneTable::from_zones(geo(), saved.clone()).unwrap();
    assert_eq!((back.open_count(), back.active_count(), back.zones()), (1, 2, &saved[..]));
    let mut bad = saved.clone();
    bad[1].wp = 16 + 13;
    assert!(ZoneTable::from_zones(geo(), bad).unwrap_err().contains("zone 1"));
    assert!(ZoneTable::from_zones(geo(), saved[..3].to_vec()).is_err());
    let tight = ZoneGeometry { max_active: 1, ..geo() };
    assert!(ZoneTable::from_zones(tight, saved).unwrap_err().contains("over the limits"));
}

#[test]
fn finishing_an_empty_zone_needs_no_resource() {
    let mut t = ZoneTable::new(ZoneGeometry { max_open: 1, max_active: 1, ..geo() });
    put(&mut t, 0, ImplicitlyOpened);
    t.send(SendAction::Finish, 16, false, &[]).unwrap();
    assert_eq!(states(&t), [ImplicitlyOpened, Full, Empty, Empty]);
}

#[test]
fn the_oldest_implicitly_opened_zone_is_the_one_closed() {
    let mut t = ZoneTable::new(ZoneGeometry { max_active: 0, ..geo() });
    write(&mut t, 16, 1).unwrap();
    write(&mut t, 0, 1).unwrap();
    write(&mut t, 17, 1).unwrap(); // zone 1 stays the older one: writing does not reopen it
    write(&mut t, 32, 1).unwrap();
    assert_eq!(states(&t), [ImplicitlyOpened, Closed, ImplicitlyOpened, Empty]);
    write(&mut t, 18, 1).unwrap();
    assert_eq!(states(&t), [Closed, ImplicitlyOpened, ImplicitlyOpened, Empty]);
}

#[test]
fn a_shutdown_closes_open_zones_or_empties_unwritten_ones() {
    let mut t = ZoneTable::new(ZoneGeometry { max_open: 0, max_active: 0, ..geo() });
    put(&mut t, 0, ImplicitlyOpened);
    put(&mut t, 1, ExplicitlyOpened);
    put(&mut t, 2, Full);
    put(&mut t, 3, ReadOnly);
    t.reinitialize();
    assert_eq!(states(&t), [Closed, Empty, Full, ReadOnly]);
    assert_eq!((t.open_count(), t.active_count()), (0, 1));
}

#[test]
fn the_zones_holding_a_range_stop_at_the_last_zone() {
    let g = geo();
    assert_eq!(g.zones_holding(0, 0), 0..1);
    assert_eq!(g.zones_holding(15, 16), 0..2, "a range across a boundary");
    assert_eq!(g.zones_holding(40, 1000), 2..4, "cut at the last zone");
    assert!(g.zones_holding(64, 70).is_empty(), "past the namespace");
    assert_eq!((g.index_of(63), g.index_of(64)), (Some(3), None));
}
