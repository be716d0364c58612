//! OAuth client-credentials tokens (SPEC §5): fetched with HTTP Basic auth, cached, and renewed
//! before they expire so a request never goes out with a token about to die.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

pub struct TokenCache {
    url: String,
    client_id: String,
    client_secret: SecretString,
    current: Mutex<Option<Cached>>,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    /// Kept raw: a negative, fractional, quoted or absurd value must not fail the token or panic
    /// (see `token_lifetime`).
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Genesys's documented bounds on a client-credentials token's lifetime, and its default.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(172_800);
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// The lifetime to plan renewal by, from the response's `expires_in`: a number (or a numeric
/// string) of seconds, clamped to the documented 300–172,800 s. Outside that range the value is
/// wrong, and both ends hurt: a huge one overflows the renewal instant (a panic) or keeps a dead
/// token, zero or negative makes every request fetch a new token. A 401 still renews a token that
/// dies earlier than planned. Missing or unreadable: the Genesys default, 86,400 s.
pub fn token_lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let secs = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match secs.filter(|s| s.is_finite()) {
        None => DEFAULT_TOKEN_LIFETIME,
        Some(s) => {
            let (min, max) = (
                MIN_TOKEN_LIFETIME.as_secs_f64(),
                MAX_TOKEN_LIFETIME.as_secs_f64(),
            );
            Duration::from_secs_f64(s.clamp(min, max))
        }
    }
}

/// When to renew a token that lives `expires_in` seconds: at 90 % of its life, at most 5 minutes
/// before the end, so a long-lived token is renewed late and a short-lived one still early enough.
pub fn renew_after(expires_in: u64) -> Duration {
    let life = Duration::from_secs(expires_in);
    let margin = (life / 10).min(Duration::from_secs(300));
    life - margin
}

impl TokenCache {
    pub fn new(url: String, client_id: String, client_secret: SecretString) -> Self {
        Self {
            url,
            client_id,
            client_secret,
            current: Mutex::new(None),
        }
    }

    /// A valid token, fetching a new one when none is cached or it is due for renewal. The lock is
    /// held while fetching so concurrent callers share one token request.
    pub async fn get(&self, http: &reqwest::Client) -> anyhow::Result<SecretString> {
        let mut cur = self.current.lock().await;
        if let Some(c) = cur.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(c.token.clone());
        }
        let resp = http
            .post(&self.url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .context("token request failed")?;
        let status = resp.status();
        if !status.is_success() {
            // The body may echo credentials on some servers; log only the status.
            bail!("token endpoint answered {status}");
        }
        let t: TokenResponse = resp.json().await.context("token response is not JSON")?;
        let token = t.access_token;
        let life = token_lifetime(t.expires_in.as_ref());
        *cur = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + renew_after(life.as_secs()),
        });
        tracing::debug!(lifetime_secs = life.as_secs(), "obtained a Genesys token");
        Ok(token)
    }

    /// Forgets `token` if it is still the cached one (another task may have renewed it already).
    pub async fn invalidate(&self, token: &SecretString) {
        let mut cur = self.current.lock().await;
        if cur
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == token.expose_secret())
        {
            *cur = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renews_before_expiry() {
        assert_eq!(renew_after(86_400), Duration::from_secs(86_100));
        assert_eq!(renew_after(10), Duration::from_secs(9));
        assert_eq!(renew_after(0), Duration::ZERO);
    }

    #[test]
    fn token_lifetime_is_clamped_to_the_documented_range() {
        let life = |v: serde_json::Value| token_lifetime(Some(&v)).as_secs();
        assert_eq!(life(json!(3600)), 3600);
        assert_eq!(life(json!(300)), 300);
        assert_eq!(life(json!(172_800)), 172_800);
        assert_eq!(
            life(json!(10)),
            300,
            "too short: renewing before every request"
        );
        assert_eq!(life(json!(0)), 300);
        assert_eq!(life(json!(-5)), 300, "negative");
        assert_eq!(life(json!(172_801)), 172_800);
        assert_eq!(life(json!(u64::MAX)), 172_800, "would overflow an Instant");
        assert_eq!(life(json!(1e300)), 172_800);
        assert_eq!(life(json!(3600.7)), 3600, "fractional");
        assert_eq!(life(json!(" 7200 ")), 7200, "numeric string");
    }

    #[test]
    fn missing_or_garbage_lifetime_is_the_genesys_default() {
        assert_eq!(token_lifetime(None), DEFAULT_TOKEN_LIFETIME);
        for v in [
            json!(null),
            json!("soon"),
            json!([1]),
            json!({"s": 1}),
            json!(true),
        ] {
            assert_eq!(token_lifetime(Some(&v)), DEFAULT_TOKEN_LIFETIME, "{v}");
        }
    }

    #[test]
    fn a_clamped_lifetime_never_overflows_the_renewal_instant() {
        for v in [json!(u64::MAX), json!(-1), json!(1e308)] {
            let life = token_lifetime(Some(&v));
            let _ = Instant::now() + renew_after(life.as_secs());
        }
    }

    #[test]
    fn the_token_response_reads_any_expires_in() {
        for body in [
            r#"{"access_token":"t","expires_in":-3}"#,
            r#"{"access_token":"t","expires_in":"86400"}"#,
            r#"{"access_token":"t","expires_in":1e40}"#,
            r#"{"access_token":"t"}"#,
        ] {
            let t: TokenResponse = serde_json::from_str(body).unwrap();
            assert_eq!(t.access_token.expose_secret(), "t");
        }
    }
}
