//! Warnings that would repeat every round (events waiting for `pesync genesys setup`, a
//! configuration gone) are logged at most once per `EVERY` per kind, by whichever worker loop of
//! the instance sees it first: the log says why events wait without drowning in it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often one kind of warning may be logged.
pub const EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Notices(Mutex<HashMap<String, Instant>>);

impl Notices {
    /// Whether the warning `kind` may be logged at `now`; if so, it counts as logged.
    pub fn due(&self, kind: &str, now: Instant) -> bool {
        // A map of instants: a panic elsewhere cannot leave it inconsistent.
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match last.get(kind) {
            Some(at) if now.saturating_duration_since(*at) < EVERY => false,
            _ => {
                last.insert(kind.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_period_and_kind() {
        let n = Notices::default();
        let t0 = Instant::now();
        assert!(n.due("not_set_up", t0));
        assert!(!n.due("not_set_up", t0 + EVERY - Duration::from_millis(1)));
        assert!(n.due("gone", t0), "another kind has its own period");
        assert!(n.due("not_set_up", t0 + EVERY));
        assert!(!n.due("not_set_up", t0 + EVERY));
    }
}
