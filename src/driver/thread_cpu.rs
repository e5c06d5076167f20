//! CPU time of this process's threads by name, from `/proc/self/task/*/schedstat`
//! (nanoseconds on CPU, the scheduler's own clock): the benchmark reads the I/O
//! workers' time before and after a test to give CPU time per I/O.

#![forbid(unsafe_code)]

use std::collections::HashMap;

/// Nanoseconds on CPU so far of each thread of this process whose name starts
/// with `prefix`, by tid.
pub fn by_prefix(prefix: &str) -> HashMap<u32, u64> {
    by_prefix_in(None, prefix)
}

/// As [`by_prefix`], for process `pid` (None: this process).
pub fn by_prefix_in(pid: Option<u32>, prefix: &str) -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    let dir = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_string(),
    };
    let Ok(dir) = std::fs::read_dir(dir) else { return out };
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
        if let Some(ns) = stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()) {
            out.insert(tid, ns);
        }
    }
    out
}

/// CPU nanoseconds the threads spent between two readings (a thread that started
/// in between counts from zero).
pub fn spent(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after.iter().map(|(tid, &ns)| ns.saturating_sub(*before.get(tid).unwrap_or(&0))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_named_thread_is_seen_spending_time() {
        let before = by_prefix("cpu-probe");
        let t = std::thread::Builder::new()
            .name("cpu-probe-1".into())
            .spawn(|| {
                let start = std::time::Instant::now();
                let mut x = 1u64;
                while start.elapsed() < std::time::Duration::from_millis(30) {
                    x = std::hint::black_box(x.wrapping_mul(3));
                }
                by_prefix("cpu-probe")
            })
            .unwrap();
        let after = t.join().unwrap();
        let ns = spent(&before, &after);
        assert!(ns >= 10_000_000, "a 30 ms spin counted {ns} ns");
        assert!(by_prefix("no-such-thread-name").is_empty());
    }
}
