//! This process's counters of the scoring and campaign stages: polls by outcome, decisions by
//! reason, hand-overs by mode, dialer refusals and retries. Plain atomics (no global recorder), so
//! several apps in one test process do not interfere; `/metrics` renders them with
//! [`ScoringCounters::render`].

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::eligibility::Reason;

/// Reasons in SPEC order, indexable by `Reason as usize`.
pub const REASONS: [Reason; 8] = [
    Reason::NoProfile,
    Reason::TierNotTargeted,
    Reason::InsufficientRise,
    Reason::Cooldown,
    Reason::ChannelUnsupported,
    Reason::InvalidTimezone,
    Reason::DeferredOutsideWindow,
    Reason::Eligible,
];

#[derive(Default)]
pub struct ScoringCounters {
    polls_profile: AtomicU64,
    polls_not_found: AtomicU64,
    polls_failed: AtomicU64,
    decisions: [AtomicU64; 8],
    handed_over_push: AtomicU64,
    handed_over_pull: AtomicU64,
    push_rejected: AtomicU64,
    push_retries: AtomicU64,
}

pub static SCORING: ScoringCounters = ScoringCounters {
    polls_profile: AtomicU64::new(0),
    polls_not_found: AtomicU64::new(0),
    polls_failed: AtomicU64::new(0),
    decisions: [const { AtomicU64::new(0) }; 8],
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

    /// Appends the counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let mut metric = |name: &str, help: &str, rows: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        metric(
            "pesync_profile_polls_total",
            "Profile polls by outcome.",
            &[
                ("{outcome=\"profile\"}".into(), get(&self.polls_profile)),
                ("{outcome=\"not_found\"}".into(), get(&self.polls_not_found)),
                ("{outcome=\"failed\"}".into(), get(&self.polls_failed)),
            ],
        );
        let decisions: Vec<(String, u64)> = REASONS
            .iter()
            .map(|r| {
                (
                    format!("{{reason=\"{}\"}}", r.as_str()),
                    get(&self.decisions[*r as usize]),
                )
            })
            .collect();
        metric(
            "pesync_decisions_total",
            "Decisions recorded by the evaluation run, by reason.",
            &decisions,
        );
        metric(
            "pesync_dialer_handed_over_total",
            "Contacts handed to the dialer, by mode.",
            &[
                ("{mode=\"push\"}".into(), get(&self.handed_over_push)),
                ("{mode=\"pull\"}".into(), get(&self.handed_over_pull)),
            ],
        );
        metric(
            "pesync_dialer_rejected_total",
            "Contacts the dialer refused for good (a 4xx).",
            &[(String::new(), get(&self.push_rejected))],
        );
        metric(
            "pesync_dialer_push_retries_total",
            "Dialer pushes that failed and wait for a retry.",
            &[(String::new(), get(&self.push_retries))],
        );
    }
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
    fn renders_prometheus_text() {
        let c = ScoringCounters::default();
        c.decisions(Reason::Eligible, 3);
        c.poll(PollOutcome::NotFound);
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains("pesync_decisions_total{reason=\"eligible\"} 3"));
        assert!(out.contains("pesync_profile_polls_total{outcome=\"not_found\"} 1"));
        assert!(out.contains("# TYPE pesync_dialer_rejected_total counter"));
    }
}
