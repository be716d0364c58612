//! Priority across campaigns in one run (SPEC §7 rule 4, §11.14).

use super::*;
use crate::eligibility::{Reason, assign, campaign_order};

fn campaign(id: &str, priority: i32) -> Campaign {
    Campaign {
        id: id.into(),
        priority,
        ..spring_renewals()
    }
}

fn evaluations<'a>(
    campaigns: &'a [Campaign],
    facts: &ContactFacts,
) -> Vec<(&'a Campaign, Evaluation)> {
    let now = at(NOW);
    campaigns
        .iter()
        .map(|c| (c, evaluate(facts, c, &Thresholds::default(), now)))
        .collect()
}

#[test]
fn highest_priority_takes_the_contact_ties_by_id() {
    let campaigns = [
        campaign("low", 1),
        campaign("zeta", 20),
        campaign("alpha", 20),
        campaign("mid", 10),
    ];
    let facts = passing(at(NOW), 0.9);
    let mut all = evaluations(&campaigns, &facts);
    let winner = assign(&mut all);
    assert_eq!(winner, Some(2), "alpha: priority 20, and 'alpha' < 'zeta'");
    let (_, won) = &all[2];
    assert_eq!(
        (won.reason, won.taken_by.as_deref()),
        (Reason::Eligible, None)
    );
    for (i, (c, e)) in all.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert_eq!(e.reason, Reason::Cooldown, "{}", c.id);
        assert_eq!(e.taken_by.as_deref(), Some("alpha"), "{i}");
        assert_eq!(
            e.cooldown_until, None,
            "the cooldown starts at the hand-over"
        );
        // Still "the first failing rule": the cooldown outcome now fails, with the winner named.
        assert_eq!(first_failure(&e.outcomes), Reason::Cooldown);
        let outcome = e
            .outcomes
            .iter()
            .find(|o| o.rule == Rule::Cooldown)
            .unwrap();
        assert!(
            !outcome.passed && outcome.detail.contains("alpha"),
            "{}",
            outcome.detail
        );
    }
}

#[test]
fn only_eligible_evaluations_compete_and_others_are_untouched() {
    // "top" outranks "second" but cannot reach the contact's channel.
    let mut top = campaign("top", 99);
    top.channels = BTreeMap::from([("sms".into(), "list-sms".into())]);
    let campaigns = [top, campaign("second", 5)];
    let mut all = evaluations(&campaigns, &passing(at(NOW), 0.9));
    let before = all[0].1.clone();
    assert_eq!(before.reason, Reason::ChannelUnsupported);
    assert_eq!(assign(&mut all), Some(1));
    assert_eq!(
        all[0].1, before,
        "a campaign that was not eligible keeps its own reason"
    );
    assert_eq!(all[1].1.reason, Reason::Eligible);
}

#[test]
fn nobody_eligible_nobody_wins() {
    let campaigns = [campaign("a", 1), campaign("b", 2)];
    let facts = ContactFacts::default();
    let mut all = evaluations(&campaigns, &facts);
    assert_eq!(assign(&mut all), None);
    assert!(
        all.iter()
            .all(|(_, e)| e.reason == Reason::NoProfile && e.taken_by.is_none())
    );
    assert_eq!(assign(&mut []), None);
}

#[test]
fn campaign_order_sorts_priority_down_then_id_up() {
    let mut campaigns = [
        campaign("b", 1),
        campaign("c", 3),
        campaign("a", 1),
        campaign("d", -4),
    ];
    campaigns.sort_by(campaign_order);
    let ids: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c", "a", "b", "d"]);
}
