//! Fault-rule strings (`control::fault`): any string parses to a rule or an
//! error, never a panic. An accepted rule's canonical text parses back to the
//! same rule, and a plan holding it fires on commands (namespace, opcode, SLBA,
//! NLB taken from the input) without panicking, SLBAs at the top of u64 included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnvme::control::fault::{FaultPlan, FaultRule};
use vnvme_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    // The first 32 bytes pick the commands; the rest is the rule text.
    let (cmds, text) = data.split_at(data.len().min(32));
    let Ok(text) = std::str::from_utf8(text) else { return };
    let Ok(rule) = text.parse::<FaultRule>() else { return };
    let again: FaultRule = rule.text.parse().unwrap_or_else(|e| panic!("{text:?} canonical {:?}: {e}", rule.text));
    assert_eq!(again, rule, "{text:?} and its canonical text {:?}", rule.text);
    let plan = FaultPlan::new();
    let id = plan.add(rule);
    let mut input = Input::new(cmds);
    for _ in 0..2 {
        let (nsid, opcode, slba, nlb) = (input.u8() as u32, input.u8(), input.u64(), input.u32() as u64);
        for f in plan.fire(nsid, opcode, slba, nlb) {
            assert_eq!(f.rule_id, id);
            assert!(f.lba_overlap.0 <= f.lba_overlap.1, "overlap {:?}", f.lba_overlap);
        }
    }
    assert!(plan.remove(id));
});
