use chrono::TimeDelta;

use super::*;

fn pair(before: f64, after: &[f64]) -> ScorePair {
    ScorePair {
        before,
        after: after.to_vec(),
    }
}

fn at(hours: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::hours(hours)
}

fn settings(min_contacts: i64) -> MonitorSettings {
    MonitorSettings {
        min_contacts,
        ..MonitorSettings::default()
    }
}

#[test]
fn no_pairs_are_zero_figures_and_never_suspect() {
    let f = figures(&[], 0.05);
    assert_eq!(f, WatchFigures::default());
    assert!(!is_suspect(&f, &settings(1)));
    // A contact without a score after the change is not compared.
    assert_eq!(figures(&[pair(0.5, &[])], 0.05).contacts, 0);
}

#[test]
fn a_drop_counts_only_past_the_dampening_delta() {
    let pairs = [
        pair(0.80, &[0.70]),       // −0.10: a drop
        pair(0.80, &[0.75]),       // −0.05: exactly the delta, not more
        pair(0.80, &[0.60, 0.79]), // the latest counts, not the lowest
        pair(0.40, &[0.90]),       // a rise
    ];
    let f = figures(&pairs, 0.05);
    assert_eq!(f.contacts, 4);
    assert_eq!(f.drop_share, 0.25);
    let mean = (-0.10 - 0.05 - 0.01 + 0.50) / 4.0;
    assert!((f.mean_shift - mean).abs() < 1e-12, "{}", f.mean_shift);
    // 0.72 − 0.62 is 0.0999…98 in floating point: still a drop of 0.10, more than 0.05.
    assert_eq!(figures(&[pair(0.72, &[0.62])], 0.0999).drop_share, 1.0);
}

#[test]
fn a_plateau_is_two_or_more_scores_after_all_equal_to_the_one_before() {
    let pairs = [
        pair(0.5, &[0.5, 0.5, 0.5]),
        pair(0.5, &[0.5]),       // one score after: too few to call a plateau
        pair(0.5, &[0.5, 0.51]), // moved
        pair(0.3, &[0.3 + 1e-12, 0.3]),
    ];
    let f = figures(&pairs, 0.05);
    assert_eq!(f.plateau_share, 0.5);
    assert_eq!(f.drop_share, 0.0);
}

#[test]
fn a_watch_is_suspect_past_either_bound_once_enough_contacts_were_compared() {
    let m = MonitorSettings {
        max_drop_share: 0.3,
        max_plateau_share: 0.5,
        min_contacts: 4,
        ..MonitorSettings::default()
    };
    let f = |contacts, drop_share, plateau_share| WatchFigures {
        contacts,
        drop_share,
        plateau_share,
        mean_shift: 0.0,
    };
    assert!(is_suspect(&f(4, 0.31, 0.0), &m));
    assert!(
        !is_suspect(&f(4, 0.3, 0.0), &m),
        "at the bound is not past it"
    );
    assert!(is_suspect(&f(10, 0.0, 0.6), &m));
    assert!(!is_suspect(&f(10, 0.0, 0.5), &m));
    assert!(
        !is_suspect(&f(3, 1.0, 1.0), &m),
        "too few contacts to judge"
    );
}

#[test]
fn a_watch_is_open_until_its_end_then_closed() {
    let until = at(48);
    assert_eq!(state(until, at(0)), WatchState::Open);
    assert_eq!(
        state(until, at(48) - TimeDelta::seconds(1)),
        WatchState::Open
    );
    assert_eq!(state(until, at(48)), WatchState::Closed);
    assert_eq!(state(until, at(100)), WatchState::Closed);
    let pairs: Vec<ScorePair> = (0..20).map(|_| pair(0.9, &[0.5])).collect();
    let dropped = figures(&pairs, 0.05);
    let w = assess(Some((dropped, at(1))), until, at(1), &settings(20));
    assert_eq!(
        (w.state, w.suspect, w.figures.contacts),
        (WatchState::Open, true, 20)
    );
    assert_eq!(w.figures_at, Some(at(1)));
    let few = figures(&pairs[..19], 0.05);
    assert!(!assess(Some((few, at(1))), until, at(1), &settings(20)).suspect);
    let closed = assess(Some((dropped, at(48))), until, at(49), &settings(20));
    assert_eq!(closed.state, WatchState::Closed);
    assert!(closed.suspect, "a closed watch keeps its verdict");
    let fresh = assess(None, until, at(0), &settings(20));
    assert_eq!(
        (fresh.figures, fresh.figures_at, fresh.suspect),
        (WatchFigures::default(), None, false)
    );
}

#[test]
fn an_open_watch_counts_up_to_now_and_a_closed_one_up_to_its_end() {
    let until = at(48);
    let now = at(2);
    assert!(
        counted_until(until, now) > now,
        "an observation at now has happened"
    );
    assert_eq!(counted_until(until, now), now + TimeDelta::microseconds(1));
    assert_eq!(counted_until(until, at(50)), until);
    assert!(!is_final(at(47), until));
    assert!(is_final(at(48), until));
    assert!(is_final(at(60), until));
}
