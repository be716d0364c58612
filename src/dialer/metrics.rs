//! This process's hand-overs to the dialer by mode, refusals and push retries: process-wide plain
//! atomics (no metrics crate and its recorder), shared by every app in the process, so tests read
//! differences; `/v1/admin/stats` and `/metrics` show [`HandOverCounters::snapshot`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

pub struct HandOverCounters {
    push: AtomicU64,
    pull: AtomicU64,
    rejected: AtomicU64,
    push_retries: AtomicU64,
}

pub static HAND_OVERS: HandOverCounters = HandOverCounters {
    push: AtomicU64::new(0),
    pull: AtomicU64::new(0),
    rejected: AtomicU64::new(0),
    push_retries: AtomicU64::new(0),
};

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl HandOverCounters {
    pub fn handed_over(&self, push: bool, n: u64) {
        add(if push { &self.push } else { &self.pull }, n)
    }
    pub fn rejected(&self, n: u64) {
        add(&self.rejected, n)
    }
    pub fn push_retry(&self) {
        add(&self.push_retries, 1)
    }

    pub fn snapshot(&self) -> HandOverCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HandOverCounts {
            by_mode: ModeCounts {
                push: get(&self.push),
                pull: get(&self.pull),
            },
            rejected: get(&self.rejected),
            push_retries: get(&self.push_retries),
        }
    }
}

pub struct HandOverCounts {
    pub by_mode: ModeCounts,
    pub rejected: u64,
    pub push_retries: u64,
}

/// Contacts handed to the dialer, by mode.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModeCounts {
    pub push: u64,
    pub pull: u64,
}
