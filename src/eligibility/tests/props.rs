//! Property tests: `evaluate` is total and self-consistent on arbitrary input (and decides the same
//! with only the failures' sentences), and `next_opening` agrees with a brute-force walk of the
//! clock.

use chrono::Timelike;
use proptest::prelude::*;

use super::*;
use crate::eligibility::window::CallingHours;
use crate::eligibility::{
    ContactRules, Moment, Reason, Sentences, assign, evaluate_for, evaluate_with, parse_time_zone,
};

const ZONES: &[&str] = &[
    "America/New_York",
    "US/Eastern",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "UTC",
    "us/eastern",
    "Mars/Base",
    "",
];

/// Instants anywhere in chrono's range (to flush out overflow), or around 2026 (to exercise the
/// rules and the daylight-saving changes).
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        (min..=max, 0u32..1_000_000_000),
        (1_767_225_600i64..1_798_761_600, 0u32..1_000_000_000), // 2026
        (1_767_225_600i64..1_798_761_600, Just(0u32)),
    ]
    .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).expect("in range"))
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..=1.0f64,
        any::<f64>(), // NaN, ±∞, subnormals, huge
        Just(0.75),
        Just(0.40),
        Just(0.75 - 1e-10),
    ]
}

fn seconds() -> impl Strategy<Value = i64> {
    prop_oneof![1..200_000i64, any::<i64>(), Just(0i64)]
}

fn thresholds() -> impl Strategy<Value = Thresholds> {
    let fraction = || prop_oneof![0.0..=1.0f64, any::<f64>()];
    let arbitrary = (
        (fraction(), fraction(), fraction(), fraction()),
        (seconds(), seconds(), seconds()),
    )
        .prop_map(
            |((high, moderate, rise, delta), (rise_s, damp_s, cool_s))| Thresholds {
                high_tier: high,
                moderate_tier: moderate,
                min_rise: rise,
                dampening_delta: delta,
                rise_window_seconds: rise_s,
                dampening_window_seconds: damp_s,
                cooldown_seconds: cool_s,
                ..Thresholds::default()
            },
        );
    prop_oneof![Just(Thresholds::default()), arbitrary]
}

fn any_window() -> impl Strategy<Value = Window> {
    (0u32..86_400, 0u32..86_400, prop::sample::select(ZONES)).prop_map(|(s, e, tz)| Window {
        start_time: NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap(),
        end_time: NaiveTime::from_num_seconds_from_midnight_opt(e, 0).unwrap(),
        timezone: tz.into(),
    })
}

fn any_campaign() -> impl Strategy<Value = Campaign> {
    let tiers = prop::sample::subsequence(vec![Tier::High, Tier::Moderate, Tier::Low], 0..=3);
    let channels = prop::sample::subsequence(vec!["voice", "email", "sms"], 0..=3);
    (tiers, channels, any_window(), -5i32..5, "[a-c]{1,2}").prop_map(
        |(tiers, channels, default_window, priority, id)| Campaign {
            id,
            priority,
            tiers,
            channels: channels
                .into_iter()
                .map(|c| (c.into(), format!("list-{c}")))
                .collect(),
            default_window,
            ..spring_renewals()
        },
    )
}

/// Facts around `now`: observations within three days before and one after it (so dampening,
/// the rise window and the future cut-off all come into play), or anywhere at all.
fn facts(now: DateTime<Utc>) -> impl Strategy<Value = ContactFacts> {
    let offset = prop_oneof![-259_200i64..86_400, any::<i64>()];
    let observation = (offset, score()).prop_map(move |(off, s)| {
        let t = TimeDelta::try_seconds(off)
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now);
        obs(t, s)
    });
    let handover = prop_oneof![
        Just(None),
        instant().prop_map(Some),
        (0i64..400_000).prop_map(move |ago| now.checked_sub_signed(TimeDelta::seconds(ago)))
    ];
    let channel = prop::option::of(prop::sample::select(vec!["voice", "email", "sms", "Voice"]));
    (
        prop::collection::vec(observation, 0..8),
        channel,
        prop::option::of(any_window()),
        handover,
    )
        .prop_map(|(observations, channel, window, handover)| ContactFacts {
            observations,
            channel_preference: channel.map(String::from),
            best_contact_window: window,
            last_handover_at: handover,
            suppression: None,
        })
}

