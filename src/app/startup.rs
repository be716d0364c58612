//! Builds the application: the HTTP server and every background job, as sibling tasks that stop
//! together on SIGTERM/Ctrl-C (STYLE: svix-server's `lib.rs`).

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::KeepAlive;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

use anyhow::Context;

use crate::admin::stats::StatsCache;
use crate::app::config::Settings;
use crate::app::jobs::Schedules;
use crate::app::jobs::supervise::{RestartPolicy, supervise};
use crate::delivery::{Worker, WorkerConfig};
use crate::dialer::http::FeedSettings;
use crate::genesys::GenesysClient;
use crate::platform::clock::SharedClock;
use crate::platform::context::AppState;
use crate::platform::http::auth::Tokens;
use crate::platform::http::limits::Limits;
use crate::platform::http::problem;

use crate::platform::http::limits::{MAX_ADMIN_BODY_BYTES, MAX_BODY_BYTES};

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
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
        let genesys = match settings.genesys()? {
            Some(cfg) => Some(GenesysClient::new(cfg, pool.clone()).await?),
            None => {
                tracing::warn!("PESYNC_PE_* not set: events are stored but not delivered");
                None
            }
        };
        let worker = genesys.as_ref().map(|client| WorkerConfig {
            lease: chrono::Duration::seconds(settings.delivery_lease_seconds),
            ..WorkerConfig::for_target(
                settings.pe_rate_limit,
                client.config().events,
                client.config().events_batch,
            )
        });
        let state = web::Data::new(AppState {
            reads: crate::platform::db::read_pool(&pool),
            pool,
            clock,
            genesys,
            genesys_target: settings.genesys_events,
            genesys_region: settings.genesys_region,
            secret_key,
            monitors: settings.monitors.clone(),
        });
        let app_state = state.clone();
        // The database figures of `/metrics` and `/v1/admin/stats`, shared by every scraper.
        let stats_cache = web::Data::new(StatsCache::default());
        let app_stats = stats_cache.clone();
        let feed = web::Data::new(FeedSettings {
            lease: chrono::TimeDelta::seconds(settings.feed_lease_seconds as i64),
        });
        // What retention keeps bounds the dry runs' periods (issue 11 §1).
        let retention = web::Data::new(settings.retention);
        let openapi = openapi_document();
        let known_routes = web::Data::new(crate::platform::http::methods::Routes::new(
            &serde_json::to_value(&openapi).context("the OpenAPI document as JSON")?,
            &crate::platform::http::docs::UNDOCUMENTED_ROUTES,
        ));
        let limits = Limits {
            read_timeout: settings.read_timeout,
        };
        let server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(stats_cache.clone())
                .app_data(tokens.clone())
                .app_data(feed.clone())
                .app_data(retention.clone())
                .app_data(limits)
                .app_data(
                    web::JsonConfig::default()
                        .limit(MAX_ADMIN_BODY_BYTES)
                        .error_handler(|e, _| problem::json_error(e)),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, _| problem::query_error(e)))
                .app_data(web::PathConfig::default().error_handler(|e, _| problem::path_error(e)))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(routes)
                .split_for_parts();
            app.service(web::resource("/openapi.json").route(web::get().to({
                let doc = openapi.clone();
                move || {
                    let doc = doc.clone();
                    async move { web::Json(doc) }
                }
            })))
            .configure(crate::platform::http::docs::routes)
            // What no route took: 405 with `Allow` for a path served with other methods, else 404.
            .app_data(known_routes.clone())
            .default_service(web::to(crate::platform::http::methods::not_routed))
            .wrap(from_fn(crate::platform::http::limits::guard))
            .wrap(from_fn(crate::platform::http::nul::refuse_nul_in_url))
            .wrap(ErrorHandlers::new().default_handler(problem::problem_for_framework_error))
            .wrap(TracingLogger::default())
        })
        // Time limits on every connection: slow or stalled clients cannot hold workers. The
        // request head has `read_timeout` (actix answers 408), the body as long again (`limits`).
        // One request per connection: actix times only the first request's head, so on a kept-alive
        // connection a second head trickled a byte at a time would hold it for ever.
        .client_request_timeout(settings.read_timeout)
        .client_disconnect_timeout(Duration::from_secs(5))
        .keep_alive(KeepAlive::Disabled)
        // In-flight requests get this long to finish at shutdown (SIGTERM), after the background
        // tasks' `SEND_GRACE`, so the whole stop stays within 5 s; a request cut off was not
        // answered, and its client sends it again.
        .shutdown_timeout(3)
        .listen(listener)?
        .disable_signals()
        .run();
        Ok(Self {
            port,
            server,
            state: app_state,
            stats_cache: app_stats,
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
        if let (Some(cfg), Some(client)) = (self.worker, self.state.genesys.clone()) {
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
            let (state, schedules, stop) = (
                self.state.clone().into_inner(),
                self.schedules.clone(),
                shutdown.clone(),
            );
            jobs.spawn(supervise(
                "scheduled jobs",
                policy,
                shutdown.clone(),
                move || crate::app::jobs::run(state.clone(), schedules.clone(), stop.clone()),
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

/// Every documented route. Registering through `utoipa_actix_web` keeps the OpenAPI document and
/// the router from drifting apart.
fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(crate::platform::http::health::healthz)
        .service(crate::platform::http::health::readyz);
    crate::ingest::routes(cfg);
    crate::admin::routes(cfg);
    crate::dialer::http::routes(cfg);
    crate::scoring::push::routes(cfg);
}

/// The OpenAPI document of every route (served at `/openapi.json`, committed at `openapi/openapi.json`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    #[derive(OpenApi)]
    #[openapi(
        info(title = "pesync", description = "Syncs offline CRM events into Genesys Cloud Predictive Engagement and feeds outbound campaigns from the scores."),
        modifiers(&SecurityAddon),
        components(schemas(crate::platform::http::problem::Problem))
    )]
    struct ApiDoc;
    struct SecurityAddon;
    impl utoipa::Modify for SecurityAddon {
        fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
            use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
            let components = openapi.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    // After the routes are in: it documents the NUL check of every operation's input.
    utoipa::Modify::modify(&crate::platform::http::nul::NulResponses, &mut doc);
    doc
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
