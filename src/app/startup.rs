//! Builds the application: the HTTP server and every background job, as sibling tasks that stop
//! together on SIGTERM/Ctrl-C (STYLE: svix-server's `lib.rs`).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::web;
use anyhow::Context;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::server::{Shared, server};
use crate::admin::stats::StatsCache;
use crate::admin::tenant::Tenant;
use crate::app::config::Settings;
use crate::app::jobs::Schedules;
use crate::app::jobs::supervise::{RestartPolicy, supervise};
use crate::delivery::{Worker, WorkerConfig};
use crate::genesys::GenesysClient;
use crate::platform::clock::SharedClock;
use crate::platform::context::AppState;
use crate::platform::http::auth::Tokens;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    tenant: web::Data<Tenant>,
    stats_cache: web::Data<StatsCache>,
    worker: Option<WorkerConfig>,
    schedules: Schedules,
}

impl Application {
    /// Binds the listener (port 0 picks a free one, for tests) and prepares the server.
    pub async fn build(
        settings: &Settings,
        pool: PgPool,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let tokens = web::Data::new(
            Tokens::new(
                settings.admin_token.as_ref(),
                settings.viewer_token.as_ref(),
            )?
            .with_scorer(settings.scorer_token.as_ref())?,
        );
        let secret_key = settings
            .secret_key
            .clone()
            .context(crate::platform::secrets::KEY_REQUIRED)?;
        crate::registry::sources::seal_and_check(&pool, &secret_key).await?;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let schedules = Schedules::from_settings(settings);
        schedules.check()?;
        let genesys = genesys_client(settings, &pool).await?;
        let worker = genesys
            .as_ref()
            .map(|client| worker_config(settings, client));
        let state = web::Data::new(AppState {
            reads: crate::platform::db::read_pool(&pool),
            pool,
            clock,
            secret_key,
            monitors: settings.monitors.clone(),
            delivery_inbox: Default::default(),
        });
        let tenant = web::Data::new(Tenant {
            client: genesys,
            target: settings.genesys_events,
            region: settings.genesys_region,
        });
        let stats_cache = web::Data::new(StatsCache::default());
        let shared = Shared {
            state: state.clone(),
            tenant: tenant.clone(),
            stats_cache: stats_cache.clone(),
            tokens,
        };
        let server = server(listener, settings, shared)?;
        Ok(Self {
            port,
            server,
            state,
            tenant,
            stats_cache,
            worker,
            schedules,
        })
    }

    /// Overrides the delivery worker's tuning (tests shorten the lease).
    pub fn with_worker_config(mut self, f: impl FnOnce(&mut WorkerConfig)) -> Self {
        if let Some(w) = self.worker.as_mut() {
            f(w);
        }
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the handlers and jobs share (tests drive the jobs' `*_once` functions with it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The Genesys tenant: its client (tests drive the poller and the push with it).
    pub fn tenant(&self) -> web::Data<Tenant> {
        self.tenant.clone()
    }

    /// The cache of the stats' database figures (tests count its computations).
    pub fn stats_cache(&self) -> web::Data<StatsCache> {
        self.stats_cache.clone()
    }

    /// Runs the server and the background jobs (delivery workers, the scheduled poller and
    /// evaluation run) until `shutdown` is cancelled, then stops them gracefully: the server
    /// finishes in-flight requests, workers finish their round.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let handle = self.server.handle();
        // Every background task runs under `supervise`: one that panics or fails is restarted.
        let mut jobs = tokio::task::JoinSet::new();
        let policy = RestartPolicy::default();
        // The inbox drain runs with or without a tenant: the queue holds the backlog either way.
        let (pool, wake, stop) = (
            self.state.pool.clone(),
            self.state.delivery_inbox.clone(),
            shutdown.clone(),
        );
        jobs.spawn(supervise(
            "delivery inbox drain",
            policy,
            shutdown.clone(),
            move || crate::delivery::inbox::run(pool.clone(), wake.clone(), stop.clone()),
        ));
        if let (Some(cfg), Some(client)) = (self.worker, self.tenant.client.clone()) {
            let worker = Worker::new(
                self.state.clone().into_inner(),
                client,
                cfg.clone(),
                shutdown.clone(),
            );
            for _ in 0..cfg.workers.max(1) {
                let worker = worker.clone();
                jobs.spawn(supervise(
                    "delivery worker",
                    policy,
                    shutdown.clone(),
                    move || worker.clone().run(),
                ));
            }
        }
        if self.schedules.any() {
            let (state, client, schedules, stop) = (
                self.state.clone().into_inner(),
                self.tenant.client.clone(),
                self.schedules.clone(),
                shutdown.clone(),
            );
            jobs.spawn(supervise(
                "scheduled jobs",
                policy,
                shutdown.clone(),
                move || {
                    let (state, client) = (state.clone(), client.clone());
                    crate::app::jobs::run(state, client, schedules.clone(), stop.clone())
                },
            ));
        }
        let stopper = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                // The background tasks stop first, while the server still runs: pool connections
                // opened by handlers belong to the server's worker threads, whose runtimes end with
                // it, and a job using one after that fails ("a Tokio context … is being shut down").
                while jobs.join_next().await.is_some() {}
                handle.stop(true).await;
            }
        });
        let result = self.server.await;
        shutdown.cancel();
        let _ = stopper.await;
        result.context("HTTP server")
    }
}

/// The Genesys client, when a tenant is configured (else events are stored but not delivered).
async fn genesys_client(
    settings: &Settings,
    pool: &PgPool,
) -> anyhow::Result<Option<GenesysClient>> {
    match settings.genesys()? {
        Some(cfg) => Ok(Some(GenesysClient::new(cfg, pool.clone()).await?)),
        None => {
            // Logged from here: `telemetry::QUIET` silences this module's start-up notes in
            // benchmarks, which run without a tenant on purpose.
            tracing::warn!("PESYNC_PE_* not set: events are stored but not delivered");
            Ok(None)
        }
    }
}

/// The delivery workers' tuning for the configured target and rate ceiling.
fn worker_config(settings: &Settings, client: &GenesysClient) -> WorkerConfig {
    WorkerConfig {
        lease: chrono::Duration::seconds(settings.delivery_lease_seconds),
        ..WorkerConfig::for_target(
            settings.pe_rate_limit,
            client.config().events,
            client.config().events_batch,
        )
    }
}

/// Waits for SIGTERM or Ctrl-C and cancels `token`.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        token.cancel();
    });
}
