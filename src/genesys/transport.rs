//! How one request reaches Genesys: a cached OAuth token, a permit of the cluster-wide rate
//! ceiling, one retry with a fresh token on a 401, and a cluster-wide pause on a 429.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{ApiResponse, GenesysClient, TransportError, metrics, retry};

impl GenesysClient {
    pub(super) async fn send(
        &self,
        method: Method,
        url: String,
        body: Option<&serde_json::Value>,
        request_id: Option<Uuid>,
    ) -> Result<ApiResponse, TransportError> {
        self.send_starting_by(method, url, body, request_id, None)
            .await
    }

    pub(super) async fn send_starting_by(
        &self,
        method: Method,
        url: String,
        body: Option<&serde_json::Value>,
        request_id: Option<Uuid>,
        start_by: Option<Instant>,
    ) -> Result<ApiResponse, TransportError> {
        let mut fresh_token = false;
        loop {
            let token = self
                .0
                .tokens
                .get(&self.0.http)
                .await
                .map_err(|e| TransportError::Token(format!("{e:#}")))?;
            // Every request counts against the ceiling, whatever its answer (SPEC §11.7).
            self.0
                .limiter
                .acquire()
                .await
                .map_err(|e| TransportError::Limiter(e.to_string()))?;
            if start_by.is_some_and(|by| Instant::now() > by) {
                return Err(TransportError::NotStarted);
            }
            let mut req = self
                .0
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret());
            if let Some(id) = request_id {
                req = req.header("X-Request-Id", id.to_string());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    TransportError::Timeout
                } else {
                    TransportError::Connect(format!("{e:#}"))
                }
            })?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !fresh_token {
                // The token may have been revoked or expired early: one retry with a new one.
                self.0.tokens.invalidate(&token).await;
                fresh_token = true;
                continue;
            }
            return self.answer(resp).await;
        }
    }

    /// The answer kept whole, with its `Retry-After`; a 429 first pauses the whole cluster.
    async fn answer(&self, resp: reqwest::Response) -> Result<ApiResponse, TransportError> {
        let status = resp.status();
        // Clamped on reading: a huge value must neither overflow a deadline nor pause the
        // cluster for longer than the backoff cap (`retry::parse_retry_after`).
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, chrono::Utc::now()));
        if status == StatusCode::TOO_MANY_REQUESTS {
            // The tenant is throttled: every instance holds off, not just this request.
            metrics::response_429();
            let pause = retry_after.unwrap_or(Duration::from_secs(1));
            if let Err(e) = self.0.limiter.pause(pause).await {
                tracing::warn!(error = %e, "could not record the rate-limit pause");
            }
        }
        let body = resp.text().await.map_err(|e| {
            if e.is_timeout() {
                TransportError::Timeout
            } else {
                TransportError::Connect(e.to_string())
            }
        })?;
        Ok(ApiResponse {
            status: status.as_u16(),
            // Kept in text columns (dead letters, dialer errors): a NUL would fail the write.
            body: crate::domain::text::without_nul(body),
            retry_after,
        })
    }
}
