use super::super::test_fixtures::Scratch;
use super::*;
use crate::spec::zns::{status as zs, ZoneState};

/// The shared geometry without descriptor extensions.
fn geo() -> ZoneGeometry {
    ZoneGeometry { ext_size: 0, ..super::super::test_fixtures::geo() }
}

fn ok(_: u64) -> Result<(), ()> {
    Ok(())
}

#[test]
fn a_write_runs_at_the_granted_lba_and_a_failed_one_moves_nothing() {
    let z = Zones::in_memory(geo(), 0);
    let mut at = None;
    assert_eq!(
        z.write(WriteKind::Append, 16, 4, false, |lba| {
            at = Some(lba);
            Ok::<(), ()>(())
        }),
        Ok(16)
    );
    assert_eq!(at, Some(16));
    assert_eq!(
        z.write(WriteKind::Append, 16, 4, false, |_| Err("disk on fire")),
        Err(ZoneWriteError::Write("disk on fire"))
    );
    assert_eq!(z.table().zone(1).wp, 20, "the failed append left the write pointer");
    assert_eq!(z.write(WriteKind::AtWritePointer, 16, 1, false, ok), Err(ZoneWriteError::Zone(zs::ZONE_INVALID_WRITE)));
}

#[test]
fn concurrent_appends_to_one_zone_get_disjoint_ranges_in_order() {
    let z = Zones::in_memory(ZoneGeometry { zone_size: 4096, zone_capacity: 4096, zones: 2, ..geo() }, 0);
    let got = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..100 {
                    let lba = z.write(WriteKind::Append, 0, 3, false, ok).unwrap();
                    got.lock().unwrap().push(lba);
                }
            });
        }
    });
    let mut v = got.into_inner().unwrap();
    v.sort();
    assert_eq!(v, (0..400).map(|i| i * 3).collect::<Vec<_>>());
    assert_eq!(z.table().zone(0).wp, 1200);
}

#[test]
fn reset_deallocates_before_the_zone_is_empty_and_select_all_skips_what_it_does_not_act_on() {
    let z = Zones::in_memory(ZoneGeometry { max_open: 0, max_active: 0, ..geo() }, 0);
    z.write(WriteKind::AtWritePointer, 0, 2, false, ok).unwrap();
    z.write(WriteKind::AtWritePointer, 32, 12, false, ok).unwrap();
    z.table().fail_zone(3, ZoneState::ReadOnly);
    let mut freed = Vec::new();
    let out = z.send(SendAction::Reset, 0, true, &[], |lba, n| {
        freed.push((lba, n));
        Ok(())
    });
    assert_eq!(out.unwrap().reset, [0, 2]);
    assert_eq!(freed, [(0, 16), (32, 16)]);
    let states: Vec<_> = z.table().zones().iter().map(|z| z.state).collect();
    assert_eq!(states, [ZoneState::Empty, ZoneState::Empty, ZoneState::Empty, ZoneState::ReadOnly]);
    // A failed deallocation leaves the zone as it was.
    z.write(WriteKind::AtWritePointer, 16, 1, false, ok).unwrap();
    assert_eq!(
        z.send(SendAction::Reset, 16, false, &[], |_, _| Err(io::Error::other("no"))),
        Err(Status::INTERNAL_ERROR)
    );
    assert_eq!(z.table().zone(1).state, ZoneState::ImplicitlyOpened);
    // Finish with Select All leaves Empty zones alone.
    z.send(SendAction::Finish, 0, true, &[], |_, _| Ok(())).unwrap();
    let states: Vec<_> = z.table().zones().iter().map(|z| z.state).collect();
    assert_eq!(states, [ZoneState::Empty, ZoneState::Full, ZoneState::Empty, ZoneState::ReadOnly]);
}

#[test]
fn durable_writes_and_management_reach_the_zone_file_and_others_wait_for_flush() {
    let dir = Scratch::new("io-durable");
    let image = dir.0.join("z.img");
    let z = Zones::open(&image, geo(), 0).unwrap();
    z.write(WriteKind::AtWritePointer, 0, 2, true, ok).unwrap();
    z.write(WriteKind::AtWritePointer, 16, 3, false, ok).unwrap();
    z.send(SendAction::Finish, 32, false, &[], |_, _| Ok(())).unwrap();
    let saved = |image: &Path| ZoneFile::open(image, geo(), Vec::new).unwrap().1;
    let s = saved(&image);
    assert_eq!((s[0].wp, s[1].wp, s[2].state), (2, 16, ZoneState::Full), "the cached write is not saved yet");
    z.flush().unwrap();
    assert_eq!(saved(&image)[1].wp, 19);
    drop(z);
    // A restart is a power cycle: the open zones come back Closed.
    let again = Zones::open(&image, geo(), 0).unwrap();
    let t = again.table();
    assert_eq!(
        (t.zone(0).state, t.zone(0).wp, t.zone(1).state, t.zone(1).wp),
        (ZoneState::Closed, 2, ZoneState::Closed, 19)
    );
    assert_eq!((t.open_count(), t.active_count()), (0, 2));
}
