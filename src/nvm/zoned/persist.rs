//! Zone state beside the image (`IMAGE.zones`), so a restart finds the zones as
//! the guest left them: each zone's state, attributes, write pointer and
//! descriptor extension. QEMU's device keeps its zone state only in memory
//! unless given a zone state file; vnvme always keeps it (docs/zoned.md).
//!
//! Layout, little endian: a 64-byte header (magic `VNVMEZNS`, version 1, zone
//! size, zone capacity, zone count, extension size), then one record per zone at
//! a fixed offset: state (the ZS value), attributes, 6 reserved bytes, the write
//! pointer (8 bytes), then the extension. A zone's record is rewritten in place
//! (one pwrite, within one page for extensions up to 4032 bytes), so saving a
//! zone never rewrites the others, and a crash leaves every record old or new.
//!
//! When records are written is the namespace's business: after each Zone
//! Management Send, and for writes at the point their data is durable (each
//! write without a volatile write cache; at Flush with one).

use super::table::{Zone, ZoneGeometry};
use crate::spec::zns::ZoneState;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VNVMEZNS";
const VERSION: u32 = 1;
const HEADER: u64 = 64;
const RECORD_FIXED: usize = 16;

pub struct ZoneFile {
    file: File,
    path: PathBuf,
    geo: ZoneGeometry,
}

impl ZoneFile {
    pub fn path_for(image: &Path) -> PathBuf {
        crate::storage::sidecar(image, "zones")
    }

    fn record_size(geo: &ZoneGeometry) -> u64 {
        (RECORD_FIXED + geo.ext_size) as u64
    }

    fn header(geo: &ZoneGeometry) -> [u8; HEADER as usize] {
        let mut h = [0u8; HEADER as usize];
        h[0..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[16..24].copy_from_slice(&geo.zone_size.to_le_bytes());
        h[24..32].copy_from_slice(&geo.zone_capacity.to_le_bytes());
        h[32..36].copy_from_slice(&geo.zones.to_le_bytes());
        h[36..40].copy_from_slice(&(geo.ext_size as u32).to_le_bytes());
        h
    }

    /// Open the zone file of `image`, or create it with `fresh` zones. An
    /// existing file must describe the same geometry (zone size, capacity, count
    /// and extension size): zones cannot be reshaped under the guest's data.
    /// The limits and cross-read setting may change between runs.
    pub fn open(image: &Path, geo: ZoneGeometry, fresh: impl FnOnce() -> Vec<Zone>) -> io::Result<(Self, Vec<Zone>)> {
        let path = Self::path_for(image);
        let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {m}", path.display()));
        match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => {
                let mut h = [0u8; HEADER as usize];
                file.read_exact_at(&mut h, 0).map_err(|e| bad(format!("reading the header: {e}")))?;
                if &h[0..8] != MAGIC {
                    return Err(bad("not a vnvme zone file".into()));
                }
                let want = Self::header(&geo);
                if h[8..12] != want[8..12] {
                    return Err(bad(format!(
                        "version {}, expected {VERSION}",
                        u32::from_le_bytes(h[8..12].try_into().unwrap())
                    )));
                }
                if h != want {
                    let saved = |a: usize| u64::from_le_bytes(h[a..a + 8].try_into().unwrap());
                    return Err(bad(format!(
                        "saved for zones of {} blocks (capacity {}), {} zones, {}-byte extensions; \
                         the namespace now asks for {} ({}), {}, {}: remove the file to start with empty zones",
                        saved(16),
                        saved(24),
                        u32::from_le_bytes(h[32..36].try_into().unwrap()),
                        u32::from_le_bytes(h[36..40].try_into().unwrap()),
                        geo.zone_size,
                        geo.zone_capacity,
                        geo.zones,
                        geo.ext_size
                    )));
                }
                let rs = Self::record_size(&geo) as usize;
                let mut all = vec![0u8; rs * geo.zones as usize];
                file.read_exact_at(&mut all, HEADER).map_err(|e| bad(format!("reading the zones: {e}")))?;
                let zones = all
                    .chunks(rs)
                    .enumerate()
                    .map(|(i, r)| {
                        let state =
                            ZoneState::from_zs(r[0]).ok_or_else(|| bad(format!("zone {i}: state {:#x}", r[0])))?;
                        let wp = u64::from_le_bytes(r[8..16].try_into().unwrap());
                        Ok(Zone { state, attrs: r[1], wp, ext: r[RECORD_FIXED..].to_vec() })
                    })
                    .collect::<io::Result<Vec<_>>>()?;
                Ok((ZoneFile { file, path, geo }, zones))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let zones = fresh();
                // Written whole under a temporary name, then renamed: a crash
                // leaves either no zone file or a complete one.
                let tmp = crate::storage::sidecar(image, "zones.tmp");
                let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
                let mut bytes = Self::header(&geo).to_vec();
                for z in &zones {
                    bytes.extend_from_slice(&Self::record(z));
                }
                file.write_all_at(&bytes, 0)?;
                file.sync_data()?;
                std::fs::rename(&tmp, &path)?;
                Ok((ZoneFile { file, path, geo }, zones))
            }
            Err(e) => Err(e),
        }
    }

