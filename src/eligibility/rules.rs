//! All eligibility rules of SPEC §7, in order, for one contact and one campaign.
//!
//! Every rule is evaluated every time, even after one has failed, so the operator sees the whole
//! picture (a contact in cooldown whose window is also closed shows both). The reason is the first
//! failing rule in the SPEC's order, or `eligible`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::campaign::{Campaign, Tier};
use super::contact_rules::ContactRules;
use super::moment::Moment;
use super::reason::{Reason, Rule, RuleOutcome, Sentences, first_failure};
use super::rise::for_display;
use super::score::{Observation, ObservationView};
use super::suppression::Suppression;
use super::window::{CallingHours, Window, WindowState};
use super::window_rule::WindowInForce;
use super::words::Listed;
use crate::domain::thresholds::Thresholds;

/// What pesync knows about a contact when it evaluates it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ContactFacts {
    /// Every score observation, in any order.
    #[serde(default)]
    pub observations: Vec<Observation>,
    /// PE's channel preference; missing or null is `channel_unsupported`.
    #[serde(default)]
    pub channel_preference: Option<String>,
    /// PE's best contact window; missing or null takes the campaign's default window.
    #[serde(default)]
    pub best_contact_window: Option<Window>,
    /// When the contact was last handed to the dialer, by any campaign.
    #[serde(default)]
    pub last_handover_at: Option<DateTime<Utc>>,
    /// The contact's entry on the suppression list, if any (active or expired).
    #[serde(default)]
    pub suppression: Option<Suppression>,
}

/// Everything decided about one contact for one campaign at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evaluation {
    pub reason: Reason,
    /// Tier of the effective score, whether or not the campaign targets it.
    pub tier: Option<Tier>,
    pub effective_score: Option<f64>,
    /// Null with fewer than two applied observations.
    pub rise: Option<f64>,
    /// Observations up to `now`, in time order, dampened ones marked. Listed when every
    /// sentence is asked for ([`Sentences::All`]: an explanation, the dry run); empty otherwise.
    pub observations: Vec<ObservationView>,
    /// Every rule, in order.
    pub outcomes: Vec<RuleOutcome>,
    /// Null when the time zone is invalid; computed whatever the earlier rules decided.
    pub window: Option<WindowState>,
    /// End of the cooldown; null when the contact is not in cooldown.
    pub cooldown_until: Option<DateTime<Utc>>,
    /// The contact's channel, when the campaign serves it.
    pub channel: Option<String>,
    /// The dialer contact list of that channel.
    pub contact_list_id: Option<String>,
    /// The contact's window: its own, else the campaign's default (always present). With calling
    /// hours, `window` is the state of this window ∩ the calling hours.
    pub effective_window: Option<Window>,
    /// The state of `effective_window` alone (without the calling hours); null when the time zone
    /// is invalid.
    #[serde(default)]
    pub contact_window_state: Option<WindowState>,
    /// The campaign's calling hours, read in the zone of `effective_window`.
    #[serde(default)]
    pub calling_hours: Option<CallingHours>,
    /// The window the dialer is told when the contact is eligible: the piece of the effective
    /// window (the contact's window ∩ the calling hours) that holds `now`; null otherwise.
    #[serde(default)]
    pub handover_window: Option<Window>,
    /// End of an active suppression that has an expiry: the run evaluates the contact again then.
    #[serde(default)]
    pub suppressed_until: Option<DateTime<Utc>>,
    /// Set by [`super::assign()`] on an evaluation that was eligible but lost the contact to a
    /// higher-priority campaign in the same run; its reason is then `cooldown`.
    #[serde(default)]
    pub taken_by: Option<String>,
}

impl Evaluation {
    pub fn is_eligible(&self) -> bool {
        self.reason == Reason::Eligible
    }
}

