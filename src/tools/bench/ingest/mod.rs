//! `pesync bench ingest` (SPEC §9, first bullet): batched ingestion over real HTTP against the rate
//! at which the same PostgreSQL takes the equivalent batched inserts directly.
//!
//! Both sides store the same rows: an `events` row and a `dedup_keys` row per event, written with
//! the same `INSERT … SELECT FROM UNNEST` statements the ingestion path uses, one transaction per
//! batch, into identical tables (`baseline.*` is created `LIKE` the real ones, indexes included).
//! What the ingestion side does on top is the service's own work: HTTP, signature check, parsing,
//! normalization, the source/manifest/thresholds reads and the delivery-queue upsert.

mod baseline;
mod per_item;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::median;
use super::scratch::ScratchDb;
use super::service::{BenchApp, SOURCE};
use crate::app::config::Settings;
use baseline::{baseline, create_baseline_tables};

pub const LONG_ABOUT: &str = "Measures batched ingestion (SPEC §9): creates a scratch database on the configured PostgreSQL server (DATABASE_URL; dropped afterwards), starts the service as a `pesync serve` child process on a free port (no delivery configured) and creates a source, then in each run:\n\n\
  ingestion: posts --batches signed NDJSON batches of --batch-size new events to POST /v1/sources/{source}/events from --concurrency concurrent HTTP clients, and measures events/s;\n\
  baseline:  inserts the same number of equivalent rows (events + dedup keys, the statements the ingestion path uses, one transaction per batch) straight into identical scratch tables over --concurrency connections, and measures rows/s.\n\n\
The two sides alternate which goes first. Each run is printed, then the medians and the ratio ingestion / baseline (the bar: at least 0.5), the CPU per item of each side (the serving process's and PostgreSQL's µs per event, PostgreSQL's per baseline row: unlike the rates, they do not move with the machine's speed of the moment), and the peak RSS of the serving child process over the runs. Build with --release.";

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

    let app = BenchApp::start(db, "ingest").await?;
    let result = async {
        // Warm-up: connections, caches, JIT-free query plans; not measured.
        let warm = Shape {
            batches: shape.concurrency * 2,
            ..shape
        };
        app.ingest(&warm, "warm").await?;
        baseline(&baseline_pool, &warm, "warm").await?;

        app.reset_peak_rss();
        let mut ingested = Vec::new();
        let mut inserted = Vec::new();
        let (mut ingestion_cpu, mut baseline_cpu) = (Vec::new(), Vec::new());
        let pool = &db.pool;
        for r in 0..runs {
            let tag = format!("r{r}");
            // Alternate which side goes first, so drift on a shared machine hits both alike.
            let n = shape.events();
            let ingestion = || per_item::measured(pool, Some(&app), n, app.ingest(&shape, &tag));
            let inserts = || per_item::measured(pool, None, n, baseline(&baseline_pool, &shape, &tag));
            let ((i, ic), (b, bc)) = if r % 2 == 0 {
                let i = ingestion().await?;
                (i, inserts().await?)
            } else {
                let b = inserts().await?;
                (ingestion().await?, b)
            };
            ingestion_cpu.push(ic);
            baseline_cpu.push(bc);
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
        println!("{}", per_item::report(&ingestion_cpu, &baseline_cpu));
        println!(
            "peak RSS of the service process (pesync serve, without the HTTP clients): {}",
            super::cpu::mib_text(app.peak_rss_mib())
        );
        anyhow::Ok(())
    }
    .await;
    let stopped = app.stop().await;
    baseline_pool.close().await;
    result.and(stopped)
}

impl BenchApp {
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
        timed_in_parallel(bodies.len(), shape.concurrency, |n| {
            self.post(&url, &bodies[n], shape.batch_size)
        })
        .await
    }
}

/// Runs `work(0)` … `work(items - 1)` from `concurrency` workers, each taking the next index not
/// yet taken (the clients of the ingestion side, the connections of the baseline); how long all
/// took.
async fn timed_in_parallel<F, Fut>(
    items: usize,
    concurrency: usize,
    work: F,
) -> anyhow::Result<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let worker = || async {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= items {
                return anyhow::Ok(());
            }
            work(n).await?;
        }
    };
    futures_util::future::try_join_all((0..concurrency).map(|_| worker())).await?;
    Ok(started.elapsed())
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

/// Items per second.
fn rate(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}
