//! Tests of the plan: matching by namespace, operation and LBA overlap (edges
//! included), each `when`, the counters, editing the rule set, and a plan
//! shared by threads.

use super::*;
use crate::spec::opcode::nvm as opc;
use std::sync::Arc;
use std::time::Duration;

fn plan_with(rules: &[&str]) -> FaultPlan {
    let plan = FaultPlan::new();
    for r in rules {
        plan.add(r.parse().unwrap());
    }
    plan
}

/// Whether any rule fires for one command.
fn fires(plan: &FaultPlan, nsid: u32, opcode: u8, slba: u64, nlb: u64) -> bool {
    !plan.fire(nsid, opcode, slba, nlb).is_empty()
}

#[test]
fn opcode_mapping() {
    assert_eq!(Op::from_opcode(0x02), Some(Op::Read));
    assert_eq!(Op::from_opcode(0x01), Some(Op::Write));
    assert_eq!(Op::from_opcode(0x08), Some(Op::Write), "Write Zeroes counts as a write");
    assert_eq!(Op::from_opcode(0x19), Some(Op::Copy));
    assert_eq!(Op::from_opcode(0x0c), Some(Op::Verify));
    assert_eq!(Op::from_opcode(0x05), Some(Op::Compare));
    for other in [0x00, 0x04, 0x09, 0x0d, 0x11, 0x7f, 0x80, 0xff] {
        assert_eq!(Op::from_opcode(other), None, "opcode {other:#x}");
    }
}

#[test]
fn op_filter() {
    let plan = plan_with(&["ns=1,op=read,action=guard"]);
    assert!(fires(&plan, 1, opc::READ, 0, 1));
    for other in [opc::WRITE, opc::WRITE_ZEROES, opc::COPY, opc::VERIFY, opc::COMPARE, opc::FLUSH] {
        assert!(!fires(&plan, 1, other, 0, 1), "opcode {other:#x}");
    }
    let writes = plan_with(&["ns=1,op=write,action=guard"]);
    assert!(fires(&writes, 1, opc::WRITE, 0, 1));
    assert!(fires(&writes, 1, opc::WRITE_ZEROES, 0, 1));
    assert!(!fires(&writes, 1, opc::READ, 0, 1));
}

#[test]
fn op_any_matches_data_commands_only() {
    let plan = plan_with(&["ns=1,op=any,action=guard"]);
    for op in [opc::READ, opc::WRITE, opc::WRITE_ZEROES, opc::COPY, opc::VERIFY, opc::COMPARE] {
        assert!(fires(&plan, 1, op, 0, 1), "opcode {op:#x}");
    }
    for op in [opc::FLUSH, opc::DATASET_MANAGEMENT, opc::WRITE_UNCORRECTABLE, 0x7f] {
        assert!(!fires(&plan, 1, op, 0, 1), "opcode {op:#x}");
    }
}

#[test]
fn namespace_filter() {
    let one = plan_with(&["ns=1,action=guard"]);
    assert!(fires(&one, 1, opc::READ, 0, 1));
    assert!(!fires(&one, 2, opc::READ, 0, 1));
    let any = plan_with(&["ns=*,action=guard"]);
    for ns in [1, 2, 7, u32::MAX] {
        assert!(fires(&any, ns, opc::READ, 0, 1));
    }
}

#[test]
fn lba_overlap_edges() {
    let plan = plan_with(&["ns=1,lba=100-107,action=guard"]);
    let overlap = |slba, nlb| plan.fire(1, opc::READ, slba, nlb).first().map(|f| f.lba_overlap);
    assert_eq!(overlap(92, 8), None, "ends just before START");
    assert_eq!(overlap(93, 8), Some((100, 100)), "last block is START");
    assert_eq!(overlap(100, 8), Some((100, 107)), "exactly the range");
    assert_eq!(overlap(96, 16), Some((100, 107)), "covers the range");
    assert_eq!(overlap(102, 2), Some((102, 103)), "inside the range");
    assert_eq!(overlap(107, 4), Some((107, 107)), "first block is END (inclusive)");
    assert_eq!(overlap(108, 4), None, "starts just after END");
}

#[test]
fn single_block_rule_and_whole_namespace() {
    let plan = plan_with(&["ns=1,lba=5,action=guard"]);
    assert!(!fires(&plan, 1, opc::READ, 4, 1));
    assert_eq!(plan.fire(1, opc::READ, 0, 64)[0].lba_overlap, (5, 5));
    assert!(!fires(&plan, 1, opc::READ, 6, 1));
    let whole = plan_with(&["ns=1,action=guard"]);
    assert_eq!(whole.fire(1, opc::READ, 40, 8)[0].lba_overlap, (40, 47));
}

