//! The thresholds document (SPEC §8): every number the rules and the intake use, tunable by an
//! operator through `GET/PUT /v1/admin/thresholds`.
//!
//! The document is replaced whole, so every field is required when it is deserialized and unknown
//! fields are refused (a typo must not silently fall back to a default). Durations are whole
//! seconds by type: `86400.5` is refused by serde before [`Thresholds::validate`] runs.
//! [`Thresholds::validate`] then lists *every* range problem at once (SPEC §11.19), so the admin
//! API can answer one 422 that the operator fixes in one go.

pub use super::problem::FieldProblem;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest accepted duration: ten years. The SPEC only asks for "positive whole seconds"; the cap
/// keeps every `instant ± duration` computation far inside chrono's range (and a PostgreSQL
/// `interval`), and no operator means a 300-year cooldown.
pub const MAX_DURATION_SECONDS: i64 = 10 * 365 * 24 * 60 * 60;

/// A document that failed validation, carrying every problem found (the HTTP layer answers 422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid document: {}", summarize(.problems))]
pub struct Invalid {
    pub problems: Vec<FieldProblem>,
}

fn summarize(problems: &[FieldProblem]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    parts.join("; ")
}

/// The settings of SPEC §8. `Default` gives the SPEC's defaults. Durations are whole seconds, at
/// most ten years (`MAX_DURATION_SECONDS`, written out in the schema's `maximum`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Lowest effective score of the high tier.
    #[schema(example = 0.75, exclusive_minimum = 0.0, maximum = 1.0)]
    pub high_tier: f64,
    /// Lowest effective score of the moderate tier; below `high_tier`.
    #[schema(example = 0.40, exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub moderate_tier: f64,
    /// Minimum rise of the effective score over the rise window.
    #[schema(example = 0.10, exclusive_minimum = 0.0, maximum = 1.0)]
    pub min_rise: f64,
    #[schema(example = 86400, minimum = 1, maximum = 315360000)]
    pub rise_window_seconds: i64,
    /// A change smaller than this, soon after the last applied one, is dampened (ignored).
    #[schema(example = 0.05, minimum = 0.0, exclusive_maximum = 1.0)]
    pub dampening_delta: f64,
    #[schema(example = 3600, minimum = 1, maximum = 315360000)]
    pub dampening_window_seconds: i64,
    /// No contact is handed to the dialer twice within this time.
    #[schema(example = 259200, minimum = 1, maximum = 315360000)]
    pub cooldown_seconds: i64,
    #[schema(example = 300, minimum = 1, maximum = 315360000)]
    pub skew_tolerance_seconds: i64,
    #[schema(example = 604800, minimum = 1, maximum = 315360000)]
    pub backfill_age_seconds: i64,
    #[schema(example = 300, minimum = 1, maximum = 315360000)]
    pub future_tolerance_seconds: i64,
    #[schema(example = 86400, minimum = 1, maximum = 315360000)]
    pub dedup_window_seconds: i64,
    /// May be 0 (no hold).
    #[schema(example = 2, minimum = 0, maximum = 315360000)]
    pub ordering_hold_seconds: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            high_tier: 0.75,
            moderate_tier: 0.40,
            min_rise: 0.10,
            rise_window_seconds: 86_400,
            dampening_delta: 0.05,
            dampening_window_seconds: 3_600,
            cooldown_seconds: 259_200,
            skew_tolerance_seconds: 300,
            backfill_age_seconds: 604_800,
            future_tolerance_seconds: 300,
            dedup_window_seconds: 86_400,
            ordering_hold_seconds: 2,
        }
    }
}

impl Thresholds {
    /// Every problem with the document, in field order; empty when it is valid.
    ///
    /// Comparisons are written so that NaN fails them ("not > 0" rather than "≤ 0"): JSON
    /// cannot carry NaN, but a document built in code can.
    pub fn validate(&self) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        let mut push =
            |field: &str, message: String| problems.push(FieldProblem::new(field, message));

