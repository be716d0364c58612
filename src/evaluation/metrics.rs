//! This process's decisions by reason: process-wide plain atomics (no metrics crate and its
//! recorder), shared by every app in the process, so tests read differences; `/v1/admin/stats`
//! and `/metrics` show [`DecisionCounters::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use crate::eligibility::Reason;

pub struct DecisionCounters {
    by_reason: [AtomicU64; Reason::ALL.len()],
}

pub static DECISIONS: DecisionCounters = DecisionCounters {
    by_reason: [const { AtomicU64::new(0) }; Reason::ALL.len()],
};

impl DecisionCounters {
    pub fn record(&self, reason: Reason, n: u64) {
        self.by_reason[reason as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Every reason, in SPEC order.
    pub fn snapshot(&self) -> Vec<ReasonCount> {
        Reason::ALL
            .iter()
            .map(|r| ReasonCount {
                reason: r.as_str(),
                count: self.by_reason[*r as usize].load(Ordering::Relaxed),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonCount {
    pub reason: &'static str,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_has_every_reason_in_spec_order() {
        let c = DecisionCounters {
            by_reason: [const { AtomicU64::new(0) }; Reason::ALL.len()],
        };
        c.record(Reason::Eligible, 3);
        let s = c.snapshot();
        let reasons: Vec<&str> = s.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, Reason::ALL.map(Reason::as_str));
        assert_eq!(s[Reason::Eligible as usize].count, 3);
        assert_eq!(s[0].count, 0);
    }
}
