//! "Each scheduled job runs once per tick across the cluster" (SPEC §1): a run starts by taking a
//! PostgreSQL advisory lock and returns at once when another instance (or an overlapping tick of
//! this one) holds it.
//!
//! The lock is a session lock on a connection of its own rather than `pg_try_advisory_xact_lock` in
//! a pooled transaction: a run commits many batches, and when it ends in any way — finished,
//! cancelled at shutdown, panicked, or the process killed — the connection closes and the server
//! releases the lock. A pooled connection could go back to the pool still holding it.

use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// Advisory-lock keys of the scheduled jobs (`"pesync"` in ASCII, then a job number).
pub const POLL_JOB: i64 = 0x7065_7379_6e63_0001;
pub const EVALUATE_JOB: i64 = 0x7065_7379_6e63_0002;
pub const PRUNE_JOB: i64 = 0x7065_7379_6e63_0003;
/// `pesync genesys setup` and a manifest activation that changes the org: one at a time across
/// instances, so two never plan against the same listing and both create what is missing.
pub const ORG_SYNC: i64 = 0x7065_7379_6e63_0004;
/// The change watches' figures (`PESYNC_WATCH_CRON`, issue 11 §2).
pub const WATCH_JOB: i64 = 0x7065_7379_6e63_0005;

/// A held job lock; dropping it closes the connection, which releases the lock.
pub struct JobLock {
    conn: PgConnection,
    key: i64,
}

impl JobLock {
    /// Takes the lock of job `key`, or `None` when another session holds it.
    pub async fn try_acquire(pool: &PgPool, key: i64) -> sqlx::Result<Option<JobLock>> {
        let mut conn = pool.connect_options().connect().await?;
        let got = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock($1) AS "got!""#, key)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(JobLock { conn, key }))
        } else {
            conn.close().await.ok();
            Ok(None)
        }
    }

    /// Releases the lock and closes the connection.
    pub async fn release(mut self) {
        let _ = sqlx::query!("SELECT pg_advisory_unlock($1)", self.key)
            .fetch_one(&mut self.conn)
            .await;
        self.conn.close().await.ok();
    }
}
