//! Calling hours (issue 11 §4): the window in force intersected with the campaign's calling hours,
//! read in the window's zone; `no_callable_time` when they share no time; the next opening is the
//! first instant inside both, across the 2026 daylight-saving changes in New York. Every expected
//! instant is worked out by hand in the comment above its case.

use super::*;
use crate::eligibility::{Reason, WindowState};

/// (now, open, next opening)
type Case = (&'static str, bool, Option<&'static str>);

fn check(w: (&str, &str, &str), h: (&str, &str), cases: &[Case]) {
    let z = zoned(w.0, w.1, w.2).within(&hours(h.0, h.1));
    let (alone, hrs) = (zoned(w.0, w.1, w.2), zoned(h.0, h.1, w.2));
    for &(now, open, next) in cases {
        let expected = WindowState {
            open,
            next_opening: next.map(at),
        };
        let got = z.state(at(now));
        assert_eq!(got, expected, "{w:?} ∩ {h:?} at {now}");
        if let Some(n) = got.next_opening {
            // The opening is inside both, and nothing before it (to the second) is.
            assert!(alone.is_open(n) && hrs.is_open(n), "{n} inside both");
            assert!(!z.is_open(n - TimeDelta::seconds(1)), "{n} is the first");
        }
    }
}

#[test]
fn empty_intersections_are_found_on_the_times_alone() {
    // (window start, end, hours start, end, share some time)
    let cases = [
        ("09:00:00", "20:00:00", "08:00:00", "21:00:00", true),
        // Half-open: 21:00 is outside 08:00–21:00.
        ("21:00:00", "23:00:00", "08:00:00", "21:00:00", false),
        ("05:00:00", "08:00:00", "08:00:00", "21:00:00", false),
        ("05:00:00", "08:00:01", "08:00:00", "21:00:00", true),
        // Over midnight: 22:00–09:00 ∩ 08:00–21:00 = 08:00–09:00.
        ("22:00:00", "09:00:00", "08:00:00", "21:00:00", true),
        ("21:30:00", "07:00:00", "08:00:00", "21:00:00", false),
        // Both over midnight always share midnight.
        ("23:00:00", "01:00:00", "22:00:00", "00:30:00", true),
        // All day on either side.
        ("00:00:00", "00:00:00", "08:00:00", "21:00:00", true),
        ("21:30:00", "22:00:00", "12:00:00", "12:00:00", true),
    ];
    for (ws, we, hs, he, shared) in cases {
        let z = zoned(ws, we, "UTC").within(&hours(hs, he));
        assert_eq!(!z.never_opens(), shared, "{ws}–{we} ∩ {hs}–{he}");
        if !shared {
            let s = z.state(at("2026-06-01T12:00:00Z"));
            assert_eq!(
                s,
                WindowState {
                    open: false,
                    next_opening: None
                }
            );
        }
    }
}

#[test]
fn an_intersection_in_two_pieces_opens_at_each() {
    // 20:00–10:00 ∩ 08:00–21:00 = 08:00–10:00 and 20:00–21:00.
    check(
        ("20:00:00", "10:00:00", "UTC"),
        ("08:00:00", "21:00:00"),
        &[
            // Window open, hours not yet: the hours' start opens it.
            ("2026-06-01T07:00:00Z", false, Some("2026-06-01T08:00:00Z")),
            ("2026-06-01T09:59:59Z", true, None),
            // Hours open, window not: the window's start opens it.
            ("2026-06-01T10:00:00Z", false, Some("2026-06-01T20:00:00Z")),
            ("2026-06-01T20:30:00Z", true, None),
            ("2026-06-01T21:00:00Z", false, Some("2026-06-02T08:00:00Z")),
        ],
    );
}

