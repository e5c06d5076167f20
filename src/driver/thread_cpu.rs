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

/// CPU seconds this process has used since it started, in user and system mode, its
/// finished threads included (`/proc/self/stat` fields 14 and 15, in USER_HZ ticks of
/// 10 ms, which Linux uses there whatever its internal tick).
pub fn process_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let user = f.next()?.parse::<u64>().ok()?;
    let system = f.next()?.parse::<u64>().ok()?;
    Some((user as f64 / 100.0, system as f64 / 100.0))
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
    fn process_seconds_grow_with_work() {
        let (u0, s0) = process_seconds().expect("/proc/self/stat parses");
        assert!(u0 >= 0.0 && s0 >= 0.0);
        // Spin until the figure moves by 0.1 s: it must, long before the deadline,
        // however loaded the machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut x = 0u64;
        let moved = loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            let (u1, s1) = process_seconds().unwrap();
            if u1 + s1 >= u0 + s0 + 0.1 {
                break true;
            }
            if std::time::Instant::now() > deadline {
                break false;
            }
        };
        assert!(moved, "a minute of spinning never added 0.1 s of CPU to {u0}+{s0} s");
    }

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