pub(crate) fn scenario()
-> impl Strategy<Value = (DateTime<Utc>, ContactFacts, Vec<Campaign>, Thresholds)> {
    instant().prop_flat_map(|now| {
        (
            Just(now),
            facts(now),
            prop::collection::vec(any_campaign(), 1..4),
            thresholds(),
        )
    })
}

/// Contacts decided at one instant, as a run's batch is: their windows drawn from a few, so most
/// are read for another contact first, and the first campaign given calling hours.
fn crowd() -> impl Strategy<Value = (DateTime<Utc>, Vec<ContactFacts>, Vec<Campaign>, Thresholds)> {
    let pool = prop::collection::vec(prop::option::of(any_window()), 1..4);
    let hours = prop::option::of(
        (0u32..86_400, 0u32..86_400).prop_map(|(s, e)| CallingHours {
            start_time: NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap(),
            end_time: NaiveTime::from_num_seconds_from_midnight_opt(e, 0).unwrap(),
        }),
    );
    let picks = prop::collection::vec(0usize..4, 1..12);
    (scenario(), pool, hours, picks).prop_map(
        |((now, facts, mut campaigns, thresholds), pool, hours, picks)| {
            campaigns[0].calling_hours = hours;
            let crowd = picks
                .iter()
                .map(|&i| ContactFacts {
                    best_contact_window: pool[i % pool.len()].clone(),
                    ..facts.clone()
                })
                .collect();
            (now, crowd, campaigns, thresholds)
        },
    )
}

