//! `--ns` specifications: QEMU `nvme-ns` property names, comma separated.
//! `path=IMG[,logical_block_size|lbs=512|4096][,physical_block_size|pbs=N][,ms=N]
//! [,mset=0|1][,pi=0-3][,pil=0|1][,pif=0|1|2][,sts=N]`
//! `[,zoned=true[,zoned.zone_size=SIZE][,zoned.zone_capacity=SIZE][,zoned.descr_ext_size=N]
//! [,zoned.max_open=N][,zoned.max_active=N][,zoned.cross_read=0|1][,zoned.zasl=N]]`
//! (sizes in bytes, with an optional K, M, G or T suffix of 1024s, as QEMU takes them).
//!
//! The one parser of this grammar: `vnvme serve --ns` uses it, and the guest-test harness asks
//! `vnvme ns-spec` for the parsed, defaulted values instead of parsing the string itself.

#![forbid(unsafe_code)]

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsSpec {
    pub path: PathBuf,
    pub lbs: u32,
    /// QEMU's `physical_block_size`; defaults to the logical block size (QEMU refuses a
    /// physical block smaller than the logical one). vnvme itself does not use it.
    pub pbs: u32,
    pub ms: u16,
    pub mset: bool,
    pub pi: u8,
    /// QEMU's `pil`: 1 = PI in the first bytes of metadata.
    pub pil: bool,
    pub pif: u8,
    pub sts: u8,
    /// `zoned=true` and its `zoned.*` properties; None for a conventional namespace.
    pub zoned: Option<ZonedSpec>,
}

/// QEMU's zoned `nvme-ns` properties, in QEMU's units, defaulted as QEMU defaults
/// them (docs/zoned.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZonedSpec {
    /// Bytes from one zone's start to the next (128 MiB).
    pub zone_size: u64,
    /// Writable bytes of each zone (the zone size).
    pub zone_capacity: u64,
    /// Zone descriptor extension bytes, a multiple of 64 (0: none).
    pub descr_ext_size: u32,
    /// Zones open at once (0: no limit); at most `max_active`.
    pub max_open: u32,
    /// Zones active at once (0: no limit).
    pub max_active: u32,
    /// Reads may cross zone boundaries.
    pub cross_read: bool,
    /// Zone Append Size Limit, a power of two of the minimum page size (0: the
    /// maximum transfer). A controller property in QEMU; per namespace here, and
    /// the controller reports the smallest.
    pub zasl: u8,
}

impl Default for ZonedSpec {
    fn default() -> Self {
        ZonedSpec {
            zone_size: 128 << 20,
            zone_capacity: 0,
            descr_ext_size: 0,
            max_open: 0,
            max_active: 0,
            cross_read: false,
            zasl: 0,
        }
    }
}

fn num(key: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>().map_err(|_| format!("--ns: {key}={v} is not a number"))
}

/// A number that must fit the property's field: a value too large is refused, never cut
/// down to its low bits (`sts=4096` once read as 0, `lbs=4294967808` as 512).
fn sized<T: TryFrom<u64>>(key: &str, v: &str) -> Result<T, String> {
    T::try_from(num(key, v)?).map_err(|_| format!("--ns: {key}={v} is too large"))
}

/// A byte count as QEMU's size properties take it: digits, then optionally K, M,
/// G or T (powers of 1024; lower case too, and a trailing B).
fn size(key: &str, v: &str) -> Result<u64, String> {
    let t = v.strip_suffix(['B', 'b']).unwrap_or(v);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("--ns: {key}={v}: unknown size suffix '{c}' (K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n = num(key, digits)?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("--ns: {key}={v} is too large"))
}

fn flag(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "0" | "off" | "false" => Ok(false),
        "1" | "on" | "true" => Ok(true),
        _ => Err(format!("--ns: {key}={v} must be 0 or 1")),
    }
}

impl std::str::FromStr for NsSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let spec = Self::parse_format(s)?;
        if spec.path.as_os_str().is_empty() {
            return Err("--ns: path=IMAGE is required".into());
        }
        Ok(spec)
    }
}

