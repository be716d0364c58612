//! What to do with an answer from Genesys (SPEC §5 "Failures"), as pure functions.

use std::time::Duration;

use rand::Rng;

use super::{ApiResponse, TransportError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCause {
    RateLimited,
    ServerError,
    Timeout,
    Connection,
    Unauthorized,
}

impl RetryCause {
    pub const ALL: [RetryCause; 5] = [
        Self::RateLimited,
        Self::ServerError,
        Self::Timeout,
        Self::Connection,
        Self::Unauthorized,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::Unauthorized => "unauthorized",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx, or 409 (PE already has this request id): delivered.
    Done,
    /// 429 with `Retry-After`: wait exactly that long.
    RetryAfter(Duration),
    /// Retry with exponential backoff.
    Backoff(RetryCause),
    /// Another 4xx: the request itself is wrong; retrying cannot help.
    Reject,
}

pub fn verdict(r: &Result<ApiResponse, TransportError>) -> Verdict {
    match r {
        Ok(resp) => match resp.status {
            200..=299 | 409 => Verdict::Done,
            429 => match resp.retry_after {
                Some(d) => Verdict::RetryAfter(d),
                None => Verdict::Backoff(RetryCause::RateLimited),
            },
            // A 401 reaching here came after a fresh token (SPEC §11.8).
            401 => Verdict::Backoff(RetryCause::Unauthorized),
            // Request timeout is the server giving up on us: transient.
            408 => Verdict::Backoff(RetryCause::Timeout),
            400..=499 => Verdict::Reject,
            _ => Verdict::Backoff(RetryCause::ServerError),
        },
        Err(TransportError::Timeout) => Verdict::Backoff(RetryCause::Timeout),
        Err(_) => Verdict::Backoff(RetryCause::Connection),
    }
}

pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// The ceiling of the wait after `failures` consecutive failures: 1 s doubling, capped at 5 min.
pub fn backoff_ceiling(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    (BACKOFF_BASE * 2u32.pow(exp)).min(BACKOFF_CAP)
}

/// Exponential backoff with full jitter: uniform in [0, ceiling], so many contacts failing together
/// do not retry in lockstep.
pub fn backoff(failures: u32) -> Duration {
    let ceiling = backoff_ceiling(failures);
    let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, retry_after: Option<u64>) -> Result<ApiResponse, TransportError> {
        Ok(ApiResponse {
            status,
            body: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&resp(202, None)), Verdict::Done);
        assert_eq!(verdict(&resp(200, None)), Verdict::Done);
        assert_eq!(verdict(&resp(409, None)), Verdict::Done);
        assert_eq!(
            verdict(&resp(429, Some(7))),
            Verdict::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            verdict(&resp(429, None)),
            Verdict::Backoff(RetryCause::RateLimited)
        );
        assert_eq!(
            verdict(&resp(401, None)),
            Verdict::Backoff(RetryCause::Unauthorized)
        );
        assert_eq!(
            verdict(&resp(503, None)),
            Verdict::Backoff(RetryCause::ServerError)
        );
        assert_eq!(
            verdict(&resp(500, None)),
            Verdict::Backoff(RetryCause::ServerError)
        );
        assert_eq!(verdict(&resp(400, None)), Verdict::Reject);
        assert_eq!(verdict(&resp(404, None)), Verdict::Reject);
        assert_eq!(
            verdict(&Err(TransportError::Timeout)),
            Verdict::Backoff(RetryCause::Timeout)
        );
        assert_eq!(
            verdict(&Err(TransportError::Connect("refused".into()))),
            Verdict::Backoff(RetryCause::Connection)
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let ceilings: Vec<u64> = (1..=11).map(|f| backoff_ceiling(f).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff_ceiling(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_spreads() {
        let samples: Vec<Duration> = (0..200).map(|_| backoff(4)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_secs(8)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 50, "jitter should spread retries");
    }
}
