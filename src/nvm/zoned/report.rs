//! Zone Management Receive data (ZNS 3.4.2.2 Report Zones, 3.4.2.3 Extended
//! Report Zones): a 64-byte header holding the Number of Zones, then one 64-byte
//! zone descriptor per zone (Figure 37), each followed, in an extended report, by
//! its descriptor extension. Only what fits in the host's buffer is built.

use super::table::ZoneTable;
use crate::spec::zns::report::{self as r, HEADER_SIZE};
use crate::spec::zns::{ReportFilter, ZoneState};

/// What the host asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    /// Zones from the one holding this LBA onwards.
    pub slba: u64,
    pub filter: ReportFilter,
    /// Number of Zones counts the descriptors returned, not all that match.
    pub partial: bool,
    /// Each descriptor followed by its extension (Extended Report Zones).
    pub extended: bool,
    /// The host's buffer in bytes ((NUMD + 1) * 4).
    pub len: usize,
}

/// The report, `req.len` bytes (zero past the last descriptor).
pub fn build(table: &ZoneTable, req: &ReportRequest) -> Vec<u8> {
    let ext = if req.extended { table.geometry().ext_size } else { 0 };
    let entry = r::DESCRIPTOR_SIZE + ext;
    let room = req.len.saturating_sub(HEADER_SIZE) / entry;
    let mut out = vec![0u8; req.len.max(HEADER_SIZE)];
    let mut matching = 0u64;
    let mut written = 0usize;
    for i in table.select(req.slba, req.filter) {
        matching += 1;
        if written < room {
            let at = HEADER_SIZE + written * entry;
            descriptor(table, i, &mut out[at..at + r::DESCRIPTOR_SIZE]);
            if ext > 0 {
                out[at + r::DESCRIPTOR_SIZE..at + entry].copy_from_slice(&table.zone(i).ext);
            }
            written += 1;
        } else if req.partial {
            break;
        }
    }
    let count = if req.partial { written as u64 } else { matching };
    out[0..8].copy_from_slice(&count.to_le_bytes());
    out.truncate(req.len);
    out
}

/// One zone descriptor (Figure 37).
fn descriptor(table: &ZoneTable, i: u32, d: &mut [u8]) {
    let z = table.zone(i);
    let geo = table.geometry();
    d[r::ZT] = r::ZT_SEQUENTIAL_WRITE_REQUIRED;
    d[r::ZS] = z.state.zs() << 4;
    d[r::ZA] = z.attrs;
    d[r::ZCAP..r::ZCAP + 8].copy_from_slice(&geo.zone_capacity.to_le_bytes());
    d[r::ZSLBA..r::ZSLBA + 8].copy_from_slice(&table.zslba(i).to_le_bytes());
    d[r::WP..r::WP + 8].copy_from_slice(&reported_wp(z.state, z.wp).to_le_bytes());
}

/// The Write Pointer field: the write pointer in the states that have one; in
/// Full, Read Only and Offline the field is not valid (ZNS Figure 37), and
/// all ones says so.
fn reported_wp(state: ZoneState, wp: u64) -> u64 {
    match state {
        ZoneState::Full | ZoneState::ReadOnly | ZoneState::Offline => u64::MAX,
        _ => wp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvm::zoned::table::{WriteKind, ZoneGeometry};
    use crate::spec::zns::SendAction;

    fn table() -> ZoneTable {
        let geo = ZoneGeometry {
            zone_size: 16,
            zone_capacity: 12,
            zones: 4,
            max_open: 0,
            max_active: 0,
            ext_size: 64,
            cross_read: false,
        };
        let mut t = ZoneTable::new(geo);
        let g = t.begin_write(WriteKind::AtWritePointer, 16, 5).unwrap();
        t.end_write(g, true);
        t.send(SendAction::Finish, 32, false, &[]).unwrap();
        t.send(SendAction::SetDescriptorExtension, 48, false, &[9; 64]).unwrap();
        t
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn descriptors_carry_type_state_capacity_start_and_write_pointer() {
        let t = table();
        let req =
            ReportRequest { slba: 0, filter: ReportFilter::All, partial: false, extended: false, len: 64 + 4 * 64 };
        let b = build(&t, &req);
        assert_eq!(b.len(), 320);
        assert_eq!(u64_at(&b, 0), 4);
        let d = |i: usize| &b[64 + i * 64..128 + i * 64];
        assert_eq!((d(0)[0], d(0)[1] >> 4, u64_at(d(0), 8), u64_at(d(0), 16), u64_at(d(0), 24)), (2, 0x1, 12, 0, 0));
        assert_eq!((d(1)[1] >> 4, u64_at(d(1), 16), u64_at(d(1), 24)), (0x2, 16, 21), "implicitly opened at 21");
        assert_eq!((d(2)[1] >> 4, u64_at(d(2), 24)), (0xe, u64::MAX), "full: no write pointer");
        assert_eq!((d(3)[1] >> 4, d(3)[2]), (0x4, 0x80), "closed, extension valid");
    }

    #[test]
    fn number_of_zones_counts_matches_or_with_partial_report_what_was_returned() {
        let t = table();
        let mut req =
            ReportRequest { slba: 16, filter: ReportFilter::All, partial: false, extended: false, len: 64 + 64 };
        let b = build(&t, &req);
        assert_eq!((u64_at(&b, 0), u64_at(&b, 64 + 16)), (3, 16), "three zones from zone 1, one returned");
        req.partial = true;
        assert_eq!(u64_at(&build(&t, &req), 0), 1);
        req.filter = ReportFilter::Only(ZoneState::Empty);
        req.slba = 0;
        req.partial = false;
        assert_eq!(u64_at(&build(&t, &req), 0), 1, "only zone 0 is empty");
        req.len = 16;
        assert_eq!(build(&t, &req).len(), 16, "a buffer smaller than the header gets its first bytes");
    }

    #[test]
    fn an_extended_report_follows_each_descriptor_with_its_extension() {
        let t = table();
        let req =
            ReportRequest { slba: 48, filter: ReportFilter::All, partial: true, extended: true, len: 64 + 2 * 128 };
        let b = build(&t, &req);
        assert_eq!(u64_at(&b, 0), 1);
        assert_eq!(&b[128..192], &[9u8; 64][..]);
        assert!(b[192..].iter().all(|&x| x == 0));
    }
}
