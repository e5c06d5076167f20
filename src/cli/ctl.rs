//! `vnvme ctl`: the control socket's command-line client. Human output by
//! default, the server's JSON with `--json`.

use crate::control::protocol::{
    self, DetectReply, Done, FaultAdded, FaultList, MutationsReply, Request, StatsReply, TraceLine, TraceStarted,
};
use crate::control::trace::{TraceEvent, TraceFilter};
use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

#[derive(Args)]
pub struct CtlArgs {
    /// The control socket of a running `vnvme serve --control PATH`.
    #[arg(long)]
    pub control: PathBuf,
    /// Print the server's JSON replies as they are.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: CtlCmd,
}

#[derive(Subcommand)]
pub enum CtlCmd {
    /// Statistics per namespace and queue, PI checks, bytes across DMA and inside the device, latency.
    Stats {
        /// Start counting afresh after printing.
        #[arg(long)]
        reset: bool,
    },
    /// Stream one line per completed command (Ctrl-C to stop).
    Trace {
        #[arg(long)]
        ns: Option<u32>,
        /// Opcode name (read, write, copy, verify, compare, flush, ...); repeatable.
        #[arg(long)]
        op: Vec<String>,
        /// LBA range START[-END] (inclusive) the command must overlap.
        #[arg(long)]
        lba: Option<String>,
        /// Only commands that did not succeed.
        #[arg(long)]
        errors: bool,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Create this (empty) file once subscribed: from then on no matching command is missed.
        /// Scripts that start a trace in the background wait for it before they issue I/O.
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Fault rules: add RULE | list | del ID | clear (rule syntax in docs/faults.md).
    Fault {
        #[command(subcommand)]
        cmd: FaultCmd,
    },
    /// Turn the buffer-mutation detector on or off.
    Detect {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// The most recent buffer mutations the detector saw.
    Mutations,
}

#[derive(Subcommand)]
pub enum FaultCmd {
    Add { rule: String },
    List,
    Del { id: u32 },
    Clear,
}

fn connect(path: &PathBuf) -> Result<(UnixStream, BufReader<UnixStream>), String> {
    let s = UnixStream::connect(path).map_err(|e| format!("control socket {}: {e}", path.display()))?;
    let r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    Ok((s, r))
}

/// A successful reply: the raw line (printed as is by `--json`) and its body.
struct Reply<T> {
    line: String,
    body: T,
}

impl<T> Reply<T> {
    /// The reply for `--json`, else the human form.
    fn print(&self, json: bool, human: impl FnOnce(&T)) {
        if json {
            println!("{}", self.line.trim_end());
        } else {
            human(&self.body);
        }
    }
}

/// Send one request; its (successful) reply, and the connection for what follows (a trace).
fn send<T: DeserializeOwned>(path: &PathBuf, req: &Request) -> Result<(Reply<T>, BufReader<UnixStream>), String> {
    let (mut s, mut r) = connect(path)?;
    writeln!(s, "{}", protocol::to_line(req)).map_err(|e| e.to_string())?;
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("{}: {e}", req.name()))?;
    let body = protocol::decode(req.name(), &line)?;
    Ok((Reply { line, body }, r))
}

fn request<T: DeserializeOwned>(path: &PathBuf, req: &Request) -> Result<Reply<T>, String> {
    send(path, req).map(|(v, _)| v)
}

/// A value as compact JSON with sorted keys, as the human output has always shown it.
fn json<T: Serialize>(v: &T) -> String {
    protocol::to_line(v)
}

fn parse_lba(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--lba {s}: expected START or START-END");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u64 = a.parse().map_err(|_| bad())?;
    let b: u64 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(format!("--lba {s}: END is before START"));
    }
    Ok((a, b))
}

