//! Tier, cooldown and channel through `evaluate`, at their boundaries.

use super::*;
use crate::eligibility::Reason;

#[test]
fn tier_boundaries() {
    let now = at(NOW);
    let high_only = Campaign {
        tiers: vec![Tier::High],
        ..spring_renewals()
    };
    let low_only = Campaign {
        tiers: vec![Tier::Low],
        ..spring_renewals()
    };
    // (score, tier, reason for a high-only campaign). The rise from 0.50 would be too small for
    // low scores, so the first observation is lowered to keep the rise rule out of the picture.
    let cases = [
        (0.75, Tier::High, Reason::Eligible),
        (0.75 - 1e-10, Tier::High, Reason::Eligible),
        (0.75 - 1e-8, Tier::Moderate, Reason::TierNotTargeted),
        (0.40, Tier::Moderate, Reason::TierNotTargeted),
        (0.40 - 1e-10, Tier::Moderate, Reason::TierNotTargeted),
        (0.3999, Tier::Low, Reason::TierNotTargeted),
    ];
    for (score, tier, reason) in cases {
        let mut facts = passing(now, score);
        facts.observations[0].score = 0.0;
        let e = run(&facts, &high_only);
        assert_eq!((e.tier, e.reason), (Some(tier), reason), "score {score}");
        assert_eq!(e.effective_score, Some(score));
        let e = run(&facts, &low_only);
        let expected = if tier == Tier::Low {
            Reason::Eligible
        } else {
            Reason::TierNotTargeted
        };
        assert_eq!(e.reason, expected, "score {score}, low-only campaign");
        let e = run(&facts, &spring_renewals());
        let expected = if tier == Tier::Low {
            Reason::TierNotTargeted
        } else {
            Reason::Eligible
        };
        assert_eq!(e.reason, expected, "score {score}, default tiers");
    }
}

#[test]
fn cooldown_boundaries() {
    let now = at(NOW);
    let cooldown = TimeDelta::hours(72);
    let second = TimeDelta::seconds(1);
    // (name, hand-over, in cooldown). The interval is [hand-over, hand-over + 72 h).
    let cases = [
        ("72 h − 1 s ago", now - cooldown + second, true),
        ("exactly 72 h ago", now - cooldown, false),
        ("72 h + 1 s ago", now - cooldown - second, false),
        ("right now", now, true),
        (
            "in the future (another instance's clock)",
            now + second,
            true,
        ),
    ];
    for (name, handover, blocked) in cases {
        let facts = ContactFacts {
            last_handover_at: Some(handover),
            suppression: None,
            ..passing(now, 0.9)
        };
        let e = run(&facts, &spring_renewals());
        let (reason, until) = if blocked {
            (Reason::Cooldown, Some(handover + cooldown))
        } else {
            (Reason::Eligible, None)
        };
        assert_eq!(e.reason, reason, "{name}");
        assert_eq!(e.cooldown_until, until, "{name}: null when not in cooldown");
    }
}

#[test]
fn channel_routing() {
    let now = at(NOW);
    // (preference, reason, contact list)
    let cases = [
        (Some("voice"), Reason::Eligible, Some("list-voice")),
        (Some("email"), Reason::Eligible, Some("list-email")),
        (Some("sms"), Reason::ChannelUnsupported, None),
        (Some("Voice"), Reason::ChannelUnsupported, None),
        (Some(""), Reason::ChannelUnsupported, None),
        (None, Reason::ChannelUnsupported, None),
    ];
    for (preference, reason, list) in cases {
        let facts = ContactFacts {
            channel_preference: preference.map(String::from),
            ..passing(now, 0.9)
        };
        let e = run(&facts, &spring_renewals());
        assert_eq!(e.reason, reason, "{preference:?}");
        assert_eq!(e.contact_list_id.as_deref(), list, "{preference:?}");
        assert_eq!(e.channel.as_deref(), list.and(preference), "{preference:?}");
    }
    // A missing or null preference in a document is the same as none.
    let facts: ContactFacts = serde_json::from_str(r#"{"channel_preference": null}"#).unwrap();
    assert_eq!(facts.channel_preference, None);
}
