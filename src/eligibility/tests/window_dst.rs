//! Windows across the 2026 daylight-saving changes (SPEC §7 rule 6, §11.13). Every expected
//! instant is worked out by hand in the comment above its case.

use super::*;
use crate::eligibility::WindowState;

/// (now, open, next opening)
type Case = (&'static str, bool, Option<&'static str>);

fn check(start: &str, end: &str, tz: &str, cases: &[Case]) {
    let w = zoned(start, end, tz);
    for &(now, open, next) in cases {
        let expected = WindowState {
            open,
            next_opening: next.map(at),
        };
        assert_eq!(w.state(at(now)), expected, "{start}–{end} {tz} at {now}");
    }
}

/// New York, 2026-03-08: at 07:00Z the clocks jump from 02:00 EST (−5) to 03:00 EDT (−4); local
/// times in [02:00, 03:00) do not exist that day.
#[test]
fn new_york_spring_forward() {
    // An opening at 02:30 falls in the gap: it opens at the first instant after it, 03:00 EDT.
    check(
        "02:30:00",
        "04:00:00",
        "America/New_York",
        &[
            ("2026-03-08T06:30:00Z", false, Some("2026-03-08T07:00:00Z")),
            ("2026-03-08T07:00:00Z", true, None),
            // 04:00 EDT; the next day 02:30 exists again (EDT).
            ("2026-03-08T08:00:00Z", false, Some("2026-03-09T06:30:00Z")),
        ],
    );
    // Wholly inside the gap: the clock lands on 03:00, past its end, so no opening that day.
    for (start, end, next) in [
        ("02:10:00", "02:40:00", "2026-03-09T06:10:00Z"),
        ("02:00:00", "03:00:00", "2026-03-09T06:00:00Z"),
    ] {
        check(
            start,
            end,
            "America/New_York",
            &[
                ("2026-03-08T06:30:00Z", false, Some(next)),
                ("2026-03-08T07:00:00Z", false, Some(next)),
            ],
        );
    }
    // Opening at 03:00 exactly: a real local time, 07:00Z.
    check(
        "03:00:00",
        "04:00:00",
        "America/New_York",
        &[("2026-03-08T06:00:00Z", false, Some("2026-03-08T07:00:00Z"))],
    );
    // Ending in the gap: open 01:30–02:00 EST, closed when the clock lands on 03:00.
    check(
        "01:30:00",
        "02:30:00",
        "America/New_York",
        &[
            ("2026-03-08T06:59:59Z", true, None),
            ("2026-03-08T07:00:00Z", false, Some("2026-03-09T05:30:00Z")),
        ],
    );
    // Over midnight across the change: 22:00 EST → 02:30, cut short at 02:00 EST.
    check(
        "22:00:00",
        "02:30:00",
        "America/New_York",
        &[
            ("2026-03-08T06:59:59Z", true, None),
            // Next: 22:00 EDT on the 8th = 02:00Z on the 9th.
            ("2026-03-08T07:00:00Z", false, Some("2026-03-09T02:00:00Z")),
        ],
    );
}

/// New York, 2026-11-01: at 06:00Z the clocks go back from 02:00 EDT to 01:00 EST; local times in
/// [01:00, 02:00) happen twice (05:00Z–06:00Z and 06:00Z–07:00Z).
#[test]
fn new_york_fall_back() {
    // An ambiguous opening counts both times: 01:30 EDT = 05:30Z and 01:30 EST = 06:30Z.
    check(
        "01:30:00",
        "01:45:00",
        "America/New_York",
        &[
            ("2026-11-01T05:00:00Z", false, Some("2026-11-01T05:30:00Z")),
            ("2026-11-01T05:40:00Z", true, None),
            ("2026-11-01T05:45:00Z", false, Some("2026-11-01T06:30:00Z")),
            ("2026-11-01T06:40:00Z", true, None),
            // Then 01:30 EST on the 2nd = 06:30Z.
            ("2026-11-01T06:45:00Z", false, Some("2026-11-02T06:30:00Z")),
        ],
    );
    // Re-entry without passing the start: closed at 01:30 EDT, then the clock jumps back to
    // 01:00 EST, which is inside 00:30–01:30, so it opens again at the change itself.
    check(
        "00:30:00",
        "01:30:00",
        "America/New_York",
        &[
            ("2026-11-01T05:45:00Z", false, Some("2026-11-01T06:00:00Z")),
            ("2026-11-01T06:00:00Z", true, None),
            ("2026-11-01T06:30:00Z", false, Some("2026-11-02T05:30:00Z")),
        ],
    );
    // The same over midnight.
    check(
        "23:00:00",
        "01:30:00",
        "America/New_York",
        &[("2026-11-01T05:30:00Z", false, Some("2026-11-01T06:00:00Z"))],
    );
    // 01:00–02:00 lasts two hours that night: 05:00Z–07:00Z.
    check(
        "01:00:00",
        "02:00:00",
        "America/New_York",
        &[
            ("2026-11-01T04:59:59Z", false, Some("2026-11-01T05:00:00Z")),
            ("2026-11-01T06:59:59Z", true, None),
            ("2026-11-01T07:00:00Z", false, Some("2026-11-02T06:00:00Z")),
        ],
    );
}

