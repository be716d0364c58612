//! This process's delivery counters: delivered per lane, late arrivals, dead letters, retries by
//! cause. Process-wide plain atomics rather than a metrics crate's recorder: `/metrics` and
//! `/v1/admin/stats` read the very same numbers. Every app in one process (tests start many)
//! shares them, so tests compare differences. Counters are per instance (Prometheus sums them
//! across instances); queue depths and ages are read from the database and so are cluster-wide.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use crate::delivery::Lane;
use crate::genesys::RetryCause;

pub struct DeliveryCounters {
    realtime: AtomicU64,
    backfill: AtomicU64,
    late_arrivals: AtomicU64,
    dead_letters: AtomicU64,
    retries: [AtomicU64; RetryCause::ALL.len()],
}

pub static DELIVERY: DeliveryCounters = DeliveryCounters {
    realtime: AtomicU64::new(0),
    backfill: AtomicU64::new(0),
    late_arrivals: AtomicU64::new(0),
    dead_letters: AtomicU64::new(0),
    retries: [const { AtomicU64::new(0) }; RetryCause::ALL.len()],
};

/// What [`DELIVERY`] has counted since the process started.
pub struct DeliveryCounts {
    pub realtime: u64,
    pub backfill: u64,
    pub late_arrivals: u64,
    pub dead_letters: u64,
    pub retries: Vec<RetryCount>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetryCount {
    pub cause: &'static str,
    pub count: u64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl DeliveryCounters {
    pub fn delivered(&self, lane: Lane) {
        match lane {
            Lane::Realtime => add(&self.realtime, 1),
            Lane::Backfill => add(&self.backfill, 1),
        }
    }
    pub fn late_arrival(&self) {
        add(&self.late_arrivals, 1)
    }
    pub fn dead_letter(&self) {
        add(&self.dead_letters, 1)
    }
    pub fn retry(&self, cause: RetryCause) {
        add(&self.retries[cause as usize], 1)
    }

    pub fn snapshot(&self) -> DeliveryCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DeliveryCounts {
            realtime: get(&self.realtime),
            backfill: get(&self.backfill),
            late_arrivals: get(&self.late_arrivals),
            dead_letters: get(&self.dead_letters),
            retries: RetryCause::ALL
                .iter()
                .map(|c| RetryCount {
                    cause: c.as_str(),
                    count: get(&self.retries[*c as usize]),
                })
                .collect(),
        }
    }
}
