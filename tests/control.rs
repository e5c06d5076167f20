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

fn start() -> (Server, PathBuf) {
    let dir = std::env::temp_dir().join(format!("vnvme-it-{}-ctl", std::process::id()));
    let control = dir.join("control");
    let srv = common::serve(
        "ctl",
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
    let (_srv, control) = start();
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
