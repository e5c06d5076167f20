//! `vnvme ctl`: the control socket's command-line client. Human output by
//! default, the server's JSON with `--json`.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
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

/// Send one request; its (successful) reply, and the connection for what follows (a trace).
fn send(path: &PathBuf, req: Value) -> Result<(Value, BufReader<UnixStream>), String> {
    let (mut s, mut r) = connect(path)?;
    writeln!(s, "{req}").map_err(|e| e.to_string())?;
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&line).map_err(|e| format!("bad reply from the server: {e}"))?;
    if v["ok"] != json!(true) {
        return Err(v["error"].as_str().unwrap_or("request failed").to_string());
    }
    Ok((v, r))
}

fn request(path: &PathBuf, req: Value) -> Result<Value, String> {
    send(path, req).map(|(v, _)| v)
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
            let v = request(path, json!({"cmd": "stats", "reset": reset}))?;
            if a.json {
                println!("{v}");
            } else {
                print_stats(&v);
            }
        }
        CtlCmd::Trace { ns, op, lba, errors, count } => {
            let lba = lba.as_deref().map(parse_lba).transpose()?;
            let filter = json!({"ns": ns, "op": if op.is_empty() { Value::Null } else { json!(op) }, "lba": lba, "errors": errors});
            let (_, r) = send(path, json!({"cmd": "trace", "filter": filter}))?;
            // Subscribed: from here on no completed command that matches is missed. Scripts that
            // start a trace in the background wait for this line before they issue I/O.
            eprintln!("vnvme ctl: tracing (Ctrl-C to stop)");
            for (seen, line) in (1u64..).zip(r.lines()) {
                let line = line.map_err(|e| e.to_string())?;
                if a.json {
                    println!("{line}");
                } else if let Ok(ev) = serde_json::from_str::<Value>(&line) {
                    print_event(&ev);
                }
                std::io::stdout().flush().ok();
                if count.is_some_and(|c| seen >= c) {
                    break;
                }
            }
        }
        CtlCmd::Fault { cmd } => {
            let req = match &cmd {
                FaultCmd::Add { rule } => json!({"cmd": "fault-add", "rule": rule}),
                FaultCmd::List => json!({"cmd": "fault-list"}),
                FaultCmd::Del { id } => json!({"cmd": "fault-del", "id": id}),
                FaultCmd::Clear => json!({"cmd": "fault-clear"}),
            };
            let v = request(path, req)?;
            if a.json {
                println!("{v}");
            } else {
                match cmd {
                    FaultCmd::Add { .. } => println!("rule {} added", v["id"]),
                    FaultCmd::List => {
                        println!("{:>4} {:>8} {:>8}  rule", "id", "matches", "fires");
                        for r in v["rules"].as_array().into_iter().flatten() {
                            println!("{:>4} {:>8} {:>8}  {}", r["id"].as_u64().unwrap_or(0), r["matches"].as_u64().unwrap_or(0), r["fires"].as_u64().unwrap_or(0), r["rule"].as_str().unwrap_or(""));
                        }
                    }
                    FaultCmd::Del { id } => println!("rule {id} deleted"),
                    FaultCmd::Clear => println!("all rules deleted"),
                }
            }
        }
        CtlCmd::Detect { state } => {
            let v = request(path, json!({"cmd": "detect", "on": state == "on"}))?;
            if a.json {
                println!("{v}");
            } else {
                println!("mutation detector {state}");
            }
        }
        CtlCmd::Mutations => {
            let v = request(path, json!({"cmd": "mutations"}))?;
            if a.json {
                println!("{v}");
            } else {
                for ev in v["mutations"].as_array().into_iter().flatten() {
                    print_event(ev);
                }
            }
        }
    }
    Ok(())
}

fn print_event(ev: &Value) {
    let mut line = format!(
        "{:.6} q{} cid {:<5} {:<10} ns{} lba {}+{} prinfo {:#x} -> {} ({:#05x}) {} us",
        ev["time"].as_f64().unwrap_or(0.0),
        ev["queue"],
        ev["cid"],
        ev["opcode"].as_str().unwrap_or("?"),
        ev["nsid"],
        ev["slba"],
        ev["nlb"],
        ev["prinfo"].as_u64().unwrap_or(0),
        ev["status_name"].as_str().unwrap_or("?"),
        ev["status"].as_u64().unwrap_or(0),
        ev["latency_us"]
    );
    if let Some(f) = ev["fault"].as_array() {
        line += &format!(" [fault {}]", f.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "));
    }
    if let Some(m) = ev.get("mutation").filter(|m| !m.is_null()) {
        line += &format!(" [buffer changed in flight: {} over {} us]", m["blocks"], m["window_us"]);
    }
    println!("{line}");
}

fn print_stats(v: &Value) {
    println!("since {:.1} s", v["seconds"].as_f64().unwrap_or(0.0));
    for b in v["bytes"].as_array().into_iter().flatten() {
        println!(
            "ns{}: DMA to device {} B, to host {} B; Copy inside the device: read {} B, written {} B",
            b["nsid"], b["dma_to_device_bytes"], b["dma_to_host_bytes"], b["copy_read_bytes"], b["copy_written_bytes"]
        );
    }
    if let Some(p) = v.get("pract").filter(|p| !p.is_null()) {
        println!("PRACT: {} blocks inserted, {} stripped", p["inserted_blocks"], p["stripped_blocks"]);
    }
    if let Some(ns) = v["namespaces"].as_object() {
        for (nsid, s) in ns {
            println!("ns{nsid} commands:");
            for c in s["commands"].as_array().into_iter().flatten() {
                println!(
                    "  {:<12} {:<40} {:>10}",
                    c["opcode"].as_str().unwrap_or(""),
                    c["status_name"].as_str().unwrap_or(""),
                    c["count"].as_u64().unwrap_or(0)
                );
            }
            println!("  PI checked blocks {}  failed commands {}", s["pi_checked_blocks"], s["pi_failed_commands"]);
        }
    }
    if let Some(q) = v["queues"].as_object() {
        for (qid, ops) in q {
            println!("queue {qid}: {ops}");
        }
    }
    if let Some(l) = v["latency"].as_object() {
        println!("{:<12} {:>8} {:>8} {:>8} {:>8}", "latency", "count", "p50 us", "p99 us", "max us");
        for (op, h) in l {
            let n = |k: &str| h[k].as_u64().unwrap_or(0);
            println!("{:<12} {:>8} {:>8} {:>8} {:>8}", op, n("count"), n("p50_us"), n("p99_us"), n("max_us"));
        }
    }
    println!("faults fired: {}  buffer mutations detected: {}", v["faults_fired"], v["mutations_detected"]);
}
