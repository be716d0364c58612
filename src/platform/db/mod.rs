//! The PostgreSQL pool: the database is created when missing and migrations run at start (SPEC §1).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgPool};

pub mod copy;
pub mod copy_out;
mod landed;
pub mod lock;
mod nodelay;
pub mod retry;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// One count of a per-minute figure (the console's charts): the minute it fell in (truncated,
/// UTC), what was counted (a lane, a reason) and how many. Stages' stores answer these.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteCount {
    pub minute: chrono::DateTime<chrono::Utc>,
    pub key: String,
    pub count: i64,
}

/// The options of a `DATABASE_URL`. TLS to a server on this machine protects nothing (the bytes
/// never leave it) and costs both sides CPU on every byte: 2 of the 32 CPU-seconds of an
/// evaluation run over a million contacts (issue 12). So a loopback server is reached without TLS
/// unless the URL's `sslmode` or `PGSSLMODE` asks for something; any other server keeps sqlx's
/// default, `prefer`.
pub fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options =
        PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let mode_asked = std::env::var_os("PGSSLMODE").is_some() || names_ssl_mode(url);
    Ok(if !mode_asked && is_loopback(options.get_host()) {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    })
}

/// Whether the URL's query names an SSL mode (`sslmode` or `ssl-mode`, as sqlx reads them).
fn names_ssl_mode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| matches!(pair.split('=').next(), Some("sslmode" | "ssl-mode")))
    })
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Connects, creating the database first when it does not exist. No migrations.
pub async fn connect(url: &SecretString) -> anyhow::Result<PgPool> {
    let options = connect_options(url.expose_secret())?;
    create_database_if_missing(&options).await?;
    let pool = pool_options()
        .max_connections(20)
        // A request waiting longer than this for a connection gets 503 rather than hanging.
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL")?;
    Ok(pool)
}

/// Pool options every pool of pesync starts from: each new connection gets TCP_NODELAY (see
/// [`nodelay`]).
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new().after_connect(|conn, _| Box::pin(nodelay::apply(conn)))
}

/// Longest a statement on the [`read_pool`] may run before PostgreSQL cancels it (answered 503).
pub const READ_STATEMENT_TIMEOUT: &str = "10s";
/// Connections of the [`read_pool`].
const READ_CONNECTIONS: u32 = 5;

/// A pool for the reads outside the write path (admin reads, `/metrics`, `/v1/admin/stats`), on
/// the same database as `pool`. Its own few connections, so a burst of scrapes or admin reads
/// cannot take the connections ingestion and delivery need; and a statement timeout set on each
/// connection, so no read runs long whoever wrote the query. A separate pool rather than
/// `SET LOCAL statement_timeout` in each read: one place covers every read, present and future,
/// without a transaction around each. The write path keeps no timeout: a transaction that commits
/// events or outcomes is not cut short half way through a batch. Connects on first use.
pub fn read_pool(pool: &PgPool) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("statement_timeout", READ_STATEMENT_TIMEOUT)]);
    pool_options()
        .max_connections(READ_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options)
}

/// Connects, creates the database if needed and applies every migration.
pub async fn connect_and_migrate(url: &SecretString) -> anyhow::Result<PgPool> {
    let pool = connect(url).await?;
    MIGRATOR
        .run(&pool)
        .await
        .context("applying database migrations")?;
    Ok(pool)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    // Connect to the maintenance database to look for (and create) the target one.
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to PostgreSQL (maintenance database `postgres`)")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Two instances starting together may race to create it; the loser is fine.
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).context("creating the database"),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// True when the database answers and every known migration is applied (for `/readyz`).
pub async fn is_ready(pool: &PgPool) -> bool {
    let applied: Result<i64, _> =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await;
    matches!(applied, Ok(n) if n as usize >= MIGRATOR.iter().count())
}

/// Closes the pool at shutdown, waiting at most a second for connections still in use. Without
/// it, connections held by tasks the runtime cancels on exit are dropped while it shuts down, and
/// sqlx, which returns them from a task of their own, complains ("a Tokio context … is being shut
/// down").
pub async fn close(pool: PgPool) {
    if tokio::time::timeout(Duration::from_secs(1), pool.close())
        .await
        .is_err()
    {
        tracing::debug!("connections still in use at shutdown; closing anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_server_is_reached_without_tls_unless_a_mode_is_asked() {
        if std::env::var_os("PGSSLMODE").is_some() {
            return; // the environment asks for a mode: nothing here applies
        }
        let mode = |url: &str| connect_options(url).unwrap().get_ssl_mode();
        for url in [
            "postgres://postgres@127.0.0.1:5432/pesync",
            "postgres://postgres@localhost/pesync",
            "postgres://postgres@[::1]:5432/pesync",
            "postgres://postgres@127.0.0.2/pesync?application_name=x",
        ] {
            assert!(matches!(mode(url), PgSslMode::Disable), "{url}");
        }
        for (url, kept) in [
            (
                "postgres://postgres@127.0.0.1/pesync?sslmode=require",
                "Require",
            ),
            (
                "postgres://postgres@127.0.0.1/pesync?x=1&ssl-mode=prefer",
                "Prefer",
            ),
            ("postgres://postgres@db.example.com/pesync", "Prefer"),
            ("postgres://postgres@10.0.0.5/pesync", "Prefer"),
        ] {
            assert_eq!(format!("{:?}", mode(url)), kept, "{url}");
        }
        assert!(connect_options("not a url").is_err());
    }
}
