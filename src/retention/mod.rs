//! Bounded growth (docs/RETENTION.md): what pesync keeps, and for how long. An hourly job
//! (`PESYNC_PRUNE_CRON`, once per tick across the cluster) deletes what the policy lets go, in small
//! batches ([`prune`]).
//!
//! The cut-offs are computed here, purely, from the settings, the largest windows any thresholds
//! version has set, and `now`. What is *never* pruned however old — pending events, open
//! quarantine and reconciliation items, the newest decision per contact and campaign, the newest
//! snapshot and hand-over per contact, the observations the score rules still read — is decided by
//! the statements in [`prune`], each of which says why.

mod batch;
mod histories;
pub mod prune;
mod statements;

use chrono::{DateTime, TimeDelta, Utc};

pub use prune::{PruneReport, Table, prune_once};

/// Default days kept for delivered and dead-lettered events, resolved quarantine and discarded
/// reconciliation items.
pub const DEFAULT_EVENTS_DAYS: u32 = 30;
/// Default days kept for decisions, profile snapshots and score observations.
pub const DEFAULT_SCORING_DAYS: u32 = 90;
/// Default days kept for hand-overs and settled dialer-queue items.
pub const DEFAULT_HANDOVER_DAYS: u32 = 90;
/// Longest retention accepted: ten years, as the longest threshold duration.
pub const MAX_DAYS: u32 = 3650;
/// Rows deleted per statement: small enough that each batch is a short transaction that never
/// holds locks ingestion waits for.
pub const BATCH: i64 = 5_000;

/// The retention settings (`PESYNC_RETENTION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub events_days: u32,
    pub scoring_days: u32,
    pub handover_days: u32,
    /// Rows per delete statement ([`BATCH`]; tests make it small to cross batch boundaries).
    pub batch: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            events_days: DEFAULT_EVENTS_DAYS,
            scoring_days: DEFAULT_SCORING_DAYS,
            handover_days: DEFAULT_HANDOVER_DAYS,
            batch: BATCH,
        }
    }
}

/// The largest windows any thresholds version has ever set. The largest rather than the current
/// one: an operator who shortens a window and lengthens it again must find what it covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// `dedup_window_seconds`: a dedup key younger than this still stops a duplicate.
    pub dedup: TimeDelta,
    /// `rise_window_seconds`: the rise rule reads the effective score this far back.
    pub rise: TimeDelta,
    /// `dampening_window_seconds`: whether an observation was applied depends on the one before.
    pub dampening: TimeDelta,
}

/// The instants before which each kind of row may go (rows at or after them always stay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub dedup_keys: DateTime<Utc>,
    /// Delivered and dead-lettered events, resolved quarantine, discarded reconciliation items.
    pub events: DateTime<Utc>,
    pub decisions: DateTime<Utc>,
    pub snapshots: DateTime<Utc>,
    /// Never later than `now - rise window`, so the rise rule's trailing window stays whole.
    pub observations: DateTime<Utc>,
    /// See [`prune`]: an observation this long after the one before it was applied for sure.
    pub observation_gap: TimeDelta,
    /// Hand-overs and settled dialer-queue items.
    pub handovers: DateTime<Utc>,
}

/// The earliest instant a cut-off or a cursor takes: 0001-01-01, which PostgreSQL stores (chrono's
/// own minimum it does not).
pub fn earliest() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).expect("0001-01-01 is in range")
}

/// `now - age`, never before [`earliest`] (a window that long keeps everything).
fn before(now: DateTime<Utc>, age: TimeDelta) -> DateTime<Utc> {
    now.checked_sub_signed(age)
        .map_or(earliest(), |t| t.max(earliest()))
}

fn days(n: u32) -> TimeDelta {
    TimeDelta::days(i64::from(n))
}

impl Cutoffs {
    /// The cut-offs at `now`. Pure: the prune job and the tests call the same function.
    pub fn compute(policy: &Policy, windows: &Windows, now: DateTime<Utc>) -> Self {
        let scoring = before(now, days(policy.scoring_days));
        Self {
            dedup_keys: before(now, windows.dedup),
            events: before(now, days(policy.events_days)),
            decisions: scoring,
            snapshots: scoring,
            observations: scoring.min(before(now, windows.rise)),
            observation_gap: windows.dampening,
            handovers: before(now, days(policy.handover_days)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    fn windows(dedup_h: i64, rise_h: i64) -> Windows {
        Windows {
            dedup: TimeDelta::hours(dedup_h),
            rise: TimeDelta::hours(rise_h),
            dampening: TimeDelta::hours(1),
        }
    }

    #[test]
    fn defaults_keep_30_days_of_events_and_90_of_the_rest() {
        let c = Cutoffs::compute(&Policy::default(), &windows(24, 24), now());
        assert_eq!(c.dedup_keys, now() - TimeDelta::hours(24));
        assert_eq!(c.events, now() - TimeDelta::days(30));
        assert_eq!(c.decisions, now() - TimeDelta::days(90));
        assert_eq!(c.snapshots, now() - TimeDelta::days(90));
        assert_eq!(c.observations, now() - TimeDelta::days(90));
        assert_eq!(c.handovers, now() - TimeDelta::days(90));
        assert_eq!(c.observation_gap, TimeDelta::hours(1));
    }

    #[test]
    fn settings_move_their_own_cutoffs_only() {
        let policy = Policy {
            events_days: 7,
            scoring_days: 400,
            handover_days: 1,
            batch: 10,
        };
        let c = Cutoffs::compute(&policy, &windows(48, 24), now());
        assert_eq!(c.dedup_keys, now() - TimeDelta::hours(48));
        assert_eq!(c.events, now() - TimeDelta::days(7));
        assert_eq!(c.decisions, now() - TimeDelta::days(400));
        assert_eq!(c.handovers, now() - TimeDelta::days(1));
    }

    #[test]
    fn observations_keep_the_whole_rise_window_when_it_is_longer() {
        // A rise window of 200 days reads the score in force 200 days ago: keep that far back.
        let c = Cutoffs::compute(&Policy::default(), &windows(24, 200 * 24), now());
        assert_eq!(c.observations, now() - TimeDelta::days(200));
        assert_eq!(c.decisions, now() - TimeDelta::days(90));
    }

    #[test]
    fn a_window_beyond_the_calendar_prunes_nothing_rather_than_panicking() {
        let w = Windows {
            dedup: TimeDelta::MAX,
            rise: TimeDelta::MAX,
            dampening: TimeDelta::hours(1),
        };
        let c = Cutoffs::compute(&Policy::default(), &w, now());
        assert_eq!(c.dedup_keys, earliest());
        assert_eq!(c.observations, earliest());
        assert_eq!(earliest().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