impl NsSpec {
    /// Parse and check a spec, with every property not given at its default; `path` may be
    /// left out (then empty): a format without an image, as `vnvme ns-spec` reports it.
    pub fn parse_format(s: &str) -> Result<Self, String> {
        let mut spec = NsSpec {
            path: PathBuf::new(),
            lbs: 512,
            pbs: 0,
            ms: 0,
            mset: false,
            pi: 0,
            pil: false,
            pif: 0,
            sts: 0,
            zoned: None,
        };
        let mut zoned = false;
        let mut z = ZonedSpec::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("--ns: '{part}' is not key=value"))?;
            let canon = match k {
                "image" => "path",
                "logical_block_size" => "lbs",
                "physical_block_size" => "pbs",
                _ => k,
            };
            if seen.contains(&canon) {
                return Err(format!("--ns: '{k}' given twice"));
            }
            seen.push(canon);
            match k {
                "path" | "image" => {
                    if v.is_empty() {
                        return Err(format!("--ns: {k}= needs a path"));
                    }
                    spec.path = PathBuf::from(v);
                }
                "logical_block_size" | "lbs" => spec.lbs = sized(k, v)?,
                "physical_block_size" | "pbs" => spec.pbs = sized(k, v)?,
                "ms" => spec.ms = sized(k, v)?,
                "mset" => spec.mset = flag(k, v)?,
                "pi" => spec.pi = sized(k, v)?,
                "pil" => spec.pil = flag(k, v)?,
                "pif" => spec.pif = sized(k, v)?,
                "sts" => spec.sts = sized(k, v)?,
                "zoned" => zoned = flag(k, v)?,
                "zoned.zone_size" => z.zone_size = size(k, v)?,
                "zoned.zone_capacity" => z.zone_capacity = size(k, v)?,
                "zoned.descr_ext_size" => z.descr_ext_size = sized(k, v)?,
                "zoned.max_open" => z.max_open = sized(k, v)?,
                "zoned.max_active" => z.max_active = sized(k, v)?,
                "zoned.cross_read" => z.cross_read = flag(k, v)?,
                "zoned.zasl" => z.zasl = sized(k, v)?,
                _ => {
                    return Err(format!(
                        "--ns: unknown property '{k}' (known: path, logical_block_size/lbs, physical_block_size, ms, mset, pi, pil, pif, sts, zoned, zoned.zone_size, zoned.zone_capacity, zoned.descr_ext_size, zoned.max_open, zoned.max_active, zoned.cross_read, zoned.zasl)"
                    ))
                }
            }
        }
        if spec.pbs == 0 {
            spec.pbs = spec.lbs;
        }
        if spec.lbs != 512 && spec.lbs != 4096 {
            return Err(format!("--ns: logical_block_size={} is not supported (512 or 4096)", spec.lbs));
        }
        if !spec.ms.is_multiple_of(8) || spec.ms > 256 {
            return Err(format!("--ns: ms={} must be a multiple of 8, at most 256", spec.ms));
        }
        if spec.pi > 3 {
            return Err(format!("--ns: pi={} must be 0-3", spec.pi));
        }
        if spec.pif > 2 {
            return Err(format!("--ns: pif={} must be 0 (16b guard), 1 (32b) or 2 (64b)", spec.pif));
        }
        let tuple = if spec.pif == 0 { 8 } else { 16 };
        if spec.pi != 0 && spec.ms < tuple {
            return Err(format!("--ns: pi={} with pif={} needs ms of at least {tuple}", spec.pi, spec.pif));
        }
        if spec.pif != 0 && spec.lbs < 4096 {
            return Err("--ns: the 32b and 64b guard formats need logical_block_size=4096 (NVM-CS 5.3.1)".into());
        }
        let (lo, hi) = match spec.pif {
            0 => (0, 32),
            1 => (16, 64),
            _ => (0, 48),
        };
        if spec.pi != 0 && spec.pif == 1 && spec.sts == 0 {
            spec.sts = 16;
        }
        if spec.sts != 0 && (spec.sts < lo || spec.sts > hi) {
            return Err(format!("--ns: sts={} is outside {lo}..={hi} for pif={}", spec.sts, spec.pif));
        }
        if let Some(k) = seen.iter().find(|k| k.starts_with("zoned.")).filter(|_| !zoned) {
            return Err(format!("--ns: {k} is a property of zoned namespaces: add zoned=true"));
        }
        if zoned {
            spec.zoned = Some(Self::check_zoned(z, spec.lbs)?);
        }
        Ok(spec)
    }

    /// The zoned properties checked as QEMU checks them, with its defaults: the
    /// capacity defaults to the zone size, and `max_open` to `max_active`.
    fn check_zoned(mut z: ZonedSpec, lbs: u32) -> Result<ZonedSpec, String> {
        let lbs = lbs as u64;
        if z.zone_size < lbs || !z.zone_size.is_multiple_of(lbs) {
            return Err(format!("--ns: zoned.zone_size={} must be a multiple of the {lbs}-byte block", z.zone_size));
        }
        if z.zone_capacity == 0 {
            z.zone_capacity = z.zone_size;
        }
        if z.zone_capacity > z.zone_size || !z.zone_capacity.is_multiple_of(lbs) {
            return Err(format!(
                "--ns: zoned.zone_capacity={} must be a multiple of the {lbs}-byte block, at most zoned.zone_size={}",
                z.zone_capacity, z.zone_size
            ));
        }
        if !z.descr_ext_size.is_multiple_of(64) || z.descr_ext_size > 255 * 64 {
            return Err(format!(
                "--ns: zoned.descr_ext_size={} must be a multiple of 64, at most 16320",
                z.descr_ext_size
            ));
        }
        if z.max_active != 0 && z.max_open == 0 {
            z.max_open = z.max_active;
        }
        if z.max_active != 0 && z.max_open > z.max_active {
            return Err(format!(
                "--ns: zoned.max_open={} is more than zoned.max_active={} (ZNS: MOR <= MAR)",
                z.max_open, z.max_active
            ));
        }
        if z.zasl > 16 {
            return Err(format!("--ns: zoned.zasl={} is past any transfer size (at most 16)", z.zasl));
        }
        Ok(z)
    }

    /// The defaulted spec as `key=value` lines, one per property, in a fixed order: what
    /// `vnvme ns-spec` prints for scripts (`path` only when one was given).
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        if !self.path.as_os_str().is_empty() {
            out += &format!("path={}\n", self.path.display());
        }
        for (k, v) in self.fields() {
            out += &format!("{k}={v}\n");
        }
        out
    }

    /// The defaulted spec as one JSON object (`vnvme ns-spec --json`).
    pub fn to_json(&self) -> String {
        let mut m = serde_json::Map::new();
        if !self.path.as_os_str().is_empty() {
            m.insert("path".into(), self.path.display().to_string().into());
        }
        for (k, v) in self.fields() {
            m.insert(k.into(), v.into());
        }
        serde_json::Value::Object(m).to_string()
    }

    /// The format properties under their QEMU `nvme-ns` short names; flags as 0/1.
    /// The zoned ones follow for a zoned namespace only.
    fn fields(&self) -> Vec<(&'static str, u64)> {
        let mut f = vec![
            ("lbs", self.lbs.into()),
            ("pbs", self.pbs.into()),
            ("ms", self.ms.into()),
            ("mset", self.mset.into()),
            ("pi", self.pi.into()),
            ("pil", self.pil.into()),
            ("pif", self.pif.into()),
            ("sts", self.sts.into()),
        ];
        if let Some(z) = &self.zoned {
            f.extend([
                ("zoned", 1),
                ("zoned.zone_size", z.zone_size),
                ("zoned.zone_capacity", z.zone_capacity),
                ("zoned.descr_ext_size", z.descr_ext_size.into()),
                ("zoned.max_open", z.max_open.into()),
                ("zoned.max_active", z.max_active.into()),
                ("zoned.cross_read", z.cross_read.into()),
                ("zoned.zasl", z.zasl.into()),
            ]);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_qemu_names_and_aliases() {
        let s: NsSpec = "path=/x.img,lbs=4096,ms=16,mset=0,pi=1,pil=1,pif=2".parse().unwrap();
        assert_eq!((s.lbs, s.ms, s.pi, s.pil, s.pif), (4096, 16, 1, true, 2));
        let s: NsSpec = "path=/x,logical_block_size=512,ms=8,pi=3".parse().unwrap();
        assert_eq!((s.lbs, s.ms, s.pi), (512, 8, 3));
    }
    #[test]
    fn rejects_bad_input_with_a_clear_message() {
        for (spec, word) in [
            ("lbs=512", "path"),
            ("path=/x,foo=1", "unknown property 'foo'"),
            ("path=/x,lbs=1024", "not supported"),
            ("path=/x,ms=7", "multiple of 8"),
            ("path=/x,ms=0,pi=1", "needs ms"),
            ("path=/x,lbs=512,ms=16,pi=1,pif=2", "4096"),
            ("path=/x,ms=abc", "not a number"),
            ("path=/x,lbs=512,logical_block_size=4096", "given twice"),
            ("path=,lbs=512", "needs a path"),
            ("path=/x,lbs", "not key=value"),
            // Found by the ns_specs fuzz target: these were cut to their low bits and accepted.
            ("path=/x,sts=4096", "sts=4096 is too large"),
            ("path=/x,lbs=4294967808", "too large"),
            ("path=/x,pi=257,ms=8", "pi=257 is too large"),
            ("path=/x,lbs=4096,ms=16,pif=258", "too large"),
            ("path=/x,ms=65544", "ms=65544 is too large"),
        ] {
            let e = spec.parse::<NsSpec>().unwrap_err();
            assert!(e.contains(word), "{spec}: {e}");
        }
    }
    #[test]
    fn a_format_without_path_prints_every_property_defaulted() {
        let s = NsSpec::parse_format("lbs=4096,ms=16,pi=1,pif=2").unwrap();
        assert_eq!(s.to_lines(), "lbs=4096\npbs=4096\nms=16\nmset=0\npi=1\npil=0\npif=2\nsts=0\n");
        let s = NsSpec::parse_format("").unwrap();
        assert_eq!(s.to_lines(), "lbs=512\npbs=512\nms=0\nmset=0\npi=0\npil=0\npif=0\nsts=0\n");
        assert!("lbs=512".parse::<NsSpec>().is_err(), "serve still needs the path");
    }
    #[test]
    fn zoned_properties_take_qemu_names_units_and_defaults() {
        let s = NsSpec::parse_format("lbs=4096,zoned=true").unwrap();
        let z = s.zoned.clone().unwrap();
        assert_eq!((z.zone_size, z.zone_capacity, z.max_open, z.max_active), (128 << 20, 128 << 20, 0, 0));
        let s = NsSpec::parse_format(
            "zoned=on,zoned.zone_size=64M,zoned.zone_capacity=48M,zoned.max_active=14,zoned.descr_ext_size=128,zoned.cross_read=1,zoned.zasl=5",
        )
        .unwrap();
        let z = s.zoned.clone().unwrap();
        assert_eq!(
            (z.zone_size, z.zone_capacity, z.max_open, z.max_active, z.descr_ext_size, z.cross_read, z.zasl),
            (64 << 20, 48 << 20, 14, 14, 128, true, 5),
            "max_open defaults to max_active"
        );
        assert!(s.to_lines().ends_with(
            "zoned=1\nzoned.zone_size=67108864\nzoned.zone_capacity=50331648\nzoned.descr_ext_size=128\n\
             zoned.max_open=14\nzoned.max_active=14\nzoned.cross_read=1\nzoned.zasl=5\n"
        ));
        assert_eq!(NsSpec::parse_format("zoned=0").unwrap().zoned, None);
        assert_eq!(NsSpec::parse_format("zoned=1,zoned.zone_size=1048576").unwrap().zoned.unwrap().zone_size, 1 << 20);
        for (spec, word) in [
            ("zoned.zone_size=1M", "add zoned=true"),
            ("zoned=1,zoned.zone_size=1000", "multiple of the 512-byte block"),
            ("zoned=1,zoned.zone_size=1M,zoned.zone_capacity=2M", "at most zoned.zone_size"),
            ("zoned=1,zoned.descr_ext_size=100", "multiple of 64"),
            ("zoned=1,zoned.max_open=4,zoned.max_active=2", "MOR <= MAR"),
            ("zoned=1,zoned.zone_size=1Q", "unknown size suffix"),
            ("zoned=1,zoned.zone_size=99999999999T", "too large"),
            ("zoned=1,zoned.zasl=17", "at most 16"),
            ("zoned=maybe", "must be 0 or 1"),
        ] {
            let e = NsSpec::parse_format(spec).unwrap_err();
            assert!(e.contains(word), "{spec}: {e}");
        }
    }
    #[test]
    fn json_names_the_same_properties() {
        let s = NsSpec::parse_format("path=/x.img,physical_block_size=4096,ms=8,mset=1,pi=3,pil=1").unwrap();
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"path": "/x.img", "lbs": 512, "pbs": 4096, "ms": 8, "mset": 1, "pi": 3, "pil": 1,
                "pif": 0, "sts": 0})
        );
        assert_eq!(s.to_lines().lines().next(), Some("path=/x.img"));
    }
}
