//! `pesync bench ingest` (SPEC §9, first bullet): batched ingestion over real HTTP against the rate
//! at which the same PostgreSQL takes the equivalent batched inserts directly.
//!
//! Both sides store the same rows: an `events` row and a `dedup_keys` row per event, written with
//! the same `INSERT … SELECT FROM UNNEST` statements the ingestion path uses, one transaction per
//! batch, into identical tables (`baseline.*` is created `LIKE` the real ones, indexes included).
//! What the ingestion side does on top is the service's own work: HTTP, signature check, parsing,
//! normalization, the source/manifest/thresholds reads and the delivery-queue upsert.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::median;
use super::scratch::ScratchDb;
use crate::app::config::Settings;
use crate::app::startup::Application;
use crate::ingest::signature;
use crate::normalize::dedup;
use crate::platform::clock::SystemClock;

pub const LONG_ABOUT: &str = "Measures batched ingestion (SPEC §9): creates a scratch database on the configured PostgreSQL server (DATABASE_URL; dropped afterwards), starts the service in-process on a free port and creates a source, then in each run:\n\n\
  ingestion: posts --batches signed NDJSON batches of --batch-size new events to POST /v1/sources/{source}/events from --concurrency concurrent HTTP clients, and measures events/s;\n\
  baseline:  inserts the same number of equivalent rows (events + dedup keys, the statements the ingestion path uses, one transaction per batch) straight into identical scratch tables over --concurrency connections, and measures rows/s.\n\n\
The two sides alternate which goes first. Each run is printed, then the medians and the ratio ingestion / baseline (the bar: at least 0.5). Build with --release.";

pub(super) const SOURCE: &str = "bench";

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Batches per run and side.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub batches: usize,
    /// Concurrent HTTP clients (ingestion) and database connections (baseline).
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Runs of each side; the medians are reported.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub runs: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 500, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,
    /// Distinct contacts the events are spread over.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub contacts: usize,
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    batches: usize,
    batch_size: usize,
    concurrency: usize,
    contacts: usize,
}

impl Shape {
    fn events(&self) -> usize {
        self.batches * self.batch_size
    }
}

pub async fn run(args: IngestArgs, settings: Settings) -> anyhow::Result<()> {
    ensure!(
        args.batches > 0 && args.runs > 0,
        "--batches and --runs must be positive"
    );
    ensure!(args.contacts > 0, "--contacts must be positive");
    let shape = Shape {
        batches: args.batches,
        batch_size: args.batch_size.into(),
        concurrency: args.concurrency.into(),
        contacts: args.contacts,
    };
    let db = ScratchDb::create(&settings.database_url).await?;
    let outcome = measure(&db, shape, args.runs).await;
    let dropped = db.drop_db().await;
    outcome?;
    dropped
}

async fn measure(db: &ScratchDb, shape: Shape, runs: usize) -> anyhow::Result<()> {
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&db.pool)
        .await?;
    println!(
        "pesync bench ingest: {} runs × {} batches × {} events, concurrency {}, {} contacts; PostgreSQL {version}, {} CPUs",
        runs,
        shape.batches,
        shape.batch_size,
        shape.concurrency,
        shape.contacts,
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    create_baseline_tables(&db.pool).await?;
    // The baseline's connections are set up like pesync's (TCP_NODELAY), as libpq's would be.
    let baseline_pool = crate::platform::db::pool_options()
        .max_connections(shape.concurrency as u32)
        .connect_with(db.pool.connect_options().as_ref().clone())
        .await?;

    let app = BenchApp::start(db).await?;
    let result = async {
        // Warm-up: connections, caches, JIT-free query plans; not measured.
        let warm = Shape {
            batches: shape.concurrency * 2,
            ..shape
        };
        app.ingest(&warm, "warm").await?;
        baseline(&baseline_pool, &warm, "warm").await?;

        super::cpu::reset_peak_rss();
        let mut ingested = Vec::new();
        let mut inserted = Vec::new();
        for r in 0..runs {
            let tag = format!("r{r}");
            // Alternate which side goes first, so drift on a shared machine hits both alike.
            let (i, b) = if r % 2 == 0 {
                let i = app.ingest(&shape, &tag).await?;
                (i, baseline(&baseline_pool, &shape, &tag).await?)
            } else {
                let b = baseline(&baseline_pool, &shape, &tag).await?;
                (app.ingest(&shape, &tag).await?, b)
            };
            let (ir, br) = (rate(shape.events(), i), rate(shape.events(), b));
            println!(
                "run {}/{runs}: ingestion {ir:>9.0} events/s ({:.2} s)   baseline {br:>9.0} rows/s ({:.2} s)   ratio {:.2}",
                r + 1,
                i.as_secs_f64(),
                b.as_secs_f64(),
                ir / br
            );
            ingested.push(ir);
            inserted.push(br);
        }
        let (mi, mb) = (median(ingested), median(inserted));
        println!(
            "median: ingestion {mi:.0} events/s, baseline {mb:.0} rows/s, ratio {:.2} (bar: ≥ 0.50)",
            mi / mb
        );
        println!(
            "peak RSS of the process (the service and its HTTP clients): {}",
            super::cpu::mib_text(super::cpu::peak_rss_mib())
        );
        anyhow::Ok(())
    }
    .await;
    app.shutdown.cancel();
    baseline_pool.close().await;
    result
}

