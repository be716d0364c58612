//! The cluster-wide ceiling on requests to Genesys (`PESYNC_PE_RATE_LIMIT`, SPEC §5, §11.7).
//!
//! Why a sliding log in one PostgreSQL row: PostgreSQL is already the one thing every instance
//! shares, so the ceiling holds for any number of instances with no extra infrastructure, and its
//! clock is the one clock they all agree on. The row lists what was sent in the last window as
//! (instant, count) pairs; a request may go when fewer than the ceiling were sent in that window.
//! Unlike a token bucket of capacity one, a pause (a worker doing its bookkeeping) is made up right
//! after instead of wasting budget, and unlike a bigger bucket it never lets a burst exceed the
//! ceiling in any one-second window. At high ceilings an instance takes a chunk (~20 ms of budget)
//! per round trip so the row does not become a hot spot. A leader-elected sender (advisory lock) was
//! the other option; it idles every other instance and needs fail-over, the row needs neither.
//!
//! The window is a little longer than a second: it covers the time a taken permit may wait before
//! use and the jitter between our send and the server's count (see `jitter_margin`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::Mutex;

/// Permits taken in a chunk must be used within this, or they are dropped.
const LOCAL_PERMIT_LIFETIME: Duration = Duration::from_millis(20);
/// Allowance for jitter between taking a permit and the server counting the request: a quarter of
/// the spacing of requests at the ceiling, between 30 and 50 ms (50 ms at the default 5/s, 95 % of
/// the ceiling; 30 ms from 9/s up, 97 %). Wider margins were tried: 100 ms at 5/s held a loaded
/// machine's simulator to the ceiling in every sliding second but capped a token at 91 % of its
/// budget. Genesys counts a client's requests per minute (300/min for the default 5/s): at 95 % a
/// minute carries at most 286, so a request counted a little late in one second never breaks it.
fn jitter_margin(limit: i64) -> Duration {
    Duration::from_millis((250 / limit.max(1)).clamp(30, 50) as u64)
}

pub struct RateLimiter {
    pool: PgPool,
    name: String,
    limit: i64,
    chunk: i64,
    window: chrono::Duration,
    /// Permits this process took and has not used yet, and when it took them.
    local: Mutex<(i64, Instant)>,
}

/// What one round trip to the row decides.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Take(i64),
    Wait(chrono::Duration),
}

/// Chunk size for a ceiling: about 20 ms of budget, at least one permit.
pub fn chunk_for(limit: i64) -> i64 {
    (limit / 50).max(1)
}

/// The window: one second, plus the margins above (the permit lifetime only matters for chunks).
pub fn window_for(limit: i64, chunk: i64) -> chrono::Duration {
    let mut w = Duration::from_secs(1) + jitter_margin(limit);
    if chunk > 1 {
        w += LOCAL_PERMIT_LIFETIME;
    }
    chrono::Duration::from_std(w).expect("small duration")
}

/// Pure decision over the log: `sent` holds (instant, count) pairs, oldest first.
pub fn decide(
    sent: &[(DateTime<Utc>, i64)],
    now: DateTime<Utc>,
    paused_until: DateTime<Utc>,
    limit: i64,
    chunk: i64,
    window: chrono::Duration,
) -> Decision {
    if paused_until > now {
        return Decision::Wait(paused_until - now);
    }
    let live: Vec<&(DateTime<Utc>, i64)> =
        sent.iter().filter(|(at, _)| *at > now - window).collect();
    let used: i64 = live.iter().map(|(_, n)| n).sum();
    let free = limit - used;
    if free > 0 {
        return Decision::Take(free.min(chunk));
    }
    // Wait until enough of the oldest sends leave the window to free one permit.
    let mut over = used - limit + 1;
    for (at, n) in &live {
        over -= n;
        if over <= 0 {
            return Decision::Wait((*at + window - now).max(chrono::Duration::milliseconds(1)));
        }
    }
    Decision::Wait(chrono::Duration::milliseconds(5))
}

impl RateLimiter {
    pub async fn new(pool: PgPool, name: &str, ceiling: f64) -> sqlx::Result<Self> {
        // A fractional ceiling below one still allows one request per window.
        let limit = (ceiling.floor() as i64).max(1);
        let chunk = chunk_for(limit);
        sqlx::query!(
            "INSERT INTO rate_buckets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            name
        )
        .execute(&pool)
        .await?;
        Ok(Self {
            pool,
            name: name.to_owned(),
            limit,
            chunk,
            window: window_for(limit, chunk),
            local: Mutex::new((0, Instant::now())),
        })
    }

