//! Sends one batch to its endpoint, with retries: events to `POST /v1/sources/{source}/events`,
//! signed with the source's secret; score observations to `POST /v1/scores`, with a bearer token.
//!
//! The server's answer is all-or-nothing per batch and dedup makes a resend harmless (an event's
//! key, an observation's contact and instant), so a batch is simply sent again after a 5xx, a
//! 408/429, a timeout or a connection error, with exponential backoff (and a fresh signature). Any
//! other refusal (401, 403, 404, 413, 415, 400, …) is the same for every batch, so it stops the
//! import with the server's explanation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

pub use super::answer::{EventResult, Verdict, verdict};
use super::answer::{Results, check_results, error_chain, problem_detail};
use super::read::Kind;
use crate::ingest::signature;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused the batch for a reason a resend cannot fix.
    #[error("{0}")]
    Refused(String),
    /// Still failing after every retry.
    #[error("gave up after {attempts} attempts; last: {last}")]
    GaveUp { attempts: u32, last: String },
}

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Attempts after the first one.
    pub retries: u32,
}

impl Backoff {
    /// The wait before retry number `retry` (0-based): doubling from `first`, capped at `max`, with
    /// jitter (a random point in the upper half) so concurrent senders do not retry in lockstep.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let full = self
            .first
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.max);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// Where the records go, with the credential that endpoint takes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A source's events, signed with its signing secret.
    Events {
        source: String,
        secret: SecretString,
    },
    /// Score observations, with the scorer (or admin) token.
    Scores { token: SecretString },
}

impl Target {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Events { .. } => Kind::Events,
            Self::Scores { .. } => Kind::Scores,
        }
    }

    /// The endpoint's path segments under the base URL.
    fn path(&self) -> Vec<&str> {
        match self {
            Self::Events { source, .. } => vec!["v1", "sources", source, "events"],
            Self::Scores { .. } => vec!["v1", "scores"],
        }
    }
}

pub struct Sender {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    target: Target,
    backoff: Backoff,
}

impl Sender {
    pub fn new(base_url: &str, target: Target, backoff: Backoff) -> anyhow::Result<Self> {
        let mut endpoint = reqwest::Url::parse(base_url)
            .map_err(|e| anyhow::anyhow!("--url {base_url:?} is not a URL: {e}"))?;
        endpoint
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("--url {base_url:?} cannot have a path"))?
            .pop_if_empty()
            .extend(target.path());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Generous: a 5 MiB batch is committed before the answer.
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Self {
            http,
            endpoint,
            target,
            backoff,
        })
    }

    pub fn endpoint(&self) -> &reqwest::Url {
        &self.endpoint
    }

    /// Sends `body` (NDJSON of `records` records) until it is answered, and returns the results.
    pub async fn send(&self, body: &[u8], records: usize) -> Result<Vec<EventResult>, SendError> {
        let mut retry = 0;
        loop {
            let (last, retry_after) = match self.attempt(body, records).await {
                Ok(results) => return Ok(results),
                Err(Attempt::Stop(message)) => return Err(SendError::Refused(message)),
                Err(Attempt::Retry { message, after }) => (message, after),
            };
            if retry >= self.backoff.retries {
                return Err(SendError::GaveUp {
                    attempts: retry + 1,
                    last,
                });
            }
            let wait = retry_after
                .unwrap_or_else(|| self.backoff.delay(retry, rand::rng().random()))
                .min(self.backoff.max);
            tracing::warn!(attempt = retry + 1, ?wait, error = %last, "a batch was not taken; sending it again");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    async fn attempt(&self, body: &[u8], records: usize) -> Result<Vec<EventResult>, Attempt> {
        let request = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-ndjson");
        let request = match &self.target {
            Target::Events { secret, .. } => {
                // Signed at each attempt: a resend after a long backoff must not carry a stale `t`.
                let t = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let header = signature::header_value(secret.expose_secret().as_bytes(), t, body);
                request.header(signature::HEADER, header)
            }
            Target::Scores { token } => {
                let mut value = reqwest::header::HeaderValue::try_from(format!(
                    "Bearer {}",
                    token.expose_secret()
                ))
                .map_err(|_| {
                    Attempt::Stop("the token holds characters a header cannot carry".into())
                })?;
                value.set_sensitive(true);
                request.header(AUTHORIZATION, value)
            }
        };
        let response = request
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Attempt::Retry {
                message: error_chain(&e),
                after: None,
            })?;
        let status = response.status();
        if status == StatusCode::OK {
            let results: Results = response.json().await.map_err(|e| Attempt::Retry {
                message: format!("reading the answer: {}", error_chain(&e)),
                after: None,
            })?;
            return check_results(results.results, records).map_err(Attempt::Stop);
        }
        let after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let detail = problem_detail(&response.text().await.unwrap_or_default());
        let message = self.explain(status, &detail);
        match verdict(status) {
            Verdict::Retry => Err(Attempt::Retry { message, after }),
            Verdict::Stop => Err(Attempt::Stop(message)),
        }
    }

    /// An operator-facing message for a refusal, with what usually fixes it.
    fn explain(&self, status: StatusCode, detail: &str) -> String {
        let hint = match (&self.target, status.as_u16()) {
            (Target::Events { source, .. }, 401) => format!(
                " (is the secret the signing secret of source {source:?}, and this machine's clock right?)"
            ),
            (Target::Events { source, .. }, 404) => {
                format!(" (create the source first: PUT /v1/admin/sources/{source})")
            }
            (Target::Scores { .. }, 401) => {
                " (is the token this server's PESYNC_SCORER_TOKEN or PESYNC_ADMIN_TOKEN?)"
                    .to_owned()
            }
            (Target::Scores { .. }, 403) => {
                " (the viewer token may not post scores: use the scorer or the admin token)"
                    .to_owned()
            }
            (Target::Scores { .. }, 404) => {
                " (is --url a pesync server recent enough to take POST /v1/scores?)".to_owned()
            }
            (_, 413) => " (try a smaller --batch-size)".to_owned(),
            _ => String::new(),
        };
        format!("the server answered {status}: {detail}{hint}")
    }
}

