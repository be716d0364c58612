//! The reason codes and rule outcomes of a decision (SPEC §7): what is stored for every contact
//! looked at, and what the operator reads.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a contact is or is not handed over, in the SPEC's order: the first failing rule wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoProfile,
    Suppressed,
    TierNotTargeted,
    InsufficientRise,
    Cooldown,
    ChannelUnsupported,
    InvalidTimezone,
    NoCallableTime,
    DeferredOutsideWindow,
    Eligible,
}

impl Reason {
    /// Every reason in SPEC order, indexable by `Reason as usize`.
    pub const ALL: [Reason; 10] = [
        Reason::NoProfile,
        Reason::Suppressed,
        Reason::TierNotTargeted,
        Reason::InsufficientRise,
        Reason::Cooldown,
        Reason::ChannelUnsupported,
        Reason::InvalidTimezone,
        Reason::NoCallableTime,
        Reason::DeferredOutsideWindow,
        Reason::Eligible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoProfile => "no_profile",
            Reason::Suppressed => "suppressed",
            Reason::TierNotTargeted => "tier_not_targeted",
            Reason::InsufficientRise => "insufficient_rise",
            Reason::Cooldown => "cooldown",
            Reason::ChannelUnsupported => "channel_unsupported",
            Reason::InvalidTimezone => "invalid_timezone",
            Reason::NoCallableTime => "no_callable_time",
            Reason::DeferredOutsideWindow => "deferred_outside_window",
            Reason::Eligible => "eligible",
        }
    }
}

/// The rules, in evaluation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Profile,
    /// Not on the suppression list (issue 11 §4).
    Suppression,
    Tier,
    Rise,
    Cooldown,
    Channel,
    Timezone,
    /// The window in force and the campaign's calling hours have a time of day in common.
    CallingHours,
    Window,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::Profile,
        Rule::Suppression,
        Rule::Tier,
        Rule::Rise,
        Rule::Cooldown,
        Rule::Channel,
        Rule::Timezone,
        Rule::CallingHours,
        Rule::Window,
    ];

    /// The rules before the suppression list and calling hours existed: decisions stored then
    /// carry one outcome per rule in this order.
    pub const LEGACY: [Rule; 7] = [
        Rule::Profile,
        Rule::Tier,
        Rule::Rise,
        Rule::Cooldown,
        Rule::Channel,
        Rule::Timezone,
        Rule::Window,
    ];

    /// The reason recorded when this rule is the first to fail.
    pub fn failure(self) -> Reason {
        match self {
            Rule::Profile => Reason::NoProfile,
            Rule::Suppression => Reason::Suppressed,
            Rule::Tier => Reason::TierNotTargeted,
            Rule::Rise => Reason::InsufficientRise,
            Rule::Cooldown => Reason::Cooldown,
            Rule::Channel => Reason::ChannelUnsupported,
            Rule::Timezone => Reason::InvalidTimezone,
            Rule::CallingHours => Reason::NoCallableTime,
            Rule::Window => Reason::DeferredOutsideWindow,
        }
    }
}

/// One rule's verdict, with a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleOutcome {
    pub rule: Rule,
    pub passed: bool,
    pub detail: String,
}

/// Which rule outcomes carry their sentence. Everything an operator reads (explanations, the dry
/// run) asks for [`Sentences::All`]. The evaluation run stores a sentence only for a failed rule
/// (`evaluation::outcomes`), and formatting every sentence of two million evaluations was a fifth
/// of pesync's CPU in a run; formatting only the failures' saves about a tenth of it (issue 12).
/// A passed rule's detail is then empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sentences {
    All,
    FailuresOnly,
    /// What the run stores: [`Sentences::FailuresOnly`], but for the two failures most contacts
    /// have, a rise too small ([`RiseSentence`](super::contact_rules::RiseSentence)) and a closed
    /// window ([`WindowSentence`](super::window_rule::WindowSentence)), whose detail is left
    /// empty. The run stores what those sentences are made of and `evaluation::outcomes` renders
    /// them when a decision is read: writing them out was a fifth of a decision row's bytes and
    /// most of the formatting left in a run (issue 12).
    Stored,
}

impl Sentences {
    /// Whether an evaluation lists the observations its score was computed from: only when it
    /// explains itself whole ([`Sentences::All`]).
    pub(super) fn lists_observations(self) -> bool {
        self == Sentences::All
    }

    /// Whether an outcome's sentence is written: one that `passed` or failed, of a rule whose
    /// failure a stored decision can render when read (`read_later`) or not.
    pub(super) fn says(self, passed: bool, read_later: bool) -> bool {
        match self {
            Sentences::All => true,
            Sentences::FailuresOnly => !passed,
            Sentences::Stored => !passed && !read_later,
        }
    }
}

/// The reason implied by a list of outcomes: the first failing rule, else eligible.
pub fn first_failure(outcomes: &[RuleOutcome]) -> Reason {
    outcomes
        .iter()
        .find(|o| !o.passed)
        .map_or(Reason::Eligible, |o| o.rule.failure())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_indexes_its_own_slot_in_spec_order() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
