//! `evaluate`: every reason code at its boundaries, the order of the reasons, and the SPEC's dry
//! run.

use super::*;
use crate::eligibility::{Reason, Suppression, WindowState};

#[test]
fn time_zones_and_the_window_in_force() {
    let now = at(NOW);
    let bad_default = Campaign {
        default_window: window("09:00:00", "20:00:00", "Mars/Base"),
        ..spring_renewals()
    };
    // (contact window, campaign, reason, window computed)
    let cases = [
        (
            Some("US/Eastern"),
            spring_renewals(),
            Reason::Eligible,
            true,
        ),
        (
            Some("us/eastern"),
            spring_renewals(),
            Reason::InvalidTimezone,
            false,
        ),
        (
            Some("Mars/Base"),
            spring_renewals(),
            Reason::InvalidTimezone,
            false,
        ),
        // The contact's own window wins, even over an invalid default: no guess either way.
        (
            Some("America/New_York"),
            bad_default.clone(),
            Reason::Eligible,
            true,
        ),
        (None, bad_default, Reason::InvalidTimezone, false),
        // 06:30Z is 01:30 in New York: outside the default 09:00–20:00.
        (None, spring_renewals(), Reason::DeferredOutsideWindow, true),
    ];
    for (zone, campaign, reason, computed) in cases {
        let facts = ContactFacts {
            best_contact_window: zone.map(|z| window("00:00:00", "00:00:00", z)),
            ..passing(now, 0.9)
        };
        let e = run(&facts, &campaign);
        assert_eq!(e.reason, reason, "{zone:?}");
        assert_eq!(
            e.window.is_some(),
            computed,
            "{zone:?}: null only for an invalid zone"
        );
        let expected = facts.best_contact_window.unwrap_or(campaign.default_window);
        assert_eq!(e.effective_window, Some(expected));
    }
}

#[test]
fn deferred_contact_learns_when_to_come_back() {
    let now = at(NOW);
    let facts = ContactFacts {
        best_contact_window: None,
        ..passing(now, 0.9)
    };
    let e = run(&facts, &spring_renewals());
    assert_eq!(e.reason, Reason::DeferredOutsideWindow);
    // 09:00 EDT on the day of the spring-forward change is 13:00Z.
    let next = Some(at("2026-03-08T13:00:00Z"));
    assert_eq!(
        e.window,
        Some(WindowState {
            open: false,
            next_opening: next
        })
    );
}

#[test]
fn each_reason_in_turn_as_the_failures_are_fixed() {
    let now = at(NOW);
    // Calling hours that share no time with the contact's 09:00–10:00 window.
    let mut campaign = Campaign {
        calling_hours: Some(hours("12:00:00", "21:00:00")),
        ..spring_renewals()
    };
    // Start with a contact that fails every rule that can fail, then fix one rule at a time: the
    // reason walks down the SPEC's list, because it is always the *first* failing rule.
    let mut facts = ContactFacts {
        observations: vec![],
        channel_preference: Some("fax".into()),
        best_contact_window: Some(window("09:00:00", "10:00:00", "Mars/Base")),
        last_handover_at: Some(now - TimeDelta::hours(1)),
        suppression: Some(Suppression { expires_at: None }),
    };
    let mut seen = vec![run(&facts, &campaign).reason];
    facts.observations = vec![obs(now - TimeDelta::hours(2), 0.20)];
    seen.push(run(&facts, &campaign).reason);
    facts.suppression = Some(Suppression {
        expires_at: Some(now),
    });
    seen.push(run(&facts, &campaign).reason);
    facts.observations[0].score = 0.60;
    seen.push(run(&facts, &campaign).reason);
    facts
        .observations
        .push(obs(now - TimeDelta::hours(1), 0.80));
    seen.push(run(&facts, &campaign).reason);
    facts.last_handover_at = Some(now - TimeDelta::days(4));
    seen.push(run(&facts, &campaign).reason);
    facts.channel_preference = Some("voice".into());
    seen.push(run(&facts, &campaign).reason);
    facts.best_contact_window = Some(window("09:00:00", "10:00:00", "America/New_York"));
    seen.push(run(&facts, &campaign).reason);
    campaign.calling_hours = Some(hours("00:00:00", "09:30:00"));
    seen.push(run(&facts, &campaign).reason);
    facts.best_contact_window = Some(window("01:00:00", "02:00:00", "America/New_York"));
    seen.push(run(&facts, &campaign).reason);
    let codes: Vec<&str> = seen.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "no_profile",
            "suppressed",
            "tier_not_targeted",
            "insufficient_rise",
            "cooldown",
            "channel_unsupported",
            "invalid_timezone",
            "no_callable_time",
            "deferred_outside_window",
            "eligible",
        ]
    );
    // as_str is the serde name.
    for reason in seen {
        let json = serde_json::to_value(reason).unwrap();
        assert_eq!(json, reason.as_str());
    }
}

#[test]
fn every_rule_is_reported_even_after_the_first_failure() {
    let now = at(NOW);
    let facts = ContactFacts {
        observations: vec![],
        channel_preference: None,
        best_contact_window: None,
        last_handover_at: Some(now - TimeDelta::hours(1)),
        suppression: None,
    };
    let e = run(&facts, &spring_renewals());
    let passed: Vec<bool> = e.outcomes.iter().map(|o| o.passed).collect();
    // profile, tier, rise, cooldown, channel fail; not suppressed, no calling hours; the default
    // window's zone is valid but 01:30 New York is outside 09:00–20:00.
    assert_eq!(
        passed,
        [false, true, false, false, false, false, true, true, false]
    );
    assert_eq!(e.reason, Reason::NoProfile);
    assert!(
        e.window.is_some(),
        "computed whatever the earlier rules decided (§11.15)"
    );
    assert!(e.cooldown_until.is_some());
    assert_eq!((e.tier, e.effective_score, e.rise), (None, None, None));
}

