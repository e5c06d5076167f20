//! The control socket's protocol: JSON lines, one request and one reply per line
//! (docs/control.md). `trace` is the exception: after its first reply the
//! connection streams one event per line until the client closes it.

use super::trace::TraceFilter;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Statistics; with `reset`, start counting afresh after this reply.
    Stats {
        #[serde(default)]
        reset: bool,
    },
    /// Stream completed commands matching the filter.
    Trace {
        #[serde(default)]
        filter: TraceFilter,
    },
    FaultAdd { rule: String },
    FaultList,
    FaultDel { id: u32 },
    FaultClear,
    /// Turn the buffer-mutation detector on or off.
    Detect { on: bool },
    /// The most recent buffer mutations detected.
    Mutations,
}

/// Parse one request line; the error is a message for the client.
pub fn parse(line: &str) -> Result<Request, String> {
    serde_json::from_str(line).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("unknown variant") {
            format!("unknown command: {msg}")
        } else {
            format!("malformed request: {msg}")
        }
    })
}

pub fn ok(mut v: serde_json::Value) -> String {
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("ok".into(), serde_json::Value::Bool(true));
    }
    v.to_string()
}

pub fn error(msg: &str) -> String {
    serde_json::json!({"ok": false, "error": msg}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_explain_themselves() {
        assert_eq!(parse(r#"{"cmd":"stats"}"#), Ok(Request::Stats { reset: false }));
        assert_eq!(parse(r#"{"cmd":"fault-add","rule":"ns=1,action=guard"}"#), Ok(Request::FaultAdd { rule: "ns=1,action=guard".into() }));
        assert!(parse(r#"{"cmd":"trace","filter":{"ns":1,"errors":true}}"#).is_ok());
        assert!(parse("{not json").unwrap_err().starts_with("malformed request"));
        assert!(parse(r#"{"cmd":"reboot"}"#).unwrap_err().starts_with("unknown command"));
        assert!(parse(r#"{"cmd":"fault-del"}"#).unwrap_err().contains("missing field"));
        assert!(parse(r#"{"cmd":"stats","bogus":1}"#).is_err());
    }
}