    /// The row's name in `rate_buckets` (queries that must respect a pause look it up).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until one request may be sent.
    pub async fn acquire(&self) -> sqlx::Result<()> {
        let mut local = self.local.lock().await;
        loop {
            if local.0 > 0 && local.1.elapsed() < LOCAL_PERMIT_LIFETIME {
                local.0 -= 1;
                return Ok(());
            }
            match self.take().await? {
                Decision::Take(n) => {
                    *local = (n - 1, Instant::now());
                    return Ok(());
                }
                Decision::Wait(d) => {
                    let d = d.to_std().unwrap_or(Duration::from_millis(5));
                    tokio::time::sleep(d.min(Duration::from_secs(5))).await;
                }
            }
        }
    }

    /// Stops every instance from sending for `d` (a 429's `Retry-After`), at most
    /// `MAX_RETRY_AFTER`: one bad answer must not stop the cluster for longer.
    pub async fn pause(&self, d: Duration) -> sqlx::Result<()> {
        let d = d.min(super::retry::MAX_RETRY_AFTER);
        self.local.lock().await.0 = 0;
        sqlx::query!(
            r#"UPDATE rate_buckets
               SET paused_until = GREATEST(paused_until, now() + make_interval(secs => $2))
               WHERE name = $1"#,
            self.name,
            d.as_secs_f64()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take(&self) -> sqlx::Result<Decision> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query!(
            r#"SELECT sent_at, sent_n,
                      -- '-infinity' (never paused) does not fit a chrono instant.
                      GREATEST(paused_until, 'epoch') AS "paused_until!"
               FROM rate_buckets WHERE name = $1 FOR UPDATE"#,
            self.name
        )
        .fetch_one(&mut *tx)
        .await?;
        // The time is read once the row lock is held: `now()` would be the transaction's start, which
        // can be long before when another instance holds the lock, and would date the send too early.
        let now = sqlx::query_scalar!(r#"SELECT clock_timestamp() AS "now!""#)
            .fetch_one(&mut *tx)
            .await?;
        let sent: Vec<(DateTime<Utc>, i64)> = row
            .sent_at
            .iter()
            .zip(&row.sent_n)
            .map(|(at, n)| (*at, *n as i64))
            .filter(|(at, _)| *at > now - self.window)
            .collect();
        let decision = decide(
            &sent,
            now,
            row.paused_until,
            self.limit,
            self.chunk,
            self.window,
        );
        if let Decision::Take(n) = decision {
            let (mut at, mut counts): (Vec<DateTime<Utc>>, Vec<i32>) =
                sent.iter().map(|(a, n)| (*a, *n as i32)).unzip();
            at.push(now);
            counts.push(n as i32);
            sqlx::query!(
                "UPDATE rate_buckets SET sent_at = $2, sent_n = $3 WHERE name = $1",
                self.name,
                &at,
                &counts
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
    }

    /// Simulates a greedy sender against `decide` and checks every sliding second.
    fn simulate(limit: i64, horizon_ms: i64) -> Vec<i64> {
        let chunk = chunk_for(limit);
        let window = window_for(limit, chunk);
        let mut log: Vec<(DateTime<Utc>, i64)> = vec![];
        let mut sends = vec![];
        let mut now = 0;
        while now < horizon_ms {
            match decide(&log, t(now), t(-1), limit, chunk, window) {
                Decision::Take(n) => {
                    log.push((t(now), n));
                    sends.extend(std::iter::repeat_n(now, n as usize));
                }
                Decision::Wait(d) => now += d.num_milliseconds().max(1),
            }
        }
        sends
    }

    #[test]
    fn never_more_than_the_ceiling_in_any_second_and_close_to_it_overall() {
        for limit in [1, 5, 20, 300, 5000] {
            let sends = simulate(limit, 20_000);
            for (i, start) in sends.iter().enumerate() {
                let in_window = sends[i..].iter().take_while(|s| **s < start + 1000).count() as i64;
                assert!(
                    in_window <= limit,
                    "limit {limit}: {in_window} in [{start}, +1 s)"
                );
            }
            let rate = sends.len() as f64 / 20.0;
            let designed = limit as f64
                / (window_for(limit, chunk_for(limit)).num_milliseconds() as f64 / 1000.0);
            assert!(
                rate >= 0.99 * designed,
                "limit {limit}: only {rate}/s of {designed}"
            );
            if limit >= 5 {
                assert!(rate >= 0.95 * limit as f64, "limit {limit}: only {rate}/s");
            }
        }
    }

    #[test]
    fn a_pause_blocks_until_it_ends() {
        let d = decide(&[], t(0), t(1500), 5, 1, window_for(5, 1));
        assert_eq!(d, Decision::Wait(chrono::Duration::milliseconds(1500)));
    }

    #[test]
    fn full_window_waits_for_the_oldest_to_leave() {
        let log = vec![(t(0), 3), (t(500), 2)];
        let w = window_for(5, 1);
        assert_eq!(
            decide(&log, t(600), t(-1), 5, 1, w),
            Decision::Wait(t(0) + w - t(600))
        );
        assert_eq!(decide(&log, t(600), t(-1), 6, 1, w), Decision::Take(1));
    }
}
