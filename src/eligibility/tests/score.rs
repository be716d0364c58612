//! Dampening (SPEC §7 rule 1, §11.10) at its boundaries.

use super::*;
use crate::eligibility::ScoreSeries;
use crate::eligibility::validate_observations;

const T0: &str = "2026-03-01T00:00:00Z";

struct Case {
    name: &'static str,
    /// (minutes after T0, score), in input order.
    input: &'static [(i64, f64)],
    /// Dampened flag of each *listed* observation, in time order.
    dampened: &'static [bool],
    effective: Option<f64>,
}

const CASES: &[Case] = &[
    Case {
        name: "the first observation is always applied",
        input: &[(0, 0.70)],
        dampened: &[false],
        effective: Some(0.70),
    },
    Case {
        name: "0.049 change 59 min after the last change is dampened",
        input: &[(0, 0.70), (59, 0.749)],
        dampened: &[false, true],
        effective: Some(0.70),
    },
    Case {
        name: "0.049 change exactly 60 min after is applied (time limits are strict)",
        input: &[(0, 0.70), (60, 0.749)],
        dampened: &[false, false],
        effective: Some(0.749),
    },
    Case {
        name: "0.05 exactly (0.750 − 0.700 = 0.05000000000000004) is not less than delta",
        input: &[(0, 0.70), (1, 0.75)],
        dampened: &[false, false],
        effective: Some(0.75),
    },
    Case {
        // 0.72 − 0.67 = 0.04999999999999993: within 1e-9 of delta, so it counts as delta.
        name: "a difference within 1e-9 below delta counts as delta",
        input: &[(0, 0.72), (1, 0.67)],
        dampened: &[false, false],
        effective: Some(0.67),
    },
    Case {
        name: "a difference 1e-8 below delta is dampened",
        input: &[(0, 0.70), (1, 0.75 - 1e-8)],
        dampened: &[false, true],
        effective: Some(0.70),
    },
    Case {
        name: "an equal value is applied after the window and restarts the clock",
        input: &[(0, 0.70), (61, 0.70), (120, 0.72)],
        dampened: &[false, false, true],
        effective: Some(0.70),
    },
    Case {
        name: "a dampened observation does not restart the clock",
        input: &[(0, 0.70), (30, 0.72), (60, 0.73)],
        dampened: &[false, true, false],
        effective: Some(0.73),
    },
    Case {
        name: "differences are measured from the effective score, not the last observation",
        input: &[(0, 0.70), (10, 0.74), (20, 0.78)],
        dampened: &[false, true, false],
        effective: Some(0.78),
    },
    Case {
        name: "input order does not matter",
        input: &[(120, 0.90), (0, 0.50)],
        dampened: &[false, false],
        effective: Some(0.90),
    },
    Case {
        name: "equal timestamps keep input order; the second is 0 min after the first",
        input: &[(0, 0.70), (0, 0.71), (0, 0.80)],
        dampened: &[false, true, false],
        effective: Some(0.80),
    },
    Case {
        name: "non-finite scores are skipped, not listed",
        input: &[(0, f64::NAN), (1, 0.60), (2, f64::INFINITY), (3, 0.61)],
        dampened: &[false, true],
        effective: Some(0.60),
    },
    Case {
        name: "nothing observed",
        input: &[],
        dampened: &[],
        effective: None,
    },
];

#[test]
fn dampening_table() {
    let t0 = at(T0);
    let now = t0 + TimeDelta::days(1);
    for case in CASES {
        let input: Vec<_> = case
            .input
            .iter()
            .map(|&(m, s)| obs(t0 + minutes(m), s))
            .collect();
        let series = ScoreSeries::compute(&input, now, &Thresholds::default());
        let flags: Vec<bool> = series.observations.iter().map(|o| o.dampened).collect();
        assert_eq!(flags, case.dampened, "{}", case.name);
        assert_eq!(series.effective(), case.effective, "{}", case.name);
        let applied = flags.iter().filter(|d| !**d).count();
        assert_eq!(series.applied.len(), applied, "{}", case.name);
        assert!(
            series
                .observations
                .windows(2)
                .all(|w| w[0].timestamp <= w[1].timestamp),
            "{}: listed in time order",
            case.name
        );
    }
}

#[test]
fn observations_after_now_are_ignored_and_one_at_now_counts() {
    let now = at("2026-03-08T06:30:00Z");
    let input = [
        obs(now - minutes(90), 0.40),
        obs(now, 0.60),
        obs(now + TimeDelta::seconds(1), 0.95),
    ];
    let series = ScoreSeries::compute(&input, now, &Thresholds::default());
    assert_eq!(series.observations.len(), 2);
    assert_eq!(series.effective(), Some(0.60));
}

#[test]
fn zero_delta_dampens_nothing() {
    let t0 = at(T0);
    let thresholds = Thresholds {
        dampening_delta: 0.0,
        ..Thresholds::default()
    };
    let input = [obs(t0, 0.5), obs(t0 + minutes(1), 0.5)];
    let series = ScoreSeries::compute(&input, t0 + minutes(2), &thresholds);
    assert_eq!(series.applied.len(), 2);
}

#[test]
fn effective_at_reads_the_applied_series() {
    let t0 = at(T0);
    let input = [
        obs(t0, 0.5),
        obs(t0 + minutes(10), 0.52),
        obs(t0 + minutes(90), 0.8),
    ];
    let series = ScoreSeries::compute(&input, t0 + minutes(100), &Thresholds::default());
    assert_eq!(series.effective_at(t0 - minutes(1)), None);
    assert_eq!(series.effective_at(t0), Some(0.5));
    assert_eq!(
        series.effective_at(t0 + minutes(20)),
        Some(0.5),
        "0.52 was dampened"
    );
    assert_eq!(series.effective_at(t0 + minutes(90)), Some(0.8));
}

#[test]
fn hand_made_observations_must_be_scores() {
    let t0 = at(T0);
    let input = [
        obs(t0, 0.0),
        obs(t0, 1.0),
        obs(t0, 1.01),
        obs(t0, -0.1),
        obs(t0, f64::NAN),
    ];
    let fields: Vec<String> = validate_observations(&input)
        .into_iter()
        .map(|p| p.field)
        .collect();
    assert_eq!(
        fields,
        [
            "observations[2].score",
            "observations[3].score",
            "observations[4].score"
        ]
    );
}
