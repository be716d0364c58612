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
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_expiry() -> u64 {
    86_400
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
        *cur = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + renew_after(t.expires_in),
        });
        tracing::debug!(expires_in = t.expires_in, "obtained a Genesys token");
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

    #[test]
    fn renews_before_expiry() {
        assert_eq!(renew_after(86_400), Duration::from_secs(86_100));
        assert_eq!(renew_after(10), Duration::from_secs(9));
        assert_eq!(renew_after(0), Duration::ZERO);
    }
}