enum Attempt {
    Retry {
        message: String,
        after: Option<Duration>,
    },
    Stop(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_secs(5),
            retries: 10,
        };
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(200));
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(1600));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(5));
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_secs(5));
    }

    #[test]
    fn the_endpoint_is_built_from_the_base_url_and_source() {
        let b = Backoff {
            first: Duration::ZERO,
            max: Duration::ZERO,
            retries: 0,
        };
        let events = |source: &str| Target::Events {
            source: source.into(),
            secret: SecretString::from("k"),
        };
        let scores = Target::Scores {
            token: SecretString::from("t"),
        };
        for base in ["http://h:8080", "http://h:8080/"] {
            let s = Sender::new(base, events("crm"), b).unwrap();
            assert_eq!(s.endpoint().as_str(), "http://h:8080/v1/sources/crm/events");
            let s = Sender::new(base, scores.clone(), b).unwrap();
            assert_eq!(s.endpoint().as_str(), "http://h:8080/v1/scores");
        }
        let s = Sender::new("https://h/pesync/", events("a b"), b).unwrap();
        assert_eq!(
            s.endpoint().as_str(),
            "https://h/pesync/v1/sources/a%20b/events"
        );
        let s = Sender::new("https://h/pesync/", scores.clone(), b).unwrap();
        assert_eq!(s.endpoint().as_str(), "https://h/pesync/v1/scores");
        assert!(Sender::new("not a url", events("crm"), b).is_err());
    }

    #[test]
    fn refusals_say_what_usually_fixes_them_for_the_target() {
        let b = Backoff {
            first: Duration::ZERO,
            max: Duration::ZERO,
            retries: 0,
        };
        let events = Target::Events {
            source: "crm".into(),
            secret: SecretString::from("k"),
        };
        let scores = Target::Scores {
            token: SecretString::from("t"),
        };
        let e = Sender::new("http://h", events, b).unwrap();
        let s = Sender::new("http://h", scores, b).unwrap();
        let say = |sender: &Sender, status: u16| {
            sender.explain(StatusCode::from_u16(status).unwrap(), "no")
        };
        assert!(say(&e, 401).contains("signing secret of source \"crm\""));
        assert!(say(&e, 404).contains("PUT /v1/admin/sources/crm"));
        assert!(say(&s, 401).contains("PESYNC_SCORER_TOKEN or PESYNC_ADMIN_TOKEN"));
        assert!(say(&s, 403).contains("use the scorer or the admin token"));
        for sender in [&e, &s] {
            assert!(say(sender, 413).contains("--batch-size"));
            assert_eq!(say(sender, 400), "the server answered 400 Bad Request: no");
        }
    }
}
