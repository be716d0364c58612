//! Stage 5 of SPEC §3: the event timestamp, and which lane its age sends it to.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The two time limits of the pipeline, taken from the thresholds document
/// (`backfill_age_seconds`, `future_tolerance_seconds`) by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRules {
    /// Events strictly older than this go to the backfill lane.
    pub backfill_age: Duration,
    /// Events strictly further than this in the future go to the reconciliation queue.
    pub future_tolerance: Duration,
}

impl Default for TimeRules {
    /// The defaults of SPEC §3 and §8: 7 days and 5 minutes.
    fn default() -> Self {
        TimeRules {
            backfill_age: Duration::days(7),
            future_tolerance: Duration::minutes(5),
        }
    }
}

impl TimeRules {
    /// Builds the rules from the whole-second settings. Out-of-range values saturate instead of
    /// panicking: the thresholds are validated elsewhere, and a clamp is the safe reading of
    /// "practically forever".
    pub fn from_seconds(backfill_age_seconds: i64, future_tolerance_seconds: i64) -> Self {
        let secs = |s: i64| {
            Duration::try_seconds(s).unwrap_or(if s < 0 { Duration::MIN } else { Duration::MAX })
        };
        TimeRules {
            backfill_age: secs(backfill_age_seconds),
            future_tolerance: secs(future_tolerance_seconds),
        }
    }
}

/// The lane an accepted event enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    #[serde(rename = "real_time")]
    Realtime,
    Backfill,
    Reconciliation,
}

impl Route {
    pub const fn as_str(self) -> &'static str {
        match self {
            Route::Realtime => "real_time",
            Route::Backfill => "backfill",
            Route::Reconciliation => "reconciliation",
        }
    }

    /// The `reason` an ingest result carries for this lane (SPEC §2), if any.
    pub const fn reason(self) -> Option<&'static str> {
        match self {
            Route::Realtime => None,
            Route::Backfill => Some("older_than_backfill_age"),
            Route::Reconciliation => Some("future_timestamp"),
        }
    }
}

/// Parses an RFC 3339 date-time that carries an offset (`Z` or `±hh:mm`) and converts it to UTC.
/// A naive date-time, a bare date or epoch seconds are rejected: without an offset the instant is a
/// guess, and guessing would silently reorder a contact's events.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|ts| ts.with_timezone(&Utc))
}

/// UTC with a `Z` suffix and only as many fractional digits as needed (0, 3, 6 or 9), so that no
/// precision the source sent is lost and whole seconds stay short (`2024-11-15T14:32:00Z`).
pub fn format_utc(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Routes by age relative to `now`. Both limits are strict ("more than", "older than"): an event
/// exactly `future_tolerance` ahead or exactly `backfill_age` old is still real-time.
pub fn route(ts: DateTime<Utc>, now: DateTime<Utc>, rules: &TimeRules) -> Route {
    // signed_duration_since cannot overflow for any pair of chrono instants, unlike `now - age`.
    let ahead = ts.signed_duration_since(now);
    if ahead > rules.future_tolerance {
        Route::Reconciliation
    } else if -ahead > rules.backfill_age {
        Route::Backfill
    } else {
        Route::Realtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_timestamp(text).unwrap()
    }

    #[test]
    fn offsets_are_normalized_to_utc() {
        assert_eq!(
            format_utc(at("2024-11-15T15:32:00+01:00")),
            "2024-11-15T14:32:00Z"
        );
        assert_eq!(
            format_utc(at("2024-11-15T09:02:00-05:30")),
            "2024-11-15T14:32:00Z"
        );
        // RFC 3339 §5.6 allows a lowercase `t`/`z` and a space between date and time.
        assert_eq!(
            format_utc(at("2024-11-15 14:32:00z")),
            "2024-11-15T14:32:00Z"
        );
    }

    #[test]
    fn fractional_seconds_are_kept() {
        assert_eq!(
            format_utc(at("2024-11-15T14:32:00.5Z")),
            "2024-11-15T14:32:00.500Z"
        );
        assert_eq!(
            format_utc(at("2024-11-15T14:32:00.123456789+00:00")),
            "2024-11-15T14:32:00.123456789Z"
        );
    }

    #[test]
    fn timestamps_without_offset_or_not_rfc3339_are_rejected() {
        for text in [
            "2024-11-15T14:32:00",
            "2024-11-15",
            "1731681120",
            "2024-11-15T14:32Z",
            "15/11/2024 14:32:00Z",
            "2024-02-30T00:00:00Z",
            "2024-11-15T14:32:00+24:00",
            "",
            "2024-11-15T14:32:00Z ",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text:?} should be rejected");
        }
    }

    fn now() -> DateTime<Utc> {
        at("2026-03-08T12:00:00Z")
    }

    #[test]
    fn future_boundary_is_strict() {
        let rules = TimeRules::default();
        let edge = now() + Duration::minutes(5);
        assert_eq!(
            route(edge - Duration::seconds(1), now(), &rules),
            Route::Realtime
        );
        assert_eq!(route(edge, now(), &rules), Route::Realtime);
        assert_eq!(
            route(edge + Duration::seconds(1), now(), &rules),
            Route::Reconciliation
        );
        // The strictness holds below a second too.
        assert_eq!(
            route(edge + Duration::nanoseconds(1), now(), &rules),
            Route::Reconciliation
        );
    }

    #[test]
    fn backfill_boundary_is_strict() {
        let rules = TimeRules::default();
        let edge = now() - Duration::days(7);
        assert_eq!(
            route(edge + Duration::seconds(1), now(), &rules),
            Route::Realtime
        );
        assert_eq!(route(edge, now(), &rules), Route::Realtime);
        assert_eq!(
            route(edge - Duration::seconds(1), now(), &rules),
            Route::Backfill
        );
        assert_eq!(
            route(edge - Duration::nanoseconds(1), now(), &rules),
            Route::Backfill
        );
    }

    #[test]
    fn now_and_extremes_route_sensibly() {
        let rules = TimeRules::default();
        assert_eq!(route(now(), now(), &rules), Route::Realtime);
        assert_eq!(
            route(at("0001-01-01T00:00:00Z"), now(), &rules),
            Route::Backfill
        );
        assert_eq!(
            route(at("9999-12-31T23:59:59Z"), now(), &rules),
            Route::Reconciliation
        );
    }

    #[test]
    fn rules_follow_the_settings() {
        let rules = TimeRules::from_seconds(3600, 0);
        assert_eq!(
            route(now() + Duration::seconds(1), now(), &rules),
            Route::Reconciliation
        );
        assert_eq!(
            route(now() - Duration::seconds(3601), now(), &rules),
            Route::Backfill
        );
        assert_eq!(TimeRules::from_seconds(604_800, 300), TimeRules::default());
        // Absurd settings saturate rather than panic.
        assert_eq!(
            TimeRules::from_seconds(i64::MAX, 0).backfill_age,
            Duration::MAX
        );
    }

    #[test]
    fn route_codes() {
        assert_eq!(Route::Realtime.reason(), None);
        assert_eq!(Route::Backfill.reason(), Some("older_than_backfill_age"));
        assert_eq!(Route::Reconciliation.reason(), Some("future_timestamp"));
        assert_eq!(
            serde_json::to_value(Route::Realtime).unwrap(),
            serde_json::json!(Route::Realtime.as_str())
        );
    }
}
