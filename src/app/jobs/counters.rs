//! This process's counters of the scoring and campaign stages: polls by outcome, decisions by
//! reason, hand-overs by mode, dialer refusals and retries: one process-wide static of plain
//! atomics (no metrics crate and its recorder), shared by every app in the process, so tests read
//! differences, never absolute values; `/v1/admin/stats` and `/metrics` show their
//! [`ScoringCounters::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use crate::eligibility::Reason;

/// Reasons in SPEC order, indexable by `Reason as usize`.
pub const REASONS: [Reason; 10] = [
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

#[derive(Default)]
pub struct ScoringCounters {
    polls_profile: AtomicU64,
    polls_not_found: AtomicU64,
    polls_failed: AtomicU64,
    decisions: [AtomicU64; REASONS.len()],
    handed_over_push: AtomicU64,
    handed_over_pull: AtomicU64,
    push_rejected: AtomicU64,
    push_retries: AtomicU64,
}

pub static SCORING: ScoringCounters = ScoringCounters {
    polls_profile: AtomicU64::new(0),
    polls_not_found: AtomicU64::new(0),
    polls_failed: AtomicU64::new(0),
    decisions: [const { AtomicU64::new(0) }; REASONS.len()],
    handed_over_push: AtomicU64::new(0),
    handed_over_pull: AtomicU64::new(0),
    push_rejected: AtomicU64::new(0),
    push_retries: AtomicU64::new(0),
};

/// The outcome of one profile poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    Profile,
    NotFound,
    Failed,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl ScoringCounters {
    pub fn poll(&self, outcome: PollOutcome) {
        add(
            match outcome {
                PollOutcome::Profile => &self.polls_profile,
                PollOutcome::NotFound => &self.polls_not_found,
                PollOutcome::Failed => &self.polls_failed,
            },
            1,
        )
    }
    pub fn decisions(&self, reason: Reason, n: u64) {
        add(&self.decisions[reason as usize], n)
    }
    pub fn handed_over(&self, push: bool, n: u64) {
        add(
            if push {
                &self.handed_over_push
            } else {
                &self.handed_over_pull
            },
            n,
        )
    }
    pub fn push_rejected(&self, n: u64) {
        add(&self.push_rejected, n)
    }
    pub fn push_retry(&self) {
        add(&self.push_retries, 1)
    }

    pub fn snapshot(&self) -> ScoringSnapshot {
        ScoringSnapshot {
            polls: PollCounts {
                profile: get(&self.polls_profile),
                not_found: get(&self.polls_not_found),
                failed: get(&self.polls_failed),
            },
            decisions: REASONS
                .iter()
                .map(|r| ReasonCount {
                    reason: r.as_str(),
                    count: get(&self.decisions[*r as usize]),
                })
                .collect(),
            handed_over: ModeCounts {
                push: get(&self.handed_over_push),
                pull: get(&self.handed_over_pull),
            },
            dialer_rejected: get(&self.push_rejected),
            dialer_push_retries: get(&self.push_retries),
        }
    }
}

/// This instance's scoring and campaign counters since it started.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoringSnapshot {
    /// Profile polls by outcome.
    pub polls: PollCounts,
    /// Decisions recorded by the evaluation run, by reason (every reason, in SPEC order).
    pub decisions: Vec<ReasonCount>,
    /// Contacts handed to the dialer, by mode.
    pub handed_over: ModeCounts,
    /// Contacts the dialer refused for good (a 4xx).
    pub dialer_rejected: u64,
    /// Dialer pushes that failed and wait for a retry.
    pub dialer_push_retries: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PollCounts {
    pub profile: u64,
    pub not_found: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonCount {
    pub reason: &'static str,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModeCounts {
    pub push: u64,
    pub pull: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_index_their_own_slot() {
        for (i, r) in REASONS.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn the_snapshot_has_every_reason_in_spec_order() {
        let c = ScoringCounters::default();
        c.decisions(Reason::Eligible, 3);
        c.poll(PollOutcome::NotFound);
        c.handed_over(false, 2);
        let s = c.snapshot();
        let reasons: Vec<&str> = s.decisions.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, REASONS.map(Reason::as_str));
        assert_eq!(s.decisions[Reason::Eligible as usize].count, 3);
        assert_eq!(s.decisions[0].count, 0);
        assert_eq!((s.polls.not_found, s.polls.profile), (1, 0));
        assert_eq!((s.handed_over.pull, s.handed_over.push), (2, 0));
    }
}
