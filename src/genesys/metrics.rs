//! This process's count of 429 answers from Genesys, whichever stage's request got them: a
//! process-wide atomic that `/metrics` and `/v1/admin/stats` read (tests compare differences).

use std::sync::atomic::{AtomicU64, Ordering};

static RESPONSES_429: AtomicU64 = AtomicU64::new(0);

pub fn response_429() {
    RESPONSES_429.fetch_add(1, Ordering::Relaxed);
}

pub fn responses_429() -> u64 {
    RESPONSES_429.load(Ordering::Relaxed)
}