/// What must hold of any evaluation.
fn check_consistent(e: &Evaluation, facts: &ContactFacts) -> Result<(), TestCaseError> {
    let rules: Vec<Rule> = e.outcomes.iter().map(|o| o.rule).collect();
    prop_assert_eq!(rules, Rule::ALL.to_vec());
    prop_assert_eq!(e.reason, first_failure(&e.outcomes));
    prop_assert!(e.observations.len() <= facts.observations.len());
    prop_assert!(e.observations.iter().all(|o| o.score.is_finite()));
    let last_applied = e
        .observations
        .iter()
        .rev()
        .find(|o| !o.dampened)
        .map(|o| o.score);
    prop_assert_eq!(e.effective_score, last_applied);
    prop_assert_eq!(e.tier.is_some(), e.effective_score.is_some());
    prop_assert!(e.rise.is_none_or(|r| r >= 0.0), "rise {:?}", e.rise);
    let zone_ok = e
        .effective_window
        .as_ref()
        .is_some_and(|w| parse_time_zone(&w.timezone).is_ok());
    prop_assert_eq!(e.window.is_some(), zone_ok);
    if let Some(state) = e.window {
        prop_assert!(!state.open || state.next_opening.is_none());
    }
    if e.reason == Reason::Eligible {
        prop_assert!(e.window.is_some_and(|w| w.open));
        prop_assert!(e.contact_list_id.is_some() && e.cooldown_until.is_none());
        prop_assert!(e.handover_window.is_some(), "the dialer is told a window");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Never panics, and the reason is always the first failing rule — before and after the
    /// campaigns compete for the contact.
    #[test]
    fn evaluate_is_total_and_consistent((now, facts, campaigns, thresholds) in scenario()) {
        let mut all: Vec<(&Campaign, Evaluation)> = campaigns
            .iter()
            .map(|c| (c, evaluate(&facts, c, &thresholds, now)))
            .collect();
        for (_, e) in &all {
            check_consistent(e, &facts)?;
        }
        let eligible_before = all.iter().filter(|(_, e)| e.is_eligible()).count();
        let winner = assign(&mut all);
        prop_assert_eq!(winner.is_some(), eligible_before > 0);
        prop_assert!(all.iter().filter(|(_, e)| e.is_eligible()).count() <= 1);
        for (_, e) in &all {
            check_consistent(e, &facts)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The run's evaluation (only failed rules' sentences, which is all it stores) decides what
    /// the full one does: the same evaluation, but for the passed rules' sentences, left empty,
    /// and the observations, not listed.
    #[test]
    fn failures_only_changes_nothing_but_the_passed_rules_sentences(
        (now, facts, campaigns, thresholds) in scenario()
    ) {
        // The run computes the contact's own rules once and shares them across the campaigns.
        let moment = Moment::at(now);
        let shared = ContactRules::of(&facts, &thresholds, &moment, Sentences::FailuresOnly);
        for c in &campaigns {
            let full = evaluate(&facts, c, &thresholds, now);
            let lean = evaluate_with(&facts, c, &thresholds, now, Sentences::FailuresOnly);
            prop_assert_eq!(
                &evaluate_for(&shared, c),
                &lean
            );
            let mut expected = full.clone();
            expected.observations.clear();
            for o in expected.outcomes.iter_mut().filter(|o| o.passed) {
                o.detail.clear();
            }
            prop_assert_eq!(&lean, &expected);
            for o in lean.outcomes.iter().filter(|o| !o.passed) {
                prop_assert!(!o.detail.is_empty(), "{:?} failed without a sentence", o.rule);
            }
        }
    }

    /// Contacts sharing one moment (a run's batch) decide what each decides alone, though the
    /// moment hands out window reads made for other contacts and campaigns.
    #[test]
    fn contacts_sharing_a_moment_decide_as_each_alone(
        (now, crowd, campaigns, thresholds) in crowd()
    ) {
        let moment = Moment::at(now);
        for facts in &crowd {
            let shared = ContactRules::of(facts, &thresholds, &moment, Sentences::All);
            for c in &campaigns {
                let e = evaluate_for(&shared, c);
                prop_assert_eq!(&e, &evaluate(facts, c, &thresholds, now));
                // Read afresh, without any moment: the window's state, and with the hours.
                let window = facts.best_contact_window.as_ref().unwrap_or(&c.default_window);
                let own = window.zoned().ok();
                let effective = own.map(|z| match &c.calling_hours {
                    Some(h) => z.within(h),
                    None => z,
                });
                prop_assert_eq!(e.contact_window_state, own.map(|z| z.state(now)));
                prop_assert_eq!(e.window, effective.map(|z| z.state(now)));
            }
        }
    }
}

/// The 2026 changes of the zones with daylight saving (see window_dst.rs): the instant, the zone,
/// and the local wall-clock time of the change in quarter hours (02:00 is 8).
const TRANSITIONS: &[(i64, &str, u32)] = &[
    (1_772_953_200, "America/New_York", 8),    // 2026-03-08T07:00Z
    (1_793_512_800, "America/New_York", 6),    // 2026-11-01T06:00Z, 02:00 → 01:00
    (1_774_746_000, "Europe/London", 4),       // 2026-03-29T01:00Z
    (1_792_890_000, "Europe/London", 6),       // 2026-10-25T01:00Z, 02:00 → 01:00
    (1_775_314_800, "Australia/Lord_Howe", 8), // 2026-04-04T15:00Z
    (1_791_041_400, "Australia/Lord_Howe", 8), // 2026-10-03T15:30Z
    (1_775_311_200, "Pacific/Chatham", 14),    // 2026-04-04T14:00Z, 03:45 → 02:45
    (1_790_431_200, "Pacific/Chatham", 12),    // 2026-09-26T14:00Z, 02:45 → 03:45
];

/// A window and an instant aimed at a daylight-saving change: `now` within a day of it, and the
/// window's ends (on a quarter-hour grid, like real windows) mostly within two hours of the
/// local time of the change, so gaps, repeated hours and re-entries come up often.
fn around_a_change() -> impl Strategy<Value = (ZonedWindow, DateTime<Utc>)> {
    let quarter = |near: u32| prop_oneof![(near + 88)..(near + 105), 0u32..96].prop_map(|q| q % 96);
    prop::sample::select(TRANSITIONS).prop_flat_map(move |(at, zone, local)| {
        (quarter(local), quarter(local), -86_400i64..86_400).prop_map(move |(s, e, off)| {
            let time = |q: u32| NaiveTime::from_num_seconds_from_midnight_opt(q * 900, 0).unwrap();
            let w = Window {
                start_time: time(s),
                end_time: time(e),
                timezone: zone.into(),
            };
            (
                w.zoned().unwrap(),
                DateTime::from_timestamp(at + off, 0).unwrap(),
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// `next_opening` is open, after `now`, and the earliest such instant: walking the clock
    /// minute by minute from `now` finds the window closed all the way there. Openings on this
    /// grid last at least a minute, so a one-minute walk cannot step over one.
    #[test]
    fn next_opening_is_the_earliest_open_instant((w, now) in around_a_change()) {
        match w.next_opening(now) {
            None => prop_assert!(w.is_open(now)),
            Some(next) => {
                prop_assert!(!w.is_open(now));
                prop_assert!(next > now && w.is_open(next));
                prop_assert!(next - now <= TimeDelta::hours(50), "{next} from {now}");
                let mut t = now + TimeDelta::seconds(1);
                while t < next {
                    prop_assert!(!w.is_open(t), "open at {t}, before {next}");
                    t += TimeDelta::minutes(1);
                }
                prop_assert!(!w.is_open(next - TimeDelta::seconds(1)));
            }
        }
    }
}

/// A window and an instant aimed at a change (see [`around_a_change`]) with calling hours on the
/// same quarter-hour grid, half of them near the change too.
fn hours_around_a_change() -> impl Strategy<Value = (ZonedWindow, DateTime<Utc>)> {
    (around_a_change(), 0u32..96, 0u32..96).prop_map(|((w, now), s, e)| {
        let time = |q: u32| NaiveTime::from_num_seconds_from_midnight_opt(q * 900, 0).unwrap();
        let near = |q: u32| time((q % 16 + (w.start.hour() * 4)) % 96);
        let hours = crate::eligibility::CallingHours {
            start_time: if s % 2 == 0 { near(s) } else { time(s) },
            end_time: if e % 2 == 0 { near(e) } else { time(e) },
        };
        (w.within(&hours), now)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// With calling hours, `next_opening` is the earliest instant inside both the window and the
    /// hours (walking the clock minute by minute finds none before it), and a window that shares
    /// no time with them never opens.
    #[test]
    fn next_opening_with_calling_hours_is_the_earliest_instant_inside_both(
        (w, now) in hours_around_a_change()
    ) {
        let (hs, he) = w.hours.unwrap();
        let alone = ZonedWindow { hours: None, ..w };
        let hours = ZonedWindow { start: hs, end: he, hours: None, ..w };
        if w.never_opens() {
            prop_assert!(!w.is_open(now) && w.next_opening(now).is_none());
            return Ok(());
        }
        match w.next_opening(now) {
            None => prop_assert!(w.is_open(now)),
            Some(next) => {
                prop_assert!(!w.is_open(now));
                prop_assert!(next > now && alone.is_open(next) && hours.is_open(next));
                prop_assert!(next - now <= TimeDelta::hours(50), "{next} from {now}");
                let mut t = now + TimeDelta::seconds(1);
                while t < next {
                    prop_assert!(!(alone.is_open(t) && hours.is_open(t)), "open at {t}, before {next}");
                    t += TimeDelta::minutes(1);
                }
                prop_assert!(!w.is_open(next - TimeDelta::seconds(1)));
            }
        }
        if let Some((s, e)) = w.open_span(now) {
            // The span the dialer is told holds the local time now and lies inside both ranges.
            let local = w.local(now).unwrap().time();
            let piece = ZonedWindow { start: s, end: e, hours: None, ..w };
            prop_assert!(piece.contains(local));
            prop_assert!(alone.contains(s) && hours.contains(s));
        }
    }
}