pub fn run(a: CtlArgs) -> Result<(), String> {
    let path = &a.control;
    match a.cmd {
        CtlCmd::Stats { reset } => {
            request::<StatsReply>(path, &Request::Stats { reset })?.print(a.json, print_stats);
        }
        CtlCmd::Trace { ns, op, lba, errors, count, ready_file } => {
            let lba = lba.as_deref().map(parse_lba).transpose()?;
            let filter = TraceFilter { ns, op: if op.is_empty() { None } else { Some(op) }, lba, errors };
            let (_, r) = send::<TraceStarted>(path, &Request::Trace { filter })?;
            // Subscribed: from here on no completed command that matches is missed.
            if let Some(f) = &ready_file {
                std::fs::File::create(f).map_err(|e| format!("--ready-file {}: {e}", f.display()))?;
            }
            eprintln!("vnvme ctl: tracing (Ctrl-C to stop)");
            for (seen, line) in (1u64..).zip(r.lines()) {
                let line = line.map_err(|e| e.to_string())?;
                if a.json {
                    println!("{line}");
                } else {
                    match serde_json::from_str::<TraceLine>(&line) {
                        Ok(TraceLine::Event(ev)) => print_event(&ev),
                        Ok(TraceLine::Lagged(n)) => println!("({} events dropped: this client fell behind)", n.lagged),
                        Err(_) => {}
                    }
                }
                std::io::stdout().flush().ok();
                if count.is_some_and(|c| seen >= c) {
                    break;
                }
            }
        }
        CtlCmd::Fault { cmd } => match cmd {
            FaultCmd::Add { rule } => {
                request::<FaultAdded>(path, &Request::FaultAdd { rule })?
                    .print(a.json, |v| println!("rule {} added", v.id));
            }
            FaultCmd::List => {
                request::<FaultList>(path, &Request::FaultList)?.print(a.json, |v| {
                    println!("{:>4} {:>8} {:>8}  rule", "id", "matches", "fires");
                    for r in &v.rules {
                        println!("{:>4} {:>8} {:>8}  {}", r.id, r.matches, r.fires, r.rule);
                    }
                });
            }
            FaultCmd::Del { id } => {
                request::<Done>(path, &Request::FaultDel { id })?.print(a.json, |_| println!("rule {id} deleted"));
            }
            FaultCmd::Clear => {
                request::<Done>(path, &Request::FaultClear)?.print(a.json, |_| println!("all rules deleted"));
            }
        },
        CtlCmd::Detect { state } => {
            request::<DetectReply>(path, &Request::Detect { on: state == "on" })?
                .print(a.json, |_| println!("mutation detector {state}"));
        }
        CtlCmd::Mutations => {
            request::<MutationsReply>(path, &Request::Mutations)?
                .print(a.json, |v| v.mutations.iter().for_each(print_event));
        }
    }
    Ok(())
}

fn print_event(ev: &TraceEvent) {
    println!("{}", event_line(ev));
}

/// A trace event as one human line.
fn event_line(ev: &TraceEvent) -> String {
    // No padding after the cid: the old code formatted a `serde_json::Value` there, which ignores widths.
    let mut line = format!(
        "{:.6} q{} cid {} {:<10} ns{} lba {}+{} prinfo {:#x} -> {} ({:#05x}) {} us",
        ev.time,
        ev.queue,
        ev.cid,
        ev.opcode,
        ev.nsid,
        ev.slba,
        ev.nlb,
        ev.prinfo,
        ev.status_name,
        ev.status,
        ev.latency_us
    );
    if !ev.fault.is_empty() {
        line += &format!(" [fault {}]", ev.fault.join(", "));
    }
    if let Some(m) = &ev.mutation {
        line += &format!(" [buffer changed in flight: {} over {} us]", json(&m.blocks), m.window_us);
    }
    line
}

fn print_stats(v: &StatsReply) {
    print!("{}", stats_text(v));
}

