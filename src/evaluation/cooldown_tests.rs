use super::*;

#[test]
fn the_cooldown_start_matches_the_rule_and_survives_huge_cooldowns() {
    let now: DateTime<Utc> = "2026-06-01T12:00:00Z".parse().unwrap();
    let start = cooldown_start(now, TimeDelta::hours(72)).unwrap();
    assert_eq!(start, now - TimeDelta::hours(72));
    assert_eq!(cooldown_start(now, TimeDelta::MAX), None);
    assert_eq!(cooldown_start(now, TimeDelta::days(365 * 3000)), None);
}
