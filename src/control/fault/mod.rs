//! Fault injection rules: which NVMe I/O commands to spoil and how, for
//! reproducing data-integrity bugs (docs/faults.md).
//!
//! One rule is one string, the same on the command line (`vnvme serve --fault
//! RULE`) and on the control socket (`fault add RULE`):
//!
//! ```text
//! ns=N|*,op=read|write|copy|verify|compare|any,lba=START[-END],
//!     when=always|once|nth:K|prob:P:SEED,action=A[,name=LABEL]
//! A = guard | apptag | reftag | xguard | status:SCT:SC[:dnr] | delay:US | widen:US
//! ```
//!
//! - `rule`: the typed rule ([`FaultRule`], [`Op`], [`When`], [`Action`]) and
//!   its canonical string;
//! - `parse`: rule string to [`FaultRule`], with errors that name the bad part;
//! - `plan`: the thread-safe set of rules ([`FaultPlan`]) the I/O path asks, once
//!   per command, which rules fire.
//!
//! Nothing here touches a command, the medium or a completion: the control
//! plane turns each [`Fired`] into an injection that the controller carries out.

#![forbid(unsafe_code)]

mod parse;
mod plan;
mod rule;

pub use parse::RuleError;
pub use plan::{FaultPlan, Fired, RuleInfo};
pub use rule::{Action, FaultRule, Op, Tag, When};
