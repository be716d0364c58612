//! A PE contact profile (SPEC §7 "Polling") read from the API's answer. Pure and lenient: a field
//! PE leaves out or sends in an unexpected shape is treated as absent (and the raw body is kept in
//! the snapshot), because one odd profile must not stop the poller.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::eligibility::{Observation, Window};

/// What the rules use from a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `propensity_score`: observed at the fetch time.
    pub score: Option<f64>,
    pub channel: Option<String>,
    pub window: Option<Window>,
    pub last_event_timestamp: Option<DateTime<Utc>>,
    /// `score_history` points that read as `{timestamp, score}`.
    pub history: Vec<Observation>,
}

/// Why a 200 answer could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("the profile is not JSON: {0}")]
    NotJson(String),
    #[error("the profile is not a JSON object")]
    NotAnObject,
    /// PostgreSQL cannot store a NUL (in the snapshot, the channel or the zone): such a profile is
    /// a failed poll, retried later, rather than a transaction that fails on every tick.
    #[error("the profile holds a NUL character at {0}")]
    InvalidCharacters(String),
}

/// Parses a profile body; returns it with the body as JSON (kept whole in the snapshot).
pub fn parse(body: &str) -> Result<(Profile, Value), ProfileError> {
    let raw: Value =
        serde_json::from_str(body).map_err(|e| ProfileError::NotJson(e.to_string()))?;
    if let Some(path) = crate::domain::text::nul_path(&raw) {
        return Err(ProfileError::InvalidCharacters(path));
    }
    let obj = raw.as_object().ok_or(ProfileError::NotAnObject)?;
    let score = obj
        .get("propensity_score")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite());
    let channel = obj
        .get("channel_preference")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let window = obj
        .get("best_contact_window")
        .filter(|v| !v.is_null())
        .and_then(window);
    let last_event_timestamp = obj
        .get("last_event_timestamp")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    let history = obj
        .get("score_history")
        .and_then(Value::as_array)
        .map(|points| points.iter().filter_map(point).collect())
        .unwrap_or_default();
    Ok((
        Profile {
            score,
            channel,
            window,
            last_event_timestamp,
            history,
        },
        raw,
    ))
}

fn point(v: &Value) -> Option<Observation> {
    let timestamp = DateTime::parse_from_rfc3339(v.get("timestamp")?.as_str()?).ok()?;
    let score = v.get("score")?.as_f64().filter(|s| s.is_finite())?;
    Some(Observation::new(timestamp.with_timezone(&Utc), score))
}

/// A window as PE sends it, or `None` when it does not read as one (times not `HH:MM:SS`, zone not
/// a string). An unknown zone *name* still reads: that is a decision (`invalid_timezone`), not a
/// parse failure.
fn window(v: &Value) -> Option<Window> {
    Window::deserialize(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_spec_profile() {
        let body = json!({"contact_id": "c", "propensity_score": 0.82, "channel_preference": "email",
            "best_contact_window": {"start_time": "09:00:00", "end_time": "11:30:00", "timezone": "America/New_York"},
            "last_event_timestamp": "2024-11-15T16:45:00Z",
            "score_history": [{"timestamp": "2024-11-14T00:00:00Z", "score": 0.61},
                              {"timestamp": "2024-11-15T00:00:00Z", "score": 0.82}]});
        let (p, raw) = parse(&body.to_string()).unwrap();
        assert_eq!(raw, body);
        assert_eq!(p.score, Some(0.82));
        assert_eq!(p.channel.as_deref(), Some("email"));
        let w = p.window.unwrap();
        assert_eq!(w.timezone, "America/New_York");
        assert_eq!(crate::eligibility::window::hms_text(w.end_time), "11:30:00");
        assert_eq!(p.history.len(), 2);
        assert_eq!(p.history[0].score, 0.61);
        assert!(p.last_event_timestamp.is_some());
    }

    #[test]
    fn missing_and_odd_fields_are_absent_not_errors() {
        let body = json!({"propensity_score": "high", "channel_preference": null,
            "best_contact_window": {"start_time": "9am", "end_time": "11:30:00", "timezone": "UTC"},
            "score_history": [{"timestamp": "yesterday", "score": 0.5}, {"timestamp": "2024-11-14T00:00:00+01:00", "score": 0.4}, 7]});
        let (p, _) = parse(&body.to_string()).unwrap();
        assert_eq!(p.score, None);
        assert_eq!(p.channel, None);
        assert_eq!(p.window, None);
        assert_eq!(p.history.len(), 1);
        assert_eq!(
            p.history[0].timestamp.to_rfc3339(),
            "2024-11-13T23:00:00+00:00"
        );
        let (p, _) = parse("{}").unwrap();
        assert_eq!(p.score, None);
        assert!(p.history.is_empty());
    }

    #[test]
    fn an_unknown_zone_name_is_kept_for_the_rules() {
        let body = json!({"best_contact_window": {"start_time": "09:00:00", "end_time": "11:30:00", "timezone": "Mars/Base"}});
        let (p, _) = parse(&body.to_string()).unwrap();
        assert_eq!(p.window.unwrap().timezone, "Mars/Base");
    }

    #[test]
    fn unusable_bodies() {
        assert!(matches!(parse("<html>"), Err(ProfileError::NotJson(_))));
        assert_eq!(parse("[1]").unwrap_err(), ProfileError::NotAnObject);
        assert_eq!(
            parse(r#"{"channel_preference": "e\u0000mail"}"#).unwrap_err(),
            ProfileError::InvalidCharacters("channel_preference".into())
        );
    }
}