/// The service, in-process on a free port, with one source.
pub(super) struct BenchApp {
    pub(super) base: String,
    secret: SecretString,
    http: reqwest::Client,
    pub(super) shutdown: CancellationToken,
}

impl BenchApp {
    pub(super) async fn start(db: &ScratchDb) -> anyhow::Result<Self> {
        let admin = Uuid::new_v4().to_string();
        let secret = Uuid::new_v4().to_string();
        let settings = Settings {
            database_url: db.url.clone(),
            listen: "127.0.0.1:0".parse().expect("a valid address"),
            admin_token: Some(SecretString::from(admin.clone())),
            secret_key: Some(crate::platform::secrets::SecretKey::demo()),
            ..Settings::default()
        };
        let app = Application::build(&settings, db.pool.clone(), Arc::new(SystemClock)).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until(shutdown.clone()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let r = http
            .put(format!("{base}/v1/admin/sources/{SOURCE}"))
            .bearer_auth(&admin)
            .json(&json!({"signing_secret": secret, "mapping": {}}))
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "creating the source: {}",
            r.text().await?
        );
        Ok(Self {
            base,
            secret: SecretString::from(secret),
            http,
            shutdown,
        })
    }

    /// Posts every batch from `concurrency` clients; checks that every event was accepted.
    async fn ingest(&self, shape: &Shape, tag: &str) -> anyhow::Result<Duration> {
        let at = Utc::now() - chrono::Duration::minutes(1);
        let bodies: Vec<Vec<u8>> = (0..shape.batches)
            .map(|b| {
                let mut body = Vec::new();
                for i in 0..shape.batch_size {
                    serde_json::to_writer(&mut body, &event(shape, "ingest", tag, b, i, at))
                        .expect("an event serializes");
                    body.push(b'\n');
                }
                body
            })
            .collect();
        let url = format!("{}/v1/sources/{SOURCE}/events", self.base);
        let next = AtomicUsize::new(0);
        let started = Instant::now();
        let worker = || async {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(n) else {
                    return anyhow::Ok(());
                };
                self.post(&url, body, shape.batch_size).await?;
            }
        };
        futures_util::future::try_join_all((0..shape.concurrency).map(|_| worker())).await?;
        Ok(started.elapsed())
    }

    pub(super) async fn post(&self, url: &str, body: &[u8], events: usize) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct Results {
            results: Vec<Status>,
        }
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        use secrecy::ExposeSecret;
        let t = Utc::now().timestamp();
        let r = self
            .http
            .post(url)
            .header("Content-Type", "application/x-ndjson")
            .header(
                signature::HEADER,
                signature::header_value(self.secret.expose_secret().as_bytes(), t, body),
            )
            .body(body.to_vec())
            .send()
            .await?;
        let status = r.status();
        if !status.is_success() {
            bail!("ingestion answered {status}: {}", r.text().await?);
        }
        let results: Results = r.json().await?;
        let accepted = results
            .results
            .iter()
            .filter(|s| s.status == "accepted")
            .count();
        ensure!(
            accepted == events,
            "{accepted} of {events} events accepted; the benchmark expects new, valid events only"
        );
        Ok(())
    }
}

/// An event as a source sends it: the SPEC §2 example, with a record id unique per side, run,
/// batch and position, so that every event is new.
fn event(shape: &Shape, side: &str, tag: &str, batch: usize, i: usize, at: DateTime<Utc>) -> Value {
    let n = batch * shape.batch_size + i;
    json!({
        "contact_id": format!("contact-{}", n % shape.contacts),
        "event_type": "crm.transaction",
        "event_timestamp": at.to_rfc3339(),
        "attributes": {"transaction_value": 2450.00, "product_category": "enterprise_license",
                       "payment_status": "captured", "crm_record_id": format!("{side}-{tag}-{n}"),
                       "channel_origin": "web_portal"}
    })
}

