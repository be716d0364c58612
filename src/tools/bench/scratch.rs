//! A throw-away database on the configured PostgreSQL server for one benchmark run.

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};

pub struct ScratchDb {
    pub url: SecretString,
    pub pool: PgPool,
    name: String,
    server: PgConnectOptions,
}

impl ScratchDb {
    /// Creates `pesync_bench_<random>` next to the database `DATABASE_URL` names, with migrations.
    pub async fn create(database_url: &SecretString) -> anyhow::Result<Self> {
        let name = format!("pesync_bench_{}", uuid::Uuid::new_v4().simple());
        Self::named(database_url, &name, true).await
    }

    /// The database `name` next to the one `DATABASE_URL` names: dropped and re-created when
    /// `fresh`, otherwise opened as an earlier run left it; migrated either way, so a kept
    /// database follows the build that evaluates it.
    pub async fn named(
        database_url: &SecretString,
        name: &str,
        fresh: bool,
    ) -> anyhow::Result<Self> {
        let (server, url) = urls(database_url, name)?;
        if fresh {
            drop_database(&server, name).await?;
        }
        let pool = crate::platform::db::connect_and_migrate(&url).await?;
        Ok(Self {
            url,
            pool,
            name: name.to_owned(),
            server,
        })
    }

    /// Closes the pool and keeps the database (to look at it, or to run again on it).
    pub async fn keep(self) {
        self.pool.close().await;
    }

    pub async fn drop_db(self) -> anyhow::Result<()> {
        self.pool.close().await;
        drop_database(&self.server, &self.name).await
    }
}

/// The maintenance database's options and the URL of `name`, on the server `DATABASE_URL` names.
fn urls(
    database_url: &SecretString,
    name: &str,
) -> anyhow::Result<(PgConnectOptions, SecretString)> {
    let server =
        crate::platform::db::connect_options(database_url.expose_secret())?.database("postgres");
    let url = SecretString::from(server.clone().database(name).to_url_lossy().to_string());
    Ok((server, url))
}

async fn drop_database(server: &PgConnectOptions, name: &str) -> anyhow::Result<()> {
    let mut c = server.connect().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        name.replace('"', "\"\"")
    )))
    .execute(&mut c)
    .await?;
    c.close().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_database_is_on_the_configured_server_never_the_configured_database() {
        let (_, url) = urls(
            &SecretString::from("postgres://u:p@db.example:5433/pesync?sslmode=require"),
            "pesync_bench_evaluate",
        )
        .unwrap();
        let url = reqwest::Url::parse(url.expose_secret()).unwrap();
        assert_eq!(url.path(), "/pesync_bench_evaluate");
        assert_eq!(
            (url.host_str(), url.port(), url.username(), url.password()),
            (Some("db.example"), Some(5433), "u", Some("p"))
        );
        assert!(
            url.query().unwrap_or_default().contains("sslmode=require"),
            "{url}"
        );
    }
}
