//! The replies of the control protocol, one type per request (docs/control.md).
//! Each is the body of a reply line; `"ok": true` is added beside its fields
//! (`protocol::ok`).

use crate::control::trace::TraceEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `stats`: what the control plane counted since the last reset.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StatsReply {
    /// Seconds since the last reset (or the start).
    pub seconds: f64,
    /// Per namespace (NSID): commands by opcode and status, PI checks.
    pub namespaces: BTreeMap<u32, NsStatsReply>,
    /// Per submission queue ID: commands by opcode name.
    pub queues: BTreeMap<u16, BTreeMap<String, u64>>,
    /// Per opcode name.
    pub latency: BTreeMap<String, Latency>,
    /// Per fault rule label: how often it fired.
    pub faults_fired: BTreeMap<String, u64>,
    pub mutations_detected: u64,
    /// Per allocated namespace, in NSID order.
    pub bytes: Vec<NsBytes>,
    /// Absent until a controller is attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pract: Option<Pract>,
}

/// One namespace's command and PI statistics.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NsStatsReply {
    /// By (opcode, status), in opcode then status order.
    pub commands: Vec<CommandCount>,
    pub pi_checked_blocks: PiChecked,
    pub pi_failed_commands: PiFailed,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CommandCount {
    /// Opcode name (read, write, copy, ...).
    pub opcode: String,
    /// SCT << 8 | SC as `0x282`.
    pub status: String,
    pub status_name: String,
    pub count: u64,
}

/// Blocks checked, by the PRCHK bit that asked for the check.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PiChecked {
    pub guard: u64,
    pub app_tag: u64,
    pub ref_tag: u64,
}

/// Commands failed, by the kind of end-to-end check error.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PiFailed {
    pub guard: u64,
    pub app_tag: u64,
    pub ref_tag: u64,
    pub storage_tag: u64,
}

/// One opcode's latency: p50 and p99 are upper bounds of log2 microsecond buckets.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One namespace's bytes since the last reset: across the guest DMA boundary,
/// and moved by Copy inside the device.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct NsBytes {
    pub nsid: u32,
    pub dma_to_device_bytes: u64,
    pub dma_to_host_bytes: u64,
    pub copy_read_bytes: u64,
    pub copy_written_bytes: u64,
}

/// Blocks whose PI the controller inserted or stripped (PRACT), since start.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Pract {
    pub inserted_blocks: u64,
    pub stripped_blocks: u64,
}

/// `trace`: the first reply; trace lines follow.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TraceStarted {
    pub streaming: bool,
}

/// A line of a trace stream after [`TraceStarted`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum TraceLine {
    Event(TraceEvent),
    Lagged(LaggedNote),
}

/// In a trace stream: the client fell behind and this many events were dropped for it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LaggedNote {
    pub lagged: u64,
}

/// `fault-add`: the new rule's ID.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultAdded {
    pub id: u32,
}

/// `fault-list`: every rule, in ID order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultList {
    pub rules: Vec<FaultRuleStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultRuleStatus {
    pub id: u32,
    /// The canonical rule string.
    pub rule: String,
    /// Commands the rule matched.
    pub matches: u64,
    /// Matches that fired.
    pub fires: u64,
}

/// `fault-del`, `fault-clear`: nothing but `"ok": true`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Done {}

/// `detect`: the detector's state now.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DetectReply {
    pub detect: bool,
}

/// `mutations`: the most recent trace events that carried a buffer mutation, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MutationsReply {
    pub mutations: Vec<TraceEvent>,
}
