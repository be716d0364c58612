//! SPEC §7 rule 4, the cooldown: a contact handed over is not handed over again within
//! `[hand-over, hand-over + cooldown)`.

use chrono::{DateTime, Utc};

use super::reason::{Rule, RuleOutcome, Sentences};
use super::rules::outcome;
use super::words::At;
use crate::domain::thresholds::Thresholds;

/// SPEC §7 rule 4: the end of the cooldown a hand-over at `last_handover_at` started, while it
/// still runs at `now`; `None` when the contact was never handed over or the cooldown is over. The
/// cooldown is `[hand-over, hand-over + cooldown)`; an end past the last representable instant is
/// that instant (a cooldown of "practically forever" never ends early by overflowing).
pub fn cooldown_until(
    last_handover_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Option<DateTime<Utc>> {
    let at = last_handover_at?;
    let until = at
        .checked_add_signed(thresholds.cooldown())
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (now < until).then_some(until)
}

/// 4. Cooldown: not within [hand-over, hand-over + cooldown) (see [`cooldown_until`]). A
///    hand-over later than `now` (another instance's clock, or a dry run set in the past) also
///    blocks: the contact must not be handed over twice within the cooldown, whichever came first.
pub(super) fn cooldown_rule(
    last_handover_at: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    say: Sentences,
) -> RuleOutcome {
    match (last_handover_at, until) {
        (Some(at), Some(until)) => outcome(Rule::Cooldown, false, say, || {
            format!("handed over at {}; cooldown until {}", At(at), At(until))
        }),
        (Some(at), None) => outcome(Rule::Cooldown, true, say, || {
            format!("last handed over at {}, cooldown over", At(at))
        }),
        _ => outcome(Rule::Cooldown, true, say, || "never handed over".into()),
    }
}
