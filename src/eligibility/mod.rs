//! Eligibility: which contacts a campaign takes now, and why (SPEC §7, §11.10–15).
//!
//! Every rule is a pure function over plain data and an injected `now`: no database, no clock, no
//! HTTP. The scheduled run and the dry run (`POST /v1/admin/evaluate`) load the facts, call
//! [`evaluate`] per contact and campaign, then [`assign()`] per contact across campaigns, and store
//! what comes back. That is what makes each rule testable in microseconds and explainable to an
//! operator: an [`Evaluation`] carries the outcome of every rule, not only the first failure.
//!
//! * [`score`] — effective score and dampening (rule 1);
//! * [`campaign`] — the campaign document and tiers (rule 2);
//! * [`rise`] — the rise over the trailing window (rule 3);
//! * [`rules`] — all rules in order, cooldown and channel included (rules 2–6);
//! * [`contact_rules`] — the rules that are the contact's own, computed once for every campaign;
//! * [`moment`] — the instant decided at, and the windows read at it, once per distinct window;
//! * [`reason`] — reason codes and rule outcomes, the record of a decision;
//! * [`mod@assign`] — one run, several campaigns: the highest priority takes the contact (rule 4);
//! * [`window`] — local wall-clock windows across daylight-saving changes, calling hours (rule 6);
//! * [`suppression`] — the suppression list (checked right after the profile);
//! * [`words`] — how the sentences write times and lists.

pub mod assign;
pub mod campaign;
pub mod contact_rules;
pub mod cooldown;
pub mod moment;
pub mod reason;
pub mod rise;
pub mod rules;
pub mod score;
pub mod suppression;
pub mod window;
mod window_rule;
pub mod words;

#[cfg(test)]
pub(crate) mod tests;

pub use assign::{assign, campaign_order};
pub use campaign::{Campaign, Mode, Tier};
pub use contact_rules::{ContactRules, RiseSentence};
pub use moment::Moment;
pub use reason::{Reason, Rule, RuleOutcome, Sentences, first_failure};
pub use rules::{ContactFacts, Evaluation, evaluate, evaluate_for, evaluate_with};
pub use score::{
    Observation, ObservationView, SCORE_TOLERANCE, ScoreSeries, validate_observations,
};
pub use suppression::Suppression;
pub use window::{
    CallingHours, InvalidTimeZone, Window, WindowState, ZonedWindow, parse_time_zone,
};
pub use window_rule::WindowSentence;
