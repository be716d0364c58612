//! The real Genesys Cloud endpoints for server-side events (reference §1a, §6): External Sources,
//! external-event schemas and configurations, the org's home division, and the External Events
//! ingestion endpoint with its partial success (`unprocessedEntities`).
//!
//! Every request passes the same gateway as the other counted endpoints (ceiling, injected
//! failures, bearer token). What is created lives in [`Journey`], inside the simulator's one lock.

mod events;
pub(crate) mod schema;
mod schema_endpoints;
mod setup;

use std::collections::{HashMap, VecDeque};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::control::ControlError;
use super::state::{LOG_CAPACITY, SimState};
use schema::CheckedSchema;

pub use events::ExternalEventFailures;

pub(crate) const SOURCES: &str = "/api/v2/externalcontacts/externalsources";
pub(crate) const SCHEMAS: &str = "/api/v2/journey/externalevents/schemas";
pub(crate) const CONFIGURATIONS: &str = "/api/v2/journey/externalevents/configurations";
pub(crate) const HOME_DIVISION: &str = "/api/v2/authorization/divisions/home";

/// An External Source, as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalSource {
    pub id: String,
    pub name: String,
    pub active: bool,
}

/// A `JourneyExternalEventsSchema`: the current version of one event type's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalEventsSchema {
    pub id: String,
    pub version: u32,
    pub enabled: bool,
    pub json_schema: Value,
    pub date_created: DateTime<Utc>,
}

/// An `ExternalEventsConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalEventsConfiguration {
    pub id: String,
    pub name: String,
    pub description: String,
    pub division_id: String,
    pub schema_id: String,
    pub source: String,
    pub date_last_modified: DateTime<Utc>,
}

/// An external event the simulator took in, as the inspection API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimExternalEvent {
    pub seq: u64,
    pub configuration_id: String,
    /// The title of the configuration's schema: pesync's event type.
    pub event_type: String,
    pub id: String,
    pub date_created: DateTime<Utc>,
    pub contact_id: String,
    pub external_source_id: String,
    pub attributes: Map<String, Value>,
    pub received_at: DateTime<Utc>,
}

/// A schema with its checked form, which validation of events reads.
pub(crate) struct StoredSchema {
    pub view: ExternalEventsSchema,
    pub checked: CheckedSchema,
}

/// Everything the journey endpoints created or received.
pub(crate) struct Journey {
    pub home_division: String,
    pub sources: Vec<ExternalSource>,
    pub schemas: Vec<StoredSchema>,
    pub configurations: Vec<ExternalEventsConfiguration>,
    pub events: VecDeque<SimExternalEvent>,
    pub next_seq: u64,
    /// How often each id of the events still in the log was taken in (so it is bounded by the
    /// log). Genesys documents no deduplication, so a repeat is taken in again; `repeated_ids`
    /// tells a test that a sender re-sent an answered entity.
    pub ids: HashMap<String, u32>,
    pub repeated_ids: u64,
    pub failures: ExternalEventFailures,
}

impl Journey {
    pub fn new() -> Self {
        Self {
            home_division: Uuid::new_v4().to_string(),
            sources: Vec::new(),
            schemas: Vec::new(),
            configurations: Vec::new(),
            events: VecDeque::new(),
            next_seq: 1,
            ids: HashMap::new(),
            repeated_ids: 0,
            failures: ExternalEventFailures::default(),
        }
    }

    fn record(&mut self, mut event: SimExternalEvent) {
        let seen = self.ids.entry(event.id.clone()).or_default();
        if *seen > 0 {
            self.repeated_ids += 1;
        }
        *seen += 1;
        if self.events.len() >= LOG_CAPACITY
            && let Some(oldest) = self.events.pop_front()
            && let Some(count) = self.ids.get_mut(&oldest.id)
        {
            *count -= 1;
            if *count == 0 {
                self.ids.remove(&oldest.id);
            }
        }
        event.seq = self.next_seq;
        self.next_seq += 1;
        self.events.push_back(event);
    }
}

/// The journey side of the simulator as a test or an operator sees it (`GET /_sim/journey`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyView {
    pub home_division: String,
    pub sources: Vec<ExternalSource>,
    pub schemas: Vec<ExternalEventsSchema>,
    pub configurations: Vec<ExternalEventsConfiguration>,
    /// External events taken in whose id had been taken in before.
    pub repeated_ids: u64,
}

impl SimState {
    pub fn journey(&self) -> JourneyView {
        let inner = self.lock();
        let journey = &inner.journey;
        JourneyView {
            home_division: journey.home_division.clone(),
            sources: journey.sources.clone(),
            schemas: journey.schemas.iter().map(|s| s.view.clone()).collect(),
            configurations: journey.configurations.clone(),
            repeated_ids: journey.repeated_ids,
        }
    }

    /// Every external event taken in, oldest first.
    pub fn external_events(&self) -> Vec<SimExternalEvent> {
        self.lock().journey.events.iter().cloned().collect()
    }

    /// The next entities sent to the external events endpoint come back unprocessed.
    pub fn fail_external_events(
        &self,
        failures: ExternalEventFailures,
    ) -> Result<(), ControlError> {
        failures.check()?;
        self.lock().journey.failures = failures;
        Ok(())
    }
}

/// The real endpoints.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(SOURCES, web::get().to(setup::list_sources))
        .route(SOURCES, web::post().to(setup::create_source))
        .route(
            &format!("{SCHEMAS}/limits"),
            web::get().to(schema_endpoints::schema_limits),
        )
        .route(SCHEMAS, web::get().to(schema_endpoints::list_schemas))
        .route(SCHEMAS, web::post().to(schema_endpoints::create_schema))
        .route(
            &format!("{SCHEMAS}/{{schemaId}}"),
            web::get().to(schema_endpoints::get_schema),
        )
        .route(
            &format!("{SCHEMAS}/{{schemaId}}"),
            web::put().to(schema_endpoints::update_schema),
        )
        .route(CONFIGURATIONS, web::get().to(setup::list_configurations))
        .route(CONFIGURATIONS, web::post().to(setup::create_configuration))
        .route(
            &format!("{CONFIGURATIONS}/{{configurationId}}"),
            web::get().to(setup::get_configuration),
        )
        .route(
            &format!("{CONFIGURATIONS}/{{configurationId}}/events"),
            web::post().to(events::post_events),
        )
        .route(HOME_DIVISION, web::get().to(setup::home_division));
}

/// The inspection and control routes, under `/_sim`.
pub(crate) fn control_routes(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/journey", web::get().to(get_journey))
        .route("/externalevents", web::get().to(get_external_events))
        .route("/externalevents/fail", web::post().to(post_failures))
}

async fn get_journey(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.journey())
}

async fn get_external_events(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.external_events())
}

async fn post_failures(
    state: web::Data<SimState>,
    body: web::Json<ExternalEventFailures>,
) -> HttpResponse {
    let failures = body.into_inner();
    match state.fail_external_events(failures.clone()) {
        Ok(()) => HttpResponse::Ok().json(failures),
        Err(error) => HttpResponse::BadRequest().json(json!({"error": error.to_string()})),
    }
}
