//! `--ns` specifications: QEMU `nvme-ns` property names, comma separated.
//! `path=IMG[,logical_block_size|lbs=512|4096][,physical_block_size|pbs=N][,ms=N]
//! [,mset=0|1][,pi=0-3][,pil=0|1][,pif=0|1|2][,sts=N]`

#![forbid(unsafe_code)]

use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsSpec {
    pub path: PathBuf,
    pub lbs: u32,
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
        let mut spec = NsSpec { path: PathBuf::new(), lbs: 512, ms: 0, mset: false, pi: 0, pil: false, pif: 0, sts: 0 };
        let mut have_path = false;
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("--ns: '{part}' is not key=value"))?;
            match k {
                "path" | "image" => {
                    spec.path = PathBuf::from(v);
                    have_path = true;
                }
                "logical_block_size" | "lbs" => spec.lbs = num(k, v)? as u32,
                "physical_block_size" | "pbs" => {
                    num(k, v)?;
                }
                "ms" => spec.ms = u16::try_from(num(k, v)?).map_err(|_| format!("--ns: ms={v} is too large"))?,
                "mset" => spec.mset = flag(k, v)?,
                "pi" => spec.pi = num(k, v)? as u8,
                "pil" => spec.pil = flag(k, v)?,
                "pif" => spec.pif = num(k, v)? as u8,
                "sts" => spec.sts = num(k, v)? as u8,
                _ => {
                    return Err(format!(
                        "--ns: unknown property '{k}' (known: path, logical_block_size/lbs, physical_block_size, ms, mset, pi, pil, pif, sts)"
                    ))
                }
            }
        }
        if !have_path {
            return Err("--ns: path=IMAGE is required".into());
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
        ] {
            let e = spec.parse::<NsSpec>().unwrap_err();
            assert!(e.contains(word), "{spec}: {e}");
        }
    }
}
