//! A throw-away database on the configured PostgreSQL server for one benchmark run.

use std::str::FromStr;

use anyhow::Context;
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
        let server = PgConnectOptions::from_str(database_url.expose_secret())
            .context("DATABASE_URL")?
            .database("postgres");
        let name = format!("pesync_bench_{}", uuid::Uuid::new_v4().simple());
        let url = server.clone().database(&name).to_url_lossy().to_string();
        let url = SecretString::from(url);
        let pool = crate::db::connect_and_migrate(&url).await?;
        Ok(Self {
            url,
            pool,
            name,
            server,
        })
    }

    pub async fn drop_db(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let mut c = self.server.connect().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut c)
        .await?;
        c.close().await.ok();
        Ok(())
    }
}
