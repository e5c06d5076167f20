//! The live set of fault rules, [`FaultPlan`], and the one call the I/O path
//! makes per command: [`FaultPlan::fire`], which says which rules fire for it.
//!
//! A rule matches a command when its namespace, operation and LBA range all
//! agree with the command's; its [`When`] then decides whether that match fires.
//! Every match and every firing is counted per rule ([`RuleInfo`]).
//!
//! Concurrency: queue workers call `fire` and `is_empty` from many threads at
//! once while the control socket adds and removes rules. The rule list is
//! behind an `RwLock` (the workers only read it); per-rule counters are atomics,
//! so `fire` never takes a write lock; `is_empty` is one atomic load kept in step
//! with the list under its write lock. `once` and `nth:K` are decided from the
//! match number that the counter's `fetch_add` hands out, so exactly one match
//! fires even when two queues race for it.
//!
//! This file does not carry out actions; the control plane turns [`Fired`] into
//! an injection for the controller.

use super::rule::{Action, FaultRule, Op, When};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One rule that fired for a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired {
    pub rule_id: u32,
    /// [`FaultRule::label`]: the name, or `r{id}: {text}`.
    pub label: String,
    pub action: Action,
    /// The inclusive LBA range where the command and the rule overlap.
    pub lba_overlap: (u64, u64),
}

/// A rule and its counters, as `fault list` shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInfo {
    pub id: u32,
    /// The canonical rule string.
    pub text: String,
    pub label: String,
    pub rule: FaultRule,
    /// Commands the rule matched.
    pub matches: u64,
    /// Matches that fired (at most `matches`).
    pub fires: u64,
}

/// A rule as `fire` checks it: the cheap comparisons first, counters beside.
struct Entry {
    rule: FaultRule,
    label: String,
    matches: AtomicU64,
    fires: AtomicU64,
}

impl Entry {
    /// The inclusive overlap of the rule with the command's blocks
    /// `[first, last]`, if the rule matches the command at all.
    fn overlap(&self, nsid: u32, op: Op, first: u64, last: u64) -> Option<(u64, u64)> {
        if self.rule.ns.is_some_and(|ns| ns != nsid) || !self.rule.op.matches(op) {
            return None;
        }
        match self.rule.lba {
            None => Some((first, last)),
            Some((lo, hi)) if lo <= last && first <= hi => Some((first.max(lo), last.min(hi))),
            Some(_) => None,
        }
    }

    /// Counts one match and decides whether it fires.
    fn count_match(&self) -> bool {
        // The k-th match of this rule, from 1; `Relaxed` is enough: the counter
        // only has to hand out each number once, it orders nothing else.
        let k = self.matches.fetch_add(1, Ordering::Relaxed) + 1;
        let fires = match self.rule.when {
            When::Always => true,
            When::Once => k == 1,
            When::Nth(n) => k == n,
            When::Prob { p, seed } => unit_draw(seed, k) < p,
        };
        if fires {
            self.fires.fetch_add(1, Ordering::Relaxed);
        }
        fires
    }
}

/// The k-th output (k >= 1) of a splitmix64 generator seeded with `seed`, as a
/// fraction in [0, 1) with 53 random bits. splitmix64 advances its state by a
/// fixed step, so the k-th output needs no state but k: a rule's draw sequence
/// is its own, advances once per match, and is the same on every run.
fn unit_draw(seed: u64, k: u64) -> f64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut z = seed.wrapping_add(k.wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The fault rules in force. Shared by the control socket (which edits it) and
/// every queue worker (which calls [`fire`](FaultPlan::fire)).
pub struct FaultPlan {
    /// The rules in the order they were added; the lock protects only the list,
    /// the counters inside are atomics.
    rules: RwLock<Vec<Entry>>,
    /// `rules.is_empty()`, written under the write lock, read without any lock.
    empty: AtomicBool,
    /// The next id to hand out: ids start at 1 and are never reused, so a trace
    /// label names one rule for the life of the process.
    next_id: AtomicU32,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::new()
    }
}

impl FaultPlan {
    pub fn new() -> Self {
        FaultPlan { rules: RwLock::new(Vec::new()), empty: AtomicBool::new(true), next_id: AtomicU32::new(1) }
    }

    // A panic elsewhere while holding the lock leaves the list whole (every
    // edit is one push, retain or clear), so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, Vec<Entry>> {
        self.rules.read().unwrap_or_else(PoisonError::into_inner)
    }
    fn write(&self) -> RwLockWriteGuard<'_, Vec<Entry>> {
        self.rules.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a rule, assigns it the next id (its `id` field is ignored) and
    /// returns that id. The rule's `text` is recomputed from its fields.
    pub fn add(&self, mut rule: FaultRule) -> u32 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        rule.id = id;
        rule.text = rule.to_string();
        let label = rule.label();
        let mut rules = self.write();
        rules.push(Entry { rule, label, matches: AtomicU64::new(0), fires: AtomicU64::new(0) });
        self.empty.store(false, Ordering::Release);
        id
    }

    /// Removes rule `id`; false if there is no such rule.
    pub fn remove(&self, id: u32) -> bool {
        let mut rules = self.write();
        let before = rules.len();
        rules.retain(|e| e.rule.id != id);
        self.empty.store(rules.is_empty(), Ordering::Release);
        rules.len() != before
    }

    /// Removes every rule (ids are not reused afterwards).
    pub fn clear(&self) {
        let mut rules = self.write();
        rules.clear();
        self.empty.store(true, Ordering::Release);
    }

    /// The rules in the order they were added, with their counters.
    pub fn list(&self) -> Vec<RuleInfo> {
        self.read()
            .iter()
            .map(|e| RuleInfo {
                id: e.rule.id,
                text: e.rule.text.clone(),
                label: e.label.clone(),
                rule: e.rule.clone(),
                matches: e.matches.load(Ordering::Relaxed),
                fires: e.fires.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// No rules: one atomic load, for the I/O path to call before anything else.
    pub fn is_empty(&self) -> bool {
        self.empty.load(Ordering::Acquire)
    }

    /// Called once per command: the rules that fire for it, in the order they
    /// were added. The command is namespace `nsid`, NVM opcode `opcode` (see
    /// [`Op::from_opcode`]; other opcodes match no rule) and blocks
    /// `[slba, slba + nlb)`. `nlb == 0` means the command carries no block
    /// count (Copy, whose view has only its destination SDLBA): it is matched
    /// as the one block `slba`.
    ///
    /// Every matching rule counts the match; `when` decides whether it fires:
    /// `always` every match, `once` the rule's first match, `nth:K` its K-th,
    /// `prob:P:SEED` its k-th match when the k-th output of splitmix64 seeded
    /// with SEED, as a fraction in [0, 1), is below P. The draw sequence is per
    /// rule and advances once per match (not per command), so two runs that send
    /// a rule the same matching commands in the same order fire the same ones;
    /// commands racing on several queues can reach a rule in either order.
    pub fn fire(&self, nsid: u32, opcode: u8, slba: u64, nlb: u64) -> Vec<Fired> {
        let Some(op) = Op::from_opcode(opcode) else { return Vec::new() };
        // Saturating: SLBA is guest-controlled and may sit at the top of u64.
        let last = slba.saturating_add(nlb.max(1) - 1);
        let rules = self.read();
        let mut fired = Vec::new();
        for e in rules.iter() {
            let Some(lba_overlap) = e.overlap(nsid, op, slba, last) else { continue };
            if e.count_match() {
                fired.push(Fired { rule_id: e.rule.id, label: e.label.clone(), action: e.rule.action, lba_overlap });
            }
        }
        fired
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
