//! The sentences of the rules whose words hold times, spans and lists, pinned word for word: they
//! are stored with every decision and read by operators, so writing them faster
//! (`eligibility::words`) must not change a character.

use chrono::TimeDelta;

use super::*;
use crate::eligibility::Suppression;

fn detail(e: &Evaluation, rule: Rule) -> &str {
    &e.outcomes.iter().find(|o| o.rule == rule).unwrap().detail
}

#[test]
fn window_sentences_read_word_for_word() {
    let now = at(NOW);
    let london = ContactFacts {
        best_contact_window: Some(window("09:00:00", "17:30:00", "Europe/London")),
        ..passing(now, 0.9)
    };
    let e = run(&london, &spring_renewals());
    assert_eq!(
        detail(&e, Rule::Window),
        "closed: local time 06:30:00 is outside 09:00:00–17:30:00 Europe/London; \
         opens at 2026-03-08 09:00:00 UTC"
    );
    assert_eq!(
        detail(&e, Rule::Timezone),
        "contact's best contact window 09:00:00–17:30:00 Europe/London"
    );
    assert_eq!(detail(&e, Rule::CallingHours), "no calling hours");

    let with_hours = Campaign {
        calling_hours: Some(hours("10:15:00", "21:00:00")),
        ..spring_renewals()
    };
    let e = run(&london, &with_hours);
    assert_eq!(
        detail(&e, Rule::Window),
        "closed: local time 06:30:00 is outside 09:00:00–17:30:00 Europe/London ∩ calling hours \
         10:15:00–21:00:00 Europe/London; opens at 2026-03-08 10:15:00 UTC"
    );
    assert_eq!(
        detail(&e, Rule::CallingHours),
        "09:00:00–17:30:00 Europe/London ∩ calling hours 10:15:00–21:00:00 Europe/London"
    );

    let late = ContactFacts {
        best_contact_window: Some(window("22:00:00", "23:00:00", "Europe/London")),
        ..passing(now, 0.9)
    };
    let e = run(&late, &with_hours);
    assert_eq!(
        detail(&e, Rule::CallingHours),
        "contact's best contact window 22:00:00–23:00:00 Europe/London and calling hours \
         10:15:00–21:00:00 Europe/London have no time in common"
    );
    assert_eq!(
        detail(&e, Rule::Window),
        "closed: local time 06:30:00 is outside 22:00:00–23:00:00 Europe/London ∩ calling hours \
         10:15:00–21:00:00 Europe/London; no opening found"
    );

    let e = run(&passing(now, 0.9), &spring_renewals());
    assert_eq!(
        detail(&e, Rule::Window),
        "open: local time 12:15:00 is inside 00:00:00–00:00:00 Asia/Kathmandu"
    );
    let no_window = ContactFacts {
        best_contact_window: None,
        ..passing(now, 0.9)
    };
    let e = run(&no_window, &spring_renewals());
    assert_eq!(
        detail(&e, Rule::Timezone),
        "campaign default window 09:00:00–20:00:00 America/New_York"
    );
}

#[test]
fn instants_and_lists_read_word_for_word() {
    let now = at(NOW);
    let said = |facts: ContactFacts, rule| {
        let e = run(&facts, &spring_renewals());
        detail(&e, rule).to_owned()
    };
    let facts = || passing(now, 0.9);

    let handed_over = ContactFacts {
        last_handover_at: Some(now - TimeDelta::hours(1)),
        ..facts()
    };
    let until = now - TimeDelta::hours(1) + Thresholds::default().cooldown();
    assert_eq!(
        said(handed_over, Rule::Cooldown),
        format!(
            "handed over at 2026-03-08 05:30:00 UTC; cooldown until {}",
            until.format("%Y-%m-%d %H:%M:%S UTC")
        )
    );
    let long_ago = ContactFacts {
        last_handover_at: Some(at("2025-01-02T03:04:05Z")),
        ..facts()
    };
    assert_eq!(
        said(long_ago, Rule::Cooldown),
        "last handed over at 2025-01-02 03:04:05 UTC, cooldown over"
    );
    let suppressed = ContactFacts {
        suppression: Some(Suppression {
            expires_at: Some(at("2026-03-09T06:30:00.250Z")),
        }),
        ..facts()
    };
    assert_eq!(
        said(suppressed, Rule::Suppression),
        "on the suppression list until 2026-03-09 06:30:00.250 UTC"
    );
    let sms = ContactFacts {
        channel_preference: Some("sms".into()),
        ..facts()
    };
    assert_eq!(
        said(sms, Rule::Channel),
        r#"channel "sms" not among [email, voice]"#
    );
    assert_eq!(
        said(passing(now, 0.2), Rule::Tier),
        "tier low; campaign takes [high, moderate]"
    );
}
