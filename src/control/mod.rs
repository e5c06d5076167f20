//! The control plane: live statistics, the command trace, fault injection and
//! the buffer-mutation detector, behind one [`ControlPlane`] that the controller
//! sees only as its [`CommandHook`], and served on a JSON-lines UNIX socket
//! (`server`, docs/control.md).
//!
//! Nothing is injected unless a fault rule says so; with no rules and no
//! detector, the per-command cost is one view, one statistics update under a
//! mutex, and a trace event only while someone is tracing.

pub mod fault;
pub mod protocol;
pub mod server;
pub mod stats;
pub mod trace;

use crate::controller::hooks::{CommandHook, CommandView, Completed, Injection};
use crate::controller::Shared;
use crate::counters::NsTraffic;
use crate::nvm::ns_table::NamespaceTable;
use crate::spec::Status;
use fault::{Action, FaultPlan, FaultRule};
use protocol::{
    DetectReply, Done, FaultAdded, FaultList, FaultRuleStatus, MutationsReply, NsBytes, Pract, Request, StatsReply,
};
use stats::Stats;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use trace::TraceEvent;

/// Mutation reports kept for `ctl mutations`.
const RECENT_MUTATIONS: usize = 64;

/// Byte counters at the last `stats --reset`, so stats report deltas.
#[derive(Default, Clone)]
struct Baseline {
    /// (NSID, counters) of the namespaces allocated then.
    ns: Vec<(u32, NsTraffic)>,
}

pub struct ControlPlane {
    pub faults: FaultPlan,
    stats: Mutex<Stats>,
    trace_tx: broadcast::Sender<Arc<TraceEvent>>,
    detect: AtomicBool,
    mutations: Mutex<VecDeque<TraceEvent>>,
    namespaces: Arc<NamespaceTable>,
    shared: Mutex<Option<Arc<Shared>>>,
    baseline: Mutex<Baseline>,
}

/// The `tracing` target of the per-command trace events: each completed command,
/// as one JSON line, at info level (`serve --trace-stderr` enables it).
pub const TRACE_TARGET: &str = "vnvme::trace";

impl ControlPlane {
    pub fn new(namespaces: Arc<NamespaceTable>, detect: bool) -> Self {
        let (trace_tx, _) = broadcast::channel(4096);
        ControlPlane {
            faults: FaultPlan::new(),
            stats: Mutex::new(Stats::default()),
            trace_tx,
            detect: AtomicBool::new(detect),
            mutations: Mutex::new(VecDeque::new()),
            namespaces,
            shared: Mutex::new(None),
            baseline: Mutex::new(Baseline::default()),
        }
    }

    /// The controller of the current connection (for its counters).
    pub fn attach(&self, shared: Arc<Shared>) {
        *self.shared.lock().unwrap() = Some(shared);
    }

    pub fn add_rule(&self, text: &str) -> Result<u32, String> {
        let rule: FaultRule = text.parse()?;
        if let Some(ns) = rule.ns {
            let nn = self.namespaces.snapshot().nn();
            if ns == 0 || ns > nn {
                return Err(format!("rule names namespace {ns}, but only 1..={nn} exist"));
            }
        }
        Ok(self.faults.add(rule))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TraceEvent>> {
        self.trace_tx.subscribe()
    }

    /// Receivers of the trace now (each streaming connection holds one).
    pub fn trace_subscribers(&self) -> usize {
        self.trace_tx.receiver_count()
    }

    fn ns_bytes(&self) -> Vec<(u32, NsTraffic)> {
        self.namespaces.snapshot().allocated().map(|e| (e.ns.nsid, e.ns.counters.snapshot())).collect()
    }

    /// The `stats` reply: the control plane's statistics and the controller's byte
    /// counters (deltas since the last reset); with `reset`, start afresh after it.
    fn stats(&self, reset: bool) -> StatsReply {
        let mut reply = self.stats.lock().unwrap().reply();
        let base = self.baseline.lock().unwrap().clone();
        let now = self.ns_bytes();
        reply.bytes = now
            .iter()
            .map(|&(nsid, traffic)| {
                let old = base.ns.iter().find(|(n, _)| *n == nsid).map_or(NsTraffic::default(), |&(_, c)| c);
                let d = traffic.since(&old);
                NsBytes {
                    nsid,
                    dma_to_device_bytes: d.dma_to_device,
                    dma_to_host_bytes: d.dma_to_host,
                    copy_read_bytes: d.copy_read,
                    copy_written_bytes: d.copy_written,
                }
            })
            .collect();
        if let Some(sh) = &*self.shared.lock().unwrap() {
            let (c, g) = (&sh.counters, crate::counters::Counters::get);
            reply.pract = Some(Pract { inserted_blocks: g(&c.pract_inserts), stripped_blocks: g(&c.pract_strips) });
        }
        if reset {
            *self.stats.lock().unwrap() = Stats::default();
            *self.baseline.lock().unwrap() = Baseline { ns: now };
        }
        reply
    }

    /// One request from the control socket (all but `trace`): the reply line.
    pub fn handle(&self, req: Request) -> String {
        match req {
            Request::Stats { reset } => protocol::ok(&self.stats(reset)),
            Request::FaultAdd { rule } => match self.add_rule(&rule) {
                Ok(id) => protocol::ok(&FaultAdded { id }),
                Err(e) => protocol::error(&e),
            },
            Request::FaultList => {
                let rules = self
                    .faults
                    .list()
                    .into_iter()
                    .map(|r| FaultRuleStatus { id: r.id, rule: r.text, matches: r.matches, fires: r.fires })
                    .collect();
                protocol::ok(&FaultList { rules })
            }
            Request::FaultDel { id } => {
                if self.faults.remove(id) {
                    protocol::ok(&Done {})
                } else {
                    protocol::error(&format!("no fault rule {id}"))
                }
            }
            Request::FaultClear => {
                self.faults.clear();
                protocol::ok(&Done {})
            }
            Request::Detect { on } => {
                self.detect.store(on, Ordering::SeqCst);
                protocol::ok(&DetectReply { detect: on })
            }
            Request::Mutations => {
                let mutations = self.mutations.lock().unwrap().iter().cloned().collect();
                protocol::ok(&MutationsReply { mutations })
            }
            Request::Trace { .. } => protocol::error("trace is a stream: handled by the server"),
        }
    }
}

impl CommandHook for ControlPlane {
    fn active(&self) -> bool {
        true
    }

