//! `vnvme bench csum` (a benchmark that prints figures, never a gate): the cost of btrfs's four data checksums (CRC32C, XXH64,
//! SHA-256, BLAKE2b-256) and the three PI guards per 4 KiB block on this CPU, in
//! the unit of btrfs-progs' checksum documentation table (TSC cycles per 4 KiB,
//! as its hash-speedtest counts them), printed next to that table's figures.
//!
//! Time is measured with the monotonic clock and converted to TSC cycles with the
//! TSC frequency the kernel reports (`tsc` in /proc/cpuinfo flags, "cpu MHz"), so
//! no unsafe rdtsc is needed; the frequency used is printed.

use blake2::{Blake2b, Digest as _};
use std::hint::black_box;
use std::time::Instant;

/// btrfs-progs Documentation/ch-checksumming.rst, "cycles per 4 KiB" on an 11th
/// gen Intel at 3.6 GHz (the table's reference figures).
pub const BTRFS_TABLE: [(&str, Option<u64>); 7] = [
    ("CRC32C", Some(470)),
    ("XXH64", Some(870)),
    ("SHA-256", Some(7600)),
    ("BLAKE2b-256", Some(10000)),
    ("CRC-16/T10-DIF (PI 16b guard)", None),
    ("CRC-32C (PI 32b guard)", None),
    ("CRC-64/NVME (PI 64b guard)", None),
];

pub struct Row {
    pub name: &'static str,
    pub ns_per_4k: f64,
    pub cycles_per_4k: f64,
    pub btrfs_cycles: Option<u64>,
}

/// The TSC frequency in MHz from /proc/cpuinfo ("cpu MHz"), if it says so.
pub fn tsc_mhz() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
}

fn per_block(blocks: &[Vec<u8>], rounds: usize, mut f: impl FnMut(&[u8]) -> u64) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut acc = 0u64;
        for _ in 0..rounds {
            for b in blocks {
                acc ^= f(black_box(b));
            }
        }
        black_box(acc);
        best = best.min(t.elapsed().as_nanos() as f64 / (rounds * blocks.len()) as f64);
    }
    best
}

pub fn run(rounds: usize) -> (f64, Vec<Row>) {
    let mhz = tsc_mhz().unwrap_or(1000.0);
    // 16 distinct blocks (64 KiB, warm in L2), as the btrfs speed test hashes a hot buffer.
    let mut x = 0x1234_5678_9abc_def0u64;
    let blocks: Vec<Vec<u8>> = (0..16)
        .map(|_| {
            (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    use crc_fast::{checksum, CrcAlgorithm as A};
    type Fun = Box<dyn FnMut(&[u8]) -> u64>;
    let funs: Vec<Fun> = vec![
        Box::new(|b| checksum(A::Crc32Iscsi, b)),
        Box::new(|b| xxhash_rust::xxh64::xxh64(b, 0)),
        Box::new(|b| sha2::Sha256::digest(b)[0] as u64),
        Box::new(|b| Blake2b::<blake2::digest::consts::U32>::digest(b)[0] as u64),
        Box::new(|b| checksum(A::Crc16T10Dif, b)),
        Box::new(|b| checksum(A::Crc32Iscsi, b)),
        Box::new(|b| checksum(A::Crc64Nvme, b)),
    ];
    let rows = funs
        .into_iter()
        .zip(BTRFS_TABLE)
        .map(|(f, (name, btrfs))| {
            let ns = per_block(&blocks, rounds, f);
            Row { name, ns_per_4k: ns, cycles_per_4k: ns * mhz / 1000.0, btrfs_cycles: btrfs }
        })
        .collect();
    (mhz, rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn measures_every_algorithm() {
        let (_, rows) = super::run(1);
        assert_eq!(rows.len(), 7);
        assert!(rows.iter().all(|r| r.ns_per_4k > 0.0 && r.cycles_per_4k > 0.0));
    }
}
