//! Windows without daylight saving: zone names, `HH:MM:SS`, half-open ranges, midnight.

use super::*;
use crate::eligibility::window::parse_hms;
use crate::eligibility::{WindowState, parse_time_zone};

#[test]
fn zone_names_are_iana_names_exactly() {
    let cases = [
        ("America/New_York", true),
        ("US/Eastern", true), // a link in the tz database
        ("Asia/Kathmandu", true),
        ("UTC", true),
        ("us/eastern", false), // case-sensitive
        ("america/new_york", false),
        ("Mars/Base", false),
        ("", false),
        (" America/New_York", false),
        ("EST-5", false),
    ];
    for (name, valid) in cases {
        assert_eq!(parse_time_zone(name).is_ok(), valid, "{name:?}");
    }
    let err = parse_time_zone("Mars/Base").unwrap_err();
    assert_eq!(err.to_string(), r#"unknown time zone "Mars/Base""#);
}

#[test]
fn times_are_strict_hh_mm_ss() {
    let cases = [
        ("09:00:00", true),
        ("00:00:00", true),
        ("23:59:59", true),
        ("9:00:00", false),
        ("09:00", false),
        ("24:00:00", false),
        ("23:60:00", false),
        ("23:59:60", false), // no leap second
        ("09:00:00.5", false),
        ("09-00-00", false),
        ("+9:00:00", false),
    ];
    for (text, valid) in cases {
        assert_eq!(parse_hms(text).is_some(), valid, "{text:?}");
    }
    let w = window("09:00:00", "20:00:00", "America/New_York");
    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"})
    );
    assert_eq!(serde_json::from_value::<Window>(json).unwrap(), w);
    let bad = r#"{"start_time": "09:00", "end_time": "20:00:00", "timezone": "UTC"}"#;
    assert!(serde_json::from_str::<Window>(bad).is_err());
}

/// (now, open, next opening) for one window.
type Case = (&'static str, bool, Option<&'static str>);

fn check(w: &ZonedWindow, cases: &[Case]) {
    for &(now, open, next) in cases {
        let expected = WindowState {
            open,
            next_opening: next.map(at),
        };
        assert_eq!(w.state(at(now)), expected, "{w:?} at {now}");
    }
}

#[test]
fn half_open_daytime_window_in_kathmandu() {
    // Asia/Kathmandu is +05:45 all year: 09:00 local is 03:15Z, 17:00 local is 11:15Z.
    let w = zoned("09:00:00", "17:00:00", "Asia/Kathmandu");
    check(
        &w,
        &[
            ("2026-06-01T03:14:59Z", false, Some("2026-06-01T03:15:00Z")),
            (
                "2026-06-01T03:14:59.5Z",
                false,
                Some("2026-06-01T03:15:00Z"),
            ),
            ("2026-06-01T03:15:00Z", true, None),
            ("2026-06-01T11:14:59Z", true, None),
            ("2026-06-01T11:15:00Z", false, Some("2026-06-02T03:15:00Z")),
            ("2026-05-31T20:00:00Z", false, Some("2026-06-01T03:15:00Z")),
        ],
    );
}

#[test]
fn window_over_midnight() {
    // 22:00–06:00 Kathmandu = 16:15Z–00:15Z.
    let w = zoned("22:00:00", "06:00:00", "Asia/Kathmandu");
    check(
        &w,
        &[
            ("2026-06-01T16:14:59Z", false, Some("2026-06-01T16:15:00Z")),
            ("2026-06-01T16:15:00Z", true, None),
            ("2026-06-01T18:15:00Z", true, None), // 00:00 local
            ("2026-06-02T00:14:59Z", true, None),
            ("2026-06-02T00:15:00Z", false, Some("2026-06-02T16:15:00Z")),
        ],
    );
    // Ending at midnight: [23:00, 24:00).
    let w = zoned("23:00:00", "00:00:00", "UTC");
    check(
        &w,
        &[
            ("2026-06-01T22:59:59Z", false, Some("2026-06-01T23:00:00Z")),
            ("2026-06-01T23:59:59Z", true, None),
            ("2026-06-02T00:00:00Z", false, Some("2026-06-02T23:00:00Z")),
        ],
    );
}

#[test]
fn equal_start_and_end_is_open_all_day() {
    for tz in ["UTC", "America/New_York", "Pacific/Chatham"] {
        let w = zoned("08:00:00", "08:00:00", tz);
        // Including the instant of a daylight-saving change.
        for now in [
            "2026-03-08T07:00:00Z",
            "2026-09-26T14:00:00Z",
            "2026-12-31T23:59:59Z",
        ] {
            assert_eq!(
                w.state(at(now)),
                WindowState {
                    open: true,
                    next_opening: None
                }
            );
        }
    }
}

#[test]
fn openapi_schema_shows_times_as_hh_mm_ss_strings() {
    let schema = serde_json::to_value(<Window as utoipa::PartialSchema>::schema()).unwrap();
    let start = &schema["properties"]["start_time"];
    assert_eq!(start["type"], "string", "{schema}");
    assert_eq!(start["example"], "09:00:00", "{schema}");
}