/// New York, 2026-03-08: at 07:00Z the clocks jump from 02:00 EST (−5) to 03:00 EDT (−4).
#[test]
fn new_york_spring_forward() {
    // A contact open all day, calling hours 08:00–21:00: at 01:30 EST the next opening is 08:00
    // EDT = 12:00Z (13:00Z if the offset of `now` were used).
    check(
        ("00:00:00", "00:00:00", "America/New_York"),
        ("08:00:00", "21:00:00"),
        &[
            ("2026-03-08T06:30:00Z", false, Some("2026-03-08T12:00:00Z")),
            // 20:30 EST the evening before: open; 21:00 EST closes it.
            ("2026-03-08T01:30:00Z", true, None),
            ("2026-03-08T02:00:00Z", false, Some("2026-03-08T12:00:00Z")),
            // 20:59:59 EDT open, 21:00 EDT = 01:00Z on the 9th closed.
            ("2026-03-09T00:59:59Z", true, None),
            ("2026-03-09T01:00:00Z", false, Some("2026-03-09T12:00:00Z")),
        ],
    );
    // Calling hours starting in the gap (02:30): they open when the clock lands on 03:00 EDT.
    check(
        ("00:00:00", "00:00:00", "America/New_York"),
        ("02:30:00", "04:00:00"),
        &[("2026-03-08T06:30:00Z", false, Some("2026-03-08T07:00:00Z"))],
    );
    // The window opens at the jump (02:30 → 03:00 EDT) but the hours only at 03:30 EDT = 07:30Z.
    check(
        ("02:30:00", "04:00:00", "America/New_York"),
        ("03:30:00", "21:00:00"),
        &[
            ("2026-03-08T06:30:00Z", false, Some("2026-03-08T07:30:00Z")),
            ("2026-03-08T07:30:00Z", true, None),
        ],
    );
}

/// New York, 2026-11-01: at 06:00Z the clocks go back from 02:00 EDT (−4) to 01:00 EST (−5); local
/// 01:00–02:00 happens twice, 05:00–06:00Z (EDT) and 06:00–07:00Z (EST).
#[test]
fn new_york_fall_back() {
    // All-day window, hours 08:00–21:00: at 01:30 EDT the next opening is 08:00 EST = 13:00Z.
    check(
        ("00:00:00", "00:00:00", "America/New_York"),
        ("08:00:00", "21:00:00"),
        &[
            ("2026-11-01T05:30:00Z", false, Some("2026-11-01T13:00:00Z")),
            ("2026-11-01T12:30:00Z", false, Some("2026-11-01T13:00:00Z")),
            ("2026-11-01T13:00:00Z", true, None),
        ],
    );
    // Window 00:00–03:00 ∩ hours 01:30–02:00: open at 01:45 EDT; the clock falls back to 01:00 EST
    // (closed) and enters the hours again at 01:30 EST = 06:30Z.
    check(
        ("00:00:00", "03:00:00", "America/New_York"),
        ("01:30:00", "02:00:00"),
        &[
            ("2026-11-01T05:45:00Z", true, None),
            ("2026-11-01T06:00:00Z", false, Some("2026-11-01T06:30:00Z")),
            ("2026-11-01T06:45:00Z", true, None),
            // 02:00 EST: closed until 01:30 EST the next day = 06:30Z on the 2nd.
            ("2026-11-01T07:00:00Z", false, Some("2026-11-02T06:30:00Z")),
        ],
    );
}

#[test]
fn the_rules_read_the_hours_in_the_zone_of_the_contact_window() {
    let now = at(NOW); // 01:30 EST in New York, 06:30 in UTC.
    let campaign = Campaign {
        calling_hours: Some(hours("08:00:00", "21:00:00")),
        ..spring_renewals()
    };
    // The contact's own all-day window in New York: deferred to 08:00 EDT = 12:00Z, though the
    // window alone is open.
    let facts = ContactFacts {
        best_contact_window: Some(window("00:00:00", "00:00:00", "America/New_York")),
        ..passing(now, 0.9)
    };
    let e = run(&facts, &campaign);
    assert_eq!(e.reason, Reason::DeferredOutsideWindow);
    let next = at("2026-03-08T12:00:00Z");
    assert_eq!(
        e.window,
        Some(WindowState {
            open: false,
            next_opening: Some(next)
        })
    );
    assert_eq!(
        e.contact_window_state,
        Some(WindowState {
            open: true,
            next_opening: None
        })
    );
    assert_eq!(e.calling_hours, campaign.calling_hours);
    let window_rule = e.outcomes.iter().find(|o| o.rule == Rule::Window).unwrap();
    assert!(
        window_rule
            .detail
            .contains("calling hours 08:00:00–21:00:00"),
        "{}",
        window_rule.detail
    );
    // The same hours in Kathmandu (UTC+05:45): 12:15 local, inside both.
    let facts = ContactFacts {
        best_contact_window: Some(window("00:00:00", "00:00:00", "Asia/Kathmandu")),
        ..passing(now, 0.9)
    };
    assert_eq!(run(&facts, &campaign).reason, Reason::Eligible);
    // Without a window of its own the contact takes the campaign default, 09:00–20:00 New York.
    let facts = ContactFacts {
        best_contact_window: None,
        ..passing(now, 0.9)
    };
    let e = run(&facts, &campaign);
    assert_eq!(e.reason, Reason::DeferredOutsideWindow);
    assert_eq!(
        e.window.unwrap().next_opening,
        Some(at("2026-03-08T13:00:00Z"))
    );
}

