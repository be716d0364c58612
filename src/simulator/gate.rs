//! The gateway every counted request (events, profiles, dialer) passes through, in the order a real
//! edge would apply it: rate ceiling (429), injected failure (e.g. a 503 storm), bearer token (401),
//! per-contact status override, and only then the endpoint's own logic. Token requests do not pass
//! here: SPEC §11.7 excludes them from the ceiling.
//!
//! Everything is decided and recorded under one lock before the configured latency is slept, so a
//! client that times out still finds its request in the log — the "server did it, client never heard"
//! case a crash-safe sender must survive.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::oauth;
use super::response::SimResponse;
use super::state::{Endpoint, Inner, RequestRecord, SimState};

/// Length of a rate window. Windows are fixed and aligned on whole Unix seconds, so a test can
/// regroup the request log by `at_ms / 1000` and see exactly the windows the simulator used.
const WINDOW_MS: i64 = 1000;

/// `inin-ratelimit-allowed` when no ceiling is set: a client parsing it as `i32` still succeeds.
const UNTHROTTLED_ALLOWED: u32 = i32::MAX as u32;

/// The fixed window the current request falls in.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    second: i64,
    count: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowView {
    count: u32,
    allowed: Option<u32>,
    reset_secs: u64,
}

impl WindowView {
    fn over(&self) -> bool {
        self.allowed.is_some_and(|allowed| self.count > allowed)
    }
}

impl RateWindow {
    /// Counts one request (SPEC §11.7: whatever its answer will be, a 429 included).
    fn hit(&mut self, now_ms: i64, allowed: Option<u32>) -> WindowView {
        let second = now_ms.div_euclid(WINDOW_MS);
        if second != self.second {
            self.second = second;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        let remaining_ms = (second + 1) * WINDOW_MS - now_ms;
        let reset_secs = u64::try_from((remaining_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1);
        WindowView {
            count: self.count,
            allowed,
            reset_secs,
        }
    }
}

/// "Fail the next N requests with status S", for the API endpoints and the token endpoint apart.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    pub api: Option<Injected>,
    pub token: Option<Injected>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Injected {
    pub remaining: u32,
    pub status: u16,
    pub retry_after: Option<u64>,
}

impl Injected {
    /// Spends one injected failure, if any is left.
    pub fn take(slot: &mut Option<Injected>) -> Option<SimResponse> {
        let injected = slot.as_mut()?;
        injected.remaining = injected.remaining.saturating_sub(1);
        let mut response = SimResponse::error(injected.status, "Simulated failure (injected)");
        if injected.retry_after.is_some() {
            response.retry_after = injected.retry_after;
        }
        if injected.remaining == 0 {
            *slot = None;
        }
        Some(response)
    }
}

/// What the gateway needs to know about a request; built before the lock is taken.
pub(crate) struct Call {
    pub endpoint: Endpoint,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// Contacts the request concerns, matched against per-contact status overrides.
    pub contacts: Vec<String>,
    pub request_id: Option<String>,
}

impl Call {
    pub fn new(req: &HttpRequest, endpoint: Endpoint) -> Self {
        let authorization = req.headers().get(AUTHORIZATION);
        Self {
            endpoint,
            method: req.method().to_string(),
            path: req.path().to_owned(),
            authorization: authorization
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            contacts: Vec::new(),
            request_id: None,
        }
    }
}

/// Runs a counted request through the gateway, then `logic`, logs it, sleeps the latency and
/// renders the answer with the `inin-ratelimit-*` headers.
pub(crate) async fn admit(
    state: &SimState,
    call: Call,
    logic: impl FnOnce(&mut Inner, DateTime<Utc>) -> SimResponse,
) -> HttpResponse {
    let (response, window, latency_ms) = {
        let mut guard = state.lock();
        let inner = &mut *guard;
        // Read under the lock, so the log and the windows see arrivals in one order.
        let now = Utc::now();
        let window = inner
            .window
            .hit(now.timestamp_millis(), inner.config.rate_limit_per_sec);
        let response = decide(inner, &call, window, now, logic);
        inner.stats.requests += 1;
        *inner.stats.by_status.entry(response.status).or_default() += 1;
        let contact_id = match call.contacts.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        inner.log_request(RequestRecord {
            endpoint: call.endpoint,
            method: call.method,
            path: call.path,
            status: response.status,
            at: now,
            at_ms: now.timestamp_millis(),
            contact_id,
            request_id: call.request_id,
        });
        (response, window, inner.config.latency_ms)
    };
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    render(response, Some(window))
}

fn decide(
    inner: &mut Inner,
    call: &Call,
    window: WindowView,
    now: DateTime<Utc>,
    logic: impl FnOnce(&mut Inner, DateTime<Utc>) -> SimResponse,
) -> SimResponse {
    if window.over() {
        inner.stats.throttled += 1;
        let mut response = SimResponse::error(
            429,
            "Rate limit exceeded the maximum. Retry the request later.",
        );
        response.retry_after = Some(window.reset_secs);
        return response;
    }
    if let Some(response) = Injected::take(&mut inner.failures.api) {
        inner.stats.injected_failures += 1;
        return response;
    }
    if let Err(response) = oauth::authorize(inner, call.authorization.as_deref(), now) {
        inner.stats.unauthorized += 1;
        return response;
    }
    let overridden = call
        .contacts
        .iter()
        .find_map(|c| inner.status_overrides.get(c).map(|s| (c, *s)));
    if let Some((contact, status)) = overridden {
        return SimResponse::error(status, format!("Simulated failure for contact {contact}"));
    }
    logic(inner, now)
}

/// Renders a decided answer. `window` is `None` for uncounted endpoints (token, control).
pub(crate) fn render(response: SimResponse, window: Option<WindowView>) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    if let Some(window) = window {
        let allowed = window.allowed.unwrap_or(UNTHROTTLED_ALLOWED);
        builder.insert_header(("inin-ratelimit-count", window.count.to_string()));
        builder.insert_header(("inin-ratelimit-allowed", allowed.to_string()));
        builder.insert_header(("inin-ratelimit-reset", window.reset_secs.to_string()));
        builder.insert_header(("inin-correlation-id", Uuid::new_v4().to_string()));
    }
    if let Some(seconds) = response.retry_after {
        builder.insert_header((RETRY_AFTER, seconds.max(1).to_string()));
    }
    match response.body {
        Some(body) => builder.json(body),
        None => builder.finish(),
    }
}

/// Counts of requests per fixed window, for tests asserting a client never exceeded a ceiling.
pub(crate) fn per_window_counts(records: &[RequestRecord]) -> BTreeMap<i64, u32> {
    let mut counts = BTreeMap::new();
    for record in records {
        *counts
            .entry(record.at_ms.div_euclid(WINDOW_MS))
            .or_default() += 1;
    }
    counts
}
