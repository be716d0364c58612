//! What to do with an answer from Genesys (SPEC §5 "Failures"), as pure functions.

use std::time::Duration;

use chrono::{DateTime, Utc};
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

/// The longest wait a tenant's `Retry-After` may impose. SPEC §5 honours the header, but a 429 also
/// pauses every instance (`RateLimiter::pause`), so a broken or hostile value ("a year") would stop
/// the whole cluster: no wait is longer than the backoff cap.
pub const MAX_RETRY_AFTER: Duration = BACKOFF_CAP;

/// Reads a `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, clamped to
/// `[0, MAX_RETRY_AFTER]`. A number too large for any integer is the cap, a date in the past is no
/// wait, anything else (negative, fractional, garbage) is `None`: the caller backs off instead.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only an overflow can fail, and that is "very long".
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is a valid RFC 2822 date.
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// `now + wait`, saturating at the latest instant chrono can hold instead of panicking on overflow.
pub fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(wait)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
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

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn retry_after_seconds_are_honoured_up_to_five_minutes() {
        let now = at(0);
        let secs = |v: &str| parse_retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(secs("7"), Some(7));
        assert_eq!(secs(" 0 "), Some(0));
        assert_eq!(secs("300"), Some(300));
        assert_eq!(secs("301"), Some(300), "clamped to the cap");
        assert_eq!(secs("86400"), Some(300), "a day is clamped");
        assert_eq!(secs("18446744073709551615"), Some(300), "u64::MAX");
        assert_eq!(
            secs("99999999999999999999999999999999"),
            Some(300),
            "beyond u64 is the cap, not an error"
        );
        for garbage in ["", "-5", "1.5", "soon", "5s", "NaN", "\u{0}"] {
            assert_eq!(secs(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn retry_after_dates_are_relative_to_now_and_clamped() {
        let now = DateTime::parse_from_rfc2822("Sun, 06 Dec 2026 07:00:00 GMT")
            .unwrap()
            .with_timezone(&Utc);
        let wait = |v: &str| parse_retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(wait("Sun, 06 Dec 2026 07:00:42 GMT"), Some(42));
        assert_eq!(
            wait("Sun, 06 Dec 2026 06:59:00 GMT"),
            Some(0),
            "past: no wait"
        );
        assert_eq!(
            wait("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(300),
            "far future: cap"
        );
        assert_eq!(wait("Sun, 06 Dec 2026 25:00:00 GMT"), None, "not a date");
    }

    #[test]
    fn after_saturates_instead_of_overflowing() {
        assert_eq!(after(at(0), Duration::from_secs(5)), at(5));
        assert_eq!(after(at(0), Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            after(at(0), Duration::from_secs(u64::MAX / 4)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_spreads() {
        let samples: Vec<Duration> = (0..200).map(|_| backoff(4)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_secs(8)));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 50, "jitter should spread retries");
    }
}
