//! What the simulator remembers: runtime settings, tokens, received events, the request log, dialer
//! contact lists, injected failures and counters. One `Mutex` guards it all: every request does a few
//! map operations under it and never awaits while holding it, so contention stays negligible next to
//! the HTTP work, and tests get a single consistent view.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::SimulatorConfig;
use super::control::ControlError;
use super::dialer::DialerList;
use super::events::{SimEvent, StoredEvent};
use super::gate::{Failures, RateWindow};
use super::journey::Journey;
use super::model::ModelEvent;
use super::profiles::ProfileOverride;

/// The request log and the event log each keep at most this many entries (oldest dropped first, the
/// drop counted in the stats), so a long benchmark cannot grow the simulator without bound.
pub(crate) const LOG_CAPACITY: usize = 1_000_000;

/// Settings that tests may change while the simulator runs (`POST /_sim/config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// Requests per fixed 1-second window on the counted endpoints; `None` = unthrottled.
    pub rate_limit_per_sec: Option<u32>,
    /// Added to every counted request after it has been decided (and recorded).
    pub latency_ms: u64,
    /// Lifetime of tokens issued from now on.
    pub token_ttl_secs: u64,
    /// How long an `X-Request-Id` is remembered (Genesys: 24 h).
    pub idempotency_window_secs: u64,
    /// Answer to a repeated `X-Request-Id`: 409 (default) or 202.
    pub duplicate_status: u16,
}

impl RuntimeConfig {
    fn from_config(config: &SimulatorConfig) -> Self {
        Self {
            rate_limit_per_sec: config.rate_limit_per_sec,
            latency_ms: config.latency_ms,
            token_ttl_secs: config.token_ttl_secs,
            idempotency_window_secs: 86_400,
            duplicate_status: 409,
        }
    }
}

/// A partial update of [`RuntimeConfig`]; absent fields stay as they are.
/// `rate_limit_per_sec: null` removes the ceiling, which is why it is a double option.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    #[serde(default, alias = "rate_limit", deserialize_with = "double_option")]
    pub rate_limit_per_sec: Option<Option<u32>>,
    pub latency_ms: Option<u64>,
    pub token_ttl_secs: Option<u64>,
    pub idempotency_window_secs: Option<u64>,
    pub duplicate_status: Option<u16>,
}

/// Which counted endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Events,
    Profile,
    Dialer,
    /// `POST …/journey/externalevents/configurations/{id}/events`.
    ExternalEvents,
    /// The setup objects of external events: sources, schemas, configurations, the home division.
    Journey,
}

/// One counted request, as logged: enough to check the ceiling in every 1-second window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub endpoint: Endpoint,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// When the simulator took the request in (body read); its rate window is `at_ms / 1000`.
    #[serde(serialize_with = "millis")]
    pub at: DateTime<Utc>,
    pub at_ms: i64,
    pub contact_id: Option<String>,
    pub request_id: Option<String>,
}

/// Counters, as `GET /_sim/stats` shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every request to the counted endpoints, whatever its answer.
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub throttled: u64,
    pub injected_failures: u64,
    pub unauthorized: u64,
    pub events_accepted: u64,
    /// Repeats of a remembered `X-Request-Id`: absorbed, never recorded as new events.
    pub duplicates: u64,
    /// Repeats whose body differed from the first one: a client reusing a request id for a
    /// different event, which PE would silently swallow.
    pub duplicate_body_mismatches: u64,
    pub profiles_served: u64,
    pub dialer_pushes: u64,
    /// Contacts received by the dialer, re-pushes included.
    pub dialer_upserts: u64,
    /// External-event entities taken in, and those answered in `unprocessedEntities`.
    pub external_events_accepted: u64,
    pub external_events_unprocessed: u64,
    pub tokens_issued: u64,
    pub token_rejections: u64,
    pub requests_dropped_from_log: u64,
    pub events_dropped_from_log: u64,
}

pub(crate) struct Seen {
    pub at: DateTime<Utc>,
    pub body_hash: u64,
}

