//! The HTTP server: what every handler shares, the body limits and extractor errors, the
//! middleware, and the time limits on every connection.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::KeepAlive;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

use super::routes::{known_routes, openapi_document, routes};
use crate::admin::stats::StatsCache;
use crate::admin::tenant::Tenant;
use crate::app::config::Settings;
use crate::dialer::http::FeedSettings;
use crate::platform::context::AppState;
use crate::platform::http::auth::Tokens;
use crate::platform::http::limits::{Limits, MAX_ADMIN_BODY_BYTES, MAX_BODY_BYTES};
use crate::platform::http::problem;

/// What the handlers share, built once and cloned into each server worker's app.
pub(super) struct Shared {
    pub state: web::Data<AppState>,
    pub tenant: web::Data<Tenant>,
    /// The database figures of `/metrics` and `/v1/admin/stats`, shared by every scraper.
    pub stats_cache: web::Data<StatsCache>,
    pub tokens: web::Data<Tokens>,
}

/// The server on `listener`, every route in, not yet running.
pub(super) fn server(
    listener: TcpListener,
    settings: &Settings,
    shared: Shared,
) -> anyhow::Result<Server> {
    let Shared {
        state,
        tenant,
        stats_cache,
        tokens,
    } = shared;
    let feed = web::Data::new(FeedSettings {
        lease: chrono::TimeDelta::seconds(settings.feed_lease_seconds as i64),
    });
    // What retention keeps bounds the dry runs' periods (issue 11 §1).
    let retention = web::Data::new(settings.retention);
    let openapi = openapi_document();
    let known_routes = known_routes(&openapi)?;
    let limits = Limits {
        read_timeout: settings.read_timeout,
    };
    let server = HttpServer::new(move || {
        let (app, _) = App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(tenant.clone())
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
        .configure(crate::admin::console::routes)
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
    Ok(server)
}
