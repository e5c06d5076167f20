//! The reference figure beside each benchmark row: fio on the host doing the same
//! reads and writes on the same image file (io_uring, the same block size, queue
//! depth and number of jobs, page cache kept: `--invalidate=0`).

#![forbid(unsafe_code)]

use super::workload::{Mix, Workload};
use std::path::Path;
use std::process::Command;

#[derive(Clone, Copy, Debug, Default)]
pub struct FioResult {
    pub iops: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// fio's version line, or None when fio is not installed.
pub fn version() -> Option<String> {
    let out = Command::new("fio").arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The fio command line for `w` on the first `bytes` of `file`.
pub fn args(file: &Path, bytes: u64, w: &Workload, seconds: f64, direct: bool) -> Vec<String> {
    let rw = match w.mix {
        Mix::Read => "randread",
        Mix::Write => "randwrite",
        Mix::ReadWrite70 => "randrw",
        Mix::SeqRead => "read",
        Mix::SeqWrite => "write",
    };
    // Sequential jobs each take their own share of the area, as the device's queues do.
    let per_job = if w.mix.sequential() { bytes / w.queues as u64 } else { bytes };
    let mut a = vec![
        "--name=vnvme-ref".to_string(),
        format!("--filename={}", file.display()),
        "--ioengine=io_uring".into(),
        format!("--rw={rw}"),
        format!("--bs={}", w.io_bytes),
        format!("--iodepth={}", w.qd),
        format!("--numjobs={}", w.queues),
        format!("--size={}", per_job / w.io_bytes as u64 * w.io_bytes as u64),
        "--time_based".into(),
        format!("--runtime={}ms", (seconds * 1000.0) as u64),
        "--invalidate=0".into(),
        format!("--direct={}", direct as u8),
        "--norandommap".into(),
        "--randrepeat=0".into(),
        "--group_reporting".into(),
        "--output-format=json".into(),
    ];
    if w.mix == Mix::ReadWrite70 {
        a.push("--rwmixread=70".into());
    }
    if w.mix.sequential() && w.queues > 1 {
        a.push(format!("--offset_increment={}", per_job / w.io_bytes as u64 * w.io_bytes as u64));
    }
    a
}

/// Run fio for `w` and read its JSON report.
pub fn run(file: &Path, bytes: u64, w: &Workload, seconds: f64, direct: bool) -> Result<FioResult, String> {
    let a = args(file, bytes, w, seconds, direct);
    let out = Command::new("fio").args(&a).output().map_err(|e| format!("running fio: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "fio {} failed: {}",
            a.join(" "),
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        ));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// IOPS (reads plus writes) and completion latency percentiles from fio's JSON.
pub fn parse(json: &str) -> Result<FioResult, String> {
    // fio may print notes before the JSON object.
    let start = json.find('{').ok_or("fio printed no JSON")?;
    let v: serde_json::Value = serde_json::from_str(&json[start..]).map_err(|e| format!("fio JSON: {e}"))?;
    let job = &v["jobs"][0];
    let mut r = FioResult::default();
    let mut weight = 0.0;
    for dir in ["read", "write"] {
        let d = &job[dir];
        let iops = d["iops"].as_f64().unwrap_or(0.0);
        r.iops += iops;
        let pct = &d["clat_ns"]["percentile"];
        if iops > 0.0 {
            r.p50_us += pct["50.000000"].as_f64().unwrap_or(0.0) / 1000.0 * iops;
            r.p99_us += pct["99.000000"].as_f64().unwrap_or(0.0) / 1000.0 * iops;
            weight += iops;
        }
    }
    if weight > 0.0 {
        r.p50_us /= weight;
        r.p99_us /= weight;
    }
    if r.iops <= 0.0 {
        return Err("fio reported no I/O".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reads_and_writes_from_fio_json() {
        let json = r#"note: both iodepth >= 1 and synchronous I/O engine are selected
{"jobs":[{"read":{"iops":700.0,"clat_ns":{"percentile":{"50.000000":2000,"99.000000":9000}}},
          "write":{"iops":300.0,"clat_ns":{"percentile":{"50.000000":4000,"99.000000":19000}}}}]}"#;
        let r = parse(json).unwrap();
        assert_eq!(r.iops, 1000.0);
        assert!((r.p50_us - 2.6).abs() < 1e-9, "{}", r.p50_us);
        assert!((r.p99_us - 12.0).abs() < 1e-9, "{}", r.p99_us);
        assert!(parse("{\"jobs\":[{\"read\":{\"iops\":0}}]}").is_err());
        assert!(parse("fio: no such file").is_err());
    }

    #[test]
    fn sequential_jobs_take_their_own_share() {
        let w = Workload { io_bytes: 131072, mix: Mix::SeqRead, qd: 32, queues: 2 };
        let a = args(Path::new("/x.img"), 1 << 30, &w, 1.0, false).join(" ");
        for want in ["--rw=read", "--size=536870912", "--offset_increment=536870912", "--numjobs=2"] {
            assert!(a.contains(want), "{want} missing from {a}");
        }
    }

    #[test]
    fn same_pattern_as_the_row() {
        let w = Workload { io_bytes: 4096, mix: Mix::ReadWrite70, qd: 32, queues: 2 };
        let a = args(Path::new("/x.img"), 10_000, &w, 1.5, false).join(" ");
        for want in [
            "--rw=randrw",
            "--bs=4096",
            "--iodepth=32",
            "--numjobs=2",
            "--size=8192",
            "--runtime=1500ms",
            "--rwmixread=70",
            "--invalidate=0",
        ] {
            assert!(a.contains(want), "{want} missing from {a}");
        }
    }
}
