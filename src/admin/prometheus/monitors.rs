//! The monitors' families in `/metrics` (issue 11 §2): chronology checks and contacts by state,
//! and per open change watch, gauges labelled by the change's id and kind. The figures are those of
//! `/v1/admin/stats` (`admin::stats::monitors`).

use super::{Family, family, label, single};
use crate::admin::changes::ChangeView;
use crate::admin::stats::monitors::{MonitorStats, StateCount};
use crate::scoring::watch::WatchFigures;

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
