//! Parsing one rule string into a [`FaultRule`] (the syntax is in
//! docs/faults.md), and [`RuleError`], whose messages are shown to users as
//! they are, so each names the part of the rule that is wrong.
//!
//! `key=value` fields separated by commas, in any order, each key at most once;
//! whitespace around fields, keys and values is ignored, and keys and keywords
//! are case-insensitive (a `name` keeps its case). Numbers are decimal or
//! `0x` hex everywhere except the probability `P`, which is a decimal fraction.
//! This file does not check that a namespace exists: the plan does not know the
//! namespaces, the control plane does.

use super::rule::{Action, FaultRule, Op, Tag, When, ZoneFault};
use std::fmt;
use std::num::IntErrorKind;
use std::str::FromStr;
use std::time::Duration;

/// The keys a rule may have, in canonical order.
const KEYS: [&str; 6] = ["ns", "op", "lba", "when", "action", "name"];
const NS: usize = 0;
const OP: usize = 1;
const LBA: usize = 2;
const WHEN: usize = 3;
const ACTION: usize = 4;
const NAME: usize = 5;

const ACTIONS: &str =
    "guard, apptag, reftag, xguard, status:SCT:SC[:dnr], delay:US, widen:US, zone-read-only, zone-offline";

/// Why a rule string is not a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// Nothing but whitespace.
    Empty,
    /// A field without `=` (the field as given; empty for a stray comma).
    NotKeyValue(String),
    UnknownKey(String),
    DuplicateKey(&'static str),
    /// A required key (`ns` or `action`) is absent.
    Missing(&'static str),
    /// `key=value` where the value is wrong, and why.
    BadValue {
        key: &'static str,
        value: String,
        problem: String,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Empty => f.write_str("empty fault rule: expected ns=N|*,...,action=A (docs/faults.md)"),
            RuleError::NotKeyValue(part) if part.is_empty() => {
                f.write_str("empty field in fault rule (a stray comma?)")
            }
            RuleError::NotKeyValue(part) => write!(f, "`{part}` in fault rule is not key=value"),
            RuleError::UnknownKey(key) => {
                write!(f, "unknown key `{key}` in fault rule (keys: {})", KEYS.join(", "))
            }
            RuleError::DuplicateKey(key) => write!(f, "key `{key}` given twice in fault rule"),
            RuleError::Missing("ns") => {
                f.write_str("fault rule has no ns= (a namespace id, or ns=* for any namespace)")
            }
            RuleError::Missing("action") => write!(f, "fault rule has no action= (one of {ACTIONS})"),
            RuleError::Missing(key) => write!(f, "fault rule has no {key}="),
            RuleError::BadValue { key, value, problem } => write!(f, "`{key}={value}`: {problem}"),
        }
    }
}

impl std::error::Error for RuleError {}

/// The control plane reports rule errors as plain strings.
impl From<RuleError> for String {
    fn from(e: RuleError) -> String {
        e.to_string()
    }
}

impl FromStr for FaultRule {
    type Err = RuleError;

    /// Parses a rule with `id` 0 and `text` set to its canonical form.
    fn from_str(s: &str) -> Result<FaultRule, RuleError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(RuleError::Empty);
        }
        let mut fields: [Option<&str>; 6] = [None; 6];
        for part in s.split(',').map(str::trim) {
            let (key, value) = part.split_once('=').ok_or_else(|| RuleError::NotKeyValue(part.to_string()))?;
            let key = key.trim();
            let index = KEYS
                .iter()
                .position(|k| k.eq_ignore_ascii_case(key))
                .ok_or_else(|| RuleError::UnknownKey(key.to_string()))?;
            if fields[index].is_some() {
                return Err(RuleError::DuplicateKey(KEYS[index]));
            }
            let value = value.trim();
            if value.is_empty() {
                return Err(bad(KEYS[index], value, "empty value"));
            }
            fields[index] = Some(value);
        }
        let ns = parse_ns(fields[NS].ok_or(RuleError::Missing("ns"))?)?;
        let action = parse_action(fields[ACTION].ok_or(RuleError::Missing("action"))?)?;
        let mut rule = FaultRule {
            id: 0,
            name: fields[NAME].map(parse_name).transpose()?,
            ns,
            op: fields[OP].map(parse_op).transpose()?.unwrap_or(Op::Any),
            lba: fields[LBA].map(parse_lba).transpose()?,
            when: fields[WHEN].map(parse_when).transpose()?.unwrap_or(When::Always),
            action,
            text: String::new(),
        };
        rule.text = rule.to_string();
        Ok(rule)
    }
}

fn bad(key: &'static str, value: &str, problem: impl Into<String>) -> RuleError {
    RuleError::BadValue { key, value: value.to_string(), problem: problem.into() }
}

/// A decimal or `0x` hex number; `what` names it in the error ("END", "SC").
fn number(key: &'static str, value: &str, what: &str, s: &str) -> Result<u64, RuleError> {
    let s = s.trim();
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    parsed.map_err(|e| {
        let problem = match e.kind() {
            IntErrorKind::Empty => format!("{what} is missing"),
            IntErrorKind::PosOverflow => format!("{what} `{s}` is too large"),
            _ => format!("{what} `{s}` is not a number (decimal or 0x hex)"),
        };
        bad(key, value, problem)
    })
}

