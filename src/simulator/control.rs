//! Inspection and control: methods on [`SimState`] for in-process tests, and the same operations
//! over HTTP under `/_sim/…` (no auth, not counted) for tests and operators driving a separate
//! `pesync simulate`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::dialer::DialerList;
use super::gate::{Injected, per_window_counts};
use super::oauth;
use super::profiles::{Profile, ProfileOverride, resolve};
use super::state::{ConfigPatch, Endpoint, RequestRecord, SimState};

/// Which endpoints an injected failure hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailScope {
    /// The counted endpoints: events, profiles, dialer.
    #[default]
    Api,
    /// The token endpoint.
    Token,
}

/// `POST /_sim/fail`: the next `count` requests in `scope` answer `status`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailSpec {
    pub count: u32,
    pub status: u16,
    /// Sent as `Retry-After`; a 429 without it says 1 s.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    #[serde(default)]
    pub scope: FailScope,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusOverride {
    status: Option<u16>,
}

/// A control request the simulator cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("status must be an error status (400..=599), not {0}")]
    NotAnErrorStatus(u16),
    #[error("duplicate_status must be 202 or 409, not {0}")]
    InvalidDuplicateStatus(u16),
}

fn check_error_status(status: u16) -> Result<(), ControlError> {
    if (400..=599).contains(&status) {
        Ok(())
    } else {
        Err(ControlError::NotAnErrorStatus(status))
    }
}

impl SimState {
    /// Fails the next `spec.count` requests of its scope (replacing any pending injection there).
    pub fn fail_next(&self, spec: FailSpec) -> Result<(), ControlError> {
        check_error_status(spec.status)?;
        let injected = (spec.count > 0).then_some(Injected {
            remaining: spec.count,
            status: spec.status,
            retry_after: spec.retry_after_secs,
        });
        let mut inner = self.lock();
        match spec.scope {
            FailScope::Api => inner.failures.api = injected,
            FailScope::Token => inner.failures.token = injected,
        }
        Ok(())
    }

    /// Makes every counted request about this contact answer `status`; `None` clears it.
    pub fn set_contact_status(
        &self,
        contact_id: &str,
        status: Option<u16>,
    ) -> Result<(), ControlError> {
        let mut inner = self.lock();
        match status {
            Some(status) => {
                check_error_status(status)?;
                inner.status_overrides.insert(contact_id.to_owned(), status);
            }
            None => {
                inner.status_overrides.remove(contact_id);
            }
        }
        Ok(())
    }

    /// Pins profile fields for a contact (replacing an earlier override of that contact).
    pub fn set_profile(&self, contact_id: &str, pinned: ProfileOverride) {
        self.lock()
            .profile_overrides
            .insert(contact_id.to_owned(), pinned);
    }

    pub fn clear_profile(&self, contact_id: &str) {
        self.lock().profile_overrides.remove(contact_id);
    }

    /// The profile the endpoint would answer, without counting a request.
    pub fn profile(&self, contact_id: &str) -> Option<Profile> {
        resolve(&self.lock(), contact_id)
    }

    /// Expires every token issued so far; answers how many were still valid.
    pub fn expire_tokens(&self) -> usize {
        oauth::expire_all(&mut self.lock(), Utc::now())
    }

    /// Every contact list and its contacts.
    pub fn dialer(&self) -> BTreeMap<String, DialerList> {
        self.lock().dialer.clone()
    }

    pub fn dialer_list(&self, contact_list_id: &str) -> Option<DialerList> {
        self.lock().dialer.get(contact_list_id).cloned()
    }

    /// Counted requests per fixed 1-second window (key: Unix second), 429s included.
    pub fn requests_per_window(&self) -> BTreeMap<i64, u32> {
        per_window_counts(&self.requests())
    }

    /// The most requests answered other than 429 in any sliding 1-second interval: what a client's
    /// own limiter let through, whatever the window alignment.
    pub fn max_admitted_in_any_second(&self) -> usize {
        self.max_admitted_where(|_| true)
    }

    /// The same, leaving out the requests to `endpoint` (say, the setup requests a benchmark
    /// made itself before the client under test started).
    pub fn max_admitted_in_any_second_except(&self, endpoint: Endpoint) -> usize {
        self.max_admitted_where(|r| r.endpoint != endpoint)
    }

