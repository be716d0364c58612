//! The evaluated contacts' observation watermarks, sent as the `{contact: seq}` jsonb object a
//! batch's deletes look contacts up in (`store`).
//!
//! PostgreSQL keeps a jsonb object's keys sorted (shorter first, then byte by byte) and sorts them
//! when it reads the parameter; its sort checks first whether the input is already in order and
//! then returns at once. So the keys go in that order: 500 reads of a 2,000-key object cost
//! 0.31 CPU-s instead of 0.58 in random order (`docs/BENCHMARKS.md`), and a run over a million
//! contacts reads 500 of them.

use std::cmp::Ordering;

use serde::ser::{Serialize, Serializer};

/// Contacts and the observation sequence each was evaluated at, in jsonb's key order.
#[derive(Debug)]
pub struct Watermarks<'a>(Vec<(&'a str, i64)>);

impl<'a> Watermarks<'a> {
    /// The watermarks of a batch's contacts (distinct: a batch holds each contact once).
    pub fn new(mut pairs: Vec<(&'a str, i64)>) -> Self {
        pairs.sort_unstable_by(|a, b| jsonb_key_order(a.0, b.0));
        Self(pairs)
    }

    pub fn contacts(&self) -> Vec<&'a str> {
        self.0.iter().map(|(c, _)| *c).collect()
    }
}

/// How jsonb orders an object's keys (PostgreSQL's `lengthCompareJsonbStringValue`).
fn jsonb_key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

impl Serialize for Watermarks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(contact, seq)| (contact, seq)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_shorter_first_then_byte_by_byte() {
        let w = Watermarks::new(vec![
            ("b", 1),
            ("aa", 2),
            ("a", 3),
            ("Z", 4),
            ("é", 5),
            ("ab", 6),
        ]);
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"Z":4,"a":3,"b":1,"aa":2,"ab":6,"é":5}"#
        );
        assert_eq!(w.contacts(), ["Z", "a", "b", "aa", "ab", "é"]);
    }

    #[test]
    fn every_contact_keeps_its_own_sequence() {
        let pairs: Vec<(String, i64)> = (0..500).rev().map(|i| (format!("c-{i}"), i)).collect();
        let w = Watermarks::new(pairs.iter().map(|(c, s)| (c.as_str(), *s)).collect());
        let back: std::collections::HashMap<String, i64> =
            serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, pairs.into_iter().collect());
    }
}
