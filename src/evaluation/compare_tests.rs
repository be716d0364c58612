//! The population dry run's pure parts: the candidate side, the tally and its sample.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{ContactFacts, Observation};
use crate::evaluation::figures::{Delta, Figures};
use crate::evaluation::load::Candidate;
use crate::evaluation::population::{Side, decide};

fn now() -> DateTime<Utc> {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn campaign(id: &str, priority: i32, tiers: Vec<Tier>) -> Campaign {
    Campaign {
        tiers,
        ..Campaign::open_all_day(id, priority)
    }
}

/// A contact whose score rose by `rise` to `to` over the last few hours.
fn contact(id: &str, to: f64, rise: f64) -> Candidate {
    Candidate {
        contact_id: id.into(),
        observed_seq: 1,
        facts: ContactFacts {
            observations: vec![
                Observation::new(now() - TimeDelta::hours(5), to - rise),
                Observation::new(now() - TimeDelta::hours(1), to),
            ],
            channel_preference: Some("voice".into()),
            ..ContactFacts::default()
        },
        pending: None,
    }
}

fn side(campaigns: Vec<Campaign>, thresholds: Thresholds) -> Side {
    Side {
        campaigns,
        thresholds,
    }
}

fn run(active: &Side, candidate: &Side, batch: &[Candidate]) -> Figures {
    let sides = Sides::new(&active.campaigns, &candidate.campaigns);
    let rules = [active.clone(), candidate.clone()];
    decide(batch, &rules, &sides, now()).render(&sides)
}

fn delta(f: &BTreeMap<String, Delta>, key: &str) -> (u64, u64, i64) {
    let d = f.get(key).copied().unwrap_or(Delta {
        active: 0,
        candidate: 0,
        delta: 0,
    });
    (d.active, d.candidate, d.delta)
}

#[test]
fn a_lower_min_rise_makes_contacts_eligible_and_says_which() {
    let active = side(
        vec![campaign("a", 1, vec![Tier::High, Tier::Moderate])],
        Thresholds::default(),
    );
    let lower = Thresholds {
        min_rise: 0.05,
        ..Thresholds::default()
    };
    let candidate = Side::candidate(&active, Some(lower), &[]);
    // c1 rose 0.06 (eligible only with the lower bar), c2 rose 0.2 (eligible either way), c3 is
    // low tier (never).
    let batch = [
        contact("c1", 0.8, 0.06),
        contact("c2", 0.8, 0.2),
        contact("c3", 0.1, 0.06),
    ];
    let f = run(&active, &candidate, &batch);
    assert_eq!(f.contacts, 3);
    assert_eq!(f.changed, 1);
    assert_eq!(delta(&f.reasons, "eligible"), (1, 2, 1));
    assert_eq!(delta(&f.reasons, "insufficient_rise"), (1, 0, -1));
    assert_eq!(delta(&f.reasons, "tier_not_targeted"), (1, 1, 0));
    assert_eq!(delta(&f.tiers, "high"), (2, 2, 0));
    assert_eq!(delta(&f.tiers, "low"), (1, 1, 0));
    assert_eq!(f.sample.len(), 1);
    let s = &f.sample[0];
    assert_eq!(s.contact_id, "c1");
    assert_eq!(s.active.taken_by, None);
    assert_eq!(s.active.decisions[0].reason, Reason::InsufficientRise);
    assert_eq!(s.candidate.taken_by.as_deref(), Some("a"));
    assert_eq!(f.campaigns[0].campaign_id, "a");
    assert_eq!(delta(&f.campaigns[0].reasons, "eligible"), (1, 2, 1));
}

#[test]
fn a_new_campaign_changes_only_the_contacts_it_takes() {
    let active = side(
        vec![campaign("a", 1, vec![Tier::Moderate])],
        Thresholds::default(),
    );
    // "b" outranks "a" and targets high: it takes the high contact; the moderate one it does not
    // target, and that decision alone is no change.
    let candidate = Side::candidate(&active, None, &[campaign("b", 5, vec![Tier::High])]);
    assert_eq!(
        candidate
            .campaigns
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        ["b", "a"],
        "in run order"
    );
    let batch = [contact("hi", 0.9, 0.2), contact("mid", 0.5, 0.2)];
    let f = run(&active, &candidate, &batch);
    assert_eq!(f.changed, 1);
    assert_eq!(f.sample[0].contact_id, "hi");
    assert_eq!(f.sample[0].candidate.taken_by.as_deref(), Some("b"));
    let b = f.campaigns.iter().find(|c| c.campaign_id == "b").unwrap();
    assert!(!b.in_active && b.in_candidate);
    assert_eq!(delta(&b.reasons, "eligible"), (0, 1, 1));
    assert_eq!(delta(&b.reasons, "tier_not_targeted"), (0, 1, 1));
}

#[test]
fn a_candidate_replaces_by_id_and_a_disabled_one_leaves_the_run() {
    let active = side(
        vec![
            campaign("a", 1, vec![Tier::High]),
            campaign("b", 2, vec![Tier::High]),
        ],
        Thresholds::default(),
    );
    let mut off = campaign("a", 1, vec![Tier::High]);
    off.enabled = false;
    let moved = campaign("b", 0, vec![Tier::Moderate]);
    let c = Side::candidate(&active, None, &[off, moved, campaign("c", 9, vec![])]);
    let ids: Vec<&str> = c.campaigns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c", "b"]);
    assert_eq!(c.campaigns[1].tiers, vec![Tier::Moderate]);
    assert_eq!(c.thresholds, active.thresholds);
}

#[test]
fn a_side_without_campaigns_still_has_tiers() {
    let active = side(vec![], Thresholds::default());
    let candidate = side(
        vec![campaign("a", 1, vec![Tier::High])],
        Thresholds::default(),
    );
    let f = run(
        &active,
        &candidate,
        &[contact("x", 0.9, 0.2), contact("y", 0.9, 0.01)],
    );
    assert_eq!(delta(&f.tiers, "high"), (2, 2, 0));
    assert_eq!(f.changed, 1, "only the contact the new campaign takes");
    assert!(f.sample[0].active.decisions.is_empty());
}

#[test]
fn the_sample_keeps_the_twenty_smallest_ids_whatever_the_batch_order() {
    let active = side(
        vec![campaign("a", 1, vec![Tier::High])],
        Thresholds::default(),
    );
    let candidate = side(vec![], Thresholds::default());
    let sides = Sides::new(&active.campaigns, &candidate.campaigns);
    let rules = [active.clone(), candidate.clone()];
    let ids: Vec<String> = (0..50).rev().map(|i| format!("c{i:02}")).collect();
    let (late, early) = ids.split_at(25);
    let batch =
        |ids: &[String]| -> Vec<Candidate> { ids.iter().map(|id| contact(id, 0.9, 0.2)).collect() };
    let mut tally = decide(&batch(late), &rules, &sides, now());
    tally.merge(decide(&batch(early), &rules, &sides, now()));
    let f = tally.render(&sides);
    assert_eq!((f.contacts, f.changed), (50, 50));
    let sampled: Vec<&str> = f.sample.iter().map(|s| s.contact_id.as_str()).collect();
    let want: Vec<String> = (0..SAMPLE).map(|i| format!("c{i:02}")).collect();
    assert_eq!(sampled, want);
}
