//! A small throughput benchmark: generate + verify over a buffer, next to a memcpy of the same
//! bytes, measured side by side in one run (STYLE: benchmarks print ratios; timings never gate
//! tests). The CLI prints the rows; this is only the measuring function.
//!
//! Method: one data buffer of `total_bytes` (pseudo-random, filled once), separate metadata of
//! exactly one tuple per block (so PI location does not matter), Type 1 with every check
//! enabled. One timed run = `generate` over all blocks, then `verify` over all blocks; the
//! memcpy run copies the data buffer into a second buffer. Each figure is the best of `runs`
//! runs after one warm-up. GB/s counts data bytes (10^9 per second) per generate+verify pass.
//!
//! 512-byte blocks with the 32b and 64b guards are measured too, for comparison with the 16b
//! guard at the same block size, although the spec only allows those formats with blocks of
//! 4 KiB or more; such rows have `spec_valid == false`.

use super::context::{PiChecks, PiContext};
use super::format::{PiFormat, PiLocation, PiType};
use super::guard::GuardFormat;
use super::layout::{Layout, LayoutMut};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One measured configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchRow {
    /// Guard format measured.
    pub guard: GuardFormat,
    /// Logical block data size in bytes.
    pub block_size: u32,
    /// Data bytes per pass.
    pub bytes: usize,
    /// Generate + verify throughput, data bytes per second / 10^9.
    pub pi_gbps: f64,
    /// Generate alone and verify alone (one guard pass each), same unit.
    pub generate_gbps: f64,
    pub verify_gbps: f64,
    /// memcpy throughput of the same bytes, bytes per second / 10^9.
    pub memcpy_gbps: f64,
    /// `pi_gbps / memcpy_gbps`: the fraction of copy speed PI runs at.
    pub ratio: f64,
    /// Whether the spec allows this guard with this block size.
    pub spec_valid: bool,
}

/// Measures every guard with 512- and 4096-byte blocks over about `total_bytes` of data
/// (rounded down to whole 4 KiB, at least 4 KiB), best of `runs` (at least 1).
pub fn bench(total_bytes: usize, runs: u32) -> Vec<BenchRow> {
    let bytes = (total_bytes / 4096).max(1) * 4096;
    let runs = runs.max(1);
    let data = pseudo_random(bytes);
    let mut copy = vec![0u8; bytes];
    let mut rows = Vec::new();
    for guard in GuardFormat::ALL {
        for block_size in [512u32, 4096] {
            let format = PiFormat {
                lbs: block_size,
                ms: guard.tuple_bytes() as u16,
                pi: Some(PiType::Type1),
                guard,
                location: PiLocation::Last,
                sts: PiFormat::sts_range(guard).0,
            };
            let spec_valid = format.validate().is_ok();
            let Ok(ctx) = PiContext::build(format, PiChecks::ALL, 0, 0x1234, 0xFFFF, 0, 0) else {
                continue;
            };
            let mut md = vec![0u8; bytes / block_size as usize * usize::from(format.ms)];
            let pi_time = best_of(runs, || {
                let generated = ctx.generate(LayoutMut::Separate { data: &data, md: &mut md });
                let verified = ctx.verify(Layout::Separate { data: &data, md: &md });
                debug_assert!(generated.is_ok() && verified.is_ok(), "fresh PI must verify");
                black_box(generated.is_ok() && verified.is_ok());
            });
            let gen_time = best_of(runs, || {
                black_box(ctx.generate(LayoutMut::Separate { data: &data, md: &mut md }).is_ok());
            });
            let ver_time = best_of(runs, || {
                black_box(ctx.verify(Layout::Separate { data: &data, md: &md }).is_ok());
            });
            let copy_time = best_of(runs, || {
                copy.copy_from_slice(black_box(&data));
                black_box(&mut copy);
            });
            let pi_gbps = gbps(bytes, pi_time);
            let memcpy_gbps = gbps(bytes, copy_time);
            rows.push(BenchRow {
                guard,
                block_size,
                bytes,
                pi_gbps,
                generate_gbps: gbps(bytes, gen_time),
                verify_gbps: gbps(bytes, ver_time),
                memcpy_gbps,
                ratio: pi_gbps / memcpy_gbps,
                spec_valid,
            });
        }
    }
    rows
}

fn best_of(runs: u32, mut f: impl FnMut()) -> Duration {
    f(); // warm-up: page in, fill caches
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn gbps(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64().max(1e-9) / 1e9
}

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_rows_are_complete() {
        // Shape only; timings are printed, never asserted.
        let rows = bench(64 * 1024, 1);
        assert_eq!(rows.len(), 6);
        for row in &rows {
            assert!(row.pi_gbps > 0.0 && row.memcpy_gbps > 0.0 && row.ratio > 0.0);
            assert_eq!(row.spec_valid, row.guard == GuardFormat::Crc16T10Dif || row.block_size == 4096);
            println!(
                "{:<28} {:>5} B  pi {:>7.2} GB/s  memcpy {:>7.2} GB/s  ratio {:.3}{}",
                row.guard.name(),
                row.block_size,
                row.pi_gbps,
                row.memcpy_gbps,
                row.ratio,
                if row.spec_valid { "" } else { "  (not a valid NVMe format)" }
            );
        }
    }
}
