//! `GET /metrics`: the figures of `/v1/admin/stats` (`admin::stats`, the same [`Stats`] and the
//! same cache) in the Prometheus text format. `families` lists them stage by stage, `monitors` the
//! monitors'; this module writes them out.

mod families;
mod monitors;

use std::fmt::Write;

use actix_web::{HttpResponse, get, web};

use super::stats::{Stats, StatsCache, collect};
use crate::admin::tenant::Tenant;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::responses as problems;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(metrics);
}

/// Prometheus text exposition of the same figures (unauthenticated, as scrapers expect; it carries
/// counts only, never payloads or secrets).
#[utoipa::path(tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        problems::ServerErrors))]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    tenant: web::Data<Tenant>,
    cache: web::Data<StatsCache>,
) -> Result<HttpResponse, ApiError> {
    let s = collect(&state, &tenant, &cache).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(render(&s)))
}

/// One metric family of the exposition: its samples are (labels, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// A family with one unlabelled sample.
fn single(name: &'static str, kind: &'static str, help: &'static str, v: u64) -> Family {
    family(name, kind, help, [(String::new(), v as f64)])
}

fn family(
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: impl IntoIterator<Item = (String, f64)>,
) -> Family {
    Family {
        name,
        kind,
        help,
        samples: samples.into_iter().collect(),
    }
}

/// `{label="value"}`.
fn label(name: &str, value: &str) -> String {
    format!("{{{name}=\"{value}\"}}")
}

/// The Prometheus text format of `s`.
pub fn render(s: &Stats) -> String {
    let mut out = String::new();
    for f in families::all(s)
        .into_iter()
        .chain(monitors::families(&s.monitors))
    {
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} {}",
            f.name, f.help, f.name, f.kind
        );
        for (labels, v) in &f.samples {
            let _ = writeln!(out, "{}{labels} {v}", f.name);
        }
    }
    out
}
