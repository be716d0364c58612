//! The scheduled jobs (SPEC §1, §7): the profile poller on `PESYNC_POLL_CRON`, the evaluation
//! run on `PESYNC_EVALUATE_CRON`, the retention prune on `PESYNC_PRUNE_CRON` and the change
//! watches' figures on `PESYNC_WATCH_CRON`, driven by tokio-cron-scheduler. Every instance schedules them all;
//! each run takes a cluster-wide advisory lock first ([`lock`]), so a tick runs once however many
//! instances there are. The jobs are a sibling task of the HTTP server and stop with it.

pub mod supervise;

use std::sync::Arc;

use anyhow::Context;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::app::config::Settings;
use crate::genesys::GenesysClient;
use crate::platform::context::AppState;
use crate::retention::Policy;

/// A schedule set to this (any case) is switched off.
pub const OFF: &str = "off";

/// The crons of the jobs; `None` is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedules {
    pub poll: Option<String>,
    pub evaluate: Option<String>,
    pub prune: Option<String>,
    /// The change watches' figures (issue 11 §2).
    pub watch: Option<String>,
    /// What the prune job keeps.
    pub retention: Policy,
}

impl Schedules {
    pub fn from_settings(s: &Settings) -> Self {
        let on =
            |cron: &str| (!cron.trim().eq_ignore_ascii_case(OFF)).then(|| cron.trim().to_owned());
        Self {
            poll: on(&s.poll_cron),
            evaluate: on(&s.evaluate_cron),
            prune: on(&s.prune_cron),
            watch: on(&s.monitors.watch_cron),
            retention: s.retention,
        }
    }

    /// Whether any job is scheduled.
    pub fn any(&self) -> bool {
        self.poll.is_some()
            || self.evaluate.is_some()
            || self.prune.is_some()
            || self.watch.is_some()
    }

    /// Checks the crons (6 fields, seconds first), so `serve` refuses a bad one at start.
    pub fn check(&self) -> anyhow::Result<()> {
        for (name, cron) in [
            ("PESYNC_POLL_CRON", &self.poll),
            ("PESYNC_EVALUATE_CRON", &self.evaluate),
            ("PESYNC_PRUNE_CRON", &self.prune),
            ("PESYNC_WATCH_CRON", &self.watch),
        ] {
            if let Some(c) = cron {
                Job::new_async(c.as_str(), |_, _| Box::pin(async {})).map_err(|e| {
                    anyhow::anyhow!(
                        "{name} must be a 6-field cron, seconds first (e.g. \"0 * * * * *\"), or \"off\"; got {c:?}: {e}"
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// Runs the jobs until `shutdown` is cancelled. A run in progress at shutdown is abandoned: each
/// batch it stored is committed, the rest is picked up by the next tick of any instance.
pub async fn run(
    state: Arc<AppState>,
    genesys: Option<GenesysClient>,
    schedules: Schedules,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    schedules.check()?;
    let mut scheduler = JobScheduler::new()
        .await
        .context("starting the job scheduler")?;
    if let Some(cron) = &schedules.poll {
        let (state, client, stop) = (state.clone(), genesys.clone(), shutdown.clone());
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let (state, client, stop) = (state.clone(), client.clone(), stop.clone());
            Box::pin(async move { poll_tick(&state, client.as_ref(), &stop).await })
        })
        .context("PESYNC_POLL_CRON")?;
        scheduler.add(job).await.context("scheduling the poller")?;
    }
    if let Some(cron) = &schedules.evaluate {
        let (state, client, stop) = (state.clone(), genesys.clone(), shutdown.clone());
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let (state, client, stop) = (state.clone(), client.clone(), stop.clone());
            Box::pin(async move { evaluate_tick(&state, client.as_ref(), &stop).await })
        })
        .context("PESYNC_EVALUATE_CRON")?;
        scheduler
            .add(job)
            .await
            .context("scheduling the evaluation run")?;
    }
    if let Some(cron) = &schedules.prune {
        let (state, stop, policy) = (state.clone(), shutdown.clone(), schedules.retention);
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let (state, stop) = (state.clone(), stop.clone());
            Box::pin(async move { prune_tick(&state, &policy, &stop).await })
        })
        .context("PESYNC_PRUNE_CRON")?;
        scheduler
            .add(job)
            .await
            .context("scheduling the prune job")?;
    }
    if let Some(cron) = &schedules.watch {
        let (state, stop) = (state.clone(), shutdown.clone());
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let (state, stop) = (state.clone(), stop.clone());
            Box::pin(async move { watch_tick(&state, &stop).await })
        })
        .context("PESYNC_WATCH_CRON")?;
        scheduler
            .add(job)
            .await
            .context("scheduling the watch job")?;
    }
    scheduler
        .start()
        .await
        .context("starting the job scheduler")?;
    tracing::info!(?schedules, "scheduled jobs started");
    shutdown.cancelled().await;
    scheduler.shutdown().await.ok();
    Ok(())
}