    fn max_admitted_where(&self, counted: impl Fn(&RequestRecord) -> bool) -> usize {
        let mut at: Vec<i64> = self
            .requests()
            .iter()
            .filter(|r| r.status != 429 && counted(r))
            .map(|r| r.at_ms)
            .collect();
        at.sort_unstable();
        let mut start = 0;
        let mut best = 0;
        for end in 0..at.len() {
            while at[end] - at[start] >= 1000 {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

/// Registers the `/_sim` scope.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    let json_errors = web::JsonConfig::default().error_handler(|error, _req| {
        let response = HttpResponse::BadRequest().json(json!({"error": error.to_string()}));
        actix_web::error::InternalError::from_response(error, response).into()
    });
    let scope = web::scope("/_sim").app_data(json_errors);
    cfg.service(
        super::journey::control_routes(scope)
            .route("/events", web::get().to(events))
            .route("/requests", web::get().to(requests))
            .route("/dialer", web::get().to(dialer))
            .route("/stats", web::get().to(stats))
            .route("/config", web::get().to(get_config))
            .route("/config", web::post().to(post_config))
            .route("/fail", web::post().to(fail))
            .route("/contacts/{id}/status", web::post().to(contact_status))
            .route("/contacts/{id}/profile", web::get().to(get_profile))
            .route("/contacts/{id}/profile", web::post().to(set_profile))
            .route("/contacts/{id}/profile", web::delete().to(clear_profile))
            .route("/tokens/expire", web::post().to(expire_tokens))
            .route("/reset", web::post().to(reset)),
    );
}

fn bad_request(error: ControlError) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": error.to_string()}))
}

#[derive(Deserialize)]
struct EventsQuery {
    contact_id: Option<String>,
}

async fn events(state: web::Data<SimState>, query: web::Query<EventsQuery>) -> HttpResponse {
    match &query.contact_id {
        Some(contact_id) => HttpResponse::Ok().json(state.events_for(contact_id)),
        None => HttpResponse::Ok().json(state.events()),
    }
}

async fn requests(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.requests())
}

async fn dialer(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"lists": state.dialer()}))
}

async fn stats(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats())
}

async fn get_config(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.config())
}

async fn post_config(state: web::Data<SimState>, patch: web::Json<ConfigPatch>) -> HttpResponse {
    match state.update_config(patch.into_inner()) {
        Ok(config) => {
            tracing::info!(?config, "simulator settings changed");
            HttpResponse::Ok().json(config)
        }
        Err(error) => bad_request(error),
    }
}

async fn fail(state: web::Data<SimState>, spec: web::Json<FailSpec>) -> HttpResponse {
    let spec = spec.into_inner();
    match state.fail_next(spec.clone()) {
        Ok(()) => HttpResponse::Ok().json(json!({"count": spec.count, "status": spec.status})),
        Err(error) => bad_request(error),
    }
}

async fn contact_status(
    state: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Json<StatusOverride>,
) -> HttpResponse {
    let contact_id = path.into_inner();
    match state.set_contact_status(&contact_id, body.status) {
        Ok(()) => HttpResponse::Ok().json(json!({"contact_id": contact_id, "status": body.status})),
        Err(error) => bad_request(error),
    }
}

async fn get_profile(state: web::Data<SimState>, path: web::Path<String>) -> HttpResponse {
    match state.profile(&path) {
        Some(profile) => HttpResponse::Ok().json(profile),
        None => HttpResponse::NotFound().json(json!({"error": "no profile for this contact"})),
    }
}

async fn set_profile(
    state: web::Data<SimState>,
    path: web::Path<String>,
    pinned: web::Json<ProfileOverride>,
) -> HttpResponse {
    state.set_profile(&path, pinned.into_inner());
    HttpResponse::Ok().json(state.profile(&path))
}

async fn clear_profile(state: web::Data<SimState>, path: web::Path<String>) -> HttpResponse {
    state.clear_profile(&path);
    HttpResponse::NoContent().finish()
}

async fn expire_tokens(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"expired": state.expire_tokens()}))
}

async fn reset(state: web::Data<SimState>) -> HttpResponse {
    state.reset();
    HttpResponse::NoContent().finish()
}