#[test]
fn command_without_block_count_is_its_first_block() {
    // Copy's view carries only the destination SDLBA (nlb 0).
    let plan = plan_with(&["ns=1,op=copy,lba=10-19,action=status:2:0x81"]);
    assert_eq!(plan.fire(1, opc::COPY, 19, 0)[0].lba_overlap, (19, 19));
    assert!(!fires(&plan, 1, opc::COPY, 20, 0));
}

#[test]
fn lba_at_the_top_of_u64_does_not_overflow() {
    let plan = plan_with(&["ns=1,lba=18446744073709551615,action=guard"]);
    assert_eq!(plan.fire(1, opc::READ, u64::MAX - 1, 65536)[0].lba_overlap, (u64::MAX, u64::MAX));
}

#[test]
fn fired_carries_rule_id_label_and_action() {
    let plan = FaultPlan::new();
    let a = plan.add("ns=1,op=read,action=status:2:0x81:dnr".parse().unwrap());
    let b = plan.add("ns=1,action=delay:50,name=slow".parse().unwrap());
    let f = plan.fire(1, opc::READ, 0, 1);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].rule_id, a);
    assert_eq!(f[0].label, format!("r{a}: ns=1,op=read,when=always,action=status:2:0x81:dnr"));
    assert_eq!(f[0].action, Action::Status { sct: 2, sc: 0x81, dnr: true });
    assert_eq!(f[1].rule_id, b);
    assert_eq!(f[1].label, "slow");
    assert_eq!(f[1].action, Action::Delay(Duration::from_micros(50)));
}

#[test]
fn when_always() {
    let plan = plan_with(&["ns=1,when=always,action=guard"]);
    assert!((0..10).all(|_| fires(&plan, 1, opc::READ, 0, 1)));
}

#[test]
fn when_once_fires_exactly_once() {
    let plan = plan_with(&["ns=1,op=read,when=once,action=guard"]);
    assert!(!fires(&plan, 1, opc::WRITE, 0, 1), "a non-match does not use up the rule");
    let fired: Vec<bool> = (0..20).map(|_| fires(&plan, 1, opc::READ, 0, 1)).collect();
    assert!(fired[0]);
    assert!(fired[1..].iter().all(|f| !f));
}

#[test]
fn when_nth_fires_only_the_kth_match() {
    let plan = plan_with(&["ns=1,lba=10,when=nth:3,action=guard"]);
    let fired: Vec<bool> = (0..10).map(|i| fires(&plan, 1, opc::READ, 10 - (i % 2) * 5, 1)).collect();
    // Matches are the commands at LBA 10: i = 0, 2, 4, ...; the third is i = 4.
    let expect: Vec<bool> = (0..10).map(|i| i == 4).collect();
    assert_eq!(fired, expect);
}

/// Which of 200 commands fire on a fresh plan with `rule`.
fn prob_run(rule: &str) -> Vec<usize> {
    let plan = plan_with(&[rule, "ns=1,op=write,action=guard"]);
    (0..200).filter(|&i| fires(&plan, 1, opc::READ, i as u64, 1)).collect()
}

#[test]
fn when_prob_is_reproducible() {
    let first = prob_run("ns=1,op=read,when=prob:0.5:42,action=guard");
    assert_eq!(first, prob_run("ns=1,op=read,when=prob:0.5:42,action=guard"));
    assert!((60..140).contains(&first.len()), "{} of 200 fired", first.len());
    assert_ne!(first, prob_run("ns=1,op=read,when=prob:0.5:43,action=guard"), "the seed matters");
}

#[test]
fn when_prob_draws_once_per_match_not_per_command() {
    // Interleaving non-matching commands does not change which matches fire.
    let plain = prob_run("ns=1,op=read,when=prob:0.5:7,action=guard");
    let plan = plan_with(&["ns=1,op=read,when=prob:0.5:7,action=guard"]);
    let mut fired = Vec::new();
    for i in 0..200 {
        assert!(!fires(&plan, 2, opc::READ, 0, 1));
        assert!(!fires(&plan, 1, opc::WRITE, 0, 1));
        if fires(&plan, 1, opc::READ, i, 1) {
            fired.push(i as usize);
        }
    }
    assert_eq!(fired, plain);
}

