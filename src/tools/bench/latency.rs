//! `pesync bench latency` (issue 12): single-event requests at a fixed rate, for the latency a
//! source sees when it sends events one by one. The service runs as a `pesync serve` child process
//! on a free port (as in `bench ingest`, no delivery configured); each request is one new, valid,
//! signed NDJSON event, answered `accepted` after it is committed.
//!
//! The load is open-loop: request i is due at start + i / rate whether or not earlier ones have been
//! answered, and its latency counts from when it was due, not from when it was sent, so a stall is
//! not hidden by the requests it held back (coordinated omission).

use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use chrono::Utc;
use serde_json::json;
use tokio::sync::Mutex;

use super::scratch::ScratchDb;
use super::service::{BenchApp, SOURCE};
use crate::app::config::Settings;

pub const LONG_ABOUT: &str = "Measures single-event latency (issue 12): creates a scratch database on the configured PostgreSQL server (DATABASE_URL; dropped afterwards), starts the service as a `pesync serve` child process on a free port with one source, then for each --rates value posts one signed single-event NDJSON request every 1/rate seconds for --seconds (open loop: latency counts from when a request was due). Prints, per rate, the achieved rate, p50/p99/p99.9 latency, failures and the peak RSS of the service process (the child, not the load generator). Build with --release.";

#[derive(Debug, clap::Args)]
pub struct LatencyArgs {
    /// Request rates to measure, one after the other (requests per second).
    #[arg(long, value_delimiter = ',', default_value = "200,500,1000",
          value_parser = clap::value_parser!(u32).range(1..=20_000))]
    pub rates: Vec<u32>,
    /// Seconds per rate.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Distinct contacts the events are spread over.
    #[arg(long, default_value_t = 10_000)]
    pub contacts: usize,
}

/// What one rate measured.
#[derive(Debug, Clone, Copy)]
pub struct RateFigures {
    pub rate: u32,
    pub achieved: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub failed: usize,
    pub peak_rss_mib: Option<f64>,
}

pub async fn run(args: LatencyArgs, settings: Settings) -> anyhow::Result<()> {
    ensure!(
        !args.rates.is_empty() && args.contacts > 0,
        "give at least one rate"
    );
    let db = ScratchDb::create(&settings.database_url).await?;
    let outcome = async {
        let app = Arc::new(BenchApp::start(&db, "latency").await?);
        println!(
            "pesync bench latency: single-event requests, {} s per rate, {} contacts, {} CPUs",
            args.seconds,
            args.contacts,
            std::thread::available_parallelism().map_or(0, usize::from),
        );
        // Warm-up (connections, caches), not reported.
        measure(&app, 100, Duration::from_secs(2), args.contacts, "warm").await?;
        for rate in &args.rates {
            let f = measure(
                &app,
                *rate,
                Duration::from_secs(args.seconds),
                args.contacts,
                &format!("r{rate}"),
            )
            .await?;
            println!(
                "rate {:>5} req/s: achieved {:>7.1} req/s   p50 {:>6.2} ms   p99 {:>7.2} ms   p99.9 {:>7.2} ms   failed {}   peak RSS (service) {}",
                f.rate,
                f.achieved,
                f.p50_ms,
                f.p99_ms,
                f.p999_ms,
                f.failed,
                super::cpu::mib_text(f.peak_rss_mib),
            );
        }
        // Every request's task has ended in `measure`: this is the last handle.
        match Arc::into_inner(app) {
            Some(app) => app.stop().await,
            None => anyhow::Ok(()),
        }
    }
    .await;
    let dropped = db.drop_db().await;
    outcome?;
    dropped
}

/// Posts `rate` requests a second for `length`; latencies from each request's due time.
async fn measure(
    app: &Arc<BenchApp>,
    rate: u32,
    length: Duration,
    contacts: usize,
    tag: &str,
) -> anyhow::Result<RateFigures> {
    app.reset_peak_rss();
    let total = (u128::from(rate) * length.as_millis() / 1000) as usize;
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let url = format!("{}/v1/sources/{SOURCE}/events", app.base);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due).await;
        let body = single_event(i, contacts, tag);
        let (app, url) = (Arc::clone(app), url.clone());
        let (latencies, failures) = (Arc::clone(&latencies), Arc::clone(&failures));
        tasks.push(tokio::spawn(async move {
            match app.post(&url, &body, 1).await {
                Ok(()) => latencies.lock().await.push(due.elapsed()),
                Err(_) => {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut l = std::mem::take(&mut *latencies.lock().await);
    l.sort();
    Ok(RateFigures {
        rate,
        achieved: l.len() as f64 / elapsed,
        p50_ms: quantile_ms(&l, 0.50),
        p99_ms: quantile_ms(&l, 0.99),
        p999_ms: quantile_ms(&l, 0.999),
        failed: failures.load(std::sync::atomic::Ordering::Relaxed),
        peak_rss_mib: app.peak_rss_mib(),
    })
}

/// One new event (a record id unique per rate and request) as an NDJSON body.
fn single_event(i: usize, contacts: usize, tag: &str) -> Vec<u8> {
    let at = Utc::now() - chrono::Duration::seconds(30);
    let event = json!({
        "contact_id": format!("contact-{}", i % contacts),
        "event_type": "crm.transaction",
        "event_timestamp": at.to_rfc3339(),
        "attributes": {"transaction_value": 2450.00, "product_category": "enterprise_license",
                       "payment_status": "captured", "crm_record_id": format!("latency-{tag}-{i}"),
                       "channel_origin": "web_portal"}
    });
    let mut body = serde_json::to_vec(&event).expect("an event serializes");
    body.push(b'\n');
    body
}

/// The `q` quantile of sorted latencies, in milliseconds (nearest rank); NaN when there are none.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let ms: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&ms, 0.5), 500.0);
        assert_eq!(quantile_ms(&ms, 0.99), 990.0);
        assert_eq!(quantile_ms(&ms, 0.999), 999.0);
        assert_eq!(quantile_ms(&ms[..1], 0.999), 1.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }
}