/// Evaluates every rule for `facts` against `campaign` at `now`. Total: never panics, whatever
/// the input (unvalidated thresholds or campaign included). Does not look at
/// `campaign.enabled`: the scheduled run skips disabled campaigns, the dry run may try one.
pub fn evaluate(
    facts: &ContactFacts,
    campaign: &Campaign,
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> Evaluation {
    evaluate_with(facts, campaign, thresholds, now, Sentences::All)
}

/// [`evaluate`], with only the sentences `say` asks for.
pub fn evaluate_with(
    facts: &ContactFacts,
    campaign: &Campaign,
    thresholds: &Thresholds,
    now: DateTime<Utc>,
    say: Sentences,
) -> Evaluation {
    evaluate_for(
        &ContactRules::of(facts, thresholds, &Moment::at(now), say),
        campaign,
    )
}

/// [`evaluate_with`] for a contact whose own rules are already computed (with its facts, instant
/// and sentences): what a run calls once per campaign.
pub fn evaluate_for(contact: &ContactRules, campaign: &Campaign) -> Evaluation {
    let ContactRules {
        facts, moment, say, ..
    } = *contact;
    let now = moment.now();
    let route = channel_route(facts, campaign);
    let window = WindowInForce::of(facts, contact.own_window.as_ref(), campaign, moment, say);
    // Every rule, in the SPEC's order; each is evaluated whatever the earlier ones decided.
    let outcomes = vec![
        contact.profile.clone(),
        contact.suppression.clone(),
        tier_rule(campaign, contact.tier, say),
        contact.rise_outcome.clone(),
        contact.cooldown.clone(),
        channel_rule(facts, campaign, route, say),
        window.timezone_rule(),
        window.calling_hours_rule(),
        window.window_rule(now),
    ];
    let reason = first_failure(&outcomes);
    Evaluation {
        reason,
        tier: contact.tier,
        effective_score: contact.effective,
        rise: contact.rise.map(for_display),
        // Each of a run's two million evaluations would copy them, and a run stores none.
        observations: if say.lists_observations() {
            contact.series.observations.clone()
        } else {
            Vec::new()
        },
        outcomes,
        window: window.state,
        cooldown_until: contact.cooldown_until,
        channel: route.map(|(c, _)| c.clone()),
        contact_list_id: route.map(|(_, l)| l.clone()),
        effective_window: Some(window.window.clone()),
        contact_window_state: window.own_state,
        // Only an eligible contact is handed over.
        handover_window: (reason == Reason::Eligible)
            .then(|| window.handover_window(now))
            .flatten(),
        calling_hours: campaign.calling_hours,
        suppressed_until: contact.suppressed_until,
        taken_by: None,
    }
}

/// A rule's outcome; `detail` formats its sentence, called only when `say` wants it.
pub(super) fn outcome(
    rule: Rule,
    passed: bool,
    say: Sentences,
    detail: impl FnOnce() -> String,
) -> RuleOutcome {
    said(rule, passed, say.says(passed, false), detail)
}

/// [`outcome`] for a sentence a stored decision renders when read: [`Sentences::Stored`] leaves
/// a failure's empty too (a rise too small, a closed window: `evaluation::stored_sentences`).
pub(super) fn outcome_read_later(
    rule: Rule,
    passed: bool,
    say: Sentences,
    detail: impl FnOnce() -> String,
) -> RuleOutcome {
    said(rule, passed, say.says(passed, true), detail)
}

fn said(rule: Rule, passed: bool, say_it: bool, detail: impl FnOnce() -> String) -> RuleOutcome {
    RuleOutcome {
        rule,
        passed,
        detail: if say_it { detail() } else { String::new() },
    }
}

/// 2. Tier: the effective score's tier is one the campaign targets.
fn tier_rule(campaign: &Campaign, tier: Option<Tier>, say: Sentences) -> RuleOutcome {
    match tier {
        Some(t) => outcome(Rule::Tier, campaign.targets(t), say, || {
            let targeted = Listed(campaign.tiers.iter().map(|t| t.as_str()));
            format!("tier {}; campaign takes [{targeted}]", t.as_str())
        }),
        None => outcome(Rule::Tier, false, say, || {
            "no effective score, no tier".into()
        }),
    }
}

/// The campaign's channel and contact list for the contact: its preference when the campaign
/// serves it (exact match); a contact with none takes the campaign's `default_channel`, if any.
fn channel_route<'c>(
    facts: &ContactFacts,
    campaign: &'c Campaign,
) -> Option<(&'c String, &'c String)> {
    facts
        .channel_preference
        .as_ref()
        .or(campaign.default_channel.as_ref())
        .and_then(|c| campaign.channels.get_key_value(c))
}

/// 5. Channel: the contact has a channel (its own or the campaign's default) the campaign serves.
fn channel_rule(
    facts: &ContactFacts,
    campaign: &Campaign,
    route: Option<(&String, &String)>,
    say: Sentences,
) -> RuleOutcome {
    match (&facts.channel_preference, route) {
        (None, Some((channel, list))) => outcome(Rule::Channel, true, say, || {
            format!(
                "no channel preference: campaign default channel {channel} → contact list {list}"
            )
        }),
        (_, Some((channel, list))) => outcome(Rule::Channel, true, say, || {
            format!("channel {channel} → contact list {list}")
        }),
        (Some(pref), None) => outcome(Rule::Channel, false, say, || {
            let channels = Listed(campaign.channels.keys());
            format!("channel {pref:?} not among [{channels}]")
        }),
        (None, None) => outcome(Rule::Channel, false, say, || "no channel preference".into()),
    }
}
