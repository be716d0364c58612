//! How a decision's rule outcomes are stored: a JSON array in the SPEC's rule order whose element is
//! `true` for a rule that passed and the sentence saying why for one that failed, e.g.
//! `[true, true, true, "tier low; campaign takes [high]", true, true, true, true, true]`. A rise
//! too small and a closed window, the commonest failures, are stored as what their sentences are
//! made of and rendered when read (`evaluation::stored_sentences`), e.g.
//! `[true, true, true, [86400, "0.1"], true, true, true, true, [32400, 72000, "Europe/Paris"]]`.
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

use super::stored_sentences::{self, Decided, RiseParts};
use crate::eligibility::{Evaluation, Rule};

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
///
/// `e` was evaluated with [`Sentences::Stored`](crate::eligibility::Sentences::Stored): a failure
/// it left without a sentence is stored as what the sentence is made of
/// ([`super::stored_sentences`]), `rise` being the run's part of a rise's.
pub fn push(out: &mut String, e: &Evaluation, rise: &RiseParts) {
    let words: usize = e
        .outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.detail.len() + 8)
        .sum();
    out.reserve(64 + words);
    out.push('[');
    // `evaluate` records every rule in this order: each is then where its rule's index says,
    // without a search through the list for each of them.
    let in_order = e.outcomes.iter().map(|o| o.rule).eq(Rule::ALL);
    for (i, rule) in Rule::ALL.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let found = if in_order {
            e.outcomes.get(i)
        } else {
            e.outcomes.iter().find(|o| o.rule == *rule)
        };
        match found {
            Some(o) if o.passed => out.push_str("true"),
            Some(o) if o.detail.is_empty() && o.rule == Rule::Rise => rise.push(out, e),
            Some(o) if o.detail.is_empty() && o.rule == Rule::Window => {
                stored_sentences::push_window(out, e)
            }
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

/// `v` in decimal, as JSON writes a number: a run writes two to four per closed window
/// ([`stored_sentences::push_window`]), and `write!` through the formatter took a third more
/// instructions.
pub(super) fn push_u32(out: &mut String, v: u32) {
    let width = v.checked_ilog10().map_or(1, |d| d as usize + 1);
    let mut text = [0u8; 10];
    digits(&mut text[..width], v);
    out.push_str(std::str::from_utf8(&text[..width]).expect("ASCII digits"));
}

/// Writes `v` in decimal over `places`, zero-padded; the leading digits beyond them are dropped
/// (the callers' places fit their values).
pub(super) fn digits(places: &mut [u8], mut v: u32) {
    for place in places.iter_mut().rev() {
        *place = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Reads the stored form back, rendering the sentences stored as their parts with what the
/// decision `d` holds. Anything unexpected in an element reads as a failure without a sentence
/// rather than an error, so one odd row never breaks an explanation. A row of seven was stored
/// before the suppression and calling-hours rules existed: it reads in that order
/// ([`Rule::LEGACY`]), so an old decision is not misattributed.
pub fn decode(stored: &Value, d: &Decided) -> Vec<StoredOutcome> {
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
            detail: match (rule, v) {
                (Rule::Rise, Value::Array(parts)) => stored_sentences::rise_sentence(parts, d),
                (Rule::Window, Value::Array(parts)) => stored_sentences::window_sentence(parts, d),
                _ => v.as_str().map(str::to_owned),
            },
        })
        .collect()
}

#[cfg(test)]
#[path = "outcomes_tests.rs"]
mod tests;
