//! `pesync bench …`: the benchmarks behind the quality bars of SPEC §9 (measured by benchmarks in
//! the repository, not by timed tests). Run them in release mode; results go to docs/BENCHMARKS.md.
//!
//! Each benchmark is a variant of `Bench` with its own module; the helpers here (a scratch database,
//! medians, rates) are shared by all of them.

pub mod ingest;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::config::Settings;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub bench: Bench,
}

#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// Batched ingestion over HTTP against the same rows inserted directly (SPEC §9, throughput).
    #[command(long_about = ingest::LONG_ABOUT)]
    Ingest(ingest::IngestArgs),
}

pub async fn run(settings: &Settings, args: BenchArgs) -> anyhow::Result<()> {
    match args.bench {
        Bench::Ingest(a) => ingest::run(settings, a).await,
    }
}

/// A fresh database on the configured PostgreSQL server, migrated; `drop` removes it.
pub struct ScratchDb {
    pub pool: PgPool,
    pub url: SecretString,
    name: String,
    options: PgConnectOptions,
}

impl ScratchDb {
    pub async fn create(settings: &Settings) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(settings.database_url.expose_secret())
            .context("DATABASE_URL is not a valid PostgreSQL URL")?;
        let name = format!("pesync_bench_{}", uuid::Uuid::new_v4().simple());
        let mut url = reqwest::Url::parse(settings.database_url.expose_secret())
            .context("DATABASE_URL is not a URL")?;
        url.set_path(&format!("/{name}"));
        let url = SecretString::from(url.to_string());
        let pool = crate::db::connect_and_migrate(&url).await?;
        Ok(Self {
            pool,
            url,
            name,
            options,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn drop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let mut admin = self.options.database("postgres").connect().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping the scratch database {}", self.name))?;
        admin.close().await.ok();
        Ok(())
    }
}

/// The median (the mean of the middle two for an even count); `NaN` when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Items per second.
pub fn rate(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn rates() {
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
    }
}
