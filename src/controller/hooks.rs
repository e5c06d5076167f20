//! The one hook point for fault injection, tracing and statistics: the
//! controller consults a [`CommandHook`] when it has fetched an I/O command
//! (before executing it) and tells it when the command completes. The control
//! plane implements the hook; the controller never knows what a rule is.

use crate::spec::Status;
use std::time::Duration;

/// What the hook sees of a fetched I/O command.
#[derive(Clone, Copy, Debug)]
pub struct CommandView {
    pub sqid: u16,
    pub cid: u16,
    pub opcode: u8,
    pub nsid: u32,
    pub slba: u64,
    pub nlb: u64,
    /// CDW12 bits 29:26 (PRINFO of Read/Write/Compare/Verify, PRINFOW of Copy).
    pub prinfo: u8,
}

/// Protection information tags a fault can spoil on the medium.
pub use crate::nvm::inject::StoredTag as Tag;

/// A zone state a fault forces on a zone (ZNS 2.1.1.3: a zone may go Read Only
/// or Offline by means outside the spec, such as media wear).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneFault {
    ReadOnly,
    Offline,
}

/// What the hook asks the controller to do with one command.
#[derive(Clone, Debug, Default)]
pub struct Injection {
    /// Complete at once with this status, without executing.
    pub status: Option<Status>,
    /// Spoil these stored tags of the blocks in [first, last] before executing
    /// (sticky: on the medium until rewritten).
    pub corrupt: Vec<(Tag, u64, u64)>,
    /// Fail the zones holding the blocks in [first, last] before executing
    /// (sticky: a zone stays Read Only or Offline).
    pub zones: Vec<(ZoneFault, u64, u64)>,
    /// Flip the guard of the tuples returned to the host by this read.
    pub transient_guard: bool,
    /// Wait this long after fetching a write before reading its data from guest
    /// memory (race-window widening).
    pub widen: Duration,
    /// Wait this long before posting the completion.
    pub delay: Duration,
    /// Labels of the rules that fired, for the trace.
    pub fired: Vec<String>,
}

impl Injection {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.corrupt.is_empty()
            && self.zones.is_empty()
            && !self.transient_guard
            && self.widen.is_zero()
            && self.delay.is_zero()
            && self.fired.is_empty()
    }
}

/// A write whose data changed in guest memory between the device fetching the
/// command and reading the data (see `nvm::mutation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutationReport {
    pub sqid: u16,
    pub cid: u16,
    pub nsid: u32,
    /// The blocks whose data changed, and for each the byte range (first, last)
    /// within the block that differed.
    pub blocks: Vec<(u64, usize, usize)>,
    /// Time between the two looks at the data.
    pub window: Duration,
}

/// One completed I/O command, for traces and statistics.
#[derive(Clone, Debug)]
pub struct Completed {
    pub view: CommandView,
    pub status: Status,
    /// From fetch to the completion being posted.
    pub latency: Duration,
    pub fired: Vec<String>,
    pub mutation: Option<MutationReport>,
}

pub trait CommandHook: Send + Sync {
    /// A cheap check that lets the I/O path skip building a view when nothing
    /// is watching or injecting.
    fn active(&self) -> bool;
    /// Whether writes should be fingerprinted (buffer-mutation detection).
    fn detect_mutation(&self) -> bool {
        false
    }
    fn before(&self, cmd: &CommandView) -> Injection;
    fn completed(&self, done: &Completed);
}