    fn detect_mutation(&self) -> bool {
        self.detect.load(Ordering::Relaxed)
    }

    fn before(&self, cmd: &CommandView) -> Injection {
        let mut inj = Injection::default();
        if self.faults.is_empty() {
            return inj;
        }
        let fired = self.faults.fire(cmd.nsid, cmd.opcode, cmd.slba, cmd.nlb);
        // The first status rule decides the completion, and the command is then not
        // executed: a later status rule, and any rule that acts on the execution
        // (corruption, xguard, widen), has no effect and is not reported as fired.
        let status_rule = fired.iter().position(|f| matches!(f.action, Action::Status { .. }));
        for (i, f) in fired.into_iter().enumerate() {
            let effective = match f.action {
                Action::Status { .. } => Some(i) == status_rule,
                Action::Delay(_) => true,
                Action::Corrupt(_) | Action::TransientGuard | Action::Widen(_) | Action::Zone(_) => {
                    status_rule.is_none()
                }
            };
            if !effective {
                continue;
            }
            match f.action {
                Action::Corrupt(tag) => inj.corrupt.push((tag, f.lba_overlap.0, f.lba_overlap.1)),
                Action::TransientGuard => inj.transient_guard = true,
                Action::Status { sct, sc, dnr } => {
                    let s = Status::new(sct, sc);
                    inj.status = Some(if dnr { s.dnr() } else { s });
                }
                Action::Delay(d) => inj.delay += d,
                Action::Widen(d) => inj.widen += d,
                Action::Zone(z) => inj.zones.push((z, f.lba_overlap.0, f.lba_overlap.1)),
            }
            inj.fired.push(f.label);
        }
        inj
    }

