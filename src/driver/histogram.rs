//! Latency histogram for the benchmark: log-linear buckets (8 per power of two,
//! so a percentile is off by at most 12.5%), fixed size, no allocation per sample.

#![forbid(unsafe_code)]

const SUB: usize = 8;
/// Values up to u64::MAX: exponents 3..=63 above the first SUB exact buckets.
const BUCKETS: usize = 62 * SUB;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0 }
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros() as usize; // >= 3
    let sub = ((v >> (exp - 3)) & (SUB as u64 - 1)) as usize;
    (exp - 2) * SUB + sub
}

/// The smallest value that falls in bucket `i`.
fn lower(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let exp = i / SUB + 2;
    ((SUB + i % SUB) as u64) << (exp - 3)
}

impl Histogram {
    pub fn record(&mut self, nanos: u64) {
        self.counts[index(nanos)] += 1;
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value below which a fraction `q` (0..=1) of the samples lie: the
    /// middle of the bucket that holds the q-th sample, in nanoseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                let next = if i + 1 < BUCKETS { lower(i + 1) } else { u64::MAX };
                return lower(i) + (next - lower(i)) / 2;
            }
        }
        lower(BUCKETS - 1)
    }

    /// Non-empty buckets as (lowest value in ns, count), ascending.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(i, &c)| (lower(i), c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_contain_their_values() {
        for v in [0u64, 1, 7, 8, 9, 15, 16, 17, 1000, 4095, 4096, 1 << 40, u64::MAX / 2, u64::MAX] {
            let i = index(v);
            assert!(lower(i) <= v, "{v}: bucket {i} starts at {}", lower(i));
            assert!(i + 1 == BUCKETS || v < lower(i + 1), "{v}: bucket {i} ends at {}", lower(i + 1));
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        for i in 1..BUCKETS {
            assert!(lower(i) > lower(i - 1), "bucket {i}");
        }
    }

    #[test]
    fn quantiles_are_within_an_eighth() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        for (q, exact) in [(0.5, 5_000_000f64), (0.99, 9_900_000.0), (0.999, 9_990_000.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - exact).abs() / exact <= 0.125, "q {q}: {got} vs {exact}");
        }
        let mut g = Histogram::default();
        g.record(3);
        g.merge(&h);
        assert_eq!(g.total(), 10_001);
        assert_eq!(g.quantile(0.0), 3);
    }
}
