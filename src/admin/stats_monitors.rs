//! The seed's two monitors (issue 11 §2) in `/v1/admin/stats` and `/metrics`: chronology checks and
//! contacts by state, and the open change watches with their figures.

use serde::Serialize;
use utoipa::ToSchema;

use super::changes::{ChangeView, open_watches};
use super::stats::{Family, family, label, single};
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::scoring::watch::WatchFigures;
use crate::scoring::{metrics, monitor_store};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StateCount {
    /// `consistent`, `lag`, `inversion` or `unknown`.
    #[schema(example = "inversion")]
    pub state: &'static str,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MonitorStats {
    /// This instance's chronology checks since it started (one per polled profile), by state.
    pub chronology_checks: Vec<StateCount>,
    /// Contacts by the state of their latest chronology check (all instances).
    pub chronology_contacts: Vec<StateCount>,
    /// The changes whose score stability watch is open, with its figures (as of the figures'
    /// computation, at most 5 s ago).
    pub open_watches: Vec<ChangeView>,
}

/// The database figures of the monitors (computed with the other cached figures).
#[derive(Debug, Clone, Default)]
pub struct MonitorTables {
    contacts: Vec<StateCount>,
    watches: Vec<ChangeView>,
}

pub async fn count(state: &AppState) -> Result<MonitorTables, ApiError> {
    let contacts = monitor_store::chronology_contacts(&state.reads)
        .await?
        .into_iter()
        .map(|(s, n)| StateCount {
            state: s.as_str(),
            count: u64::try_from(n).unwrap_or(0),
        })
        .collect();
    Ok(MonitorTables {
        contacts,
        watches: open_watches(state).await?,
    })
}

/// The tables' figures with this instance's chronology counters.
pub fn stats_of(t: &MonitorTables) -> MonitorStats {
    MonitorStats {
        chronology_checks: metrics::chronology_checks()
            .into_iter()
            .map(|(s, count)| StateCount {
                state: s.as_str(),
                count,
            })
            .collect(),
        chronology_contacts: t.contacts.clone(),
        open_watches: t.watches.clone(),
    }
}

fn by_state(counts: &[StateCount]) -> Vec<(String, f64)> {
    counts
        .iter()
        .map(|c| (label("state", c.state), c.count as f64))
        .collect()
}

/// Per open watch, `figure` labelled by the change's id and kind.
fn per_watch(m: &MonitorStats, figure: impl Fn(&ChangeView) -> f64) -> Vec<(String, f64)> {
    m.open_watches
        .iter()
        .map(|c| {
            (
                format!("{{change=\"{}\",kind=\"{}\"}}", c.id, c.kind),
                figure(c),
            )
        })
        .collect()
}

fn figures(c: &ChangeView) -> WatchFigures {
    c.watch.as_ref().map(|w| w.figures).unwrap_or_default()
}

fn suspect(c: &ChangeView) -> bool {
    c.watch.as_ref().is_some_and(|w| w.suspect)
}

/// The monitors' metric families: per open watch, gauges labelled by the change's id and kind.
pub(super) fn families(m: &MonitorStats) -> Vec<Family> {
    let watch = |figure: fn(&ChangeView) -> f64| per_watch(m, figure);
    let suspects = m.open_watches.iter().filter(|c| suspect(c)).count();
    vec![
        family(
            "pesync_chronology_checks_total",
            "counter",
            "Chronology checks of polled profiles by this instance, by state.",
            by_state(&m.chronology_checks),
        ),
        family(
            "pesync_chronology_contacts",
            "gauge",
            "Contacts by the state of their latest chronology check, all instances.",
            by_state(&m.chronology_contacts),
        ),
        family(
            "pesync_change_watch_contacts",
            "gauge",
            "Contacts an open change watch compared (scores before and after the change).",
            watch(|c| figures(c).contacts as f64),
        ),
        family(
            "pesync_change_watch_drop_share",
            "gauge",
            "Share of compared contacts whose score dropped by more than the dampening delta.",
            watch(|c| figures(c).drop_share),
        ),
        family(
            "pesync_change_watch_plateau_share",
            "gauge",
            "Share of compared contacts whose scores stayed unchanged across observations.",
            watch(|c| figures(c).plateau_share),
        ),
        family(
            "pesync_change_watch_mean_shift",
            "gauge",
            "Mean score shift (latest after the change minus before) of the compared contacts.",
            watch(|c| figures(c).mean_shift),
        ),
        family(
            "pesync_change_watch_suspect",
            "gauge",
            "1 while an open change watch is past its bounds, else 0.",
            watch(|c| if suspect(c) { 1.0 } else { 0.0 }),
        ),
        single(
            "pesync_change_watches_suspect",
            "gauge",
            "Open change watches past their bounds.",
            suspects as u64,
        ),
    ]
}