/// London: 2026-03-29 at 01:00Z, 01:00 GMT → 02:00 BST; 2026-10-25 at 01:00Z, 02:00 BST → 01:00
/// GMT.
#[test]
fn london() {
    check(
        "01:15:00",
        "01:45:00",
        "Europe/London",
        &[
            // Wholly in the gap; the next day 01:15 BST = 00:15Z.
            ("2026-03-29T00:30:00Z", false, Some("2026-03-30T00:15:00Z")),
        ],
    );
    check(
        "01:30:00",
        "03:00:00",
        "Europe/London",
        &[("2026-03-29T00:30:00Z", false, Some("2026-03-29T01:00:00Z"))],
    );
    check(
        "01:10:00",
        "01:20:00",
        "Europe/London",
        &[
            ("2026-10-25T00:00:00Z", false, Some("2026-10-25T00:10:00Z")),
            // Second pass of 01:10, now GMT.
            ("2026-10-25T00:30:00Z", false, Some("2026-10-25T01:10:00Z")),
        ],
    );
}

/// Australia/Lord_Howe moves by 30 minutes: 2026-04-05 at 15:00Z (04-04), 02:00 (+11) → 01:30
/// (+10:30); 2026-10-04 at 15:30Z (10-03), 02:00 (+10:30) → 02:30 (+11).
#[test]
fn lord_howe_half_hour_changes() {
    // 01:40 happens twice: 14:40Z (+11) and 15:10Z (+10:30).
    check(
        "01:40:00",
        "01:50:00",
        "Australia/Lord_Howe",
        &[
            ("2026-04-04T14:00:00Z", false, Some("2026-04-04T14:40:00Z")),
            ("2026-04-04T14:45:00Z", true, None),
            ("2026-04-04T14:50:00Z", false, Some("2026-04-04T15:10:00Z")),
        ],
    );
    // Spring: [02:00, 02:30) is skipped; 02:15 opens at 02:30 (+11) = 15:30Z.
    check(
        "02:15:00",
        "03:00:00",
        "Australia/Lord_Howe",
        &[("2026-10-03T15:00:00Z", false, Some("2026-10-03T15:30:00Z"))],
    );
    // Wholly in the half-hour gap: next day 02:00 (+11) = 15:00Z on 10-04.
    check(
        "02:00:00",
        "02:30:00",
        "Australia/Lord_Howe",
        &[("2026-10-03T15:00:00Z", false, Some("2026-10-04T15:00:00Z"))],
    );
}

/// Pacific/Chatham, +12:45 / +13:45: 2026-04-05 at 14:00Z (04-04), 03:45 → 02:45; 2026-09-27 at
/// 14:00Z (09-26), 02:45 → 03:45.
#[test]
fn chatham_quarter_hour_offsets() {
    // 03:00 happens twice: 13:15Z (+13:45) and 14:15Z (+12:45).
    check(
        "03:00:00",
        "03:15:00",
        "Pacific/Chatham",
        &[
            ("2026-04-04T13:20:00Z", true, None),
            ("2026-04-04T13:30:00Z", false, Some("2026-04-04T14:15:00Z")),
        ],
    );
    // 03:00 is in the gap [02:45, 03:45): opens at 03:45 (+13:45) = 14:00Z.
    check(
        "03:00:00",
        "04:00:00",
        "Pacific/Chatham",
        &[("2026-09-26T13:30:00Z", false, Some("2026-09-26T14:00:00Z"))],
    );
    // Wholly in the gap: next day 02:50 (+13:45) = 13:05Z on 09-27.
    check(
        "02:50:00",
        "03:40:00",
        "Pacific/Chatham",
        &[("2026-09-26T13:30:00Z", false, Some("2026-09-27T13:05:00Z"))],
    );
}
