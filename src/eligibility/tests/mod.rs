//! Tests of the eligibility rules, one file per rule, sharing the builders below. They live in
//! their own folder so each rule's file stays short.

mod assign;
mod boundaries;
mod calling_hours;
mod campaign;
pub(crate) mod props;
mod rise;
mod rules;
mod score;
mod sentences;
mod window;
mod window_dst;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};

use super::{
    Campaign, ContactFacts, Evaluation, Mode, Observation, Rule, Tier, Window, ZonedWindow,
    evaluate, first_failure,
};
use crate::domain::thresholds::Thresholds;

/// The `now` of the SPEC's dry-run example: 01:30 EST in New York, 30 min before spring forward.
const NOW: &str = "2026-03-08T06:30:00Z";

/// An instant from RFC 3339 text, e.g. `at("2026-03-08T06:30:00Z")`.
fn at(text: &str) -> DateTime<Utc> {
    text.parse()
        .unwrap_or_else(|e| panic!("bad instant {text}: {e}"))
}

fn hms(text: &str) -> NaiveTime {
    super::window::parse_hms(text).unwrap_or_else(|| panic!("bad time {text}"))
}

fn window(start: &str, end: &str, tz: &str) -> Window {
    Window {
        start_time: hms(start),
        end_time: hms(end),
        timezone: tz.into(),
    }
}

fn hours(start: &str, end: &str) -> super::CallingHours {
    super::CallingHours {
        start_time: hms(start),
        end_time: hms(end),
    }
}

fn zoned(start: &str, end: &str, tz: &str) -> ZonedWindow {
    window(start, end, tz).zoned().unwrap()
}

fn obs(timestamp: DateTime<Utc>, score: f64) -> Observation {
    Observation::new(timestamp, score)
}

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// The campaign document of SPEC §8.
fn spring_renewals() -> Campaign {
    Campaign {
        id: "spring-renewals".into(),
        name: "Spring renewals".into(),
        enabled: true,
        priority: 10,
        tiers: vec![Tier::High, Tier::Moderate],
        mode: Mode::Push,
        channels: BTreeMap::from([
            ("voice".into(), "list-voice".into()),
            ("email".into(), "list-email".into()),
        ]),
        default_window: window("09:00:00", "20:00:00", "America/New_York"),
        default_channel: None,
        calling_hours: None,
    }
}

/// Facts that pass every rule at `now` with the default thresholds and `spring_renewals`:
/// 0.50 two hours ago, then `score` one hour ago (a rise of `score − 0.50`), voice, a window open
/// all day, never handed over. Tests change one thing and look at one rule.
fn passing(now: DateTime<Utc>, score: f64) -> ContactFacts {
    ContactFacts {
        observations: vec![
            obs(now - TimeDelta::hours(2), 0.50),
            obs(now - TimeDelta::hours(1), score),
        ],
        channel_preference: Some("voice".into()),
        best_contact_window: Some(window("00:00:00", "00:00:00", "Asia/Kathmandu")),
        last_handover_at: None,
        suppression: None,
    }
}

/// `evaluate` at [`NOW`] with the default thresholds, checking what must hold of every
/// evaluation: every rule listed in order, and the reason is the first failing one.
fn run(facts: &ContactFacts, campaign: &Campaign) -> Evaluation {
    let e = evaluate(facts, campaign, &Thresholds::default(), at(NOW));
    // Whatever the case, the reason is the first failing rule, and every rule is listed.
    let rules: Vec<Rule> = e.outcomes.iter().map(|o| o.rule).collect();
    assert_eq!(rules, Rule::ALL);
    assert_eq!(e.reason, first_failure(&e.outcomes));
    e
}
