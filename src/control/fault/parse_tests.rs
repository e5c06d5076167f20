//! Tests of rule parsing: every form of every key, the defaults, the canonical
//! string and its round trip, and an error naming the problem for each mistake.

use super::*;

fn parse(s: &str) -> FaultRule {
    s.parse().unwrap_or_else(|e| panic!("`{s}` should parse: {e}"))
}

fn error(s: &str) -> String {
    match s.parse::<FaultRule>() {
        Ok(r) => panic!("`{s}` should not parse, got {r}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn full_rule() {
    let r = parse("ns=1,op=read,lba=2048-2055,when=once,action=guard");
    assert_eq!(r.id, 0);
    assert_eq!(r.name, None);
    assert_eq!(r.ns, Some(1));
    assert_eq!(r.op, Op::Read);
    assert_eq!(r.lba, Some((2048, 2055)));
    assert_eq!(r.when, When::Once);
    assert_eq!(r.action, Action::Corrupt(Tag::Guard));
    assert_eq!(r.text, "ns=1,op=read,lba=2048-2055,when=once,action=guard");
}

#[test]
fn defaults() {
    let r = parse("ns=2,action=xguard");
    assert_eq!(r.ns, Some(2));
    assert_eq!(r.op, Op::Any);
    assert_eq!(r.lba, None);
    assert_eq!(r.when, When::Always);
    assert_eq!(r.action, Action::TransientGuard);
    assert_eq!(r.text, "ns=2,op=any,when=always,action=xguard");
}

#[test]
fn any_namespace() {
    assert_eq!(parse("ns=*,action=guard").ns, None);
}

#[test]
fn every_op() {
    for (word, op) in [
        ("read", Op::Read),
        ("write", Op::Write),
        ("copy", Op::Copy),
        ("verify", Op::Verify),
        ("compare", Op::Compare),
        ("any", Op::Any),
    ] {
        assert_eq!(parse(&format!("ns=1,op={word},action=guard")).op, op);
    }
}

#[test]
fn lba_forms() {
    assert_eq!(parse("ns=1,lba=7,action=guard").lba, Some((7, 7)));
    assert_eq!(parse("ns=1,lba=7-7,action=guard").lba, Some((7, 7)));
    assert_eq!(parse("ns=1,lba=0x10-0x1f,action=guard").lba, Some((16, 31)));
    assert_eq!(parse("ns=1,lba=0-18446744073709551615,action=guard").lba, Some((0, u64::MAX)));
}

#[test]
fn every_when() {
    assert_eq!(parse("ns=1,when=always,action=guard").when, When::Always);
    assert_eq!(parse("ns=1,when=once,action=guard").when, When::Once);
    assert_eq!(parse("ns=1,when=nth:3,action=guard").when, When::Nth(3));
    assert_eq!(parse("ns=1,when=prob:0.5:42,action=guard").when, When::Prob { p: 0.5, seed: 42 });
    assert_eq!(parse("ns=1,when=prob:0:0x2a,action=guard").when, When::Prob { p: 0.0, seed: 42 });
    assert_eq!(parse("ns=1,when=prob:1:7,action=guard").when, When::Prob { p: 1.0, seed: 7 });
}

#[test]
fn every_action() {
    let action = |a: &str| parse(&format!("ns=1,action={a}")).action;
    assert_eq!(action("guard"), Action::Corrupt(Tag::Guard));
    assert_eq!(action("apptag"), Action::Corrupt(Tag::AppTag));
    assert_eq!(action("reftag"), Action::Corrupt(Tag::RefTag));
    assert_eq!(action("xguard"), Action::TransientGuard);
    assert_eq!(action("status:2:0x81"), Action::Status { sct: 2, sc: 0x81, dnr: false });
    assert_eq!(action("status:2:129"), Action::Status { sct: 2, sc: 0x81, dnr: false });
    assert_eq!(action("status:0x2:0x80:dnr"), Action::Status { sct: 2, sc: 0x80, dnr: true });
    assert_eq!(action("delay:300000"), Action::Delay(Duration::from_millis(300)));
    assert_eq!(action("widen:200"), Action::Widen(Duration::from_micros(200)));
}

#[test]
fn name_and_label() {
    let r = parse("name=slow reads,ns=1,op=read,action=delay:10");
    assert_eq!(r.name.as_deref(), Some("slow reads"));
    assert_eq!(r.text, "ns=1,op=read,when=always,action=delay:10,name=slow reads");
    assert_eq!(r.label(), "slow reads");
    let mut unnamed = parse("ns=1,action=guard");
    unnamed.id = 4;
    assert_eq!(unnamed.label(), "r4: ns=1,op=any,when=always,action=guard");
}

#[test]
fn keys_in_any_order_spacing_and_case() {
    let a = parse("action=status:2:0x81:dnr,when=nth:2,lba=5-9,op=write,ns=3");
    let b = parse(" NS = 3 , Op=WRITE, lba=5-9 ,when=NTH:2,ACTION=Status:2:0X81:DNR ");
    assert_eq!(a, b);
    assert_eq!(a.text, "ns=3,op=write,lba=5-9,when=nth:2,action=status:2:0x81:dnr");
}

#[test]
fn canonical_form_round_trips() {
    for s in [
        "ns=1,op=read,lba=2048-2055,when=once,action=guard",
        "ns=1,op=write,lba=5000,when=once,action=status:2:0x80:dnr",
        "ns=*,op=read,when=prob:0.01:42,action=status:2:0x81",
        "ns=1,op=write,action=widen:200000",
        "ns=1,op=read,lba=7000,action=delay:300000",
        "ns=4294967295,op=compare,lba=0x10,when=nth:18446744073709551615,action=apptag,name=x",
        "ns=2,op=verify,when=prob:0.333333333333:0xffffffffffffffff,action=reftag",
        "ns=2,op=copy,action=status:0:0x2",
        "ns=2,when=prob:1e-9:0,action=xguard",
    ] {
        let r = parse(s);
        assert_eq!(r.to_string(), r.text);
        let again = parse(&r.text);
        assert_eq!(again, r, "`{s}` -> `{}`", r.text);
        assert_eq!(again.text, r.text);
    }
}

#[test]
fn canonical_status_and_delay_spelling() {
    assert_eq!(parse("ns=1,action=status:0x2:130").text, "ns=1,op=any,when=always,action=status:2:0x82");
    assert_eq!(parse("ns=1,action=status:0:2").text, "ns=1,op=any,when=always,action=status:0:0x02");
    assert_eq!(parse("ns=1,action=delay:0x10").text, "ns=1,op=any,when=always,action=delay:16");
}

/// Each error message contains every fragment listed for it.
#[test]
fn errors_name_the_problem() {
    for (rule, fragments) in [
        ("", &["empty fault rule"][..]),
        ("   ", &["empty fault rule"]),
        ("ns=1,,action=guard", &["empty field"]),
        ("ns=1,action=guard,", &["empty field"]),
        ("ns=1,read,action=guard", &["`read`", "not key=value"]),
        ("ns=1,opp=read,action=guard", &["unknown key `opp`"]),
        ("ns=1,ns=2,action=guard", &["`ns` given twice"]),
        ("op=read,action=guard", &["no ns="]),
        ("ns=1,op=read", &["no action=", "status:SCT:SC"]),
        ("ns=,action=guard", &["`ns=`", "empty value"]),
        ("ns=one,action=guard", &["`ns=one`", "not a number"]),
        ("ns=0,action=guard", &["`ns=0`", "start at 1"]),
        ("ns=4294967296,action=guard", &["`ns=4294967296`", "32 bits"]),
        ("ns=1,op=flush,action=guard", &["`op=flush`", "unknown operation"]),
        ("ns=1,lba=9-3,action=guard", &["`lba=9-3`", "END 3 is before START 9"]),
        ("ns=1,lba=x,action=guard", &["`lba=x`", "START `x` is not a number"]),
        ("ns=1,lba=5-,action=guard", &["`lba=5-`", "END is missing"]),
        ("ns=1,lba=1-99999999999999999999,action=guard", &["END", "too large"]),
        ("ns=1,when=nth:0,action=guard", &["`when=nth:0`", "nth:0 never fires"]),
        ("ns=1,when=nth,action=guard", &["`when=nth`", "nth:K"]),
        ("ns=1,when=nth:k,action=guard", &["`when=nth:k`", "K `k`"]),
        ("ns=1,when=prob:1.5:1,action=guard", &["`when=prob:1.5:1`", "outside 0..=1"]),
        ("ns=1,when=prob:-0.1:1,action=guard", &["outside 0..=1"]),
        ("ns=1,when=prob:nan:1,action=guard", &["outside 0..=1"]),
        ("ns=1,when=prob:half:1,action=guard", &["probability `half` is not a number"]),
        ("ns=1,when=prob:0.5,action=guard", &["`when=prob:0.5`", "prob:P:SEED"]),
        ("ns=1,when=prob:0.5:s,action=guard", &["SEED `s`"]),
        ("ns=1,when=once:2,action=guard", &["`once` takes no argument"]),
        ("ns=1,when=sometimes,action=guard", &["`when=sometimes`", "unknown condition"]),
        ("ns=1,action=smash", &["`action=smash`", "unknown action", "widen:US"]),
        ("ns=1,action=guard:1", &["`guard` takes no argument"]),
        ("ns=1,action=status:2", &["`action=status:2`", "status:SCT:SC"]),
        ("ns=1,action=status:8:0x81", &["SCT 8 is outside 0..=7"]),
        ("ns=1,action=status:2:0x100", &["SC 0x100 is larger than 0xff"]),
        ("ns=1,action=status:2:zz", &["SC `zz` is not a number"]),
        ("ns=1,action=status:2:0x81:now", &["`now` after SC"]),
        ("ns=1,action=delay", &["`action=delay`", "delay:US"]),
        ("ns=1,action=widen:soon", &["US `soon` is not a number"]),
        ("ns=1,action=guard,name=a\tb", &["`name=a\tb`", "control characters"]),
    ] {
        let e = error(rule);
        for f in fragments {
            assert!(e.contains(f), "error for `{rule}` is `{e}`, which does not contain `{f}`");
        }
    }
}

#[test]
fn error_converts_to_string() {
    let e: String = "ns=1".parse::<FaultRule>().map_err(String::from).unwrap_err();
    assert!(e.contains("no action="));
}

#[test]
fn zone_operations_and_zone_actions_parse_and_print_back() {
    for text in [
        "ns=2,op=append,when=once,action=zone-offline",
        "ns=*,op=zone-mgmt,lba=4096-8191,when=nth:3,action=zone-read-only",
    ] {
        assert_eq!(parse(text).to_string(), text);
    }
    assert_eq!(parse("ns=1,op=write,action=zone-read-only").action, Action::Zone(ZoneFault::ReadOnly));
    assert!(error("ns=1,action=zone-offline:3").contains("takes no argument"));
    assert_eq!(Op::from_opcode(0x7d), Some(Op::Append));
    assert_eq!(Op::from_opcode(0x79), Some(Op::ZoneMgmt));
    assert_eq!(Op::from_opcode(0x7a), Some(Op::ZoneMgmt));
}