        if !(self.high_tier > 0.0 && self.high_tier <= 1.0) {
            push(
                "high_tier",
                format!("must be > 0 and ≤ 1, got {}", self.high_tier),
            );
        }
        let moderate_positive = self.moderate_tier > 0.0;
        if !moderate_positive {
            push(
                "moderate_tier",
                format!("must be > 0, got {}", self.moderate_tier),
            );
        }
        let ordered = self.moderate_tier < self.high_tier;
        if !ordered {
            push(
                "moderate_tier",
                format!(
                    "must be less than high_tier ({}), got {}",
                    self.high_tier, self.moderate_tier
                ),
            );
        }
        if !(self.min_rise > 0.0 && self.min_rise <= 1.0) {
            push(
                "min_rise",
                format!("must be > 0 and ≤ 1, got {}", self.min_rise),
            );
        }
        if !(self.dampening_delta >= 0.0 && self.dampening_delta < 1.0) {
            push(
                "dampening_delta",
                format!("must be ≥ 0 and < 1, got {}", self.dampening_delta),
            );
        }
        for (field, value, zero_allowed) in self.durations() {
            let lowest = if zero_allowed { 0 } else { 1 };
            if value < lowest || value > MAX_DURATION_SECONDS {
                let what = if zero_allowed { "≥ 0" } else { "> 0" };
                push(
                    field,
                    format!("must be {what} and ≤ {MAX_DURATION_SECONDS} seconds, got {value}"),
                );
            }
        }
        problems
    }

    /// `Ok(self)` when valid, else every problem.
    pub fn validated(self) -> Result<Self, Invalid> {
        let problems = self.validate();
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(Invalid { problems })
        }
    }

    /// (field, seconds, may be zero) for every duration, in document order.
    fn durations(&self) -> [(&'static str, i64, bool); 8] {
        [
            ("rise_window_seconds", self.rise_window_seconds, false),
            (
                "dampening_window_seconds",
                self.dampening_window_seconds,
                false,
            ),
            ("cooldown_seconds", self.cooldown_seconds, false),
            ("skew_tolerance_seconds", self.skew_tolerance_seconds, false),
            ("backfill_age_seconds", self.backfill_age_seconds, false),
            (
                "future_tolerance_seconds",
                self.future_tolerance_seconds,
                false,
            ),
            ("dedup_window_seconds", self.dedup_window_seconds, false),
            ("ordering_hold_seconds", self.ordering_hold_seconds, true),
        ]
    }

    pub fn rise_window(&self) -> TimeDelta {
        seconds(self.rise_window_seconds)
    }
    pub fn dampening_window(&self) -> TimeDelta {
        seconds(self.dampening_window_seconds)
    }
    pub fn cooldown(&self) -> TimeDelta {
        seconds(self.cooldown_seconds)
    }
    pub fn skew_tolerance(&self) -> TimeDelta {
        seconds(self.skew_tolerance_seconds)
    }
    pub fn backfill_age(&self) -> TimeDelta {
        seconds(self.backfill_age_seconds)
    }
    pub fn future_tolerance(&self) -> TimeDelta {
        seconds(self.future_tolerance_seconds)
    }
    pub fn dedup_window(&self) -> TimeDelta {
        seconds(self.dedup_window_seconds)
    }
    pub fn ordering_hold(&self) -> TimeDelta {
        seconds(self.ordering_hold_seconds)
    }
}