#[test]
fn no_shared_time_is_no_callable_time_before_the_window_rule() {
    let now = at(NOW);
    let campaign = Campaign {
        calling_hours: Some(hours("08:00:00", "21:00:00")),
        ..spring_renewals()
    };
    let facts = ContactFacts {
        best_contact_window: Some(window("21:00:00", "23:00:00", "America/New_York")),
        ..passing(now, 0.9)
    };
    let e = run(&facts, &campaign);
    assert_eq!(e.reason, Reason::NoCallableTime);
    assert_eq!(
        e.window,
        Some(WindowState {
            open: false,
            next_opening: None
        })
    );
    let rule = e
        .outcomes
        .iter()
        .find(|o| o.rule == Rule::CallingHours)
        .unwrap();
    assert!(!rule.passed && rule.detail.contains("no time in common"));
    // Decided on the times alone: an invalid zone is `invalid_timezone` first, and the calling
    // hours rule still reports.
    let facts = ContactFacts {
        best_contact_window: Some(window("21:00:00", "23:00:00", "Mars/Base")),
        ..passing(now, 0.9)
    };
    let e = run(&facts, &campaign);
    assert_eq!(e.reason, Reason::InvalidTimezone);
    assert!(
        !e.outcomes
            .iter()
            .find(|o| o.rule == Rule::CallingHours)
            .unwrap()
            .passed
    );
    // Without calling hours the rule passes.
    let e = run(&facts, &spring_renewals());
    assert!(
        e.outcomes
            .iter()
            .find(|o| o.rule == Rule::CallingHours)
            .unwrap()
            .passed
    );
}

#[test]
fn the_dialer_is_told_the_open_piece_of_the_intersection() {
    let span = |w: ZonedWindow, now: &str| {
        w.open_span(at(now)).map(|(s, e)| {
            (
                crate::eligibility::window::hms_text(s),
                crate::eligibility::window::hms_text(e),
            )
        })
    };
    let t = |s: &str, e: &str| Some((s.to_owned(), e.to_owned()));
    // Two pieces: 20:00–10:00 ∩ 08:00–21:00 is 08:00–10:00 in the morning, 20:00–21:00 at night.
    let two = zoned("20:00:00", "10:00:00", "UTC").within(&hours("08:00:00", "21:00:00"));
    assert_eq!(span(two, "2026-06-01T09:00:00Z"), t("08:00:00", "10:00:00"));
    assert_eq!(span(two, "2026-06-01T20:30:00Z"), t("20:00:00", "21:00:00"));
    assert_eq!(span(two, "2026-06-01T12:00:00Z"), None, "closed");
    // An all-day window takes the hours; all-day hours leave the window as it is.
    let all = zoned("00:00:00", "00:00:00", "America/New_York");
    assert_eq!(
        span(
            all.within(&hours("08:00:00", "21:00:00")),
            "2026-03-08T12:00:00Z"
        ),
        t("08:00:00", "21:00:00")
    );
    assert_eq!(span(all, "2026-03-08T12:00:00Z"), t("00:00:00", "00:00:00"));
    let w = zoned("09:00:00", "20:00:00", "America/New_York");
    assert_eq!(
        span(
            w.within(&hours("07:00:07", "07:00:07")),
            "2026-03-08T14:00:00Z"
        ),
        t("09:00:00", "20:00:00")
    );
    assert_eq!(span(w, "2026-03-08T14:00:00Z"), t("09:00:00", "20:00:00"));
    // Overlapping, read in the contact's zone on the fall-back day: 06:00–12:00 ∩ 08:00–21:00
    // at 08:30 EST (13:30Z) is 08:00–12:00.
    let w =
        zoned("06:00:00", "12:00:00", "America/New_York").within(&hours("08:00:00", "21:00:00"));
    assert_eq!(span(w, "2026-11-01T13:30:00Z"), t("08:00:00", "12:00:00"));
}
