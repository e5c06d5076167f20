//! `--ns` specifications (`cli::ns_spec`): any string parses to a spec or an
//! error, never a panic. Oracles on an accepted spec: every number given for a
//! property is the value the spec holds (nothing truncated), and the spec
//! printed back as `key=value` fields parses to the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnvme::cli::ns_spec::NsSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let parsed = NsSpec::parse_format(s);
    let _ = s.parse::<NsSpec>();
    let Ok(spec) = parsed else { return };
    for (k, v) in s.split(',').filter_map(|p| p.split_once('=')) {
        let Ok(n) = v.parse::<u64>() else { continue };
        let held: u64 = match k {
            "lbs" | "logical_block_size" => spec.lbs.into(),
            "ms" => spec.ms.into(),
            "pi" => spec.pi.into(),
            "pif" => spec.pif.into(),
            // pbs and sts are defaulted when given as 0.
            "sts" if n != 0 => spec.sts.into(),
            "pbs" | "physical_block_size" if n != 0 => spec.pbs.into(),
            // Zoned sizes without a suffix are bytes; the capacity and max_open are defaulted from 0.
            _ if k.starts_with("zoned.") => {
                let Some(z) = &spec.zoned else { panic!("{k} accepted without zoned=true in {s:?}") };
                match k {
                    "zoned.zone_size" => z.zone_size,
                    "zoned.zone_capacity" if n != 0 => z.zone_capacity,
                    "zoned.descr_ext_size" => z.descr_ext_size.into(),
                    "zoned.max_open" if n != 0 => z.max_open.into(),
                    "zoned.max_active" => z.max_active.into(),
                    "zoned.zasl" => z.zasl.into(),
                    _ => continue,
                }
            }
            _ => continue,
        };
        assert_eq!(held, n, "{k}={v} accepted as {held} in {s:?}");
    }
    let _ = spec.to_json();
    let lines = spec.to_lines();
    let path = spec.path.to_string_lossy();
    // (A path with a comma or a newline cannot be written back this way.)
    if !path.contains(',') && !path.contains('\n') {
        let again: Vec<&str> = lines.split_terminator('\n').collect();
        let back = NsSpec::parse_format(&again.join(","));
        assert_eq!(back.as_ref(), Ok(&spec), "{s:?} printed as {lines:?}");
    }
});