async fn poll_tick(state: &AppState, client: Option<&GenesysClient>, stop: &CancellationToken) {
    let Some(client) = client else {
        tracing::debug!("poll skipped: no Genesys tenant configured");
        return;
    };
    tokio::select! {
        r = crate::scoring::poll_once(state, client) => {
            if let Err(e) = r {
                tracing::error!(error = ?e, "profile poll failed");
            }
        }
        _ = stop.cancelled() => {}
    }
}

async fn evaluate_tick(state: &AppState, client: Option<&GenesysClient>, stop: &CancellationToken) {
    tokio::select! {
        r = crate::evaluation::evaluate_once(state, client) => {
            if let Err(e) = r {
                tracing::error!(error = ?e, "evaluation run failed");
            }
        }
        _ = stop.cancelled() => {}
    }
}

async fn prune_tick(state: &AppState, policy: &Policy, stop: &CancellationToken) {
    tokio::select! {
        r = crate::retention::prune_once(state, policy) => {
            if let Err(e) = r {
                tracing::error!(error = ?e, "prune run failed");
            }
        }
        _ = stop.cancelled() => {}
    }
}

async fn watch_tick(state: &AppState, stop: &CancellationToken) {
    tokio::select! {
        r = crate::scoring::watch_job::refresh_watches(state) => {
            if let Err(e) = r {
                tracing::error!(error = ?e, "watch job failed");
            }
        }
        _ = stop.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedules(poll: &str, evaluate: &str) -> Schedules {
        Schedules::from_settings(&Settings {
            poll_cron: poll.into(),
            evaluate_cron: evaluate.into(),
            ..Settings::default()
        })
    }

    #[test]
    fn crons_are_checked_and_off_switches_a_job_off() {
        let s = schedules("*/5 * * * * *", "OFF");
        assert_eq!(s.poll.as_deref(), Some("*/5 * * * * *"));
        assert_eq!(s.evaluate, None);
        assert_eq!(
            s.prune.as_deref(),
            Some(crate::app::config::DEFAULT_PRUNE_CRON)
        );
        s.check().unwrap();
        schedules("0 * * * * *", "0 * * * * *").check().unwrap();
        let e = schedules("every minute", "off").check().unwrap_err();
        assert!(e.to_string().contains("PESYNC_POLL_CRON"), "{e}");
        let bad_prune = Schedules {
            prune: Some("hourly".into()),
            ..schedules("off", "off")
        };
        let e = bad_prune.check().unwrap_err();
        assert!(e.to_string().contains("PESYNC_PRUNE_CRON"), "{e}");
        assert_eq!(
            s.watch.as_deref(),
            Some(crate::domain::monitors::DEFAULT_WATCH_CRON)
        );
        let bad_watch = Schedules {
            watch: Some("5 minutes".into()),
            ..schedules("off", "off")
        };
        let e = bad_watch.check().unwrap_err();
        assert!(e.to_string().contains("PESYNC_WATCH_CRON"), "{e}");
    }
}
