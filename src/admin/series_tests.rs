use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn count(minute: &str, key: &str, count: i64) -> MinuteCount {
    MinuteCount {
        minute: at(minute),
        key: key.into(),
        count,
    }
}

#[test]
fn the_series_ends_with_the_minute_in_progress() {
    let now = at("2026-12-08T10:15:42.5Z");
    assert_eq!(first_minute(now, 15), at("2026-12-08T10:01:00Z"));
    assert_eq!(first_minute(now, 1), at("2026-12-08T10:15:00Z"));
    assert_eq!(first_minute(now, 1440), at("2026-12-07T10:16:00Z"));
}

#[test]
fn every_minute_is_present_and_counts_land_in_their_minute() {
    let first = at("2026-12-08T10:00:00Z");
    let delivered = [
        count("2026-12-08T10:00:00Z", "realtime", 7),
        count("2026-12-08T10:00:00Z", "backfill", 2),
        count("2026-12-08T10:02:00Z", "realtime", 5),
        // Before the series and after it: left out.
        count("2026-12-08T09:59:00Z", "realtime", 100),
        count("2026-12-08T10:03:00Z", "realtime", 100),
    ];
    let quarantined = [count("2026-12-08T10:01:00Z", "unknown_attribute", 3)];
    let decisions = [
        count("2026-12-08T10:02:00Z", "eligible", 4),
        count("2026-12-08T10:02:00Z", "cooldown", 1),
    ];
    let p = points(
        first,
        3,
        Some(&delivered),
        Some(&quarantined),
        Some(&decisions),
    );
    assert_eq!(p.len(), 3);
    let minutes: Vec<_> = p.iter().map(|p| p.minute).collect();
    assert_eq!(
        minutes,
        [
            first,
            at("2026-12-08T10:01:00Z"),
            at("2026-12-08T10:02:00Z")
        ]
    );
    let lanes = |i: usize| p[i].delivered.clone().unwrap();
    assert_eq!(
        lanes(0),
        LaneCounts {
            realtime: 7,
            backfill: 2
        }
    );
    assert_eq!(lanes(1), LaneCounts::default());
    assert_eq!(lanes(2).realtime, 5);
    let q = |i: usize| p[i].quarantined.clone().unwrap();
    assert_eq!(q(1)["unknown_attribute"], 3);
    assert!(q(0).is_empty() && q(2).is_empty());
    assert_eq!(
        p[2].decisions,
        Some(BTreeMap::from([
            ("cooldown".into(), 1),
            ("eligible".into(), 4)
        ]))
    );
    // A figure not asked for is absent, not zero.
    let only = points(first, 3, None, None, Some(&decisions));
    assert!(
        only.iter()
            .all(|p| p.delivered.is_none() && p.quarantined.is_none())
    );
    assert_eq!(only[2].decisions, p[2].decisions);
}

#[test]
fn figures_are_named_from_a_list() {
    let q = |f: Option<&str>| SeriesQuery {
        minutes: None,
        figures: f.map(String::from),
    };
    let all = q(None).figures().unwrap();
    assert!(all.delivered && all.quarantined && all.decisions);
    let some = q(Some("decisions, quarantined")).figures().unwrap();
    assert!(!some.delivered && some.quarantined && some.decisions);
    for bad in ["", "decisions,events", "Decisions"] {
        assert!(matches!(q(Some(bad)).figures(), Err(ApiError::Invalid(_))));
    }
}

#[test]
fn minutes_outside_one_to_a_day_are_refused() {
    let q = |m| SeriesQuery {
        minutes: m,
        figures: None,
    };
    assert_eq!(q(None).minutes().unwrap(), 15);
    assert_eq!(q(Some(1)).minutes().unwrap(), 1);
    assert_eq!(q(Some(1440)).minutes().unwrap(), 1440);
    for bad in [0, -5, 1441, i64::MAX] {
        assert!(matches!(q(Some(bad)).minutes(), Err(ApiError::Invalid(_))));
    }
}
