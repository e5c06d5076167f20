//! The protocol's types: every reply survives the trip through a reply line,
//! a reply `vnvme ctl` cannot read is an error naming the command, and the wire
//! form of a stats and a fault-list reply is pinned to what the server wrote
//! before the replies were typed (captured from the `json!` code).

use super::*;
use crate::control::trace::{MutationEvent, TraceEvent};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(cmd: &str, body: T) {
    let line = ok(&body);
    assert_eq!(decode::<T>(cmd, &line), Ok(body), "{line}");
}

/// A trace event with a fault and a mutation (also used by `cli::ctl`'s tests).
pub(crate) fn event() -> TraceEvent {
    TraceEvent {
        time: 1795400000.123456,
        queue: 1,
        cid: 17,
        opcode: "write".into(),
        nsid: 1,
        slba: 200,
        nlb: 8,
        prinfo: 7,
        status: 0,
        status_name: "success".into(),
        latency_us: 41,
        fault: vec!["widen".into()],
        mutation: Some(MutationEvent { blocks: vec![(201, 3, 9)], window_us: 2000 }),
    }
}

/// The stats of the capture: ns 1 with one failed read (guard, rule `rot`) on
/// queue 1 and one write on queue 2, 8 blocks each with PRCHK all.
fn stats() -> StatsReply {
    let cmd = |opcode: &str, status: &str, status_name: &str| CommandCount {
        opcode: opcode.into(),
        status: status.into(),
        status_name: status_name.into(),
        count: 1,
    };
    let lat = |us| Latency { count: 1, p50_us: us, p99_us: us, max_us: us };
    let ns1 = NsStatsReply {
        commands: vec![cmd("write", "0x000", "success"), cmd("read", "0x282", "end-to-end guard check error")],
        pi_checked_blocks: PiChecked { guard: 16, app_tag: 16, ref_tag: 16 },
        pi_failed_commands: PiFailed { guard: 1, app_tag: 0, ref_tag: 0, storage_tag: 0 },
    };
    StatsReply {
        seconds: 0.000072257,
        namespaces: BTreeMap::from([(1, ns1)]),
        queues: BTreeMap::from([
            (1, BTreeMap::from([("read".to_string(), 1)])),
            (2, BTreeMap::from([("write".to_string(), 1)])),
        ]),
        latency: BTreeMap::from([("read".to_string(), lat(40)), ("write".to_string(), lat(300))]),
        faults_fired: BTreeMap::from([("rot".to_string(), 1)]),
        mutations_detected: 0,
        bytes: vec![NsBytes { nsid: 1, ..NsBytes::default() }],
        pract: None,
    }
}

fn fault_list() -> FaultList {
    FaultList {
        rules: vec![
            FaultRuleStatus {
                id: 1,
                rule: "ns=1,op=read,lba=100-107,when=always,action=guard,name=rot".into(),
                matches: 1,
                fires: 1,
            },
            FaultRuleStatus {
                id: 2,
                rule: "ns=1,op=write,when=once,action=status:2:0x80:dnr".into(),
                matches: 0,
                fires: 0,
            },
        ],
    }
}

