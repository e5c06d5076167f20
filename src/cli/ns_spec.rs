//! `--ns` specifications: QEMU `nvme-ns` property names, comma separated.
//! `path=IMG[,logical_block_size|lbs=512|4096][,physical_block_size|pbs=N][,ms=N]
//! [,mset=0|1][,pi=0-3][,pil=0|1][,pif=0|1|2][,sts=N]`
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
}

fn num(key: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>().map_err(|_| format!("--ns: {key}={v} is not a number"))
}

/// A number that must fit the property's field: a value too large is refused, never cut
/// down to its low bits (`sts=4096` once read as 0, `lbs=4294967808` as 512).
fn sized<T: TryFrom<u64>>(key: &str, v: &str) -> Result<T, String> {
    T::try_from(num(key, v)?).map_err(|_| format!("--ns: {key}={v} is too large"))
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
        let mut spec =
            NsSpec { path: PathBuf::new(), lbs: 512, pbs: 0, ms: 0, mset: false, pi: 0, pil: false, pif: 0, sts: 0 };
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
                _ => {
                    return Err(format!(
                        "--ns: unknown property '{k}' (known: path, logical_block_size/lbs, physical_block_size, ms, mset, pi, pil, pif, sts)"
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
        Ok(spec)
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
    fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("lbs", self.lbs.into()),
            ("pbs", self.pbs.into()),
            ("ms", self.ms.into()),
            ("mset", self.mset.into()),
            ("pi", self.pi.into()),
            ("pil", self.pil.into()),
            ("pif", self.pif.into()),
            ("sts", self.sts.into()),
        ]
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
