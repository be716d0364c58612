//! The score stability watch (issue 11 §2, the seed's "watch `score_history` for 48 hours after a
//! schema change"): after a mapping or manifest activation, the scores observed after the change
//! (polled, pushed or imported alike) are compared with each contact's latest score before it.
//! Pure: [`figures`] takes the pairs (`monitor_store::score_pairs` loads them; the watch job,
//! `watch_job`, keeps the result with the change) and [`assess`] judges the kept figures at `now`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::monitors::MonitorSettings;
use crate::eligibility::score::SCORE_TOLERANCE;

/// One contact a watch compares: its latest score before the change and the scores observed after
/// it, in time order (at least one).
#[derive(Debug, Clone, PartialEq)]
pub struct ScorePair {
    pub before: f64,
    pub after: Vec<f64>,
}

/// What a watch has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchFigures {
    /// Contacts with a score before the change and at least one after it.
    pub contacts: u64,
    /// Share of them whose latest score is lower than the one before by more than the dampening
    /// delta.
    pub drop_share: f64,
    /// Share of them with at least two scores after the change, every one equal to the score
    /// before: PE's scores stopped moving.
    pub plateau_share: f64,
    /// Mean of (latest score − score before) over them.
    pub mean_shift: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchState {
    /// Still watching: `now` is before the watch's end.
    Open,
    Closed,
}

impl WatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// A watch as of `now`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Watch {
    pub state: WatchState,
    /// The end of the watch: observations up to it count.
    pub until: DateTime<Utc>,
    /// Past the bounds (`PESYNC_WATCH_MAX_DROP_SHARE`, `PESYNC_WATCH_MAX_PLATEAU_SHARE`) once at
    /// least `PESYNC_WATCH_MIN_CONTACTS` contacts were compared.
    pub suspect: bool,
    /// As of `figures_at` (zeros before the watch job first ran).
    pub figures: WatchFigures,
    /// When the watch job computed the figures (`PESYNC_WATCH_CRON`); null before its first run.
    /// Figures computed at or after `until` are final.
    pub figures_at: Option<DateTime<Utc>>,
}

/// The figures of `pairs`. A drop counts when it exceeds `dampening_delta` (beyond the score
/// tolerance), so the same change the effective score would not ignore.
pub fn figures(pairs: &[ScorePair], dampening_delta: f64) -> WatchFigures {
    let mut contacts = 0u64;
    let (mut dropped, mut plateaued, mut shift) = (0u64, 0u64, 0.0);
    for p in pairs {
        let Some(latest) = p.after.last() else {
            continue;
        };
        contacts += 1;
        if p.before - latest - dampening_delta > SCORE_TOLERANCE {
            dropped += 1;
        }
        let unchanged = p
            .after
            .iter()
            .all(|s| (s - p.before).abs() <= SCORE_TOLERANCE);
        if p.after.len() >= 2 && unchanged {
            plateaued += 1;
        }
        shift += latest - p.before;
    }
    if contacts == 0 {
        return WatchFigures::default();
    }
    let n = contacts as f64;
    WatchFigures {
        contacts,
        drop_share: dropped as f64 / n,
        plateau_share: plateaued as f64 / n,
        mean_shift: shift / n,
    }
}

/// Whether `f` is past the bounds of `m`.
pub fn is_suspect(f: &WatchFigures, m: &MonitorSettings) -> bool {
    let enough = f.contacts >= u64::try_from(m.min_contacts).unwrap_or(u64::MAX);
    enough && (f.drop_share > m.max_drop_share || f.plateau_share > m.max_plateau_share)
}

/// Open until `until` (exclusive), closed from then on.
pub fn state(until: DateTime<Utc>, now: DateTime<Utc>) -> WatchState {
    if now < until {
        WatchState::Open
    } else {
        WatchState::Closed
    }
}

/// The end of the observations a watch ending at `until` counts at `now`: its end, or while it is
/// open everything observed up to `now` (inclusive; an observation stamped later has not happened).
pub fn counted_until(until: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let now_inclusive = now
        .checked_add_signed(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now);
    until.min(now_inclusive)
}

/// Whether figures computed at `at` are final for a watch ending at `until`.
pub fn is_final(at: DateTime<Utc>, until: DateTime<Utc>) -> bool {
    at >= until
}

/// The watch ending at `until`, as of `now`, from the figures last computed (`None`: not yet).
pub fn assess(
    computed: Option<(WatchFigures, DateTime<Utc>)>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    m: &MonitorSettings,
) -> Watch {
    let (figures, figures_at) = match computed {
        Some((f, at)) => (f, Some(at)),
        None => (WatchFigures::default(), None),
    };
    Watch {
        state: state(until, now),
        until,
        suspect: is_suspect(&figures, m),
        figures,
        figures_at,
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
