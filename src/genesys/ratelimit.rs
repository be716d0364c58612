//! The cluster-wide ceiling on requests to Genesys (`PESYNC_PE_RATE_LIMIT`, SPEC §5, §11.7).
//!
//! Why a token bucket in one PostgreSQL row: PostgreSQL is already the one thing every instance
//! shares, so the ceiling holds for any number of instances with no extra infrastructure, and the
//! bucket's refill uses the database's clock, the one clock they all agree on. An instance takes a
//! small chunk of tokens per round trip (about 20 ms of budget) so high ceilings do not turn the row
//! into a hot spot, and spends them at once. A leader-elected sender (advisory lock) was the other
//! option; it idles every other instance and needs fail-over, the bucket needs neither.
//!
//! Never exceeding the ceiling in any 1-second window: a bucket of capacity C refilled at r tokens/s
//! lets through at most C + r − 1 requests in a half-open second, so r is set to R − C + 1 and, for
//! the single-token case, to 98 % of R, which leaves room for network jitter between our send and
//! the server's count while keeping utilisation above 95 %.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::Mutex;

/// How long tokens taken from the bucket may be held before they are spent (a chunk is ~20 ms of budget).
const LOCAL_TOKEN_LIFETIME: Duration = Duration::from_millis(50);

pub struct RateLimiter {
    pool: PgPool,
    name: String,
    /// Refill rate in tokens per second.
    rate: f64,
    /// Bucket capacity, which is also the largest chunk one instance takes at once.
    chunk: f64,
    /// Tokens this process took from the bucket and has not spent yet, and when it took them.
    local: Mutex<(u64, Instant)>,
}

/// Capacity/chunk and refill rate for a ceiling of `ceiling` requests per second (see module docs).
pub fn bucket_shape(ceiling: f64) -> (f64, f64) {
    let chunk = (ceiling / 50.0).floor().max(1.0);
    let rate = if chunk <= 1.0 {
        ceiling * 0.98
    } else {
        (ceiling - chunk + 1.0).min(ceiling * 0.98)
    };
    (chunk, rate.max(0.001))
}

impl RateLimiter {
    pub async fn new(pool: PgPool, name: &str, ceiling: f64) -> sqlx::Result<Self> {
        let (chunk, rate) = bucket_shape(ceiling);
        sqlx::query!(
            r#"INSERT INTO rate_buckets (name, tokens, refilled_at) VALUES ($1, 0, now())
               ON CONFLICT (name) DO NOTHING"#,
            name
        )
        .execute(&pool)
        .await?;
        Ok(Self {
            pool,
            name: name.to_owned(),
            rate,
            chunk,
            local: Mutex::new((0, Instant::now())),
        })
    }

    /// Waits until one request may be sent.
    pub async fn acquire(&self) -> sqlx::Result<()> {
        let mut local = self.local.lock().await;
        loop {
            // Unspent tokens go stale quickly: saved up, they would add a burst on top of the
            // bucket's own and break the ceiling.
            if local.0 > 0 && local.1.elapsed() < LOCAL_TOKEN_LIFETIME {
                local.0 -= 1;
                return Ok(());
            }
            match self.take().await? {
                Taken::Tokens(n) => *local = (n, Instant::now()),
                Taken::Wait(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Stops every instance from sending for `d` (a 429's `Retry-After`), and empties the bucket.
    pub async fn pause(&self, d: Duration) -> sqlx::Result<()> {
        self.local.lock().await.0 = 0;
        sqlx::query!(
            r#"UPDATE rate_buckets
               SET paused_until = GREATEST(paused_until, now() + make_interval(secs => $2)),
                   tokens = 0, refilled_at = now()
               WHERE name = $1"#,
            self.name,
            d.as_secs_f64()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take(&self) -> sqlx::Result<Taken> {
        let row = sqlx::query!(
            r#"WITH b AS (
                 SELECT name, paused_until,
                        LEAST($2::float8, tokens + $3::float8 * EXTRACT(EPOCH FROM now() - refilled_at)::float8) AS avail
                 FROM rate_buckets WHERE name = $1 FOR UPDATE
               ), t AS (
                 SELECT name, avail, paused_until,
                        CASE WHEN paused_until <= now() AND avail >= 1 THEN LEAST($2::float8, floor(avail)) ELSE 0 END AS take
                 FROM b
               )
               UPDATE rate_buckets r
               SET tokens = t.avail - t.take, refilled_at = now()
               FROM t WHERE r.name = t.name
               RETURNING t.take AS "take!", t.avail AS "avail!",
                         EXTRACT(EPOCH FROM GREATEST(t.paused_until, now()) - now())::float8 AS "paused_for!""#,
            self.name,
            self.chunk,
            self.rate
        )
        .fetch_one(&self.pool)
        .await?;
        if row.take >= 1.0 {
            return Ok(Taken::Tokens(row.take as u64));
        }
        let until_token = (1.0 - row.avail).max(0.0) / self.rate;
        let wait = row.paused_for.max(until_token).clamp(0.002, 5.0);
        Ok(Taken::Wait(Duration::from_secs_f64(wait)))
    }
}

enum Taken {
    Tokens(u64),
    Wait(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_never_allows_more_than_the_ceiling_per_second() {
        for ceiling in [1.0, 5.0, 10.0, 49.0, 50.0, 100.0, 1000.0, 100_000.0] {
            let (chunk, rate) = bucket_shape(ceiling);
            assert!(chunk >= 1.0);
            // Worst case in a half-open second: a full bucket plus what refills, minus the last.
            assert!(
                chunk + rate - 1.0 <= ceiling,
                "ceiling {ceiling}: chunk {chunk} rate {rate}"
            );
            assert!(
                rate >= 0.95 * ceiling,
                "ceiling {ceiling}: rate {rate} wastes budget"
            );
        }
    }
}
