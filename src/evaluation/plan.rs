//! One contact, every enabled campaign, one run: the pure step between loading and storing.
//!
//! It computes the contact's own rules once ([`ContactRules`]) and calls [`evaluate_for`] per
//! campaign — what the dry run's `evaluate_with` calls too — then settles who takes the contact: a
//! hand-over already on its way to the dialer (pushed but not yet accepted, or in the pull feed but
//! not yet acknowledged) keeps it, so no second campaign queues it before the cooldown starts;
//! otherwise [`assign()`] gives it to the highest priority.

use chrono::{DateTime, Utc};

use crate::domain::thresholds::Thresholds;
use crate::eligibility::{
    Campaign, ContactFacts, ContactRules, Evaluation, Moment, Sentences, assign, evaluate_for,
};

/// A hand-over queued for the dialer and not yet handed over.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub campaign_id: String,
    pub since: DateTime<Utc>,
}

/// What one run decided for one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPlan {
    /// One evaluation per campaign, in the order of the campaigns given.
    pub evaluations: Vec<Evaluation>,
    /// Index of the campaign that takes the contact now, if any.
    pub winner: Option<usize>,
}

/// Evaluates `facts` for every campaign at `moment` and settles the winner (see the module docs),
/// with the rules' sentences `say` asks for. Contacts decided at one instant share its moment, so
/// that each distinct window is read once.
pub fn plan(
    facts: &ContactFacts,
    pending: Option<&Pending>,
    campaigns: &[Campaign],
    thresholds: &Thresholds,
    moment: &Moment,
    say: Sentences,
) -> ContactPlan {
    // The contact's own rules once, then each campaign's (the same as `evaluate_with` per campaign).
    let contact = ContactRules::of(facts, thresholds, moment, say);
    let mut contenders: Vec<(&Campaign, Evaluation)> = campaigns
        .iter()
        .map(|c| (c, evaluate_for(&contact, c)))
        .collect();
    if let Some(p) = pending {
        for (campaign, e) in contenders.iter_mut() {
            if e.is_eligible() && campaign.id != p.campaign_id {
                hold_for_pending(e, p);
            }
        }
    }
    let winner = assign(&mut contenders);
    ContactPlan {
        evaluations: contenders.into_iter().map(|(_, e)| e).collect(),
        winner,
    }
}

/// Marks an eligible evaluation as taken by the pending hand-over, like a contact lost to a
/// higher-priority campaign in the same run.
fn hold_for_pending(e: &mut Evaluation, p: &Pending) {
    let detail = format!(
        "queued for the dialer by campaign {} at {}; the cooldown starts when it is handed over",
        p.campaign_id, p.since
    );
    assign::mark_taken(e, &p.campaign_id, detail);
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::eligibility::{Observation, Reason, Rule};

    fn campaign(id: &str, priority: i32) -> Campaign {
        Campaign::open_all_day(id, priority)
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    fn rising() -> ContactFacts {
        ContactFacts {
            observations: vec![
                Observation::new(now() - TimeDelta::hours(5), 0.5),
                Observation::new(now() - TimeDelta::hours(1), 0.8),
            ],
            channel_preference: Some("voice".into()),
            best_contact_window: None,
            last_handover_at: None,
            suppression: None,
        }
    }

    #[test]
    fn the_highest_priority_takes_an_eligible_contact() {
        let cs = [campaign("a", 1), campaign("b", 5)];
        let p = plan(
            &rising(),
            None,
            &cs,
            &Thresholds::default(),
            &Moment::at(now()),
            Sentences::All,
        );
        assert_eq!(p.winner, Some(1));
        assert_eq!(p.evaluations[1].reason, Reason::Eligible);
        assert_eq!(p.evaluations[0].reason, Reason::Cooldown);
        assert_eq!(p.evaluations[0].taken_by.as_deref(), Some("b"));
    }

    #[test]
    fn a_pending_hand_over_keeps_the_contact_whatever_the_priorities() {
        let cs = [campaign("a", 1), campaign("b", 5)];
        let pending = Pending {
            campaign_id: "a".into(),
            since: now() - TimeDelta::minutes(3),
        };
        let p = plan(
            &rising(),
            Some(&pending),
            &cs,
            &Thresholds::default(),
            &Moment::at(now()),
            Sentences::All,
        );
        assert_eq!(p.winner, Some(0), "the pending campaign keeps it");
        assert_eq!(p.evaluations[1].reason, Reason::Cooldown);
        assert_eq!(p.evaluations[1].taken_by.as_deref(), Some("a"));
        let cooldown = p.evaluations[1]
            .outcomes
            .iter()
            .find(|o| o.rule == Rule::Cooldown)
            .unwrap();
        assert!(!cooldown.passed && cooldown.detail.contains("queued"));
    }

    #[test]
    fn a_pending_hand_over_elsewhere_blocks_every_campaign() {
        let cs = [campaign("a", 1)];
        let pending = Pending {
            campaign_id: "gone".into(),
            since: now(),
        };
        let p = plan(
            &rising(),
            Some(&pending),
            &cs,
            &Thresholds::default(),
            &Moment::at(now()),
            Sentences::All,
        );
        assert_eq!(p.winner, None);
        assert_eq!(p.evaluations[0].reason, Reason::Cooldown);
    }

    #[test]
    fn ineligible_contacts_are_left_alone() {
        let mut facts = rising();
        facts.channel_preference = Some("fax".into());
        let pending = Pending {
            campaign_id: "x".into(),
            since: now(),
        };
        let cs = [campaign("a", 1)];
        let p = plan(
            &facts,
            Some(&pending),
            &cs,
            &Thresholds::default(),
            &Moment::at(now()),
            Sentences::All,
        );
        assert_eq!(p.winner, None);
        assert_eq!(p.evaluations[0].reason, Reason::ChannelUnsupported);
        assert_eq!(p.evaluations[0].taken_by, None);
    }
}
