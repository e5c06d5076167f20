//! Blocks marked by Write Uncorrectable (NVM-CS 3.3.8): they read back as
//! Unrecovered Read Error until written again. The marks are kept in memory as
//! LBA ranges and, for file-backed namespaces, in a sidecar file next to the image
//! (`IMAGE.uncor`, one "START COUNT" line per range) so they survive a restart.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct UncorrectableMap {
    /// start LBA -> end LBA (exclusive); ranges never overlap or touch.
    ranges: Mutex<BTreeMap<u64, u64>>,
    /// Fast path for the common case of no marks at all.
    any: AtomicBool,
    sidecar: Option<PathBuf>,
}

impl UncorrectableMap {
    pub fn sidecar_for(image: &Path) -> PathBuf {
        crate::storage::sidecar(image, "uncor")
    }

    /// Load the marks kept beside `image` (none if the sidecar does not exist).
    pub fn load(image: &Path) -> io::Result<Self> {
        let path = Self::sidecar_for(image);
        let mut ranges = BTreeMap::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let mut it = line.split_whitespace().map(str::parse::<u64>);
                    match (it.next(), it.next()) {
                        (Some(Ok(start)), Some(Ok(count))) if count > 0 => {
                            ranges.insert(start, start.saturating_add(count));
                        }
                        _ => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("{}:{}: expected 'START COUNT'", path.display(), n + 1),
                            ))
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let any = AtomicBool::new(!ranges.is_empty());
        Ok(UncorrectableMap { ranges: Mutex::new(ranges), any, sidecar: Some(path) })
    }

    /// The first marked LBA in [slba, slba+nlb), if any.
    pub fn first_marked(&self, slba: u64, nlb: u64) -> Option<u64> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let end = slba + nlb;
        let r = self.ranges.lock().unwrap();
        // A range starting before slba that reaches into it, or one starting inside.
        if let Some((_, &e)) = r.range(..=slba).next_back() {
            if e > slba {
                return Some(slba);
            }
        }
        r.range(slba..end).next().map(|(&s, _)| s)
    }

    pub fn mark(&self, slba: u64, nlb: u64) -> io::Result<()> {
        let mut r = self.ranges.lock().unwrap();
        let (mut start, mut end) = (slba, slba + nlb);
        // Merge with every range that overlaps or touches [start, end).
        let touching: Vec<(u64, u64)> = r.range(..=end).filter(|&(_, &e)| e >= start).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in touching {
            r.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        r.insert(start, end);
        self.any.store(true, Ordering::Release);
        self.persist(&r)
    }

    /// Written again: the blocks are no longer uncorrectable.
    pub fn clear(&self, slba: u64, nlb: u64) -> io::Result<()> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut r = self.ranges.lock().unwrap();
        let end = slba + nlb;
        let hit: Vec<(u64, u64)> = r.range(..end).filter(|&(_, &e)| e > slba).map(|(&s, &e)| (s, e)).collect();
        if hit.is_empty() {
            return Ok(());
        }
        for (s, e) in hit {
            r.remove(&s);
            if s < slba {
                r.insert(s, slba);
            }
            if e > end {
                r.insert(end, e);
            }
        }
        self.any.store(!r.is_empty(), Ordering::Release);
        self.persist(&r)
    }

    pub fn clear_all(&self) -> io::Result<()> {
        let mut r = self.ranges.lock().unwrap();
        r.clear();
        self.any.store(false, Ordering::Release);
        self.persist(&r)
    }

    fn persist(&self, r: &BTreeMap<u64, u64>) -> io::Result<()> {
        let Some(path) = &self.sidecar else { return Ok(()) };
        if r.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let mut text = String::from("# vnvme Write Uncorrectable marks: START COUNT (logical blocks)\n");
        for (s, e) in r {
            text.push_str(&format!("{s} {}\n", e - s));
        }
        let tmp = path.with_extension("uncor.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_clear_and_lookup() {
        let m = UncorrectableMap::default();
        assert_eq!(m.first_marked(0, 100), None);
        m.mark(10, 5).unwrap();
        m.mark(15, 5).unwrap(); // touches: merged into 10..20
        assert_eq!(m.first_marked(0, 11), Some(10));
        assert_eq!(m.first_marked(12, 1), Some(12));
        assert_eq!(m.first_marked(20, 5), None);
        m.clear(12, 3).unwrap();
        assert_eq!(m.first_marked(12, 3), None);
        assert_eq!(m.first_marked(10, 2), Some(10));
        assert_eq!(m.first_marked(13, 10), Some(15));
        m.clear_all().unwrap();
        assert_eq!(m.first_marked(0, 1000), None);
    }

    #[test]
    fn marks_survive_a_reload() {
        let dir = std::env::temp_dir().join(format!("vnvme-uncor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("ns.img");
        let m = UncorrectableMap::load(&img).unwrap();
        m.mark(100, 8).unwrap();
        m.mark(7, 1).unwrap();
        drop(m);
        let m = UncorrectableMap::load(&img).unwrap();
        assert_eq!(m.first_marked(100, 1), Some(100));
        assert_eq!(m.first_marked(7, 1), Some(7));
        m.clear(0, 1000).unwrap();
        assert!(!UncorrectableMap::sidecar_for(&img).exists(), "no marks, no sidecar");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_sidecar_is_an_error() {
        let dir = std::env::temp_dir().join(format!("vnvme-uncor-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("ns.img");
        std::fs::write(UncorrectableMap::sidecar_for(&img), "12 x\n").unwrap();
        assert!(UncorrectableMap::load(&img).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