    fn record(z: &Zone) -> Vec<u8> {
        let mut r = vec![0u8; RECORD_FIXED + z.ext.len()];
        r[0] = z.state.zs();
        r[1] = z.attrs;
        r[8..16].copy_from_slice(&z.wp.to_le_bytes());
        r[RECORD_FIXED..].copy_from_slice(&z.ext);
        r
    }

    /// Rewrite zone `i`'s record (not yet durable: see [`sync`](Self::sync)).
    pub fn save(&self, i: u32, z: &Zone) -> io::Result<()> {
        let at = HEADER + i as u64 * Self::record_size(&self.geo);
        self.file.write_all_at(&Self::record(z), at)
    }

    /// Make every saved record durable.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvm::zoned::table::{WriteKind, ZoneTable};
    use crate::nvm::zoned::test_fixtures::{geo, Scratch};
    use crate::spec::zns::SendAction;

    #[test]
    fn zones_come_back_as_they_were_saved() {
        let dir = Scratch::new("saved");
        let image = dir.0.join("z.img");
        let (f, zones) = ZoneFile::open(&image, geo(), || ZoneTable::new(geo()).zones().to_vec()).unwrap();
        let mut t = ZoneTable::from_zones(geo(), zones).unwrap();
        let g = t.begin_write(WriteKind::AtWritePointer, 16, 3).unwrap();
        t.end_write(g, true);
        t.send(SendAction::SetDescriptorExtension, 32, false, &[5; 64]).unwrap();
        t.send(SendAction::Finish, 48, false, &[]).unwrap();
        for i in 0..4 {
            f.save(i, t.zone(i)).unwrap();
        }
        f.sync().unwrap();
        drop(f);
        let (_, back) = ZoneFile::open(&image, geo(), || panic!("the file exists")).unwrap();
        assert_eq!(back, t.zones());
        let again = ZoneTable::from_zones(geo(), back).unwrap();
        assert_eq!((again.open_count(), again.active_count()), (1, 2));
    }

    #[test]
    fn a_file_for_other_zones_is_refused_with_what_differs() {
        let dir = Scratch::new("other");
        let image = dir.0.join("z.img");
        ZoneFile::open(&image, geo(), || ZoneTable::new(geo()).zones().to_vec()).unwrap();
        let other = ZoneGeometry { zone_size: 32, zones: 2, ..geo() };
        let e = ZoneFile::open(&image, other, || ZoneTable::new(other).zones().to_vec()).err().unwrap();
        assert!(e.to_string().contains("zones of 16 blocks"), "{e}");
        // The limits may change.
        let looser = ZoneGeometry { max_open: 0, max_active: 0, cross_read: true, ..geo() };
        assert!(ZoneFile::open(&image, looser, Vec::new).is_ok());
        std::fs::write(ZoneFile::path_for(&image), b"garbage garbage garbage garbage garbage garbage garbage garbage!")
            .unwrap();
        assert!(ZoneFile::open(&image, geo(), Vec::new).err().unwrap().to_string().contains("not a vnvme zone file"));
    }
}
