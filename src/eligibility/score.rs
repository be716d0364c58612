//! The effective score, with dampening (SPEC §7 rule 1, §11.10).
//!
//! Observations are taken in time order. The first one is applied; a later one is *dampened*
//! (ignored) when it differs from the effective score by less than `dampening_delta` **and** comes
//! less than `dampening_window` after the last *applied* observation. Every other observation is
//! applied, even one equal to the effective score, and restarts the dampening clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::problem::FieldProblem;
use crate::domain::thresholds::Thresholds;

/// Scores are compared with this tolerance: a difference within it of a threshold counts as equal
/// to the threshold (SPEC §7, §11), so 0.72 − 0.62 = 0.0999…98 is a rise of 0.10.
pub const SCORE_TOLERANCE: f64 = 1e-9;

/// `value ≥ threshold`, with the tolerance.
pub fn at_least(value: f64, threshold: f64) -> bool {
    value >= threshold - SCORE_TOLERANCE
}

/// `value < threshold`, with the tolerance (the exact negation of [`at_least`]).
pub fn below(value: f64, threshold: f64) -> bool {
    !at_least(value, threshold)
}

/// One propensity score seen for a contact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Observation {
    pub timestamp: DateTime<Utc>,
    #[schema(example = 0.72)]
    pub score: f64,
}

impl Observation {
    pub fn new(timestamp: DateTime<Utc>, score: f64) -> Self {
        Self { timestamp, score }
    }
}

/// An observation as the operator sees it in an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObservationView {
    pub timestamp: DateTime<Utc>,
    pub score: f64,
    /// Ignored by the effective score (a small change soon after the last applied one).
    pub dampened: bool,
}

/// The observations a contact had at `now`, dampening decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreSeries {
    /// Every considered observation in time order, each marked dampened or not.
    pub observations: Vec<ObservationView>,
    /// The applied observations in time order: the effective score series.
    pub applied: Vec<Observation>,
}

impl ScoreSeries {
    /// Decides dampening for `observations` as of `now`.
    ///
    /// * Observations later than `now` are ignored (not listed): at `now` they have not happened.
    /// * Non-finite scores (NaN, ±∞) are skipped and not listed: no JSON document can carry them,
    ///   so only a bug upstream produces one, and one NaN must not poison every comparison after
    ///   it. The dry-run edge refuses them with a 422 through [`validate_observations`].
    /// * Equal timestamps keep their input order (stable sort).
    pub fn compute(
        observations: &[Observation],
        now: DateTime<Utc>,
        thresholds: &Thresholds,
    ) -> Self {
        let mut considered: Vec<Observation> = observations
            .iter()
            .filter(|o| o.timestamp <= now && o.score.is_finite())
            .copied()
            .collect();
        considered.sort_by_key(|o| o.timestamp);

        let window = thresholds.dampening_window();
        let mut series = Self {
            observations: Vec::with_capacity(considered.len()),
            applied: Vec::with_capacity(considered.len()),
        };
        for obs in considered {
            let dampened = match series.applied.last() {
                None => false,
                Some(last) => {
                    // |Δ| < delta with the tolerance: a difference within 1e-9 of delta counts as
                    // delta, which is not "less than delta", so it is applied.
                    let small = below((obs.score - last.score).abs(), thresholds.dampening_delta);
                    // Strict: exactly `window` after the last applied one is not dampened.
                    let soon = obs.timestamp.signed_duration_since(last.timestamp) < window;
                    small && soon
                }
            };
            if !dampened {
                series.applied.push(obs);
            }
            series.observations.push(ObservationView {
                timestamp: obs.timestamp,
                score: obs.score,
                dampened,
            });
        }
        series
    }

    /// The effective score at `now`: the last applied value.
    pub fn effective(&self) -> Option<f64> {
        self.applied.last().map(|o| o.score)
    }

    /// The effective score in force at `at`: the last applied value at or before it.
    pub fn effective_at(&self, at: DateTime<Utc>) -> Option<f64> {
        let after = self.applied.partition_point(|o| o.timestamp <= at);
        after.checked_sub(1).map(|i| self.applied[i].score)
    }
}

/// Problems with observations submitted by hand (the dry run): a score must be a finite number in
/// `[0, 1]`, as PE's propensity scores are. The rules themselves accept any finite value.
pub fn validate_observations(observations: &[Observation]) -> Vec<FieldProblem> {
    observations
        .iter()
        .enumerate()
        .filter(|(_, o)| !(o.score >= 0.0 && o.score <= 1.0))
        .map(|(i, o)| {
            FieldProblem::new(
                format!("observations[{i}].score"),
                format!("must be a number between 0 and 1, got {}", o.score),
            )
        })
        .collect()
}