    fn completed(&self, done: &Completed) {
        let has_pi = self.namespaces.snapshot().entry(done.view.nsid).is_some_and(|e| e.ns.format().has_pi());
        self.stats.lock().unwrap().record(done, has_pi);
        let to_tracing = tracing::enabled!(target: TRACE_TARGET, tracing::Level::INFO);
        let want_event = to_tracing || self.trace_tx.receiver_count() > 0 || done.mutation.is_some();
        if !want_event {
            return;
        }
        let ev = TraceEvent::from_completed(done);
        if let Some(m) = &ev.mutation {
            tracing::info!(
                "buffer mutation: ns {} queue {} cid {}: bytes changed in flight {:?} (lba, first, last) over {} us",
                ev.nsid,
                ev.queue,
                ev.cid,
                m.blocks,
                m.window_us
            );
            let mut q = self.mutations.lock().unwrap();
            q.push_back(ev.clone());
            while q.len() > RECENT_MUTATIONS {
                q.pop_front();
            }
        }
        if to_tracing {
            if let Ok(text) = serde_json::to_string(&ev) {
                tracing::info!(target: TRACE_TARGET, "{text}");
            }
        }
        let _ = self.trace_tx.send(Arc::new(ev));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::hooks::{MutationReport, Tag};
    use crate::nvm::Namespace;
    use std::time::Duration;

    fn plane() -> ControlPlane {
        let store: Arc<dyn crate::storage::BlockStore> = Arc::new(crate::storage::MemStore::new(1 << 20));
        let f = crate::nvm::namespace::standard_formats(0, 0);
        let ns = Namespace::new(1, store, f, 1, false, crate::nvm::namespace::Protection::new(1, false).unwrap(), 7);
        ControlPlane::new(Arc::new(NamespaceTable::fixed(vec![Arc::new(ns)])), false)
    }

    fn done(opcode: u8, slba: u64, status: Status, fired: Vec<String>) -> Completed {
        Completed {
            view: CommandView { sqid: 1, cid: 9, opcode, nsid: 1, slba, nlb: 8, prinfo: 0b0111 },
            status,
            latency: Duration::from_micros(40),
            fired,
            mutation: None,
        }
    }

    #[test]
    fn rules_become_injections() {
        let p = plane();
        p.add_rule("ns=1,op=read,lba=100-107,action=guard,name=rot").unwrap();
        p.add_rule("ns=1,op=read,action=delay:500").unwrap();
        p.add_rule("ns=1,op=write,when=once,action=status:2:0x80:dnr").unwrap();
        let view = |opcode, slba| CommandView { sqid: 1, cid: 1, opcode, nsid: 1, slba, nlb: 8, prinfo: 0 };
        let inj = p.before(&view(0x02, 104));
        assert_eq!(inj.corrupt, vec![(Tag::Guard, 104, 107)]);
        assert_eq!(inj.delay, Duration::from_micros(500));
        assert!(inj.fired.contains(&"rot".to_string()));
        let w = p.before(&view(0x01, 0));
        assert_eq!(w.status, Some(Status::new(2, 0x80).dnr()));
        assert_eq!(p.before(&view(0x01, 0)).status, None, "once");
        assert!(p.add_rule("ns=2,action=guard").unwrap_err().contains("namespace 2"));
    }

    /// Found by the 30-minute soak: two `prob:` status rules fired on one command,
    /// both were counted as fired, and only the first one's status was posted, so
    /// the firings of the second outnumbered its completions.
    #[test]
    fn only_rules_that_take_effect_are_reported_as_fired() {
        let p = plane();
        p.add_rule("ns=1,op=read,action=status:0:4,name=xfer").unwrap();
        p.add_rule("ns=1,op=read,action=status:2:0x81,name=unrec").unwrap();
        p.add_rule("ns=1,op=read,action=guard,name=rot").unwrap();
        p.add_rule("ns=1,op=read,action=delay:7,name=slow").unwrap();
        p.add_rule("ns=1,op=write,action=widen:9,name=wide").unwrap();
        let view = |opcode| CommandView { sqid: 1, cid: 1, opcode, nsid: 1, slba: 0, nlb: 8, prinfo: 0 };
        let r = p.before(&view(0x02));
        assert_eq!(r.status, Some(Status::new(0, 4)), "the first status rule decides");
        assert_eq!(r.fired, vec!["xfer".to_string(), "slow".to_string()], "the command does not execute");
        assert!(r.corrupt.is_empty());
        assert_eq!(r.delay, Duration::from_micros(7));
        let w = p.before(&view(0x01));
        assert_eq!((w.status, w.fired, w.widen), (None, vec!["wide".to_string()], Duration::from_micros(9)));
    }

    #[test]
    fn completed_commands_feed_stats_and_the_trace() {
        let p = plane();
        let mut rx = p.subscribe();
        p.completed(&done(0x02, 100, Status::GUARD_CHECK_ERROR, vec!["rot".into()]));
        let mut d = done(0x01, 200, Status::SUCCESS, vec![]);
        d.mutation = Some(MutationReport {
            sqid: 1,
            cid: 9,
            nsid: 1,
            blocks: vec![(201, 3, 9)],
            window: Duration::from_millis(2),
        });
        p.completed(&d);
        let ev = rx.try_recv().unwrap();
        assert_eq!(
            (ev.opcode.as_str(), ev.slba, ev.status, ev.fault.clone()),
            ("read", 100, 0x282, vec!["rot".to_string()])
        );
        let ev2 = rx.try_recv().unwrap();
        assert_eq!(ev2.mutation.as_ref().unwrap().blocks, vec![(201, 3, 9)]);
        let v: StatsReply = protocol::decode("stats", &p.handle(Request::Stats { reset: true })).unwrap();
        let ns1 = &v.namespaces[&1];
        assert_eq!(ns1.pi_failed_commands.guard, 1);
        assert_eq!(ns1.pi_checked_blocks.guard, 16, "two commands of 8 blocks with PRCHK guard");
        assert_eq!(v.faults_fired["rot"], 1);
        assert_eq!(v.mutations_detected, 1);
        assert_eq!(v.latency["read"].count, 1);
        let m: MutationsReply = protocol::decode("mutations", &p.handle(Request::Mutations)).unwrap();
        assert_eq!(m.mutations[0].slba, 200);
        let after: StatsReply = protocol::decode("stats", &p.handle(Request::Stats { reset: false })).unwrap();
        assert_eq!(after.mutations_detected, 0, "reset");
    }

    #[test]
    fn a_trace_reader_that_never_reads_only_loses_events() {
        let p = plane();
        let mut rx = p.subscribe();
        assert_eq!(p.trace_subscribers(), 1);
        // Five times the ring: the I/O side never waits for the reader, and the
        // ring keeps its fixed size.
        for i in 0..20_000 {
            p.completed(&done(0x02, i, Status::SUCCESS, vec![]));
        }
        match rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => assert_eq!(n, 20_000 - 4096),
            other => panic!("expected a lag note, got {other:?}"),
        }
        assert_eq!(rx.try_recv().unwrap().slba, 20_000 - 4096, "the oldest event still in the ring");
        drop(rx);
        assert_eq!(p.trace_subscribers(), 0);
    }
}
