//! Zoned namespaces (NVMe Zoned Namespace Command Set 1.1, "ZNS"): the zone state
//! machine and its resources (`table`), the Report Zones data (`report`), and
//! the zone state kept beside the image (`persist`); `zones` puts them together
//! for the I/O path (locks and durability).

#![forbid(unsafe_code)]

pub mod persist;
pub mod report;
pub mod table;
pub mod zones;

pub use table::{SendOutcome, WriteGrant, WriteKind, Zone, ZoneGeometry, ZoneTable};
pub use zones::{ZoneWriteError, Zones};
