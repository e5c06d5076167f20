//! How an image uses the host's page cache, with QEMU's names for the modes
//! (`-drive cache=`): whether I/O bypasses the page cache (O_DIRECT) and whether
//! the controller reports a volatile write cache.
//!
//! | mode | O_DIRECT | volatile write cache (VWC) | a write is durable |
//! |---|---|---|---|
//! | `writeback` (default) | no | yes | after a Flush, or with FUA |
//! | `none` | yes | yes | after a Flush, or with FUA |
//! | `writethrough` | no | no | before it completes |
//! | `directsync` | yes | no | before it completes |
//!
//! O_DIRECT keeps no copy in the host's page cache, but the medium under the file
//! may still cache writes, so `none` reports a volatile write cache and honours
//! Flush and FUA with fdatasync, as `writeback` does.

#![forbid(unsafe_code)]

use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CacheMode {
    #[default]
    Writeback,
    None,
    Writethrough,
    Directsync,
}

impl CacheMode {
    pub const ALL: [CacheMode; 4] =
        [CacheMode::Writeback, CacheMode::None, CacheMode::Writethrough, CacheMode::Directsync];

    pub fn name(self) -> &'static str {
        match self {
            CacheMode::Writeback => "writeback",
            CacheMode::None => "none",
            CacheMode::Writethrough => "writethrough",
            CacheMode::Directsync => "directsync",
        }
    }
    /// Image I/O bypasses the host's page cache (O_DIRECT).
    pub fn direct(self) -> bool {
        matches!(self, CacheMode::None | CacheMode::Directsync)
    }
    /// The controller reports a volatile write cache; without one every write is
    /// made durable before it completes.
    pub fn volatile_write_cache(self) -> bool {
        matches!(self, CacheMode::Writeback | CacheMode::None)
    }
}

impl FromStr for CacheMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CacheMode::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = CacheMode::ALL.iter().map(|m| m.name()).collect();
            format!("unknown cache mode `{s}` (one of: {})", names.join(", "))
        })
    }
}

impl std::fmt::Display for CacheMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::CacheMode;

    #[test]
    fn names_parse_back_and_unknown_names_are_refused() {
        for m in CacheMode::ALL {
            assert_eq!(m.name().parse::<CacheMode>(), Ok(m));
        }
        let e = "unsafe".parse::<CacheMode>().unwrap_err();
        assert!(e.contains("`unsafe`") && e.contains("writeback, none, writethrough, directsync"), "{e}");
    }

    #[test]
    fn modes_match_qemu_direct_and_writeback_flags() {
        let flags: Vec<(bool, bool)> = CacheMode::ALL.iter().map(|m| (m.direct(), m.volatile_write_cache())).collect();
        assert_eq!(flags, [(false, true), (true, true), (false, false), (true, false)]);
    }
}