async fn create_baseline_tables(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE SCHEMA baseline;
         CREATE TABLE baseline.events (LIKE public.events INCLUDING ALL);
         CREATE TABLE baseline.dedup_keys (LIKE public.dedup_keys INCLUDING ALL);",
    )
    .execute(pool)
    .await
    .context("creating the baseline tables")?;
    Ok(())
}

/// Items per second.
fn rate(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// One batch's rows, column by column, as the ingestion path binds them.
struct Rows {
    ids: Vec<Uuid>,
    contacts: Vec<String>,
    types: Vec<String>,
    timestamps: Vec<DateTime<Utc>>,
    attributes: Vec<Value>,
    raws: Vec<Value>,
    request_ids: Vec<Uuid>,
    keys: Vec<Vec<u8>>,
    lanes: Vec<String>,
    states: Vec<String>,
    reasons: Vec<Option<String>>,
}

impl Rows {
    fn new(shape: &Shape, tag: &str, batch: usize, at: DateTime<Utc>) -> Self {
        let mut rows = Rows {
            ids: vec![],
            contacts: vec![],
            types: vec![],
            timestamps: vec![],
            attributes: vec![],
            raws: vec![],
            request_ids: vec![],
            keys: vec![],
            lanes: vec![],
            states: vec![],
            reasons: vec![],
        };
        for i in 0..shape.batch_size {
            let raw = event(shape, "baseline", tag, batch, i, at);
            let contact = raw["contact_id"].as_str().unwrap_or_default().to_owned();
            let record = raw["attributes"]["crm_record_id"]
                .as_str()
                .unwrap_or_default();
            let key = dedup::dedup_key(&contact, "crm.transaction", record);
            rows.ids.push(Uuid::new_v4());
            rows.contacts.push(contact);
            rows.types.push("crm.transaction".to_owned());
            rows.timestamps.push(at);
            rows.attributes.push(raw["attributes"].clone());
            rows.raws.push(raw);
            rows.request_ids.push(dedup::request_id(&key));
            rows.keys.push(key.to_vec());
            rows.lanes.push("realtime".to_owned());
            rows.states.push("pending".to_owned());
            rows.reasons.push(None);
        }
        rows
    }
}

/// Inserts the equivalent rows straight into `baseline.*` over `concurrency` connections.
async fn baseline(pool: &PgPool, shape: &Shape, tag: &str) -> anyhow::Result<Duration> {
    let at = Utc::now() - chrono::Duration::minutes(1);
    let batches: Vec<Rows> = (0..shape.batches)
        .map(|b| Rows::new(shape, tag, b, at))
        .collect();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let worker = || async {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let Some(rows) = batches.get(n) else {
                return anyhow::Ok(());
            };
            insert(pool, rows).await?;
        }
    };
    futures_util::future::try_join_all((0..shape.concurrency).map(|_| worker())).await?;
    Ok(started.elapsed())
}

async fn insert(pool: &PgPool, rows: &Rows) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO baseline.dedup_keys (dedup_key, first_seen, event_id)
         SELECT k, $3, id FROM UNNEST($1::bytea[], $2::uuid[]) AS t(k, id)",
    )
    .bind(&rows.keys)
    .bind(&rows.ids)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // The statement of `ingest::store::insert_events`, on the baseline table.
    sqlx::query(
        "INSERT INTO baseline.events (id, source, contact_id, event_type, event_timestamp, attributes, raw,
                                      request_id, dedup_key, mapping_version, manifest_version, received_at,
                                      lane, state, route_reason)
         SELECT id, $2, contact_id, event_type, ts, attrs, raw, rid, key, $10, $11, $12, lane, state, reason
         FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::jsonb[],
                     $8::uuid[], $9::bytea[], $13::text[], $14::text[], $15::text[])
              WITH ORDINALITY AS t(id, contact_id, event_type, ts, attrs, raw, rid, key, lane, state, reason, ord)
         ORDER BY ord",
    )
    .bind(&rows.ids)
    .bind(SOURCE)
    .bind(&rows.contacts)
    .bind(&rows.types)
    .bind(&rows.timestamps)
    .bind(&rows.attributes)
    .bind(&rows.raws)
    .bind(&rows.request_ids)
    .bind(&rows.keys)
    .bind(1_i32)
    .bind(1_i32)
    .bind(now)
    .bind(&rows.lanes)
    .bind(&rows.states)
    .bind(&rows.reasons)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