/// The dry-run example of SPEC §8, worked by hand:
///
/// * now = 2026-03-08T06:30:00Z. New York is on EST (−05:00) until 07:00Z that day, so the local
///   time is 01:30:00 — inside the window 01:00–03:30, half an hour before the clocks jump from
///   02:00 EST to 03:00 EDT. Open, so `next_opening` is null.
/// * 0.62 at 2026-03-07T06:00Z, then 0.72 at 2026-03-08T06:00Z: 24 h apart and 0.10 apart, so
///   both are applied (neither rule of dampening holds). Effective score 0.72 → moderate
///   (0.40 ≤ 0.72 < 0.75), which the campaign's default tiers take.
/// * The rise window opens at 2026-03-07T06:30Z; 0.62 is in force then, 0.72 is inside:
///   lowest 0.62, rise 0.72 − 0.62 = 0.0999…98, which is 0.10 within the tolerance → passes.
/// * Never handed over → no cooldown; `voice` is a campaign channel → routed to its list.
/// * Result: eligible.
#[test]
fn spec_dry_run_example() {
    let body = r#"{
      "observations": [{"timestamp": "2026-03-07T06:00:00Z", "score": 0.62},
                       {"timestamp": "2026-03-08T06:00:00Z", "score": 0.72}],
      "channel_preference": "voice",
      "best_contact_window": {"start_time": "01:00:00", "end_time": "03:30:00",
                              "timezone": "America/New_York"},
      "last_handover_at": null}"#;
    let facts: ContactFacts = serde_json::from_str(body).unwrap();
    let e = run(&facts, &spring_renewals());
    assert_eq!(e.reason, Reason::Eligible);
    assert_eq!(e.tier, Some(Tier::Moderate));
    assert_eq!(e.effective_score, Some(0.72));
    assert_eq!(e.rise, Some(0.1));
    assert_eq!(
        e.window,
        Some(WindowState {
            open: true,
            next_opening: None
        })
    );
    assert_eq!(e.cooldown_until, None);
    assert_eq!(e.contact_list_id.as_deref(), Some("list-voice"));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["reason"], "eligible");
    assert_eq!(json["tier"], "moderate");
    assert_eq!(
        json["window"],
        serde_json::json!({"open": true, "next_opening": null})
    );
    assert_eq!(
        json["observations"],
        serde_json::json!([
            {"timestamp": "2026-03-07T06:00:00Z", "score": 0.62, "dampened": false},
            {"timestamp": "2026-03-08T06:00:00Z", "score": 0.72, "dampened": false}
        ])
    );
    // Half an hour later the clocks have jumped to 03:00 EDT and back inside; at 03:30 EDT
    // (07:30Z) the window closes until 01:00 EDT the next day, 05:00Z.
    let later = evaluate(
        &facts,
        &spring_renewals(),
        &Thresholds::default(),
        at("2026-03-08T07:30:00Z"),
    );
    assert_eq!(later.reason, Reason::DeferredOutsideWindow);
    let next = Some(at("2026-03-09T05:00:00Z"));
    assert_eq!(
        later.window,
        Some(WindowState {
            open: false,
            next_opening: next
        })
    );
}

#[test]
fn a_contact_without_a_channel_takes_the_campaign_default_channel() {
    let now = at(NOW);
    let mut facts = passing(now, 0.8);
    facts.channel_preference = None;
    // Without a default channel the reason stays `channel_unsupported` (SPEC §11.14).
    assert_eq!(
        run(&facts, &spring_renewals()).reason,
        Reason::ChannelUnsupported
    );
    let with_default = Campaign {
        default_channel: Some("email".into()),
        calling_hours: None,
        ..spring_renewals()
    };
    let e = run(&facts, &with_default);
    assert_eq!(e.reason, Reason::Eligible);
    assert_eq!(e.channel.as_deref(), Some("email"));
    // A preference of the contact's own still wins, and an unknown one is not replaced.
    facts.channel_preference = Some("voice".into());
    assert_eq!(run(&facts, &with_default).channel.as_deref(), Some("voice"));
    facts.channel_preference = Some("fax".into());
    assert_eq!(
        run(&facts, &with_default).reason,
        Reason::ChannelUnsupported
    );
}

#[test]
fn the_cooldown_runs_from_the_hand_over_and_saturates_instead_of_overflowing() {
    use crate::eligibility::cooldown::cooldown_until;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    let t = crate::domain::thresholds::Thresholds::default(); // 72 h
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let end = at + Duration::hours(72);
    assert_eq!(cooldown_until(None, at, &t), None, "never handed over");
    assert_eq!(
        cooldown_until(Some(at), at, &t),
        Some(end),
        "starts at the hand-over"
    );
    assert_eq!(
        cooldown_until(Some(at), end - Duration::seconds(1), &t),
        Some(end)
    );
    assert_eq!(
        cooldown_until(Some(at), end, &t),
        None,
        "the end is excluded"
    );
    assert_eq!(
        cooldown_until(Some(at), at - Duration::hours(1), &t),
        Some(end),
        "a hand-over later than now also blocks"
    );
    let near_end = DateTime::<Utc>::MAX_UTC - Duration::hours(1);
    assert_eq!(
        cooldown_until(Some(near_end), near_end, &t),
        Some(DateTime::<Utc>::MAX_UTC),
        "an end past the last instant is the last instant, not no cooldown"
    );
}
