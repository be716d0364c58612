//! This process's counters (received, delivered, retries by cause, 429s, dead letters, …).
//!
//! One process-wide static of plain atomics rather than a metrics crate's recorder: `/metrics` and
//! `/v1/admin/stats` read the very same numbers. Every app in one process (tests start many)
//! shares it, so tests compare differences. Counters are per instance (Prometheus sums them across
//! instances); queue depths and ages are read from the database and so are cluster-wide.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;

use crate::delivery::Lane;
use crate::genesys::RetryCause;

#[derive(Default)]
pub struct Counters {
    events_received: AtomicU64,
    deprecated_stripped: AtomicU64,
    cdc_skipped: AtomicU64,
    delivered_realtime: AtomicU64,
    delivered_backfill: AtomicU64,
    late_arrivals: AtomicU64,
    dead_letters: AtomicU64,
    responses_429: AtomicU64,
    retries: [AtomicU64; RetryCause::ALL.len()],
}

pub static COUNTERS: Counters = Counters {
    events_received: AtomicU64::new(0),
    deprecated_stripped: AtomicU64::new(0),
    cdc_skipped: AtomicU64::new(0),
    delivered_realtime: AtomicU64::new(0),
    delivered_backfill: AtomicU64::new(0),
    late_arrivals: AtomicU64::new(0),
    dead_letters: AtomicU64::new(0),
    responses_429: AtomicU64::new(0),
    retries: [const { AtomicU64::new(0) }; RetryCause::ALL.len()],
};

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub fn received(&self, n: u64) {
        add(&self.events_received, n)
    }
    pub fn deprecated_stripped(&self, n: u64) {
        add(&self.deprecated_stripped, n)
    }
    /// Change events received and not ingested: tombstones, deletes the CDC mapping ignores.
    pub fn cdc_skipped(&self, n: u64) {
        add(&self.cdc_skipped, n)
    }
    pub fn delivered(&self, lane: Lane) {
        match lane {
            Lane::Realtime => add(&self.delivered_realtime, 1),
            Lane::Backfill => add(&self.delivered_backfill, 1),
        }
    }
    pub fn late_arrival(&self) {
        add(&self.late_arrivals, 1)
    }
    pub fn dead_letter(&self) {
        add(&self.dead_letters, 1)
    }
    pub fn response_429(&self) {
        add(&self.responses_429, 1)
    }
    pub fn retry(&self, cause: RetryCause) {
        add(&self.retries[cause as usize], 1)
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            events_received: get(&self.events_received),
            deprecated_attributes_stripped: get(&self.deprecated_stripped),
            cdc_changes_skipped: get(&self.cdc_skipped),
            delivered_realtime: get(&self.delivered_realtime),
            delivered_backfill: get(&self.delivered_backfill),
            late_arrivals: get(&self.late_arrivals),
            dead_letters: get(&self.dead_letters),
            responses_429: get(&self.responses_429),
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

/// This instance's counters since it started.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CounterSnapshot {
    pub events_received: u64,
    pub deprecated_attributes_stripped: u64,
    /// Change events received on `/cdc` and not ingested (tombstones, ignored deletes).
    pub cdc_changes_skipped: u64,
    pub delivered_realtime: u64,
    pub delivered_backfill: u64,
    pub late_arrivals: u64,
    pub dead_letters: u64,
    /// 429 answers from Genesys.
    pub responses_429: u64,
    pub retries: Vec<RetryCount>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetryCount {
    pub cause: &'static str,
    pub count: u64,
}