#[test]
fn when_prob_zero_and_one() {
    assert!(prob_run("ns=1,when=prob:0:42,action=guard").is_empty());
    assert_eq!(prob_run("ns=1,when=prob:1:42,action=guard").len(), 200);
}

#[test]
fn unit_draw_is_splitmix64() {
    // The first outputs of splitmix64 seeded with 1234567 (the reference values
    // of Vigna's splitmix64.c), as 53-bit fractions.
    let outputs: [u64; 3] = [6457827717110365317, 3203168211198807973, 9817491932198370423];
    for (k, out) in outputs.into_iter().enumerate() {
        assert_eq!(unit_draw(1234567, k as u64 + 1), (out >> 11) as f64 / (1u64 << 53) as f64);
    }
}

#[test]
fn list_counts_matches_and_fires() {
    let plan = plan_with(&["ns=1,op=read,lba=0-9,when=nth:2,action=guard", "ns=*,action=xguard"]);
    for slba in [0, 5, 20, 9, 100] {
        plan.fire(1, opc::READ, slba, 1);
    }
    plan.fire(1, opc::FLUSH, 0, 0);
    let list = plan.list();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].id, list[0].matches, list[0].fires), (1, 3, 1));
    assert_eq!(list[0].text, "ns=1,op=read,lba=0-9,when=nth:2,action=guard");
    assert_eq!(list[0].rule.text, list[0].text);
    assert_eq!(list[0].rule.id, 1);
    assert_eq!((list[1].id, list[1].matches, list[1].fires), (2, 5, 5));
    assert_eq!(list[1].label, "r2: ns=*,op=any,when=always,action=xguard");
}

#[test]
fn add_assigns_ids_and_recomputes_text() {
    let plan = FaultPlan::new();
    let mut rule: FaultRule = "ns=1,action=guard".parse().unwrap();
    rule.id = 99;
    rule.op = Op::Verify;
    assert_eq!(plan.add(rule), 1);
    let info = &plan.list()[0];
    assert_eq!(info.id, 1);
    assert_eq!(info.text, "ns=1,op=verify,when=always,action=guard");
}

#[test]
fn remove_clear_and_is_empty() {
    let plan = FaultPlan::default();
    assert!(plan.is_empty());
    assert!(plan.list().is_empty());
    let a = plan.add("ns=1,action=guard".parse().unwrap());
    let b = plan.add("ns=1,action=apptag".parse().unwrap());
    assert!(!plan.is_empty());
    assert!(plan.remove(a));
    assert!(!plan.remove(a), "already removed");
    assert!(!plan.remove(77), "never existed");
    assert!(!plan.is_empty());
    assert_eq!(plan.fire(1, opc::READ, 0, 1)[0].rule_id, b);
    assert!(plan.remove(b));
    assert!(plan.is_empty());
    assert!(plan.fire(1, opc::READ, 0, 1).is_empty());

    plan.add("ns=1,action=guard".parse().unwrap());
    let c = plan.add("ns=1,action=reftag".parse().unwrap());
    assert_eq!(c, 4, "ids are never reused");
    plan.clear();
    assert!(plan.is_empty());
    assert!(plan.list().is_empty());
    assert!(plan.fire(1, opc::READ, 0, 1).is_empty());
    assert_eq!(plan.add("ns=1,action=guard".parse().unwrap()), 5);
}

#[test]
fn many_non_matching_rules() {
    let plan = FaultPlan::new();
    for ns in 2..102 {
        plan.add(format!("ns={ns},action=guard").parse().unwrap());
    }
    plan.add("ns=1,lba=3,action=xguard".parse().unwrap());
    let f = plan.fire(1, opc::READ, 0, 8);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].lba_overlap, (3, 3));
    assert!(plan.list()[..100].iter().all(|r| r.matches == 0));
}

#[test]
fn once_fires_once_across_threads() {
    let plan = Arc::new(plan_with(&["ns=1,when=once,action=guard", "ns=1,when=nth:500,action=xguard"]));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let plan = Arc::clone(&plan);
            std::thread::spawn(move || (0..250).map(|_| plan.fire(1, opc::READ, 0, 1).len()).sum::<usize>())
        })
        .collect();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 2);
    let list = plan.list();
    assert_eq!((list[0].matches, list[0].fires), (2000, 1));
    assert_eq!((list[1].matches, list[1].fires), (2000, 1));
}