/// Everything behind the lock. Fields are crate-visible so each endpoint module owns its own logic.
pub(crate) struct Inner {
    pub config: RuntimeConfig,
    pub tokens: HashMap<String, DateTime<Utc>>,
    pub window: RateWindow,
    pub failures: Failures,
    pub status_overrides: HashMap<String, u16>,
    pub profile_overrides: HashMap<String, ProfileOverride>,
    /// Model inputs per contact, in arrival order (16 bytes an event plus the key).
    pub contacts: HashMap<String, Vec<ModelEvent>>,
    pub seen: HashMap<Uuid, Seen>,
    pub events: VecDeque<StoredEvent>,
    pub next_seq: u64,
    pub requests: VecDeque<RequestRecord>,
    pub dialer: BTreeMap<String, DialerList>,
    pub journey: Journey,
    pub stats: SimStats,
}

impl Inner {
    fn new(config: RuntimeConfig) -> Self {
        Self {
            config,
            tokens: HashMap::new(),
            window: RateWindow::default(),
            failures: Failures::default(),
            status_overrides: HashMap::new(),
            profile_overrides: HashMap::new(),
            contacts: HashMap::new(),
            seen: HashMap::new(),
            events: VecDeque::new(),
            next_seq: 1,
            requests: VecDeque::new(),
            dialer: BTreeMap::new(),
            journey: Journey::new(),
            stats: SimStats::default(),
        }
    }

    pub fn log_request(&mut self, record: RequestRecord) {
        if self.requests.len() >= LOG_CAPACITY {
            self.requests.pop_front();
            self.stats.requests_dropped_from_log += 1;
        }
        self.requests.push_back(record);
    }

    pub fn log_event(&mut self, event: StoredEvent) {
        if self.events.len() >= LOG_CAPACITY {
            self.events.pop_front();
            self.stats.events_dropped_from_log += 1;
        }
        self.events.push_back(event);
    }
}

/// The simulator's shared state; the inspection and control API for in-process tests lives in
/// `control.rs` as methods on this type, next to the HTTP routes that call the same methods.
pub struct SimState {
    inner: Mutex<Inner>,
    initial: RuntimeConfig,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

impl SimState {
    pub(crate) fn new(config: &SimulatorConfig) -> Self {
        let initial = RuntimeConfig::from_config(config);
        Self {
            inner: Mutex::new(Inner::new(initial.clone())),
            initial,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
        }
    }

    /// A panic while holding the lock cannot leave the maps half-updated in a way that matters to
    /// a simulator, so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything received and every injection, and restores the start-up settings.
    /// Issued tokens survive, so a service under test keeps its cached token across a reset.
    pub fn reset(&self) {
        let mut inner = self.lock();
        let tokens = std::mem::take(&mut inner.tokens);
        *inner = Inner::new(self.initial.clone());
        inner.tokens = tokens;
    }

    pub fn config(&self) -> RuntimeConfig {
        self.lock().config.clone()
    }

    /// Applies a partial settings update and answers the settings now in force.
    pub fn update_config(&self, patch: ConfigPatch) -> Result<RuntimeConfig, ControlError> {
        if let Some(status) = patch.duplicate_status
            && status != 202
            && status != 409
        {
            return Err(ControlError::InvalidDuplicateStatus(status));
        }
        let mut inner = self.lock();
        let config = &mut inner.config;
        if let Some(limit) = patch.rate_limit_per_sec {
            config.rate_limit_per_sec = limit;
        }
        if let Some(latency) = patch.latency_ms {
            config.latency_ms = latency;
        }
        if let Some(ttl) = patch.token_ttl_secs {
            config.token_ttl_secs = ttl;
        }
        if let Some(window) = patch.idempotency_window_secs {
            config.idempotency_window_secs = window;
        }
        if let Some(status) = patch.duplicate_status {
            config.duplicate_status = status;
        }
        Ok(config.clone())
    }

    pub fn events(&self) -> Vec<SimEvent> {
        self.lock().events.iter().map(StoredEvent::view).collect()
    }

    pub fn events_for(&self, contact_id: &str) -> Vec<SimEvent> {
        let inner = self.lock();
        let matching = inner.events.iter().filter(|e| e.contact_id == contact_id);
        matching.map(StoredEvent::view).collect()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.iter().cloned().collect()
    }

    pub fn stats(&self) -> SimStats {
        self.lock().stats.clone()
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn millis<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}
