//! One run, several campaigns (SPEC §7 rule 4, §11.14): when a contact is eligible for more than
//! one campaign, the highest priority takes it; equal priorities go to the lower campaign id.
//!
//! How the others are recorded: the SPEC puts "the highest priority takes it" under the cooldown
//! rule — the winner's hand-over starts a cooldown that covers every campaign. So a campaign that
//! was eligible but lost is recorded with reason `cooldown`, its cooldown outcome failed with a
//! sentence naming the winner, and `taken_by` set to the winner's id. Its `cooldown_until` stays
//! null: the cooldown starts at the hand-over (a push, or a pull acknowledgement), which has not
//! happened yet. Recording `cooldown` rather than `eligible` means nothing downstream that keys
//! on `eligible` can hand the contact over twice, and "the reason is the first failing rule"
//! still holds (every rule before cooldown passed, or the evaluation would not have been
//! eligible).

use std::cmp::Ordering;

use super::campaign::Campaign;
use super::reason::{Reason, Rule};
use super::rules::Evaluation;

/// The order in which campaigns claim a contact: priority descending, then id ascending.
pub fn campaign_order(a: &Campaign, b: &Campaign) -> Ordering {
    b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id))
}

/// Given one run's evaluations of one contact (one per campaign), lets the first eligible
/// campaign in [`campaign_order`] take it and marks the other eligible ones as taken (see the
/// module docs). Returns the winner's index, `None` when none was eligible. Evaluations that
/// were not eligible are left as they are.
pub fn assign(contenders: &mut [(&Campaign, Evaluation)]) -> Option<usize> {
    let winner = contenders
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| e.is_eligible())
        // `min_by` keeps the first of equals, so a duplicated campaign resolves stably.
        .min_by(|(_, (a, _)), (_, (b, _))| campaign_order(a, b))
        .map(|(i, _)| i)?;
    let (winner_id, winner_priority) = {
        let campaign = contenders[winner].0;
        (campaign.id.clone(), campaign.priority)
    };
    for (i, (campaign, evaluation)) in contenders.iter_mut().enumerate() {
        if i == winner || !evaluation.is_eligible() {
            continue;
        }
        let detail = format!(
            "taken in this run by campaign {winner_id} (priority {winner_priority}) \
             over this one (priority {})",
            campaign.priority
        );
        mark_taken(evaluation, &winner_id, detail);
    }
    Some(winner)
}

/// Marks an eligible evaluation as taken by another campaign's hand-over (in this run, or one
/// still pending from an earlier run): reason `cooldown`, `taken_by` that campaign, and the cooldown
/// rule failed with `detail` saying why. The one place that says what "taken" looks like.
pub fn mark_taken(evaluation: &mut Evaluation, campaign_id: &str, detail: String) {
    evaluation.reason = Reason::Cooldown;
    evaluation.taken_by = Some(campaign_id.to_owned());
    if let Some(outcome) = evaluation
        .outcomes
        .iter_mut()
        .find(|o| o.rule == Rule::Cooldown)
    {
        outcome.passed = false;
        outcome.detail = detail;
    }
}
