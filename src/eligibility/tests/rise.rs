//! The rise (SPEC §7 rule 3, §11.11) at its boundaries, directly and through `evaluate`.

use super::*;
use crate::eligibility::rise::rise;
use crate::eligibility::{Reason, ScoreSeries};

/// (name, (seconds before now, score) in time order, expected rise)
type Case = (&'static str, &'static [(i64, f64)], Option<f64>);

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

const CASES: &[Case] = &[
    (
        "an observation exactly at now − 24 h is in force when the window opens",
        &[(DAY, 0.62), (HOUR / 2, 0.72)],
        Some(0.10),
    ),
    (
        "one second earlier it is still the value in force then",
        &[(DAY + 1, 0.62), (HOUR / 2, 0.72)],
        Some(0.10),
    ),
    (
        "only the value in force at the opening counts, not older ones",
        &[(2 * DAY, 0.30), (DAY + 1, 0.62), (HOUR / 2, 0.72)],
        Some(0.10),
    ),
    (
        "an observation exactly at the opening replaces the one before it",
        &[(DAY + HOUR, 0.30), (DAY, 0.62), (HOUR / 2, 0.72)],
        Some(0.10),
    ),
    (
        "one second inside the window, the older value is in force at the opening",
        &[(DAY + HOUR, 0.30), (DAY - 1, 0.62), (HOUR / 2, 0.72)],
        Some(0.42),
    ),
    (
        "nothing before the window: only those inside count",
        &[(2 * HOUR, 0.62), (HOUR, 0.72)],
        Some(0.10),
    ),
    (
        "the lowest point inside the window counts",
        &[(30 * HOUR, 0.70), (10 * HOUR, 0.50), (HOUR, 0.72)],
        Some(0.22),
    ),
    (
        "everything before the window: the value in force is the only candidate",
        &[(30 * HOUR, 0.50), (26 * HOUR, 0.90)],
        Some(0.0),
    ),
    (
        "a fall is no rise",
        &[(2 * HOUR, 0.90), (HOUR, 0.50)],
        Some(0.0),
    ),
    ("a single observation shows no rise", &[(HOUR, 0.90)], None),
    (
        "a single *applied* observation shows no rise (the second is dampened)",
        &[(2 * HOUR, 0.70), (HOUR + 1, 0.72)],
        None,
    ),
];

#[test]
fn rise_table() {
    let now = at(NOW);
    let thresholds = Thresholds::default();
    for (name, points, expected) in CASES {
        let input: Vec<_> = points
            .iter()
            .map(|&(ago, s)| obs(now - TimeDelta::seconds(ago), s))
            .collect();
        let series = ScoreSeries::compute(&input, now, &thresholds);
        let got = rise(&series.applied, now, thresholds.rise_window());
        match (got, expected) {
            (Some(g), Some(e)) => assert!((g - e).abs() < 1e-12, "{name}: {g} vs {e}"),
            (g, e) => assert_eq!(g, *e, "{name}"),
        }
    }
}

#[test]
fn minimum_rise_boundary_through_evaluate() {
    let now = at(NOW);
    let campaign = spring_renewals();
    // (name, from, to, reason). 0.72 − 0.62 is 0.09999999999999998 in binary floating point.
    let cases = [
        (
            "exactly 0.10, from 0.62 to 0.72",
            0.62,
            0.72,
            Reason::Eligible,
        ),
        (
            "0.10 − 1e-10 counts as 0.10",
            0.62,
            0.72 - 1e-10,
            Reason::Eligible,
        ),
        ("0.0999 is short", 0.62, 0.7199, Reason::InsufficientRise),
        (
            "0.10 − 2e-9 is short",
            0.62,
            0.72 - 2e-9,
            Reason::InsufficientRise,
        ),
    ];
    for (name, from, to, reason) in cases {
        let mut facts = passing(now, to);
        facts.observations[0].score = from;
        let e = evaluate(&facts, &campaign, &Thresholds::default(), now);
        assert_eq!(e.reason, reason, "{name}: {:?}", e.outcomes);
        let outcome = &e.outcomes[3];
        assert_eq!(outcome.rule, Rule::Rise);
        assert_eq!(outcome.passed, reason == Reason::Eligible, "{name}");
    }
}

#[test]
fn reported_rise_reads_as_the_operator_expects() {
    let now = at(NOW);
    let mut facts = passing(now, 0.72);
    facts.observations[0].score = 0.62;
    let e = evaluate(&facts, &spring_renewals(), &Thresholds::default(), now);
    assert_eq!(
        e.rise,
        Some(0.1),
        "rounded for display, not 0.09999999999999998"
    );
}

#[test]
fn the_rise_window_is_a_setting() {
    let now = at(NOW);
    let input = [
        obs(now - TimeDelta::hours(30), 0.30),
        obs(now - TimeDelta::hours(26), 0.60),
        obs(now - TimeDelta::hours(1), 0.72),
    ];
    let series = ScoreSeries::compute(&input, now, &Thresholds::default());
    // 24 h: 0.60 is in force at the opening; 0.30 is older.
    let got = rise(&series.applied, now, TimeDelta::hours(24)).unwrap();
    assert!((got - 0.12).abs() < 1e-12);
    // 48 h: nothing precedes the window, so all three count.
    let got = rise(&series.applied, now, TimeDelta::hours(48)).unwrap();
    assert!((got - 0.42).abs() < 1e-12);
    // A window reaching before chrono's first instant covers the whole history, no panic.
    let got = rise(&series.applied, now, TimeDelta::MAX).unwrap();
    assert!((got - 0.42).abs() < 1e-12);
}
