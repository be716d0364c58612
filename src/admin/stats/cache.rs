//! The single-flight cache of the stats' database figures ([`Tables`]): one computation serves
//! every scraper of `/metrics` and `/v1/admin/stats` for [`CACHE_FOR`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

use super::Tables;
use crate::platform::http::ApiError;

/// How long one computation of the database figures serves every scraper.
pub const CACHE_FOR: TimeDelta = TimeDelta::seconds(5);

/// The database figures of `/metrics` and `/v1/admin/stats`, computed at most once per
/// [`CACHE_FOR`] whatever the number of scrapers: they count whole tables, and a burst of scrapes
/// must not take the database from ingestion. Single flight: scrapers arriving while the figures
/// are computed wait for that computation instead of starting their own. The counts are exact as
/// of the computation; the oldest pending age is worked out at each scrape from the stored
/// timestamp, so it is exact at any time.
#[derive(Debug, Default)]
pub struct StatsCache {
    slot: tokio::sync::Mutex<Slot>,
    /// Computations started.
    computations: AtomicU64,
    /// Computations finished, failed or not.
    settled: AtomicU64,
}

#[derive(Debug, Default)]
struct Slot {
    fresh: Option<(DateTime<Utc>, Arc<Tables>)>,
    /// The last computation failed: those who were waiting for it fail too rather than each
    /// trying again in turn (with the database down, that would be a queue of 5 s waits).
    failed: bool,
}

impl StatsCache {
    /// How many computations were started (tests count them).
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::SeqCst)
    }

    /// The figures as of at most [`CACHE_FOR`] before `now`, computed by `compute` when older.
    pub async fn get<F, Fut>(&self, now: DateTime<Utc>, compute: F) -> Result<Arc<Tables>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Tables, ApiError>>,
    {
        let seen = self.settled.load(Ordering::SeqCst);
        let mut slot = self.slot.lock().await;
        if let Some((at, tables)) = &slot.fresh
            && *at <= now
            && now - *at < CACHE_FOR
        {
            return Ok(Arc::clone(tables));
        }
        if slot.failed && self.settled.load(Ordering::SeqCst) > seen {
            return Err(ApiError::Unavailable(anyhow::anyhow!(
                "the figures could not be computed just now"
            )));
        }
        self.computations.fetch_add(1, Ordering::SeqCst);
        let result = compute().await;
        slot.failed = result.is_err();
        self.settled.fetch_add(1, Ordering::SeqCst);
        let tables = Arc::new(result?);
        slot.fresh = Some((now, Arc::clone(&tables)));
        Ok(tables)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// A computation that yields a few times (so concurrent callers really overlap) and returns
    /// `dispatched` as the figure.
    async fn slow(dispatched: &AtomicI64) -> Result<Tables, ApiError> {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        Ok(Tables {
            dispatched: dispatched.load(Ordering::SeqCst),
            ..Tables::default()
        })
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_computation() {
        let cache = StatsCache::default();
        let db = AtomicI64::new(7);
        let scrapes = (0..200).map(|_| cache.get(at(0), || slow(&db)));
        let all = futures_util::future::join_all(scrapes).await;
        assert!(all.iter().all(|t| t.as_ref().unwrap().dispatched == 7));
        assert_eq!(cache.computations(), 1);
    }

    #[tokio::test]
    async fn figures_are_recomputed_once_the_cache_period_is_over() {
        let cache = StatsCache::default();
        let db = AtomicI64::new(1);
        assert_eq!(cache.get(at(0), || slow(&db)).await.unwrap().dispatched, 1);
        db.store(2, Ordering::SeqCst);
        let cached = cache.get(at(4), || slow(&db)).await.unwrap();
        assert_eq!(cached.dispatched, 1, "within 5 s the figures are shared");
        let fresh = cache.get(at(5), || slow(&db)).await.unwrap();
        assert_eq!(fresh.dispatched, 2, "exact again after 5 s");
        // A clock set back does not keep serving figures from its future.
        db.store(3, Ordering::SeqCst);
        assert_eq!(cache.get(at(1), || slow(&db)).await.unwrap().dispatched, 3);
        assert_eq!(cache.computations(), 3);
    }

    #[tokio::test]
    async fn those_waiting_for_a_failed_computation_fail_with_it() {
        let cache = StatsCache::default();
        let failing = || async {
            tokio::task::yield_now().await;
            Err::<Tables, _>(ApiError::Unavailable(anyhow::anyhow!("database down")))
        };
        let scrapes = (0..20).map(|_| cache.get(at(0), failing));
        let all = futures_util::future::join_all(scrapes).await;
        assert!(
            all.iter()
                .all(|r| matches!(r, Err(ApiError::Unavailable(_))))
        );
        assert_eq!(cache.computations(), 1);
        // The next scrape tries again.
        let db = AtomicI64::new(4);
        assert_eq!(cache.get(at(0), || slow(&db)).await.unwrap().dispatched, 4);
        assert_eq!(cache.computations(), 2);
    }
}
