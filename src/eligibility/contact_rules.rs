//! The rules whose outcome is the contact's own, the same for every campaign: the effective score
//! (rule 1, the profile), the suppression, the rise (rule 3) and the cooldown (rule 4), with what
//! they are computed from, and the contact's own window read at that instant. A run evaluates
//! each contact against every enabled campaign; these are computed once per contact
//! ([`ContactRules::of`]) and shared by each campaign's evaluation
//! ([`super::rules::evaluate_for`]) instead of being computed and their sentences formatted again
//! per campaign.

use std::fmt::{self, Display};

use chrono::{DateTime, TimeDelta, Utc};

use super::campaign::Tier;
use super::cooldown::{cooldown_rule, cooldown_until};
use super::moment::{Moment, WindowRead};
use super::reason::{Rule, RuleOutcome, Sentences};
use super::rise::{for_display, rise};
use super::rules::{ContactFacts, outcome, outcome_read_later};
use super::score::{ScoreSeries, at_least};
use super::suppression::{suppressed_until, suppression_rule};
use crate::domain::thresholds::Thresholds;

/// One contact's own rules at one instant, for every campaign. It keeps the facts, the instant and
/// the sentences asked for, so that every campaign's evaluation reads the same ones.
#[derive(Debug, Clone)]
pub struct ContactRules<'a> {
    pub(super) facts: &'a ContactFacts,
    /// The instant decided at (`moment.now()`), with the window reads made at it.
    pub(super) moment: &'a Moment,
    pub(super) say: Sentences,
    pub(super) series: ScoreSeries,
    pub(super) effective: Option<f64>,
    /// Tier of the effective score, whether or not a campaign targets it.
    pub(super) tier: Option<Tier>,
    pub(super) rise: Option<f64>,
    pub(super) cooldown_until: Option<DateTime<Utc>>,
    pub(super) suppressed_until: Option<DateTime<Utc>>,
    pub(super) profile: RuleOutcome,
    pub(super) suppression: RuleOutcome,
    pub(super) rise_outcome: RuleOutcome,
    pub(super) cooldown: RuleOutcome,
    /// The contact's own window at `now`, if it has one (before any campaign's calling hours).
    pub(super) own_window: Option<WindowRead>,
}

impl<'a> ContactRules<'a> {
    /// The contact's own rules for `facts` at `moment`, with the sentences `say` asks for.
    pub fn of(
        facts: &'a ContactFacts,
        thresholds: &Thresholds,
        moment: &'a Moment,
        say: Sentences,
    ) -> Self {
        let now = moment.now();
        let series = ScoreSeries::compute(&facts.observations, now, thresholds);
        let effective = series.effective();
        let rise_now = rise(&series.applied, now, thresholds.rise_window());
        let cooldown_until = cooldown_until(facts.last_handover_at, now, thresholds);
        Self {
            profile: profile_rule(facts, &series, effective, say),
            suppression: suppression_rule(facts.suppression.as_ref(), now, say),
            rise_outcome: rise_rule(rise_now, effective, thresholds, say),
            cooldown: cooldown_rule(facts.last_handover_at, cooldown_until, say),
            tier: effective.map(|s| Tier::of(s, thresholds)),
            suppressed_until: suppressed_until(facts.suppression.as_ref(), now),
            series,
            effective,
            rise: rise_now,
            cooldown_until,
            own_window: facts
                .best_contact_window
                .as_ref()
                .map(|w| moment.window(w, None)),
            facts,
            moment,
            say,
        }
    }
}

/// 1. Profile: at least one applied observation.
fn profile_rule(
    facts: &ContactFacts,
    series: &ScoreSeries,
    effective: Option<f64>,
    say: Sentences,
) -> RuleOutcome {
    match effective {
        Some(score) => outcome(Rule::Profile, true, say, || {
            format!(
                "effective score {score} ({} of {} observations applied)",
                series.applied.len(),
                series.observations.len()
            )
        }),
        None if facts.observations.is_empty() => {
            outcome(Rule::Profile, false, say, || "no score observed yet".into())
        }
        None => outcome(Rule::Profile, false, say, || {
            "no finite score observed at or before now".into()
        }),
    }
}

/// 3. Rise over the trailing window, at least `min_rise`.
fn rise_rule(
    rise_now: Option<f64>,
    effective: Option<f64>,
    thresholds: &Thresholds,
    say: Sentences,
) -> RuleOutcome {
    match (rise_now, effective) {
        (Some(r), Some(score)) => {
            outcome_read_later(Rule::Rise, at_least(r, thresholds.min_rise), say, || {
                RiseSentence {
                    rise: for_display(r),
                    score,
                    window: thresholds.rise_window(),
                    min_rise: thresholds.min_rise,
                }
                .to_string()
            })
        }
        (_, Some(_)) => outcome(Rule::Rise, false, say, || {
            "a single applied observation shows no rise".into()
        }),
        _ => outcome(Rule::Rise, false, say, || {
            "no effective score, no rise".into()
        }),
    }
}

/// The rise rule's sentence when the contact has a rise: "rose 0.05 over the last 24 h (lowest
/// 0.4 → 0.45); minimum 0.1". Also how a stored decision's is rendered when read
/// ([`Sentences::Stored`]): the rise and the score are the decision's own, the window and the
/// minimum the thresholds it was decided with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiseSentence {
    /// The rise as shown ([`for_display`]).
    pub rise: f64,
    /// The effective score.
    pub score: f64,
    pub window: TimeDelta,
    pub min_rise: f64,
}

impl Display for RiseSentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rose {} over the last {} (lowest {} → {}); minimum {}",
            self.rise,
            DurationText(self.window),
            for_display(self.score - self.rise),
            self.score,
            self.min_rise
        )
    }
}

/// "24 h", "90 min", "45 s": durations as operators write them.
struct DurationText(TimeDelta);

impl Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.num_seconds();
        if s != 0 && s % 3600 == 0 {
            write!(f, "{} h", s / 3600)
        } else if s != 0 && s % 60 == 0 {
            write!(f, "{} min", s / 60)
        } else {
            write!(f, "{s} s")
        }
    }
}