/// A stats reply as human lines.
fn stats_text(v: &StatsReply) -> String {
    let mut out = format!("since {:.1} s\n", v.seconds);
    let mut line = |l: String| {
        out += &l;
        out.push('\n');
    };
    for b in &v.bytes {
        line(format!(
            "ns{}: DMA to device {} B, to host {} B; Copy inside the device: read {} B, written {} B",
            b.nsid, b.dma_to_device_bytes, b.dma_to_host_bytes, b.copy_read_bytes, b.copy_written_bytes
        ));
    }
    if let Some(p) = &v.pract {
        line(format!("PRACT: {} blocks inserted, {} stripped", p.inserted_blocks, p.stripped_blocks));
    }
    for (nsid, s) in &v.namespaces {
        line(format!("ns{nsid} commands:"));
        for c in &s.commands {
            line(format!("  {:<12} {:<40} {:>10}", c.opcode, c.status_name, c.count));
        }
        line(format!(
            "  PI checked blocks {}  failed commands {}",
            json(&s.pi_checked_blocks),
            json(&s.pi_failed_commands)
        ));
    }
    for (qid, ops) in &v.queues {
        line(format!("queue {qid}: {}", json(ops)));
    }
    line(format!("{:<12} {:>8} {:>8} {:>8} {:>8}", "latency", "count", "p50 us", "p99 us", "max us"));
    for (op, h) in &v.latency {
        line(format!("{:<12} {:>8} {:>8} {:>8} {:>8}", op, h.count, h.p50_us, h.p99_us, h.max_us));
    }
    line(format!("faults fired: {}  buffer mutations detected: {}", json(&v.faults_fired), v.mutations_detected));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{NsBytes, Pract};
    use crate::control::trace::MutationEvent;

    // The expected text is what the `serde_json::Value` code printed for the same replies.
    #[test]
    fn human_output_is_unchanged() {
        let ev = TraceEvent {
            status: 0x282,
            status_name: "end-to-end guard check error".into(),
            fault: vec!["a".into(), "b".into()],
            mutation: Some(MutationEvent { blocks: vec![(201, 3, 9), (202, 0, 511)], window_us: 2000 }),
            ..crate::control::protocol::tests::event()
        };
        assert_eq!(
            event_line(&ev),
            "1795400000.123456 q1 cid 17 write      ns1 lba 200+8 prinfo 0x7 -> end-to-end guard check error (0x282) 41 us [fault a, b] [buffer changed in flight: [[201,3,9],[202,0,511]] over 2000 us]"
        );
        let line = r#"{"bytes":[],"faults_fired":{"rot":1},"latency":{"read":{"count":1,"max_us":40,"p50_us":40,"p99_us":40}},"mutations_detected":0,"namespaces":{"1":{"commands":[{"count":1,"opcode":"read","status":"0x282","status_name":"end-to-end guard check error"}],"pi_checked_blocks":{"app_tag":16,"guard":16,"ref_tag":16},"pi_failed_commands":{"app_tag":0,"guard":1,"ref_tag":0,"storage_tag":0}}},"ok":true,"queues":{"1":{"read":1}},"seconds":0.000072257}"#;
        let mut v: StatsReply = protocol::decode("stats", line).unwrap();
        v.bytes.push(NsBytes { nsid: 1, dma_to_host_bytes: 4096, ..NsBytes::default() });
        v.pract = Some(Pract { inserted_blocks: 3, stripped_blocks: 4 });
        let want = "since 0.0 s
ns1: DMA to device 0 B, to host 4096 B; Copy inside the device: read 0 B, written 0 B
PRACT: 3 blocks inserted, 4 stripped
ns1 commands:
  read         end-to-end guard check error                      1
  PI checked blocks {\"app_tag\":16,\"guard\":16,\"ref_tag\":16}  failed commands {\"app_tag\":0,\"guard\":1,\"ref_tag\":0,\"storage_tag\":0}
queue 1: {\"read\":1}
latency         count   p50 us   p99 us   max us
read                1       40       40       40
faults fired: {\"rot\":1}  buffer mutations detected: 0
";
        assert_eq!(stats_text(&v), want);
    }
}
