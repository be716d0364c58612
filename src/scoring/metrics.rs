//! This process's profile polls by outcome and chronology checks by state: process-wide plain
//! atomics (no metrics crate and its recorder), shared by every app in the process, so tests read
//! differences; `/v1/admin/stats` and `/metrics` show [`PollCounters::snapshot`] and
//! [`chronology_checks`].

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use super::chronology::{Chronology, STATES};

pub struct PollCounters {
    profile: AtomicU64,
    not_found: AtomicU64,
    failed: AtomicU64,
}

pub static POLLS: PollCounters = PollCounters {
    profile: AtomicU64::new(0),
    not_found: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// The outcome of one profile poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    Profile,
    NotFound,
    Failed,
}

impl PollCounters {
    pub fn poll(&self, outcome: PollOutcome) {
        let c = match outcome {
            PollOutcome::Profile => &self.profile,
            PollOutcome::NotFound => &self.not_found,
            PollOutcome::Failed => &self.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> PollCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PollCounts {
            profile: get(&self.profile),
            not_found: get(&self.not_found),
            failed: get(&self.failed),
        }
    }
}

/// Profile polls by outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PollCounts {
    pub profile: u64,
    pub not_found: u64,
    pub failed: u64,
}

/// Chronology checks by state, indexed by `Chronology as usize`.
static CHRONOLOGY: [AtomicU64; STATES.len()] = [const { AtomicU64::new(0) }; STATES.len()];

pub fn chronology_checked(state: Chronology) {
    CHRONOLOGY[state as usize].fetch_add(1, Ordering::Relaxed);
}

/// This instance's chronology checks per state since it started, in [`STATES`] order.
pub fn chronology_checks() -> [(Chronology, u64); STATES.len()] {
    STATES.map(|s| (s, CHRONOLOGY[s as usize].load(Ordering::Relaxed)))
}
