//! How a decision's rule outcomes are stored: a JSON array in the SPEC's rule order whose element is
//! `true` for a rule that passed and the sentence saying why for one that failed, e.g.
//! `[true, true, "rose 0.02 over the last 24 h …; minimum 0.1", true, true, true, true]`.
//!
//! Compact on purpose: a run over a million contacts and two campaigns writes two million
//! decisions, and the full form (rule names and a sentence for every rule) tripled the size of each
//! row and the time to write it. Nothing an operator needs is lost: pass or fail of every rule, the
//! reason for each failure, and the numbers behind the passed ones (score, tier, rise, channel,
//! window, cooldown) are the decision's own columns.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::eligibility::{Rule, RuleOutcome};

/// A stored rule outcome as the explanation shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoredOutcome {
    pub rule: Rule,
    pub passed: bool,
    /// Why the rule failed; null when it passed.
    pub detail: Option<String>,
}

/// The stored form of an evaluation's outcomes (JSON text), written straight at the end of `out`
/// (a decision row's details, `evaluation::runs`): a run encodes two million of them, and building
/// a `Value` first cost an allocation per rule (and going through serde_json's writer for each
/// sentence, then checking the buffer was UTF-8, cost more than the rest of the encoding).
pub fn push(out: &mut String, outcomes: &[RuleOutcome]) {
    let words: usize = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.detail.len() + 8)
        .sum();
    out.reserve(64 + words);
    out.push('[');
    for (i, rule) in Rule::ALL.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match outcomes.iter().find(|o| o.rule == *rule) {
            Some(o) if o.passed => out.push_str("true"),
            Some(o) => push_json_string(out, &o.detail),
            // Not evaluated (cannot happen: `evaluate` records every rule); stored as failed.
            None => push_json_string(out, "not evaluated"),
        }
    }
    out.push(']');
}

/// `s` as a JSON string, escaped as serde_json escapes it (quote, backslash and the control
/// characters; everything else as is).
pub(super) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Nearly every sentence has nothing to escape: one pass without an early exit over its bytes
    // (the compiler checks many at a time), then a copy.
    let escapes = s.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !escapes {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            write!(out, "\\u{b:04x}").expect("into a String");
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// Reads the stored form back; anything unexpected in an element reads as a failure without a
/// sentence rather than an error, so one odd row never breaks an explanation. A row of seven was
/// stored before the suppression and calling-hours rules existed: it reads in that order
/// ([`Rule::LEGACY`]), so an old decision is not misattributed.
pub fn decode(stored: &Value) -> Vec<StoredOutcome> {
    let items = stored.as_array().map(Vec::as_slice).unwrap_or_default();
    let order: &[Rule] = if items.len() == Rule::LEGACY.len() {
        &Rule::LEGACY
    } else {
        &Rule::ALL
    };
    order
        .iter()
        .zip(items)
        .map(|(rule, v)| StoredOutcome {
            rule: *rule,
            passed: v.as_bool() == Some(true),
            detail: v.as_str().map(str::to_owned),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(outcomes: &[RuleOutcome]) -> String {
        let mut out = String::new();
        push(&mut out, outcomes);
        out
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
}