#[test]
fn requests_parse_and_bad_ones_explain_themselves() {
    assert_eq!(parse(r#"{"cmd":"stats"}"#), Ok(Request::Stats { reset: false }));
    assert_eq!(
        parse(r#"{"cmd":"fault-add","rule":"ns=1,action=guard"}"#),
        Ok(Request::FaultAdd { rule: "ns=1,action=guard".into() })
    );
    assert!(parse(r#"{"cmd":"trace","filter":{"ns":1,"errors":true}}"#).is_ok());
    assert!(parse("{not json").unwrap_err().starts_with("malformed request"));
    assert!(parse(r#"{"cmd":"reboot"}"#).unwrap_err().starts_with("unknown command"));
    assert!(parse(r#"{"cmd":"fault-del"}"#).unwrap_err().contains("missing field"));
    assert!(parse(r#"{"cmd":"stats","bogus":1}"#).is_err());
}

#[test]
fn requests_round_trip_and_name_their_cmd() {
    let filter = crate::control::trace::TraceFilter {
        ns: Some(1),
        op: Some(vec!["read".into()]),
        lba: Some((100, 199)),
        errors: true,
    };
    for req in [
        Request::Stats { reset: true },
        Request::Trace { filter },
        Request::FaultAdd { rule: "ns=1,action=guard".into() },
        Request::FaultList,
        Request::FaultDel { id: 3 },
        Request::FaultClear,
        Request::Detect { on: true },
        Request::Mutations,
    ] {
        let line = to_line(&req);
        assert!(line.contains(&format!(r#""cmd":"{}""#, req.name())), "{line}");
        assert_eq!(parse(&line), Ok(req));
    }
}

#[test]
fn every_reply_round_trips() {
    round_trip("stats", stats());
    round_trip("stats", StatsReply { pract: Some(Pract { inserted_blocks: 5, stripped_blocks: 6 }), ..stats() });
    round_trip("trace", TraceStarted { streaming: true });
    round_trip("fault-add", FaultAdded { id: 3 });
    round_trip("fault-list", fault_list());
    round_trip("fault-del", Done {});
    round_trip("detect", DetectReply { detect: true });
    round_trip("mutations", MutationsReply { mutations: vec![event()] });
    for l in [TraceLine::Event(event()), TraceLine::Lagged(LaggedNote { lagged: 12 })] {
        assert_eq!(serde_json::from_str::<TraceLine>(&to_line(&l)).unwrap(), l);
    }
}

#[test]
fn wire_form_is_what_the_json_macro_code_wrote() {
    // Captured from the server before the replies were typed (same commands as `stats()`).
    let old_stats = r#"{"bytes":[{"copy_read_bytes":0,"copy_written_bytes":0,"dma_to_device_bytes":0,"dma_to_host_bytes":0,"nsid":1}],"faults_fired":{"rot":1},"latency":{"read":{"count":1,"max_us":40,"p50_us":40,"p99_us":40},"write":{"count":1,"max_us":300,"p50_us":300,"p99_us":300}},"mutations_detected":0,"namespaces":{"1":{"commands":[{"count":1,"opcode":"write","status":"0x000","status_name":"success"},{"count":1,"opcode":"read","status":"0x282","status_name":"end-to-end guard check error"}],"pi_checked_blocks":{"app_tag":16,"guard":16,"ref_tag":16},"pi_failed_commands":{"app_tag":0,"guard":1,"ref_tag":0,"storage_tag":0}}},"ok":true,"queues":{"1":{"read":1},"2":{"write":1}},"seconds":0.000072257}"#;
    let old_faults = r#"{"ok":true,"rules":[{"fires":1,"id":1,"matches":1,"rule":"ns=1,op=read,lba=100-107,when=always,action=guard,name=rot"},{"fires":0,"id":2,"matches":0,"rule":"ns=1,op=write,when=once,action=status:2:0x80:dnr"}]}"#;
    assert_eq!(ok(&stats()), old_stats);
    assert_eq!(ok(&fault_list()), old_faults);
    assert_eq!(ok(&FaultAdded { id: 3 }), r#"{"id":3,"ok":true}"#);
    assert_eq!(ok(&Done {}), r#"{"ok":true}"#);
    assert_eq!(ok(&DetectReply { detect: true }), r#"{"detect":true,"ok":true}"#);
    assert_eq!(ok(&MutationsReply::default()), r#"{"mutations":[],"ok":true}"#);
    assert_eq!(ok(&TraceStarted { streaming: true }), r#"{"ok":true,"streaming":true}"#);
    assert_eq!(to_line(&LaggedNote { lagged: 4 }), r#"{"lagged":4}"#);
    assert_eq!(
        error("`bogus` in fault rule is not key=value"),
        r#"{"error":"`bogus` in fault rule is not key=value","ok":false}"#
    );
}

#[test]
fn a_reply_the_client_cannot_read_names_the_command() {
    assert_eq!(decode::<FaultAdded>("fault-add", &error("no such thing")), Err("no such thing".to_string()));
    let e = decode::<FaultAdded>("fault-add", r#"{"ok":true,"rule_id":3}"#).unwrap_err();
    assert!(e.starts_with("fault-add: unexpected reply from the server") && e.contains("missing field `id`"), "{e}");
    assert!(decode::<StatsReply>("stats", "").unwrap_err().starts_with("stats: unexpected reply"));
    assert!(decode::<Done>("fault-clear", "[1,2]").unwrap_err().starts_with("fault-clear: unexpected reply"));
    assert_eq!(decode::<Done>("fault-clear", r#"{"ok":false}"#), Err("fault-clear: request failed".to_string()));
}
