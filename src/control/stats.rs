//! Live statistics kept by the control plane from completed commands: per
//! namespace commands by opcode and status, PI checks run and failed by kind,
//! per queue commands by opcode, latency histograms per opcode (log2 buckets in
//! microseconds, so p50/p99 are bucket upper bounds), fault rules fired, and
//! buffer mutations seen. Byte counters live in the controller (`counters`) and
//! are reported next to these, as deltas since the last reset.

use super::protocol::{CommandCount, Latency, NsStatsReply, PiChecked, PiFailed, StatsReply};
use crate::controller::hooks::Completed;
use crate::spec::opcode::nvm as op;
use crate::spec::Status;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const BUCKETS: usize = 40;

#[derive(Clone)]
pub struct Histogram {
    buckets: [u64; BUCKETS],
    count: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: [0; BUCKETS], count: 0, max_us: 0 }
    }
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let b = (64 - us.leading_zeros() as usize).min(BUCKETS - 1);
        self.buckets[b] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }
    /// Upper bound (us) of the bucket holding the `q` quantile.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                // Bucket i holds values of bit length i: [2^(i-1), 2^i - 1].
                return if i == 0 { 0 } else { ((1u64 << i) - 1).min(self.max_us) };
            }
        }
        self.max_us
    }
}

#[derive(Default, Clone)]
struct NsStats {
    by_op_status: BTreeMap<(u8, u16), u64>,
    /// Blocks checked by kind: guard, application tag, reference tag.
    pi_checked: [u64; 3],
    /// Commands failed by kind: guard, application tag, reference tag, storage tag.
    pi_failed: [u64; 4],
}

#[derive(Clone)]
pub struct Stats {
    since: Instant,
    by_ns: BTreeMap<u32, NsStats>,
    by_queue: BTreeMap<u16, BTreeMap<u8, u64>>,
    latency: BTreeMap<u8, Histogram>,
    fired: BTreeMap<String, u64>,
    mutations: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            since: Instant::now(),
            by_ns: BTreeMap::new(),
            by_queue: BTreeMap::new(),
            latency: BTreeMap::new(),
            fired: BTreeMap::new(),
            mutations: 0,
        }
    }
}

/// Whether `opcode` carries PRINFO with PRCHK in CDW12 29:26.
fn has_prinfo(opcode: u8) -> bool {
    matches!(opcode, op::READ | op::WRITE | op::COMPARE | op::VERIFY | op::COPY)
}

impl Stats {
    pub fn record(&mut self, done: &Completed, ns_has_pi: bool) {
        let v = &done.view;
        let code = done.status.code();
        let ns = self.by_ns.entry(v.nsid).or_default();
        *ns.by_op_status.entry((v.opcode, code)).or_default() += 1;
        if ns_has_pi && has_prinfo(v.opcode) {
            for (i, bit) in [0b100u8, 0b010, 0b001].into_iter().enumerate() {
                if v.prinfo & bit != 0 {
                    ns.pi_checked[i] += v.nlb;
                }
            }
        }
        let pi_errors = [
            Status::GUARD_CHECK_ERROR,
            Status::APP_TAG_CHECK_ERROR,
            Status::REF_TAG_CHECK_ERROR,
            Status::STORAGE_TAG_CHECK_ERROR,
        ];
        if let Some(kind) = pi_errors.iter().position(|s| s.code() == code) {
            ns.pi_failed[kind] += 1;
        }
        *self.by_queue.entry(v.sqid).or_default().entry(v.opcode).or_default() += 1;
        self.latency.entry(v.opcode).or_default().record(done.latency);
        for f in &done.fired {
            *self.fired.entry(f.clone()).or_default() += 1;
        }
        if done.mutation.is_some() {
            self.mutations += 1;
        }
    }

    /// The `stats` reply, without `bytes` and `pract`: those come from the
    /// controller's counters, which the control plane adds.
    pub fn reply(&self) -> StatsReply {
        let opname = |o: u8| op::name(o).to_string();
        let namespaces = self
            .by_ns
            .iter()
            .map(|(&nsid, s)| {
                let commands = s
                    .by_op_status
                    .iter()
                    .map(|(&(o, code), &count)| {
                        let st = Status::new((code >> 8) as u8, code as u8);
                        CommandCount {
                            opcode: opname(o),
                            status: format!("{code:#05x}"),
                            status_name: st.name().to_string(),
                            count,
                        }
                    })
                    .collect();
                let [guard, app_tag, ref_tag] = s.pi_checked;
                let pi_checked_blocks = PiChecked { guard, app_tag, ref_tag };
                let [guard, app_tag, ref_tag, storage_tag] = s.pi_failed;
                let pi_failed_commands = PiFailed { guard, app_tag, ref_tag, storage_tag };
                (nsid, NsStatsReply { commands, pi_checked_blocks, pi_failed_commands })
            })
            .collect();
        let queues =
            self.by_queue.iter().map(|(&q, m)| (q, m.iter().map(|(&o, &n)| (opname(o), n)).collect())).collect();
        let latency = self
            .latency
            .iter()
            .map(|(&o, h)| {
                (
                    opname(o),
                    Latency {
                        count: h.count,
                        p50_us: h.quantile_us(0.5),
                        p99_us: h.quantile_us(0.99),
                        max_us: h.max_us,
                    },
                )
            })
            .collect();
        StatsReply {
            seconds: self.since.elapsed().as_secs_f64(),
            namespaces,
            queues,
            latency,
            faults_fired: self.fired.clone(),
            mutations_detected: self.mutations,
            bytes: Vec::new(),
            pract: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_bucket_bounds() {
        let mut h = Histogram::default();
        for us in [3u64, 5, 9, 100, 1000] {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.quantile_us(0.5), 15, "the median (9 us) is in the 8-15 us bucket");
        assert_eq!(h.quantile_us(0.99), 1000, "capped at the maximum seen");
        assert_eq!(h.max_us, 1000);
    }
}
