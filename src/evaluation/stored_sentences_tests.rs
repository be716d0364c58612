use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::eligibility::tests::props::scenario;
use std::collections::BTreeMap;

use crate::eligibility::window::parse_hms;
use crate::eligibility::{
    CallingHours, Campaign, ContactFacts, Mode, Observation, Rule, Sentences, Tier, evaluate,
    evaluate_with, parse_time_zone,
};
use crate::evaluation::outcomes::{decode, push};

/// What a decision row gives back of `e` decided at `now` (its columns, as the view reads them).
fn decided(e: &Evaluation, now: DateTime<Utc>) -> Decided {
    Decided {
        evaluated_at: now,
        effective_score: e.effective_score,
        rise: e.rise,
        next_opening: e.window.and_then(|w| w.next_opening),
    }
}

/// The outcomes of `e` as stored, then read back.
fn stored_then_read(e: &Evaluation, thresholds: &Thresholds, now: DateTime<Utc>) -> Vec<String> {
    let mut text = String::new();
    push(&mut text, e, &RiseParts::of(thresholds));
    let value: Value = serde_json::from_str(&text).expect("the stored outcomes are JSON");
    decode(&value, &decided(e, now))
        .into_iter()
        .map(|o| o.detail.unwrap_or_default())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the contact, the campaign and the thresholds, a failure's sentence read from a
    /// stored decision is the one the rules write: rendered from the parts the run stored, or
    /// stored as it was. Passed rules read as passed, without a sentence.
    #[test]
    fn a_stored_decision_reads_back_the_rules_sentences(
        (now, facts, campaigns, thresholds) in scenario()
    ) {
        for c in &campaigns {
            let full = evaluate(&facts, c, &thresholds, now);
            let stored = evaluate_with(&facts, c, &thresholds, now, Sentences::Stored);
            prop_assert_eq!(stored.reason, full.reason);
            let read = stored_then_read(&stored, &thresholds, now);
            prop_assert_eq!(read.len(), Rule::ALL.len());
            for (o, detail) in full.outcomes.iter().zip(&read) {
                if o.passed {
                    prop_assert_eq!(detail, "");
                } else {
                    prop_assert_eq!(detail, &o.detail, "{:?}", o.rule);
                }
            }
        }
    }
}

fn window(start: &str, end: &str, timezone: &str) -> Window {
    Window {
        start_time: parse_hms(start).unwrap(),
        end_time: parse_hms(end).unwrap(),
        timezone: timezone.into(),
    }
}

/// A contact in New York, closed at 08:24:18 local time, whose rise is too small, and a campaign
/// with calling hours.
fn closed_and_flat() -> (ContactFacts, Campaign, Thresholds, DateTime<Utc>) {
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 13, 24, 18).unwrap();
    let facts = ContactFacts {
        observations: vec![
            Observation::new(Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap(), 0.4),
            Observation::new(Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap(), 0.45),
        ],
        channel_preference: Some("voice".into()),
        best_contact_window: Some(window("09:00:00", "20:00:00", "America/New_York")),
        last_handover_at: None,
        suppression: None,
    };
    let hours = window("10:00:00", "18:00:00", "UTC");
    let campaign = Campaign {
        id: "c1".into(),
        name: "c1".into(),
        enabled: true,
        priority: 1,
        tiers: vec![Tier::High, Tier::Moderate],
        mode: Mode::Push,
        channels: BTreeMap::from([("voice".into(), "list-voice".into())]),
        default_window: window("08:00:00", "20:00:00", "UTC"),
        default_channel: None,
        calling_hours: Some(CallingHours {
            start_time: hours.start_time,
            end_time: hours.end_time,
        }),
    };
    (facts, campaign, Thresholds::default(), now)
}

#[test]
fn the_commonest_failures_are_stored_as_their_parts() {
    let (facts, campaign, thresholds, now) = closed_and_flat();
    let e = evaluate_with(&facts, &campaign, &thresholds, now, Sentences::Stored);
    let mut text = String::new();
    push(&mut text, &e, &RiseParts::of(&thresholds));
    let value: Value = serde_json::from_str(&text).unwrap();
    // 09:00:00 and 20:00:00, calling hours 10:00:00 and 18:00:00, as seconds.
    assert_eq!(
        value[8],
        json!([32_400, 72_000, "America/New_York", 36_000, 64_800])
    );
    let window = thresholds.rise_window().num_seconds();
    assert_eq!(value[3], json!([window, thresholds.min_rise.to_string()]));
    let read = stored_then_read(&e, &thresholds, now);
    assert_eq!(
        read[8],
        "closed: local time 08:24:18 is outside 09:00:00–20:00:00 America/New_York ∩ calling \
         hours 10:00:00–18:00:00 America/New_York; opens at 2026-12-07 15:00:00 UTC"
    );
    assert!(read[3].starts_with("rose 0.05 over the last 24 h (lowest 0.4 → 0.45); minimum "));
    assert_eq!(read, {
        let full = evaluate(&facts, &campaign, &thresholds, now);
        full.outcomes
            .iter()
            .map(|o| {
                if o.passed {
                    String::new()
                } else {
                    o.detail.clone()
                }
            })
            .collect::<Vec<_>>()
    });
}

#[test]
fn sentences_stored_whole_read_as_they_were() {
    let (facts, campaign, thresholds, now) = closed_and_flat();
    let e = evaluate(&facts, &campaign, &thresholds, now);
    let stored = json!([
        true,
        true,
        true,
        "rose a little",
        true,
        true,
        true,
        true,
        "closed"
    ]);
    let read: Vec<_> = decode(&stored, &decided(&e, now))
        .into_iter()
        .map(|o| o.detail)
        .collect();
    assert_eq!(read[3].as_deref(), Some("rose a little"));
    assert_eq!(read[8].as_deref(), Some("closed"));
}

#[test]
fn odd_parts_read_as_a_failure_without_a_sentence() {
    let (facts, campaign, thresholds, now) = closed_and_flat();
    let e = evaluate(&facts, &campaign, &thresholds, now);
    let d = decided(&e, now);
    for odd in [
        json!([]),
        json!(["86400", "0.1"]),
        json!([86400]),
        json!([86400, 0.1]),
        json!([86400, "a tenth"]),
        json!([i64::MAX, "0.1"]),
    ] {
        assert_eq!(rise_sentence(odd.as_array().unwrap(), &d), None, "{odd}");
    }
    for odd in [
        json!([1, 2]),
        json!([1, 2, 3]),
        json!([-1, 2, "UTC"]),
        json!([86_400, 2, "UTC"]),
        json!([1, 2, "UTC", 3]),
    ] {
        assert_eq!(window_sentence(odd.as_array().unwrap(), &d), None, "{odd}");
    }
    // Without a score, the rise cannot be said.
    let no_score = Decided {
        effective_score: None,
        ..d
    };
    assert_eq!(
        rise_sentence(&[json!(86400), json!("0.1")], &no_score),
        None
    );
    assert!(rise_sentence(&[json!(86400), json!("0.1")], &d).is_some());
}

#[test]
fn a_zone_no_longer_known_reads_its_local_time_as_unknown() {
    assert!(parse_time_zone("Mars/Base").is_err());
    let d = Decided {
        evaluated_at: Utc.with_ymd_and_hms(2026, 12, 7, 13, 0, 0).unwrap(),
        effective_score: None,
        rise: None,
        next_opening: None,
    };
    let read = window_sentence(&[json!(0), json!(60), json!("Mars/Base")], &d).unwrap();
    assert_eq!(
        read,
        "closed: local time ? is outside 00:00:00–00:01:00 Mars/Base; no opening found"
    );
}
