//! The typed form of one fault rule: which commands it matches ([`Op`], a
//! namespace, an LBA range), when a match fires ([`When`]) and what firing does
//! ([`Action`]), with [`FaultRule`]'s `Display` giving the canonical rule string.
//!
//! Parsing a rule string lives in `parse`; matching and counting in `plan`.
//! This file only defines the vocabulary and prints it.

use crate::spec::opcode::nvm as opcode;
use crate::spec::zns::opcode as zop;
use std::fmt;
use std::time::Duration;

/// Which I/O commands a rule matches (`op=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Read,
    /// Write, and Write Zeroes (see [`Op::from_opcode`]).
    Write,
    Copy,
    Verify,
    Compare,
    /// Zone Append (ZNS 3.4.1).
    Append,
    /// Zone Management Send and Receive (ZNS 3.4.2, 3.4.3).
    ZoneMgmt,
    /// Any of the commands above; never a command [`Op::from_opcode`] does not know.
    Any,
}

impl Op {
    /// The rule operation an NVM command set opcode (NVM-CS Figure 17) counts as,
    /// or `None` for commands no rule matches.
    ///
    /// Write Zeroes (08h) counts as [`Op::Write`]: it changes the stored data and
    /// PI of its blocks like a write, and a reproducer that says "fail writes to
    /// these blocks" means it too (docs/faults.md). Flush, Dataset Management,
    /// Write Uncorrectable and unknown opcodes have no rule operation, so not even
    /// `op=any` matches them.
    pub fn from_opcode(op: u8) -> Option<Op> {
        match op {
            opcode::READ => Some(Op::Read),
            opcode::WRITE | opcode::WRITE_ZEROES => Some(Op::Write),
            opcode::COPY => Some(Op::Copy),
            opcode::VERIFY => Some(Op::Verify),
            opcode::COMPARE => Some(Op::Compare),
            zop::ZONE_APPEND => Some(Op::Append),
            zop::ZONE_MGMT_SEND | zop::ZONE_MGMT_RECV => Some(Op::ZoneMgmt),
            _ => None,
        }
    }

    /// Whether a rule with this operation matches a command of operation `cmd`.
    pub fn matches(self, cmd: Op) -> bool {
        self == Op::Any || self == cmd
    }

    /// The keyword used in rule strings.
    pub fn keyword(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Copy => "copy",
            Op::Verify => "verify",
            Op::Compare => "compare",
            Op::Append => "append",
            Op::ZoneMgmt => "zone-mgmt",
            Op::Any => "any",
        }
    }

    pub(crate) const ALL: [Op; 8] =
        [Op::Read, Op::Write, Op::Copy, Op::Verify, Op::Compare, Op::Append, Op::ZoneMgmt, Op::Any];
}

/// Which matches of a rule fire (`when=`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    /// Every match.
    Always,
    /// The first match only.
    Once,
    /// The K-th match only (K >= 1).
    Nth(u64),
    /// Each match with probability `p` (0..=1), drawn from splitmix64 seeded
    /// with `seed`: the rule's k-th match uses the generator's k-th output, so
    /// the same sequence of matching commands fires the same commands on every run.
    Prob { p: f64, seed: u64 },
}

/// A protection information tag that sticky corruption can spoil.
pub use crate::controller::hooks::Tag;

/// What a firing rule does to its command (`action=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `guard` / `apptag` / `reftag`: spoil that stored tag of every matched
    /// block on the medium, sticky until the block is rewritten.
    Corrupt(Tag),
    /// `xguard`: only the guard of the tuples returned by this read is wrong.
    TransientGuard,
    /// `status:SCT:SC[:dnr]`: complete with this status without executing.
    Status { sct: u8, sc: u8, dnr: bool },
    /// `delay:US`: post the completion this much later.
    Delay(Duration),
    /// `widen:US`: read a write's data from guest memory this long after fetch.
    Widen(Duration),
    /// `zone-read-only` / `zone-offline`: before the command runs, every zone the
    /// matched blocks are in goes Read Only or Offline, as a failing ZNS drive's
    /// zones do (ZNS 2.1.1.3); sticky. No effect on a namespace that is not zoned.
    Zone(ZoneFault),
}

/// What a `zone-*` action does to a zone.
pub use crate::controller::hooks::ZoneFault;

/// One fault rule. `id` is 0 until [`FaultPlan::add`](super::FaultPlan::add)
/// assigns one; `text` is the canonical rule string (what `Display` prints).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    pub id: u32,
    pub name: Option<String>,
    /// `None` for `ns=*`.
    pub ns: Option<u32>,
    pub op: Op,
    /// Inclusive `(first, last)`; `None` for the whole namespace.
    pub lba: Option<(u64, u64)>,
    pub when: When,
    pub action: Action,
    pub text: String,
}

impl FaultRule {
    /// The label shown in traces and stats when this rule fires: its name, or
    /// `r{id}: {text}` for an unnamed rule.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("r{}: {}", self.id, self.text),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Always => f.write_str("always"),
            When::Once => f.write_str("once"),
            When::Nth(k) => write!(f, "nth:{k}"),
            // f64's Display is the shortest string that parses back to the same value.
            When::Prob { p, seed } => write!(f, "prob:{p}:{seed}"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Corrupt(Tag::Guard) => f.write_str("guard"),
            Action::Corrupt(Tag::AppTag) => f.write_str("apptag"),
            Action::Corrupt(Tag::RefTag) => f.write_str("reftag"),
            Action::TransientGuard => f.write_str("xguard"),
            // SCT in decimal, SC in hex, as the NVMe specs and nvme-cli write them.
            Action::Status { sct, sc, dnr } => {
                write!(f, "status:{sct}:{sc:#04x}")?;
                if *dnr {
                    f.write_str(":dnr")?;
                }
                Ok(())
            }
            Action::Delay(d) => write!(f, "delay:{}", d.as_micros()),
            Action::Widen(d) => write!(f, "widen:{}", d.as_micros()),
            Action::Zone(ZoneFault::ReadOnly) => f.write_str("zone-read-only"),
            Action::Zone(ZoneFault::Offline) => f.write_str("zone-offline"),
        }
    }
}

/// The canonical rule string: every key, in the order ns, op, lba, when,
/// action, name, with defaults written out except a whole-namespace `lba` and
/// an absent `name`. It parses back to an equal rule (apart from `id`).
impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ns {
            Some(ns) => write!(f, "ns={ns}")?,
            None => f.write_str("ns=*")?,
        }
        write!(f, ",op={}", self.op.keyword())?;
        match self.lba {
            Some((first, last)) if first == last => write!(f, ",lba={first}")?,
            Some((first, last)) => write!(f, ",lba={first}-{last}")?,
            None => {}
        }
        write!(f, ",when={},action={}", self.when, self.action)?;
        if let Some(name) = &self.name {
            write!(f, ",name={name}")?;
        }
        Ok(())
    }
}
