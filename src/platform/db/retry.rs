//! Which database errors are the caller's cue to retry, and retrying a transaction that met one.
//!
//! A deadlock (SQLSTATE 40P01) or a serialization failure (40001) says nothing about the request: the
//! same transaction run again a moment later normally succeeds. PostgreSQL rolls the loser back, so
//! running it again is safe wherever the whole unit of work is inside that one transaction. A
//! statement cancelled by `statement_timeout` (57014) is the database being slow, not the request
//! being wrong. All of them answer 503 with `Retry-After`, never 500.

use std::future::Future;
use std::time::Duration;

/// Tries of a transaction that keeps meeting deadlocks or serialization failures.
pub const ATTEMPTS: u32 = 3;

/// SQLSTATE of a deadlock or a serialization failure: the transaction may simply run again.
pub fn is_conflict_code(code: &str) -> bool {
    matches!(code, "40001" | "40P01")
}

/// SQLSTATEs that are the database's condition rather than the request's fault, so the answer is
/// 503 (retry later): 08xxx connection exceptions, 57P0x shutdown / cannot connect now, 53xxx
/// insufficient resources, 57014 a statement cancelled (our `statement_timeout`), and conflicts.
pub fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("57P")
        || code.starts_with("53")
        || code == "57014"
        || is_conflict_code(code)
}

/// An error that may be a deadlock or serialization failure somewhere in its chain.
pub trait Conflict {
    fn is_conflict(&self) -> bool;
}

impl Conflict for sqlx::Error {
    fn is_conflict(&self) -> bool {
        self.as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| is_conflict_code(&c))
    }
}

impl Conflict for anyhow::Error {
    fn is_conflict(&self) -> bool {
        self.downcast_ref::<sqlx::Error>()
            .is_some_and(Conflict::is_conflict)
    }
}

/// Runs `attempt` (a whole transaction, begun and committed inside it) up to [`ATTEMPTS`] times
/// while it fails with a conflict, pausing a little longer each time so the winner can finish.
/// Any other result, and the last conflict, is returned as is.
pub async fn retry_conflicts<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    E: Conflict,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_conflict() && tries < ATTEMPTS => {
                tracing::debug!(
                    tries,
                    "transaction met a deadlock or serialization failure; retrying"
                );
                tokio::time::sleep(pause(tries)).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// 10 ms, 40 ms, … plus up to 10 ms of jitter, so two losers do not collide again in step.
fn pause(tries: u32) -> Duration {
    let base = 10u64 * 4u64.pow(tries.saturating_sub(1).min(4));
    Duration::from_millis(base + rand::random_range(0..10))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Fake(bool);

    impl Conflict for Fake {
        fn is_conflict(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn deadlocks_serialization_failures_and_timeouts_are_unavailable() {
        for code in ["40001", "40P01"] {
            assert!(
                is_conflict_code(code) && is_unavailable_code(code),
                "{code}"
            );
        }
        for code in ["08006", "57P01", "53300", "57014"] {
            assert!(
                is_unavailable_code(code) && !is_conflict_code(code),
                "{code}"
            );
        }
        // A constraint violation or bad text is the request's fault, never retried.
        for code in ["23505", "22021", "42601", "40002"] {
            assert!(
                !is_unavailable_code(code) && !is_conflict_code(code),
                "{code}"
            );
        }
    }

    async fn run(failures: u32, conflict: bool) -> (Result<u32, Fake>, u32) {
        let calls = AtomicU32::new(0);
        let result = retry_conflicts(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n <= failures {
                    Err(Fake(conflict))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_conflict_is_retried_until_it_succeeds() {
        assert_eq!(run(0, true).await, (Ok(1), 1));
        assert_eq!(run(2, true).await, (Ok(3), 3));
    }

    #[tokio::test]
    async fn retries_stop_after_the_last_attempt() {
        assert_eq!(run(10, true).await, (Err(Fake(true)), ATTEMPTS));
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        assert_eq!(run(10, false).await, (Err(Fake(false)), 1));
    }

    #[test]
    fn pauses_grow_and_stay_short() {
        assert!(pause(1) < Duration::from_millis(20));
        assert!(pause(2) >= Duration::from_millis(40));
        assert!(pause(100) < Duration::from_secs(3));
    }
}
