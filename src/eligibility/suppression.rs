//! The suppression list as the rules see it (issue 11 §4): a contact on it must never be called.
//! Checked right after `no_profile`; an entry whose expiry has passed no longer suppresses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::reason::{Rule, RuleOutcome, Sentences};
use super::rules::outcome;
use super::words::At;

/// A contact's entry on the suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// When the suppression ends (excluded); null: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Suppression {
    /// Whether the entry suppresses at `now`: no expiry, or an expiry still ahead.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// The rule: passes unless an active entry exists.
pub fn suppression_rule(
    entry: Option<&Suppression>,
    now: DateTime<Utc>,
    say: Sentences,
) -> RuleOutcome {
    let rule = Rule::Suppression;
    match entry {
        None => outcome(rule, true, say, || "not on the suppression list".into()),
        Some(s) => match s.expires_at {
            None => outcome(rule, false, say, || {
                "on the suppression list, without expiry".into()
            }),
            Some(at) if s.active(now) => outcome(rule, false, say, || {
                format!("on the suppression list until {}", At(at))
            }),
            Some(at) => outcome(rule, true, say, || {
                format!("suppression expired at {}", At(at))
            }),
        },
    }
}

/// When the suppression of `entry` ends at `now`, if it is active and has an expiry: the run
/// evaluates the contact again then (like a deferral).
pub fn suppressed_until(entry: Option<&Suppression>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    entry.filter(|s| s.active(now)).and_then(|s| s.expires_at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn no_entry_passes() {
        let o = suppression_rule(None, now(), Sentences::All);
        assert!(o.passed);
        assert_eq!(suppressed_until(None, now()), None);
    }

    #[test]
    fn an_entry_without_expiry_always_suppresses() {
        let s = Suppression { expires_at: None };
        assert!(!suppression_rule(Some(&s), now(), Sentences::All).passed);
        assert!(!suppression_rule(Some(&s), DateTime::<Utc>::MAX_UTC, Sentences::All).passed);
        assert_eq!(suppressed_until(Some(&s), now()), None);
    }

    #[test]
    fn an_expiry_ends_the_suppression_at_that_instant() {
        let at = now() + TimeDelta::hours(1);
        let s = Suppression {
            expires_at: Some(at),
        };
        assert!(!suppression_rule(Some(&s), now(), Sentences::All).passed);
        assert!(!suppression_rule(Some(&s), at - TimeDelta::seconds(1), Sentences::All).passed);
        assert!(
            suppression_rule(Some(&s), at, Sentences::All).passed,
            "the expiry is excluded"
        );
        assert!(suppression_rule(Some(&s), at + TimeDelta::days(1), Sentences::All).passed);
        assert_eq!(suppressed_until(Some(&s), now()), Some(at));
        assert_eq!(suppressed_until(Some(&s), at), None);
    }

    #[test]
    fn an_expiry_in_the_past_does_not_suppress() {
        let s = Suppression {
            expires_at: Some(now() - TimeDelta::seconds(1)),
        };
        let o = suppression_rule(Some(&s), now(), Sentences::All);
        assert!(o.passed);
        assert!(o.detail.contains("expired"));
    }
}
