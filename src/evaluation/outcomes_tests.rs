use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{Reason, RuleOutcome};

/// An evaluation with these outcomes and nothing else.
fn encode(outcomes: &[RuleOutcome]) -> String {
    let e = Evaluation {
        reason: Reason::Eligible,
        tier: None,
        effective_score: None,
        rise: None,
        observations: vec![],
        outcomes: outcomes.to_vec(),
        window: None,
        cooldown_until: None,
        channel: None,
        contact_list_id: None,
        effective_window: None,
        contact_window_state: None,
        calling_hours: None,
        handover_window: None,
        suppressed_until: None,
        taken_by: None,
    };
    let mut out = String::new();
    push(&mut out, &e, &RiseParts::of(&Thresholds::default()));
    out
}

fn decode(stored: &Value) -> Vec<StoredOutcome> {
    let d = Decided {
        evaluated_at: Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap(),
        effective_score: None,
        rise: None,
        next_opening: None,
    };
    super::decode(stored, &d)
}

fn outcome(rule: Rule, passed: bool, detail: &str) -> RuleOutcome {
    RuleOutcome {
        rule,
        passed,
        detail: detail.into(),
    }
}

#[test]
fn passed_rules_are_true_failed_ones_their_sentence() {
    let outcomes: Vec<RuleOutcome> = Rule::ALL
        .iter()
        .map(|r| match r {
            Rule::Rise => outcome(*r, false, "rose 0.02; minimum 0.1"),
            Rule::Window => outcome(*r, false, "closed"),
            _ => outcome(*r, true, "fine"),
        })
        .collect();
    let text = encode(&outcomes);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!([
            true,
            true,
            true,
            "rose 0.02; minimum 0.1",
            true,
            true,
            true,
            true,
            "closed"
        ])
    );
    let back = decode(&v);
    assert_eq!(back.len(), 9);
    assert_eq!(back[3].rule, Rule::Rise);
    assert!(!back[3].passed);
    assert_eq!(back[3].detail.as_deref(), Some("rose 0.02; minimum 0.1"));
    assert!(back[0].passed && back[0].detail.is_none());
    // Pass or fail of every rule survives the round trip.
    let passed: Vec<bool> = back.iter().map(|o| o.passed).collect();
    let original: Vec<bool> = outcomes.iter().map(|o| o.passed).collect();
    assert_eq!(passed, original);
}

#[test]
fn sentences_with_quotes_and_controls_stay_valid_json() {
    let outcomes: Vec<RuleOutcome> = Rule::ALL
        .iter()
        .map(|r| outcome(*r, *r != Rule::Channel, "said \"no\"\n\\ ok"))
        .collect();
    let v: Value = serde_json::from_str(&encode(&outcomes)).unwrap();
    let back = decode(&v);
    let channel = back.iter().find(|o| o.rule == Rule::Channel).unwrap();
    assert_eq!(channel.detail.as_deref(), Some("said \"no\"\n\\ ok"));
}

#[test]
fn rows_stored_before_the_new_rules_keep_their_rules() {
    let old = json!([true, true, "rose 0.02", true, true, true, "closed"]);
    let back = decode(&old);
    let rules: Vec<Rule> = back.iter().map(|o| o.rule).collect();
    assert_eq!(rules, Rule::LEGACY);
    assert_eq!(back[2].rule, Rule::Rise);
    assert_eq!(back[6].rule, Rule::Window);
    assert!(!back[6].passed);
}

proptest::proptest! {
    #[test]
    fn sentences_are_escaped_as_serde_json_escapes_them(s in "\\PC*|[\\x00-\\x7f]*") {
        let mut out = String::new();
        push_json_string(&mut out, &s);
        proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
    }
}

#[test]
fn odd_rows_read_without_panicking() {
    assert!(decode(&json!(null)).is_empty());
    let back = decode(&json!([true, 5]));
    assert_eq!(back.len(), 2);
    assert!(!back[1].passed && back[1].detail.is_none());
}

proptest::proptest! {
    #[test]
    fn numbers_are_written_as_the_formatter_writes_them(v in proptest::prelude::any::<u32>()) {
        let mut out = String::from("[");
        push_u32(&mut out, v);
        proptest::prop_assert_eq!(out, format!("[{v}"));
    }
}

#[test]
fn the_smallest_and_largest_numbers_are_written_whole() {
    for v in [0, 9, 10, 86_399, u32::MAX] {
        let mut out = String::new();
        push_u32(&mut out, v);
        assert_eq!(out, v.to_string());
    }
}

#[test]
fn outcomes_out_of_order_or_missing_are_stored_at_their_rules_places() {
    let in_order: Vec<RuleOutcome> = Rule::ALL
        .iter()
        .map(|r| outcome(*r, *r != Rule::Tier, &format!("{r:?} said")))
        .collect();
    let expected = encode(&in_order);
    assert_eq!(
        serde_json::from_str::<Value>(&expected).unwrap(),
        json!([true, true, "Tier said", true, true, true, true, true, true])
    );
    let mut reversed = in_order.clone();
    reversed.reverse();
    assert_eq!(encode(&reversed), expected);
    // Without the tier's outcome: stored as failed where the tier's goes, the rest in place.
    let without_tier: Vec<RuleOutcome> = in_order
        .iter()
        .filter(|o| o.rule != Rule::Tier)
        .cloned()
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&encode(&without_tier)).unwrap(),
        json!([
            true,
            true,
            "not evaluated",
            true,
            true,
            true,
            true,
            true,
            true
        ])
    );
}
