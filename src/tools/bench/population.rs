//! `pesync bench evaluate --population`: the population dry run (`POST
//! /v1/admin/evaluate/population`, issue 11 §1) over N contacts seeded as `bench evaluate` seeds
//! them, timed through the real HTTP endpoint of a real instance. The bar: 1,000,000 contacts
//! answered within 30 s.
//!
//! The candidate changes both things an operator changes: the thresholds (`min_rise` 0.10 → 0.05)
//! and a campaign (the pull campaign targets the high tier only and outranks the push one), so both
//! sides decide every contact for two campaigns and many outcomes differ.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::cpu::{Cost, Meter};
use super::evaluate_seed::seed;
use super::median;
use super::scratch::ScratchDb;
use crate::app::config::Settings;
use crate::app::startup::Application;
use crate::platform::clock::SystemClock;

const ADMIN: &str = "bench-admin-token-0123456789abcdef0123";
/// The benchmark's own database (not `bench evaluate`'s, so the two can run side by side).
pub const BENCH_DATABASE: &str = "pesync_bench_population";

#[derive(Debug, Serialize)]
pub struct PopulationResult {
    pub contacts: i64,
    pub seed_seconds: f64,
    /// Median wall seconds of the request, from sending it to the whole answer.
    pub median_seconds: f64,
    pub runs: Vec<Cost>,
    /// The first answer without its sample.
    pub answer: Value,
}

/// The candidate tried: lower `min_rise`, and the pull campaign on the high tier first.
fn candidate(at: DateTime<Utc>) -> Value {
    json!({"at": at, "thresholds": {"min_rise": 0.05},
        "campaign": {"id": "bench-pull", "name": "Benchmark pull", "enabled": true, "priority": 20,
            "tiers": ["high"], "mode": "pull",
            "channels": {"voice": "list-voice-2", "sms": "list-sms"},
            "default_window": {"start_time": "08:00:00", "end_time": "18:00:00", "timezone": "Europe/London"}}})
}

/// Seeds (or, with `reuse`, opens a kept benchmark database), starts an instance on it and times
/// `runs` population dry runs.
pub async fn population(
    base: &Settings,
    contacts: i64,
    runs: usize,
    keep: bool,
    reuse: bool,
) -> anyhow::Result<PopulationResult> {
    let db = ScratchDb::named(&base.database_url, BENCH_DATABASE, !reuse).await?;
    let (at, seed_seconds) = seeded(&db, contacts, reuse).await?;
    let (url, stop) = start_instance(base, &db).await?;
    let (costs, answer) = time_runs(&db, &url, at, runs).await?;
    stop.cancel();
    if keep {
        db.keep().await;
    } else {
        db.drop_db().await?;
    }
    Ok(PopulationResult {
        contacts: answer["contacts"].as_i64().unwrap_or_default(),
        seed_seconds,
        median_seconds: median(costs.iter().map(|c| c.seconds).collect()),
        runs: costs,
        answer,
    })
}

/// The instant the contacts' scores were seeded at, and the seconds seeding took: `contacts` seeded
/// now, or with `reuse` those of the kept database (0 s).
async fn seeded(
    db: &ScratchDb,
    contacts: i64,
    reuse: bool,
) -> anyhow::Result<(DateTime<Utc>, f64)> {
    if reuse {
        let at: DateTime<Utc> =
            sqlx::query_scalar("SELECT max(recorded_at) FROM score_observations")
                .fetch_one(&db.pool)
                .await
                .context("no earlier benchmark database to reuse")?;
        Ok((at, 0.0))
    } else {
        let at = Utc::now();
        let started = Instant::now();
        seed(&db.pool, contacts, at).await?;
        Ok((at, started.elapsed().as_secs_f64()))
    }
}

/// An instance on `db`, running until the token is cancelled; the URL of its population dry run.
async fn start_instance(
    base: &Settings,
    db: &ScratchDb,
) -> anyhow::Result<(String, CancellationToken)> {
    let settings = Settings {
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".parse().expect("address"),
        admin_token: Some(SecretString::from(ADMIN)),
        secret_key: Some(crate::platform::secrets::SecretKey::demo()),
        // Only the dry run is measured: no scheduled job shares the machine with it.
        poll_cron: "off".into(),
        evaluate_cron: "off".into(),
        prune_cron: "off".into(),
        ..base.clone()
    };
    // A pool of its own: connections opened on the server's worker runtimes die with them.
    let pool = crate::platform::db::connect(&db.url).await?;
    let app = Application::build(&settings, pool, Arc::new(SystemClock)).await?;
    let url = format!(
        "http://127.0.0.1:{}/v1/admin/evaluate/population",
        app.port()
    );
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until(stop.clone()));
    Ok((url, stop))
}

/// The cost of each of `runs` dry runs of the candidate as of `at` (one line on stderr each), and
/// the first answer without its sample.
async fn time_runs(
    db: &ScratchDb,
    url: &str,
    at: DateTime<Utc>,
    runs: usize,
) -> anyhow::Result<(Vec<Cost>, Value)> {
    let http = reqwest::Client::new();
    let mut costs = Vec::new();
    let mut answer = Value::Null;
    for i in 0..runs.max(1) {
        let meter = Meter::start(&db.pool).await;
        let response = http
            .post(url)
            .bearer_auth(ADMIN)
            .json(&candidate(at))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        let cost = meter.stop(&db.pool).await;
        anyhow::ensure!(status == 200, "the dry run answered {status}: {body}");
        eprintln!(
            "run {}: {:.1} s, {} contacts",
            i + 1,
            cost.seconds,
            body["contacts"]
        );
        if i == 0 {
            answer = body;
            if let Some(o) = answer.as_object_mut() {
                o.remove("sample");
            }
        }
        costs.push(cost);
    }
    Ok((costs, answer))
}
