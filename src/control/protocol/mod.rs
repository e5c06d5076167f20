//! The control socket's protocol: JSON lines, one request and one reply per line
//! (docs/control.md). `trace` is the exception: after its first reply the
//! connection streams one event per line until the client closes it.
//!
//! Every request and reply is a type here, used by the server (`control`) to
//! write and by `vnvme ctl` to read, so a renamed field breaks the build, not the
//! client. Requests are [`Request`]; replies are in [`reply`]. Every reply line
//! also carries `"ok"` ([`Outcome`]): [`ok`] adds it to a body, [`error`] writes
//! a failure, [`decode`] reads either back.
//!
//! Lines are written through `serde_json::Value`, whose objects keep their keys
//! sorted: that sorted form is the wire form docs/control.md, the guest tests and
//! the scripts have always seen, whatever the field order of the structs.

pub mod reply;
#[cfg(test)]
pub(crate) mod tests;

pub use reply::*;

use super::trace::TraceFilter;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Statistics; with `reset`, start counting afresh after this reply.
    /// Reply: [`StatsReply`].
    Stats {
        #[serde(default)]
        reset: bool,
    },
    /// Stream completed commands matching the filter. Reply: [`TraceStarted`],
    /// then one [`TraceLine`] per line.
    Trace {
        #[serde(default)]
        filter: TraceFilter,
    },
    /// Reply: [`FaultAdded`].
    FaultAdd { rule: String },
    /// Reply: [`FaultList`].
    FaultList,
    /// Reply: [`Done`].
    FaultDel { id: u32 },
    /// Reply: [`Done`].
    FaultClear,
    /// Turn the buffer-mutation detector on or off. Reply: [`DetectReply`].
    Detect { on: bool },
    /// The most recent buffer mutations detected. Reply: [`MutationsReply`].
    Mutations,
}

impl Request {
    /// The `cmd` of this request, as on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Stats { .. } => "stats",
            Request::Trace { .. } => "trace",
            Request::FaultAdd { .. } => "fault-add",
            Request::FaultList => "fault-list",
            Request::FaultDel { .. } => "fault-del",
            Request::FaultClear => "fault-clear",
            Request::Detect { .. } => "detect",
            Request::Mutations => "mutations",
        }
    }
}

/// What every reply carries: whether the request succeeded and, if not, why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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

/// One line of JSON (no newline), with object keys sorted (see the module docs).
pub fn to_line<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).map(|v| v.to_string()).unwrap_or_else(|e| error(&format!("reply not encodable: {e}")))
}

/// A successful reply: the body's fields and `"ok": true`.
pub fn ok<T: Serialize>(body: &T) -> String {
    match serde_json::to_value(body) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.insert("ok".into(), serde_json::Value::Bool(true));
            serde_json::Value::Object(m).to_string()
        }
        Ok(other) => error(&format!("reply is not an object: {other}")),
        Err(e) => error(&format!("reply not encodable: {e}")),
    }
}

/// A failed reply: `"ok": false` and the message.
pub fn error(msg: &str) -> String {
    let o = Outcome { ok: false, error: Some(msg.to_string()) };
    serde_json::to_value(&o).map(|v| v.to_string()).unwrap_or_default()
}

/// Read the reply line to the request `cmd`: the body of a success, the server's
/// message for a failure, and an error naming `cmd` for a line that is neither.
pub fn decode<T: DeserializeOwned>(cmd: &str, line: &str) -> Result<T, String> {
    let bad = |e: serde_json::Error| format!("{cmd}: unexpected reply from the server ({e}): {}", line.trim_end());
    let outcome: Outcome = serde_json::from_str(line).map_err(bad)?;
    if !outcome.ok {
        return Err(outcome.error.unwrap_or_else(|| format!("{cmd}: request failed")));
    }
    serde_json::from_str(line).map_err(bad)
}