fn parse_ns(value: &str) -> Result<Option<u32>, RuleError> {
    if value == "*" {
        return Ok(None);
    }
    let n = number("ns", value, "namespace id", value)?;
    match u32::try_from(n) {
        Ok(0) => Err(bad("ns", value, "namespace ids start at 1 (ns=* matches any namespace)")),
        Ok(ns) => Ok(Some(ns)),
        Err(_) => Err(bad("ns", value, "namespace id is larger than 32 bits")),
    }
}

fn parse_op(value: &str) -> Result<Op, RuleError> {
    Op::ALL
        .into_iter()
        .find(|op| op.keyword().eq_ignore_ascii_case(value))
        .ok_or_else(|| bad("op", value, "unknown operation (read, write, copy, verify, compare or any)"))
}

/// `START` (one block) or `START-END` (inclusive).
fn parse_lba(value: &str) -> Result<(u64, u64), RuleError> {
    let (first, last) = match value.split_once('-') {
        Some((start, end)) => (number("lba", value, "START", start)?, number("lba", value, "END", end)?),
        None => {
            let lba = number("lba", value, "START", value)?;
            (lba, lba)
        }
    };
    if last < first {
        return Err(bad("lba", value, format!("END {last} is before START {first}")));
    }
    Ok((first, last))
}

fn parse_when(value: &str) -> Result<When, RuleError> {
    let mut parts = value.split(':');
    let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
    let args: Vec<&str> = parts.collect();
    match (kind.as_str(), args.as_slice()) {
        ("always", []) => Ok(When::Always),
        ("once", []) => Ok(When::Once),
        ("nth", [k]) => match number("when", value, "K", k)? {
            0 => Err(bad("when", value, "K counts matches from 1, so nth:0 never fires")),
            k => Ok(When::Nth(k)),
        },
        ("nth", _) => Err(bad("when", value, "expected nth:K")),
        ("prob", [p, seed]) => {
            let p = p.trim();
            let prob: f64 = p.parse().map_err(|_| bad("when", value, format!("probability `{p}` is not a number")))?;
            if !(0.0..=1.0).contains(&prob) {
                return Err(bad("when", value, format!("probability {p} is outside 0..=1")));
            }
            Ok(When::Prob { p: prob, seed: number("when", value, "SEED", seed)? })
        }
        ("prob", _) => Err(bad("when", value, "expected prob:P:SEED (the seed makes runs reproducible)")),
        ("always" | "once", _) => Err(bad("when", value, format!("`{kind}` takes no argument"))),
        _ => Err(bad("when", value, "unknown condition (always, once, nth:K or prob:P:SEED)")),
    }
}

fn parse_action(value: &str) -> Result<Action, RuleError> {
    let mut parts = value.split(':');
    let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
    let args: Vec<&str> = parts.collect();
    let micros = |us: &str| number("action", value, "US", us).map(Duration::from_micros);
    match (kind.as_str(), args.as_slice()) {
        ("guard", []) => Ok(Action::Corrupt(Tag::Guard)),
        ("apptag", []) => Ok(Action::Corrupt(Tag::AppTag)),
        ("reftag", []) => Ok(Action::Corrupt(Tag::RefTag)),
        ("xguard", []) => Ok(Action::TransientGuard),
        ("zone-read-only", []) => Ok(Action::Zone(ZoneFault::ReadOnly)),
        ("zone-offline", []) => Ok(Action::Zone(ZoneFault::Offline)),
        ("status", [sct, sc]) => status(value, sct, sc, false),
        ("status", [sct, sc, dnr]) if dnr.trim().eq_ignore_ascii_case("dnr") => status(value, sct, sc, true),
        ("status", [_, _, other]) => Err(bad("action", value, format!("`{other}` after SC: only `dnr` may follow"))),
        ("status", _) => Err(bad("action", value, "expected status:SCT:SC or status:SCT:SC:dnr")),
        ("delay", [us]) => Ok(Action::Delay(micros(us)?)),
        ("widen", [us]) => Ok(Action::Widen(micros(us)?)),
        ("delay" | "widen", _) => Err(bad("action", value, format!("expected {kind}:US (microseconds)"))),
        ("guard" | "apptag" | "reftag" | "xguard" | "zone-read-only" | "zone-offline", _) => {
            Err(bad("action", value, format!("`{kind}` takes no argument")))
        }
        _ => Err(bad("action", value, format!("unknown action (one of {ACTIONS})"))),
    }
}

/// Status Code Type is 3 bits and Status Code 8 bits (NVMe-Base, Completion
/// Queue Entry: Status Field).
fn status(value: &str, sct: &str, sc: &str, dnr: bool) -> Result<Action, RuleError> {
    let sct_n = number("action", value, "SCT", sct)?;
    let sc_n = number("action", value, "SC", sc)?;
    let sct = u8::try_from(sct_n)
        .ok()
        .filter(|t| *t <= 7)
        .ok_or_else(|| bad("action", value, format!("SCT {sct_n} is outside 0..=7")))?;
    let sc = u8::try_from(sc_n).map_err(|_| bad("action", value, format!("SC {sc_n:#x} is larger than 0xff")))?;
    Ok(Action::Status { sct, sc, dnr })
}

fn parse_name(value: &str) -> Result<String, RuleError> {
    if value.chars().any(char::is_control) {
        return Err(bad("name", value, "control characters are not allowed in a name"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