/// Saturating: an unvalidated, absurd value becomes the largest duration chrono holds instead of
/// panicking, so the rules stay total even on documents that never went through `validate`.
fn seconds(value: i64) -> TimeDelta {
    TimeDelta::try_seconds(value).unwrap_or(if value < 0 {
        TimeDelta::MIN
    } else {
        TimeDelta::MAX
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_schema_states_the_duration_bounds_validate_checks() {
        // The `maximum` of each duration in the OpenAPI schema is this literal.
        assert_eq!(MAX_DURATION_SECONDS, 315_360_000);
        let doc = serde_json::to_value(crate::app::routes::openapi_document()).unwrap();
        let t = &doc["components"]["schemas"]["Thresholds"]["properties"];
        for (field, _, zero_allowed) in Thresholds::default().durations() {
            assert_eq!(t[field]["maximum"], MAX_DURATION_SECONDS, "{field}");
            assert_eq!(
                t[field]["minimum"],
                if zero_allowed { 0 } else { 1 },
                "{field}"
            );
        }
    }

    use super::*;

    #[test]
    fn defaults_are_the_spec_document() {
        let spec = r#"{"high_tier": 0.75, "moderate_tier": 0.40, "min_rise": 0.10, "rise_window_seconds": 86400,
 "dampening_delta": 0.05, "dampening_window_seconds": 3600, "cooldown_seconds": 259200,
 "skew_tolerance_seconds": 300, "backfill_age_seconds": 604800, "future_tolerance_seconds": 300,
 "dedup_window_seconds": 86400, "ordering_hold_seconds": 2}"#;
        let parsed: Thresholds = serde_json::from_str(spec).unwrap();
        assert_eq!(parsed, Thresholds::default());
        assert!(parsed.validate().is_empty());
        assert_eq!(parsed.cooldown(), TimeDelta::hours(72));
        assert_eq!(parsed.rise_window(), TimeDelta::hours(24));
        assert_eq!(parsed.dampening_window(), TimeDelta::minutes(60));
    }

    #[test]
    fn the_document_is_whole_and_closed() {
        let mut value = serde_json::to_value(Thresholds::default()).unwrap();
        value["surprise"] = 1.into();
        assert!(
            serde_json::from_value::<Thresholds>(value).is_err(),
            "unknown field"
        );
        let mut value = serde_json::to_value(Thresholds::default()).unwrap();
        value.as_object_mut().unwrap().remove("min_rise");
        assert!(
            serde_json::from_value::<Thresholds>(value).is_err(),
            "missing field"
        );
        let mut value = serde_json::to_value(Thresholds::default()).unwrap();
        value["cooldown_seconds"] = serde_json::json!(1.5);
        assert!(
            serde_json::from_value::<Thresholds>(value).is_err(),
            "fractional seconds"
        );
    }

    fn fields(t: &Thresholds) -> Vec<String> {
        t.validate().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn boundaries_of_every_range() {
        type Edit = fn(&mut Thresholds);
        // (edit, fields expected to be reported)
        let cases: &[(Edit, &[&str])] = &[
            (|t| t.high_tier = 1.0, &[]),
            (|t| t.high_tier = 1.0 + 1e-6, &["high_tier"]),
            (|t| t.moderate_tier = 0.0, &["moderate_tier"]),
            (|t| t.moderate_tier = 0.75, &["moderate_tier"]),
            (|t| t.moderate_tier = 0.7499, &[]),
            (|t| t.min_rise = 0.0, &["min_rise"]),
            (|t| t.min_rise = 1.0, &[]),
            (|t| t.dampening_delta = 0.0, &[]),
            (|t| t.dampening_delta = 1.0, &["dampening_delta"]),
            (|t| t.dampening_delta = -0.01, &["dampening_delta"]),
            (|t| t.ordering_hold_seconds = 0, &[]),
            (|t| t.ordering_hold_seconds = -1, &["ordering_hold_seconds"]),
            (|t| t.cooldown_seconds = 0, &["cooldown_seconds"]),
            (|t| t.rise_window_seconds = MAX_DURATION_SECONDS, &[]),
            (
                |t| t.rise_window_seconds = MAX_DURATION_SECONDS + 1,
                &["rise_window_seconds"],
            ),
            (|t| t.high_tier = f64::NAN, &["high_tier", "moderate_tier"]),
        ];
        for (i, (edit, expected)) in cases.iter().enumerate() {
            let mut t = Thresholds::default();
            edit(&mut t);
            assert_eq!(fields(&t), *expected, "case {i}: {t:?}");
        }
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let t = Thresholds {
            high_tier: 0.0,
            moderate_tier: 0.5,
            min_rise: 0.0,
            rise_window_seconds: 0,
            dampening_delta: 1.0,
            dampening_window_seconds: -5,
            cooldown_seconds: 0,
            skew_tolerance_seconds: 0,
            backfill_age_seconds: 0,
            future_tolerance_seconds: 0,
            dedup_window_seconds: 0,
            ordering_hold_seconds: -1,
        };
        assert_eq!(t.validate().len(), 12);
        let err = t.validated().unwrap_err();
        assert!(err.to_string().contains("high_tier: must be > 0"), "{err}");
    }

    #[test]
    fn accessors_saturate_instead_of_panicking() {
        let t = Thresholds {
            cooldown_seconds: i64::MAX,
            rise_window_seconds: i64::MIN,
            ..Thresholds::default()
        };
        assert_eq!(t.cooldown(), TimeDelta::MAX);
        assert_eq!(t.rise_window(), TimeDelta::MIN);
    }
}
