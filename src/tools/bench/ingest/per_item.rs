//! CPU per item of each side of `bench ingest`: the serving process's and PostgreSQL's CPU
//! seconds over a side's run, divided by the events it stored. A rate moves with how fast the
//! machine is from one minute to the next (the baseline by a quarter within minutes, issue 12 §3);
//! CPU per event moves with the work done, so a cut of a few per cent shows.

use std::time::Duration;

use sqlx::PgPool;

use crate::tools::bench::cpu::Meter;
use crate::tools::bench::median;
use crate::tools::bench::service::BenchApp;

/// One side's run: µs of CPU per item, each unknown where `/proc` cannot be read (another OS, a
/// PostgreSQL on another machine).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PerItem {
    service: Option<f64>,
    postgres: Option<f64>,
}

impl PerItem {
    fn of(service_cpu: Option<f64>, postgres_cpu: Option<f64>, items: usize) -> Self {
        let per = |cpu: f64| cpu * 1e6 / items.max(1) as f64;
        Self {
            service: service_cpu.map(per),
            postgres: postgres_cpu.map(per),
        }
    }
}

/// One side's run (`run`, which says how long it took), with PostgreSQL's CPU per item and, given
/// the serving `app`, its CPU per item too. `pool` is one on the benchmark's database: its backends
/// are the ones counted.
pub(super) async fn measured(
    pool: &PgPool,
    app: Option<&BenchApp>,
    items: usize,
    run: impl Future<Output = anyhow::Result<Duration>>,
) -> anyhow::Result<(Duration, PerItem)> {
    let meter = Meter::start(pool).await;
    let service = app.and_then(BenchApp::cpu_seconds);
    let took = run.await?;
    let service = app
        .and_then(BenchApp::cpu_seconds)
        .zip(service)
        .map(|(b, a)| b - a);
    let cost = meter.stop(pool).await;
    Ok((took, PerItem::of(service, cost.postgres_cpu_seconds, items)))
}

/// The line of the medians: the service's and PostgreSQL's µs per event of ingestion, PostgreSQL's
/// per row of the baseline, and PostgreSQL's ratio of the two.
pub(super) fn report(ingestion: &[PerItem], baseline: &[PerItem]) -> String {
    let med = |xs: Vec<Option<f64>>| -> Option<f64> {
        let known: Option<Vec<f64>> = xs.into_iter().collect();
        known.filter(|k| !k.is_empty()).map(median)
    };
    let service = med(ingestion.iter().map(|p| p.service).collect());
    let pg_events = med(ingestion.iter().map(|p| p.postgres).collect());
    let pg_rows = med(baseline.iter().map(|p| p.postgres).collect());
    let us = |x: Option<f64>| x.map_or_else(|| "unknown".to_owned(), |x| format!("{x:.1} µs"));
    let ratio = pg_events
        .zip(pg_rows)
        .map_or_else(|| "unknown".to_owned(), |(e, r)| format!("{:.2}", e / r));
    format!(
        "CPU per item (medians): ingestion: service {} + PostgreSQL {} an event; baseline: PostgreSQL {} a row; PostgreSQL's ratio {ratio}",
        us(service),
        us(pg_events),
        us(pg_rows),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_gives_medians_per_item_and_says_what_is_unknown() {
        let i = [
            PerItem::of(Some(0.7), Some(3.0), 100_000),
            PerItem::of(Some(0.9), Some(3.4), 100_000),
            PerItem::of(Some(0.8), Some(3.2), 100_000),
        ];
        let b = [PerItem::of(None, Some(2.8), 100_000)];
        assert_eq!(
            report(&i, &b),
            "CPU per item (medians): ingestion: service 8.0 µs + PostgreSQL 32.0 µs an event; \
             baseline: PostgreSQL 28.0 µs a row; PostgreSQL's ratio 1.14"
        );
        let unknown = [PerItem::of(None, None, 10)];
        assert_eq!(
            report(&unknown, &unknown),
            "CPU per item (medians): ingestion: service unknown + PostgreSQL unknown an event; \
             baseline: PostgreSQL unknown a row; PostgreSQL's ratio unknown"
        );
    }
}
