//! What the zoned unit tests share: the small geometry they play on and a
//! scratch directory for zone files.

use super::table::ZoneGeometry;
use std::path::PathBuf;

/// 4 zones of 16 blocks, 12 writable; at most 2 open and 3 active; 64-byte
/// descriptor extensions; no reads across zone boundaries.
pub fn geo() -> ZoneGeometry {
    ZoneGeometry {
        zone_size: 16,
        zone_capacity: 12,
        zones: 4,
        max_open: 2,
        max_active: 3,
        ext_size: 64,
        cross_read: false,
    }
}

/// A directory of one test's own, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("vnvme-zones-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
