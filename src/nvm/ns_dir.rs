//! The `--ns-dir` directory: where Namespace Management creates and deletes
//! namespace images, and how they are found again after a restart.
//!
//! Namespace N lives in `DIR/nsN.img` in QEMU's nvme-ns layout (all data, then
//! all metadata; the same file `vnvme image create` makes, so it can move to
//! QEMU), with sidecars QEMU ignores:
//! - `nsN.img.ns`: the namespace record ([`NsRecord`]): NSID, format index,
//!   extended LBA, protection settings, NMIC, whether it is attached. Written
//!   last on create and removed first on delete, so an image without a record is
//!   an unfinished create and is not loaded (a later create of NSID N replaces it).
//! - `nsN.img.ids`: its identifiers ([`super::ns_ids`]).
//! - `nsN.img.uncor`: Write Uncorrectable marks ([`super::uncorrectable_marks`]).
//! - `nsN.img.intents`: the intent log, 64 slots of 256 KiB, sparse ([`super::intent_log`]).
//!
//! Managed namespaces offer QEMU's eight LBA formats (`standard_formats(0, 0)`:
//! 512 and 4096 bytes with 0, 8, 16 or 64 bytes of metadata, 16-bit guard PI).

use super::namespace::{standard_formats, LbaFormat, Namespace, Protection};
use super::ns_ids::NsIds;
use super::ns_table::{NsEntry, Origin};
use super::uncorrectable_marks::UncorrectableMap;
use crate::storage::{BlockStore, CacheMode, FileStore};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a managed namespace is, as kept in `IMAGE.ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsRecord {
    pub nsid: u32,
    /// Index into [`formats`].
    pub lbaf: u8,
    pub extended: bool,
    pub pi: u8,
    pub pi_first: bool,
    pub nmic: u8,
    pub attached: bool,
}

/// The LBA formats every managed namespace offers.
pub fn formats() -> Vec<LbaFormat> {
    standard_formats(0, 0)
}

impl NsRecord {
    /// The record of a namespace as it is now (after Format NVM, say).
    pub fn of(e: &NsEntry) -> Self {
        let f = e.ns.format();
        NsRecord {
            nsid: e.ns.nsid,
            lbaf: f.index,
            extended: f.extended,
            pi: f.protection.pit(),
            pi_first: f.protection.pi_first,
            nmic: e.ns.nmic,
            attached: e.attached,
        }
    }

    pub fn to_text(&self) -> String {
        format!(
            "# vnvme namespace made by Namespace Management (--ns-dir); rewritten by the server\n\
             nsid {}\nlbaf {}\nmset {}\npi {}\npil {}\nnmic {}\nattached {}\n",
            self.nsid, self.lbaf, self.extended as u8, self.pi, self.pi_first as u8, self.nmic, self.attached as u8
        )
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut v: [Option<u32>; 7] = [None; 7];
        const KEYS: [&str; 7] = ["nsid", "lbaf", "mset", "pi", "pil", "nmic", "attached"];
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, val) =
                line.split_once(char::is_whitespace).ok_or(format!("line {}: expected 'name value'", n + 1))?;
            let i = KEYS.iter().position(|x| *x == k).ok_or(format!("line {}: unknown name '{k}'", n + 1))?;
            v[i] =
                Some(val.trim().parse().map_err(|_| format!("line {}: {k}: '{}' is not a number", n + 1, val.trim()))?);
        }
        let get = |i: usize| v[i].ok_or(format!("no '{}' line", KEYS[i]));
        let rec = NsRecord {
            nsid: get(0)?,
            lbaf: get(1)? as u8,
            extended: get(2)? != 0,
            pi: get(3)? as u8,
            pi_first: get(4)? != 0,
            nmic: get(5)? as u8,
            attached: get(6)? != 0,
        };
        if rec.nsid == 0 || rec.lbaf as usize >= formats().len() || rec.pi > 3 {
            return Err(format!("nsid {} lbaf {} pi {}: out of range", rec.nsid, rec.lbaf, rec.pi));
        }
        Ok(rec)
    }
}

pub struct NsDir {
    pub path: PathBuf,
    /// The NVM capacity the directory offers, in bytes (TNVMCAP less the `--ns` images).
    pub capacity: u64,
    /// How the images use the host's page cache (`serve --cache`).
    pub cache: CacheMode,
}

fn sidecar(image: &Path, ext: &str) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

impl NsDir {
    pub fn image(&self, nsid: u32) -> PathBuf {
        self.path.join(format!("ns{nsid}.img"))
    }

    /// Load every namespace recorded in `path`. Capacity: `capacity`, or the
    /// filesystem's free space now plus what the recorded images already hold.
    pub fn open(path: &Path, capacity: Option<u64>, cache: CacheMode) -> Result<(NsDir, Vec<NsEntry>), String> {
        let rd = std::fs::read_dir(path).map_err(|e| format!("--ns-dir {}: {e}", path.display()))?;
        let mut dir = NsDir { path: path.to_path_buf(), capacity: 0, cache };
        let mut entries = Vec::new();
        let mut names: Vec<PathBuf> =
            rd.flatten().map(|d| d.path()).filter(|p| p.to_string_lossy().ends_with(".img.ns")).collect();
        names.sort();
        for rp in names {
            let text = std::fs::read_to_string(&rp).map_err(|e| format!("{}: {e}", rp.display()))?;
            let rec = NsRecord::parse(&text).map_err(|e| format!("{}: {e}", rp.display()))?;
            if rp != sidecar(&dir.image(rec.nsid), ".ns") {
                return Err(format!("{}: records nsid {}, but belongs to another image name", rp.display(), rec.nsid));
            }
            let ns = dir.open_namespace(&rec).map_err(|e| format!("{}: {e}", dir.image(rec.nsid).display()))?;
            entries.push(NsEntry { ns, attached: rec.attached, origin: Origin::Managed });
        }
        let held: u64 = entries.iter().map(|e| e.ns.store.size()).sum();
        dir.capacity = match capacity {
            Some(c) => c,
            None => {
                crate::storage::file::free_space(path).map_err(|e| format!("--ns-dir {}: {e}", path.display()))? + held
            }
        };
        Ok((dir, entries))
    }

    /// Open the image of `rec` (it exists).
    fn open_namespace(&self, rec: &NsRecord) -> io::Result<Arc<Namespace>> {
        let image = self.image(rec.nsid);
        let store: Arc<dyn BlockStore> = Arc::new(FileStore::open_with(&image, self.cache)?);
        let prot = Protection::new(rec.pi, rec.pi_first)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let ns = Namespace::new(rec.nsid, store, formats(), rec.lbaf, rec.extended, prot, 0);
        let ns = super::crash_recovery::with_log_beside(ns, &image)?;
        super::metadata::fill_unwritten(&*ns.store, &ns.format())?;
        let marks = UncorrectableMap::load(&image)?;
        let ids = NsIds::load_or_create(&image)?;
        Ok(Arc::new(ns.with_uncorrectable(marks).with_ids(ids).with_nmic(rec.nmic)))
    }

    /// Make a fresh sparse image of `bytes` for `rec`, its identifiers and record.
    pub fn create(&self, rec: &NsRecord, bytes: u64) -> io::Result<Arc<Namespace>> {
        let image = self.image(rec.nsid);
        let made = (|| {
            // A leftover of an unfinished create or of a deleted namespace's sidecars
            // must not carry over: new identifiers, no uncorrectable marks.
            for ext in [".ids", ".uncor", ".intents"] {
                remove_if_present(&sidecar(&image, ext))?;
            }
            std::fs::File::create(&image)?.set_len(bytes)?;
            let ns = self.open_namespace(rec)?;
            self.save(rec)?;
            Ok(ns)
        })();
        if made.is_err() {
            let _ = self.remove(rec.nsid);
        }
        made
    }

    /// Rewrite the record of a namespace (attachment or format changed).
    pub fn save(&self, rec: &NsRecord) -> io::Result<()> {
        let path = sidecar(&self.image(rec.nsid), ".ns");
        let tmp = sidecar(&self.image(rec.nsid), ".ns.tmp");
        std::fs::write(&tmp, rec.to_text())?;
        std::fs::rename(&tmp, &path)
    }

    /// Remove namespace `nsid`'s record, image and sidecars.
    pub fn remove(&self, nsid: u32) -> io::Result<()> {
        let image = self.image(nsid);
        remove_if_present(&sidecar(&image, ".ns"))?;
        remove_if_present(&image)?;
        for ext in [".ids", ".uncor", ".intents"] {
            remove_if_present(&sidecar(&image, ext))?;
        }
        Ok(())
    }
}

fn remove_if_present(p: &Path) -> io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_rejects_junk() {
        let r = NsRecord { nsid: 7, lbaf: 1, extended: false, pi: 1, pi_first: true, nmic: 0, attached: true };
        assert_eq!(NsRecord::parse(&r.to_text()).unwrap(), r);
        assert!(NsRecord::parse("nsid 1").unwrap_err().contains("lbaf"));
        assert!(NsRecord::parse(&r.to_text().replace("lbaf 1", "lbaf 9")).unwrap_err().contains("out of range"));
        assert!(NsRecord::parse("size 3").unwrap_err().contains("unknown"));
    }

    #[test]
    fn created_namespace_is_found_again_with_its_identifiers() {
        let path = std::env::temp_dir().join(format!("vnvme-nsdir-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        let (dir, none) = NsDir::open(&path, Some(1 << 30), CacheMode::Writeback).unwrap();
        assert!(none.is_empty());
        let rec = NsRecord { nsid: 3, lbaf: 1, extended: false, pi: 1, pi_first: false, nmic: 1, attached: false };
        let ns = dir.create(&rec, 1000 * 520).unwrap();
        assert_eq!((ns.format().nlbas(), ns.nmic), (1000, 1));
        let (again, found) = NsDir::open(&path, None, CacheMode::Writeback).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(NsRecord::of(&found[0]), rec);
        assert_eq!(found[0].ns.ids(), ns.ids(), "identifiers survive a restart");
        assert!(again.capacity >= 1000 * 520, "default capacity counts the images already made");
        dir.remove(3).unwrap();
        assert!(std::fs::read_dir(&path).unwrap().next().is_none(), "image and every sidecar removed");
        std::fs::remove_dir_all(&path).unwrap();
    }
}
