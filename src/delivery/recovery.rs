//! Draining a backlog when the tenant answers again (issue 8, defect 11).
//!
//! During an outage every contact backs off on its own (1 s doubling, capped at 5 min, full
//! jitter), which is right while the tenant is down; but once it is back, a contact whose backoff
//! grew to minutes would sit it out although the rate ceiling has room for it. So the first answer
//! after a run of transient failures (5xx, timeouts, connection errors) wakes every contact waiting
//! out a backoff (`store::wake_retrying`); the backlog then drains at the ceiling. While the tenant
//! looks down, one waiting contact is tried early every `PROBE_EVERY` (`store::probe_one`): that is
//! the probe whose success ends the outage, so recovery is noticed within seconds even when every
//! backoff is long. A contact that fails alone while the tenant answers others never reaches a
//! "run", so it keeps its own backoff; only when it is the only traffic is it tried every
//! `PROBE_EVERY`.
//!
//! Per instance: each instance notices the recovery from its own answers, and a wake updates the
//! shared queue, so one instance's wake serves the cluster.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive transient failures, with no answer in between, that mean "the tenant is down".
pub const OUTAGE_AFTER: u32 = 3;
/// How often a waiting contact is tried early while the tenant looks down.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Recovery(Mutex<State>);

#[derive(Debug)]
struct State {
    /// Transient failures since the tenant last answered.
    consecutive: u32,
    /// Set when an answer ends an outage, taken by the loop that runs the wake.
    wake: bool,
    last_probe: Option<Instant>,
}

impl Default for Recovery {
    /// Starts as if the tenant were down: after a restart during an outage, the backoffs stored
    /// in the queue are as long as before, and the first answer should wake them all the same.
    fn default() -> Self {
        Self(Mutex::new(State {
            consecutive: OUTAGE_AFTER,
            wake: false,
            last_probe: None,
        }))
    }
}

impl Recovery {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a counter and two flags: a panic elsewhere cannot leave it inconsistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A 5xx, a timeout or a connection error.
    pub fn failed(&self) {
        let mut s = self.state();
        s.consecutive = s.consecutive.saturating_add(1);
    }

    /// The tenant answered (a success, or a 4xx that is the request's fault). Returns whether this
    /// answer ends an outage; the wake is then pending until `take_wake`.
    pub fn answered(&self) -> bool {
        let mut s = self.state();
        let ends_outage = s.consecutive >= OUTAGE_AFTER;
        s.consecutive = 0;
        s.wake |= ends_outage;
        ends_outage
    }

    /// Whether a wake is pending; the caller that gets `true` runs it.
    pub fn take_wake(&self) -> bool {
        std::mem::take(&mut self.state().wake)
    }

    /// Whether a probe is due at `now` (the tenant looks down and none was made for
    /// `PROBE_EVERY`); if so, it counts as made.
    pub fn probe_due(&self, now: Instant) -> bool {
        let mut s = self.state();
        let due = s.consecutive >= OUTAGE_AFTER
            && s.last_probe
                .is_none_or(|at| now.saturating_duration_since(at) >= PROBE_EVERY);
        if due {
            s.last_probe = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Recovery {
        let r = Recovery::default();
        r.answered();
        r.take_wake();
        r
    }

    #[test]
    fn the_first_answer_after_a_run_of_failures_wakes_once() {
        let r = healthy();
        for _ in 0..OUTAGE_AFTER {
            assert!(!r.take_wake());
            r.failed();
        }
        assert!(r.answered(), "the run of failures is over");
        assert!(r.take_wake());
        assert!(!r.take_wake(), "one wake per recovery");
        assert!(!r.answered(), "the next answer is business as usual");
        assert!(!r.take_wake());
    }

    #[test]
    fn failures_between_answers_are_no_outage() {
        // One contact failing on its own among contacts that succeed keeps its own backoff.
        let r = healthy();
        for _ in 0..10 {
            r.failed();
            r.failed();
            assert!(!r.answered());
        }
        assert!(!r.take_wake());
        assert!(!r.probe_due(Instant::now()));
    }

    #[test]
    fn a_new_process_treats_its_first_answer_as_a_recovery() {
        let r = Recovery::default();
        assert!(r.answered());
        assert!(r.take_wake());
    }

    #[test]
    fn probes_only_while_down_and_every_probe_interval() {
        let t0 = Instant::now();
        let r = healthy();
        assert!(!r.probe_due(t0), "the tenant answers: no probe");
        for _ in 0..OUTAGE_AFTER {
            r.failed();
        }
        assert!(r.probe_due(t0));
        assert!(!r.probe_due(t0 + PROBE_EVERY - Duration::from_millis(1)));
        assert!(r.probe_due(t0 + PROBE_EVERY));
        assert!(!r.probe_due(t0 + PROBE_EVERY), "counted as made");
        r.answered();
        assert!(!r.probe_due(t0 + PROBE_EVERY * 3), "back up: no probes");
    }
}
