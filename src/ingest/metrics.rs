//! This process's intake counters: events received, deprecated attributes stripped, change events
//! skipped. Process-wide plain atomics rather than a metrics crate's recorder: `/metrics` and
//! `/v1/admin/stats` read the very same numbers. Every app in one process (tests start many)
//! shares them, so tests compare differences.

use std::sync::atomic::{AtomicU64, Ordering};

pub struct IntakeCounters {
    received: AtomicU64,
    deprecated_stripped: AtomicU64,
    cdc_skipped: AtomicU64,
}

pub static INTAKE: IntakeCounters = IntakeCounters {
    received: AtomicU64::new(0),
    deprecated_stripped: AtomicU64::new(0),
    cdc_skipped: AtomicU64::new(0),
};

/// What [`INTAKE`] has counted since the process started.
pub struct IntakeCounts {
    pub received: u64,
    pub deprecated_stripped: u64,
    pub cdc_skipped: u64,
}

impl IntakeCounters {
    pub fn received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }
    pub fn deprecated_stripped(&self, n: u64) {
        self.deprecated_stripped.fetch_add(n, Ordering::Relaxed);
    }
    /// Change events received and not ingested: tombstones, deletes the CDC mapping ignores.
    pub fn cdc_skipped(&self, n: u64) {
        self.cdc_skipped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> IntakeCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IntakeCounts {
            received: get(&self.received),
            deprecated_stripped: get(&self.deprecated_stripped),
            cdc_skipped: get(&self.cdc_skipped),
        }
    }
}
