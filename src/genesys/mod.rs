//! The one Genesys Cloud client, shared by delivery, profile polling and the dialer (SPEC §5, §7).
//!
//! Every request waits for a permit of the cluster-wide rate ceiling (`ratelimit`), carries a cached
//! OAuth token (`oauth`), and on a 401 gets a fresh token and retries once (SPEC §11.8: a second 401
//! is the caller's to back off from). What to do with an answer is decided by the pure `retry::verdict`.

pub mod metrics;
pub mod oauth;
pub mod org;
pub mod ratelimit;
pub mod region;
pub mod retry;
pub mod target;
mod transport;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

pub use ratelimit::RateLimiter;
pub use retry::{RetryCause, Verdict, after, backoff, verdict};
pub use target::EventsTarget;

/// Paths of the Genesys API (SPEC §5, §7).
pub const EVENTS_PATH: &str = "/api/v2/analytics/predictiveengagement/events";
pub const PROFILE_PATH: &str = "/api/v2/analytics/predictiveengagement/contacts";

/// Paths of the real Platform API the `external-events` target uses (reference §1a, §6).
pub const EXTERNAL_SOURCES_PATH: &str = "/api/v2/externalcontacts/externalsources";
pub const SCHEMAS_PATH: &str = "/api/v2/journey/externalevents/schemas";
pub const CONFIGURATIONS_PATH: &str = "/api/v2/journey/externalevents/configurations";
pub const HOME_DIVISION_PATH: &str = "/api/v2/authorization/divisions/home";

/// Connection settings, from `PESYNC_PE_*` (see `config.rs`).
#[derive(Debug, Clone)]
pub struct GenesysConfig {
    pub base_url: String,
    pub dialer_base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub rate_limit: f64,
    /// Where events go (`PESYNC_GENESYS_EVENTS`).
    pub events: EventsTarget,
    /// Most entities per External Events request (`PESYNC_GENESYS_EVENTS_BATCH`).
    pub events_batch: usize,
    /// Division for new events configurations (`PESYNC_GENESYS_DIVISION_ID`), else the home one.
    pub division_id: Option<String>,
    /// Per-request time limit; a request that takes longer is retried like a 5xx.
    pub request_timeout: Duration,
}

/// One answer of the API, kept whole for dead letters and snapshots.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("request timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("getting an OAuth token failed: {0}")]
    Token(String),
    #[error("rate limiter unavailable: {0}")]
    Limiter(String),
    /// No rate permit came in time (`post_external_events`' `start_by`): nothing was sent.
    #[error("not sent: no rate permit before the request's time to start")]
    NotStarted,
}

#[derive(Clone)]
pub struct GenesysClient(Arc<Inner>);

struct Inner {
    http: reqwest::Client,
    cfg: GenesysConfig,
    tokens: oauth::TokenCache,
    limiter: RateLimiter,
}

impl GenesysClient {
    pub async fn new(cfg: GenesysConfig, pool: PgPool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .build()
            .context("building the HTTP client")?;
        let limiter = RateLimiter::new(pool, "genesys", cfg.rate_limit).await?;
        let tokens = oauth::TokenCache::new(
            cfg.token_url.clone(),
            cfg.client_id.clone(),
            cfg.client_secret.clone(),
        );
        Ok(Self(Arc::new(Inner {
            http,
            cfg,
            tokens,
            limiter,
        })))
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }

    pub fn config(&self) -> &GenesysConfig {
        &self.0.cfg
    }

    /// `base` + `path` + each of `ids` as one escaped path segment, + `query`.
    fn url(
        base: &str,
        path: &str,
        ids: &[&str],
        query: &[(&str, &str)],
    ) -> Result<String, TransportError> {
        let mut url = reqwest::Url::parse(&format!("{base}{path}"))
            .map_err(|e| TransportError::Connect(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|_| TransportError::Connect("base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(ids);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url.to_string())
    }

    /// A request to the Platform API at `path` (one of the `*_PATH`s) followed by `ids` as escaped
    /// path segments: what `genesys setup` lists, reads, creates and updates.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        ids: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<ApiResponse, TransportError> {
        let url = Self::url(&self.0.cfg.base_url, path, ids, query)?;
        self.send(method, url, body, None).await
    }

    /// `POST …/externalevents/configurations/{configurationId}/events` with an
    /// `ExternalEventsRequest` (`{"entities": [...]}`), unless no rate permit came before
    /// `start_by` (then `NotStarted`, and nothing was sent): Genesys does not deduplicate these
    /// entities, so a request must not go out once its contacts may have passed to another worker.
    pub async fn post_external_events(
        &self,
        configuration_id: &str,
        body: &serde_json::Value,
        start_by: Instant,
    ) -> Result<ApiResponse, TransportError> {
        let url = Self::url(
            &self.0.cfg.base_url,
            CONFIGURATIONS_PATH,
            &[configuration_id, "events"],
            &[],
        )?;
        self.send_starting_by(Method::POST, url, Some(body), None, Some(start_by))
            .await
    }

    /// `POST …/predictiveengagement/events` with the event's `X-Request-Id` (the same on every attempt).
    pub async fn post_event(
        &self,
        request_id: Uuid,
        body: &serde_json::Value,
    ) -> Result<ApiResponse, TransportError> {
        let url = format!("{}{EVENTS_PATH}", self.0.cfg.base_url);
        self.send(Method::POST, url, Some(body), Some(request_id))
            .await
    }

    /// `GET …/predictiveengagement/contacts/{contactId}`.
    pub async fn get_profile(&self, contact_id: &str) -> Result<ApiResponse, TransportError> {
        let mut url = reqwest::Url::parse(&format!("{}{PROFILE_PATH}/", self.0.cfg.base_url))
            .map_err(|e| TransportError::Connect(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|_| TransportError::Connect("base URL cannot take a path".into()))?
            .pop_if_empty()
            .push(contact_id);
        self.send(Method::GET, url.to_string(), None, None).await
    }

    /// `POST /api/v2/outbound/contactlists/{contactListId}/contacts` with an array of contacts.
    pub async fn push_contacts(
        &self,
        contact_list_id: &str,
        contacts: &serde_json::Value,
    ) -> Result<ApiResponse, TransportError> {
        let mut url = reqwest::Url::parse(&format!("{}/", self.0.cfg.dialer_base_url))
            .map_err(|e| TransportError::Connect(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|_| TransportError::Connect("base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend([
                "api",
                "v2",
                "outbound",
                "contactlists",
                contact_list_id,
                "contacts",
            ]);
        self.send(Method::POST, url.to_string(), Some(contacts), None)
            .await
    }
}
