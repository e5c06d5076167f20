//! The control socket with a running `vnvme serve`: `vnvme ctl` adds, lists and
//! deletes fault rules and reads stats; bad input (malformed JSON, an unknown
//! command, a bad rule, a rule for a missing namespace) gets a clear error reply
//! and changes nothing.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::Server;

/// A server named `name` (its own scratch directory, so tests run in parallel).
fn start(name: &str) -> (Server, PathBuf) {
    let srv_name = format!("ctl-{name}");
    let dir = std::env::temp_dir().join(format!("vnvme-it-{}-{srv_name}", std::process::id()));
    let control = dir.join("control");
    let srv = common::serve(
        &srv_name,
        &["--control", control.to_str().unwrap(), "--fault", "ns=1,op=read,lba=5,action=xguard,name=start"],
    );
    let t = Instant::now();
    while !control.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "control socket never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    (srv, control)
}

fn ctl(control: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnvme")).arg("ctl").arg("--control").arg(control).args(args).output().unwrap()
}

fn raw(control: &Path, line: &str) -> serde_json::Value {
    let mut s = UnixStream::connect(control).unwrap();
    writeln!(s, "{line}").unwrap();
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap()
}

#[test]
fn rules_stats_and_bad_input() {
    let (_srv, control) = start("rules");
    let out = ctl(&control, &["--json", "fault", "list"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules"][0]["rule"], "ns=1,op=read,lba=5,when=always,action=xguard,name=start", "the --fault rule");

    let out = ctl(&control, &["fault", "add", "ns=1,op=write,when=once,action=status:2:0x80"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("added"));

    for (rule, needle) in
        [("ns=1,action=explode", "explode"), ("ns=9,action=guard", "namespace 9"), ("action=guard", "ns")]
    {
        let out = ctl(&control, &["fault", "add", rule]);
        assert!(!out.status.success(), "{rule} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{rule}: {err}");
    }
    let v = raw(&control, "{not json");
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("malformed"));
    let v = raw(&control, r#"{"cmd":"format-disk"}"#);
    assert!(v["error"].as_str().unwrap().contains("unknown command"));
    let v = raw(&control, r#"{"cmd":"fault-del","id":999}"#);
    assert!(v["error"].as_str().unwrap().contains("no fault rule 999"));

    let out = ctl(&control, &["--json", "fault", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules"].as_array().unwrap().len(), 2, "bad input added nothing");
    assert!(ctl(&control, &["fault", "del", "1"]).status.success());
    assert!(ctl(&control, &["fault", "clear"]).status.success());
    let v = raw(&control, r#"{"cmd":"fault-list"}"#);
    assert!(v["rules"].as_array().unwrap().is_empty());

    let out = ctl(&control, &["--json", "stats", "--reset"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bytes"][0]["nsid"], 1);
    assert!(ctl(&control, &["detect", "on"]).status.success());
    let out = ctl(&control, &["stats"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("buffer mutations detected"));
}

/// The peak resident memory of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn read_reply(s: &UnixStream) -> serde_json::Value {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
}

#[test]
fn a_gigabyte_without_a_newline_is_refused_in_bounded_memory() {
    let (srv, control) = start("long-line");
    assert!(ctl(&control, &["stats"]).status.success());
    let before = peak_rss_kib(srv.child.id());
    let s = UnixStream::connect(&control).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0u64;
        while sent < 1 << 30 {
            if w.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let v = read_reply(&s);
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("longer than 65536 bytes"), "{v}");
    let sent = writer.join().unwrap();
    assert!(sent < 1 << 30, "the server kept reading: {sent} bytes went in");
    let grew = peak_rss_kib(srv.child.id()).saturating_sub(before);
    assert!(grew < 16 << 10, "the server's peak memory grew by {grew} KiB");
    let out = ctl(&control, &["stats"]);
    assert!(out.status.success(), "the socket still serves: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_thousand_trace_subscribers_meet_the_limits() {
    let (srv, control) = start("subscribers");
    let before = peak_rss_kib(srv.child.id());
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut s = UnixStream::connect(&control).unwrap();
        // A refused connection may be closed before the request goes out.
        let _ = writeln!(s, r#"{{"cmd":"trace"}}"#);
        conns.push(s);
    }
    let (mut streaming, mut subscribers_full, mut connections_full) = (0, 0, 0);
    for s in &conns {
        let v = read_reply(s);
        if v["ok"] == true && v["streaming"] == true {
            streaming += 1;
        } else if v["error"].as_str().is_some_and(|e| e.contains("too many trace subscribers (32")) {
            subscribers_full += 1;
        } else if v["error"].as_str().is_some_and(|e| e.contains("too many control connections (128")) {
            connections_full += 1;
        } else {
            panic!("unexpected reply {v}");
        }
    }
    assert_eq!((streaming, subscribers_full, connections_full), (32, 96, 872));
    let grew = peak_rss_kib(srv.child.id()).saturating_sub(before);
    assert!(grew < 32 << 10, "the server's peak memory grew by {grew} KiB");
    drop(conns);
    // The limits are given back when the connections close.
    let t = Instant::now();
    loop {
        let mut s = UnixStream::connect(&control).unwrap();
        writeln!(s, r#"{{"cmd":"trace"}}"#).unwrap();
        if read_reply(&s)["streaming"] == true {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "subscriber slots never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn both_sockets_are_mode_0600_and_refuse_other_users() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let (srv, control) = start("modes");
    let vfio = srv.dir.join("s");
    let t = Instant::now();
    while !vfio.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "vfio-user socket never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    for sock in [&control, &vfio] {
        let mode = std::fs::metadata(sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", sock.display());
    }
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("not root: the refusal of another user is checked only as root (the mode is checked above)");
        return;
    }
    for sock in [&control, &vfio] {
        let out = Command::new(env!("CARGO_BIN_EXE_vnvme"))
            .args(["ctl", "--control", sock.to_str().unwrap(), "stats"])
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert!(!out.status.success(), "user 65534 got through to {}", sock.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("ermission denied"), "{}: {err}", sock.display());
    }
}
