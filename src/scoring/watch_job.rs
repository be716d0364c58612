//! The watch job (`PESYNC_WATCH_CRON`, issue 11 §2): once per tick across the cluster it computes
//! the figures of every watch still open, and once more of each watch just past its end (its final
//! figures), and keeps them with the change. Comparing a million contacts' scores takes tens of
//! seconds, so it runs here on the write pool rather than in a read of `/metrics`, whose statement
//! timeout it would exceed.

use anyhow::Context;
use serde::Serialize;

use super::{monitor_store, watch};
use crate::platform::context::AppState;
use crate::platform::db::lock::{JobLock, WATCH_JOB};
use crate::registry::{changes, thresholds};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WatchReport {
    /// False when another instance held this tick.
    pub ran: bool,
    /// Watches whose figures were computed.
    pub computed: u64,
}

/// One tick: takes the cluster-wide lock (or returns `ran: false`) and computes every unsettled
/// watch as of now, against the dampening delta in force.
pub async fn refresh_watches(state: &AppState) -> anyhow::Result<WatchReport> {
    let Some(lock) = JobLock::try_acquire(&state.pool, WATCH_JOB).await? else {
        tracing::debug!("watch job skipped: another instance holds this tick");
        return Ok(WatchReport::default());
    };
    let result = refresh_all(state).await;
    lock.release().await;
    result
}

async fn refresh_all(state: &AppState) -> anyhow::Result<WatchReport> {
    let now = state.clock.now();
    let (_, t) = thresholds::current(&state.pool).await?;
    let mut report = WatchReport {
        ran: true,
        computed: 0,
    };
    for w in changes::unsettled_watches(&state.pool, now).await? {
        let f = monitor_store::watch_figures(
            &state.pool,
            w.changed_at,
            w.watch_until,
            now,
            t.dampening_delta,
        )
        .await
        .with_context(|| format!("computing the watch of change {}", w.id))?;
        let doc = serde_json::to_value(f).expect("figures serialize");
        changes::save_figures(&state.pool, w.id, &doc, now).await?;
        report.computed += 1;
        if watch::is_suspect(&f, &state.monitors) {
            tracing::warn!(change = w.id, figures = ?f, "a change watch is suspect");
        }
    }
    Ok(report)
}
