//! Restarts a background task that dies (issue 8, defect 6). A delivery loop or the scheduler that
//! panics, or returns an error before shutdown, used to vanish: the service went on answering
//! `/readyz` while nothing was delivered any more. Each one now runs under `supervise`, which
//! starts it again after a backoff (1 s doubling, capped at a minute, so a task that dies at once
//! does not spin), and stops restarting as soon as shutdown begins.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Delay before the `restarts`-th consecutive restart: `first` doubling, at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub first: Duration,
    pub cap: Duration,
    /// A task that ran at least this long before dying starts the backoff over.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            healthy_after: Duration::from_secs(300),
        }
    }
}

impl RestartPolicy {
    pub fn delay(&self, restarts: u32) -> Duration {
        let exp = restarts.saturating_sub(1).min(20);
        self.first.saturating_mul(2u32.pow(exp)).min(self.cap)
    }
}

/// Runs the task `start()` makes until `shutdown`; when it panics or ends before shutdown, logs why
/// and starts a new one after the policy's delay. Returns once shutdown has begun and the current
/// task has ended (tasks watch the same token).
pub async fn supervise<F, Fut>(
    name: &'static str,
    policy: RestartPolicy,
    shutdown: CancellationToken,
    mut start: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut restarts = 0u32;
    loop {
        let began = Instant::now();
        // A task of its own, so a panic ends it and not the supervisor.
        let ended = tokio::spawn(start()).await;
        if shutdown.is_cancelled() {
            return;
        }
        match ended {
            Ok(Ok(())) => tracing::error!(task = name, "background task stopped; restarting it"),
            Ok(Err(e)) => {
                tracing::error!(task = name, error = %format!("{e:#}"), "background task failed; restarting it")
            }
            Err(e) => {
                tracing::error!(task = name, error = %e, "background task panicked; restarting it")
            }
        }
        if began.elapsed() >= policy.healthy_after {
            restarts = 0;
        }
        restarts = restarts.saturating_add(1);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(policy.delay(restarts)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick() -> RestartPolicy {
        RestartPolicy {
            first: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            healthy_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn restart_delays_double_up_to_the_cap() {
        let p = RestartPolicy::default();
        let secs: Vec<u64> = [1, 2, 3, 4, 6, 7, 8, u32::MAX]
            .map(|n| p.delay(n).as_secs())
            .to_vec();
        assert_eq!(secs, [1, 2, 4, 8, 32, 60, 60, 60]);
    }

    #[tokio::test]
    async fn a_task_that_panics_or_fails_is_started_again_until_shutdown() {
        let starts = Arc::new(AtomicU32::new(0));
        let shutdown = CancellationToken::new();
        let supervisor = tokio::spawn(supervise("test", quick(), shutdown.clone(), {
            let (starts, shutdown) = (starts.clone(), shutdown.clone());
            move || {
                let n = starts.fetch_add(1, Ordering::SeqCst) + 1;
                let shutdown = shutdown.clone();
                async move {
                    match n {
                        1 => panic!("injected failure"),
                        2 => anyhow::bail!("injected error"),
                        3 => Ok(()),
                        _ => {
                            // A healthy run: works until shutdown.
                            shutdown.cancelled().await;
                            Ok(())
                        }
                    }
                }
            }
        }));
        let deadline = Instant::now() + Duration::from_secs(10);
        while starts.load(Ordering::SeqCst) < 4 {
            assert!(Instant::now() < deadline, "the task was not restarted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("the supervisor stops with shutdown")
            .unwrap();
        assert_eq!(
            starts.load(Ordering::SeqCst),
            4,
            "no restart after shutdown"
        );
    }

    #[tokio::test]
    async fn shutdown_during_the_restart_delay_returns_at_once() {
        let shutdown = CancellationToken::new();
        let slow = RestartPolicy {
            first: Duration::from_secs(3600),
            ..quick()
        };
        let supervisor = tokio::spawn(supervise("test", slow, shutdown.clone(), || async {
            anyhow::bail!("always fails")
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("not waiting out an hour-long delay")
            .unwrap();
    }
}
