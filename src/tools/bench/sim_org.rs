//! A simulator org set up for the External Events target through the simulator's real endpoints
//! (External Source, one schema and events configuration per event type of the default manifest,
//! version 1), as `pesync genesys setup` would leave it: for `pesync bench delivery --target
//! external-events` and the delivery tests, which must not depend on setup to measure delivery.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::Utc;
use serde_json::{Value, json};

use crate::genesys::org::{Configured, Org};
use crate::genesys::{
    CONFIGURATIONS_PATH, EXTERNAL_SOURCES_PATH, HOME_DIVISION_PATH, SCHEMAS_PATH,
};
use crate::simulator::{SimulatorConfig, SimulatorHandle};

/// The name of the External Source it creates.
pub const SOURCE_NAME: &str = "pesync";

/// The schemas of the default manifest's event types: every attribute, the required ones.
pub fn default_manifest_schemas() -> Vec<Value> {
    let draft = "http://json-schema.org/draft-04/schema#";
    let string = json!({"type": "string"});
    vec![
        json!({"$schema": draft, "title": "crm.transaction", "description": "A CRM transaction (pesync)",
            "properties": {"crm_record_id": string, "transaction_value": {"type": "number"},
                "product_category": string, "payment_status": string, "channel_origin": string},
            "required": ["crm_record_id", "transaction_value"]}),
        json!({"$schema": draft, "title": "crm.behavior", "description": "A CRM behaviour (pesync)",
            "properties": {"crm_record_id": string, "session_duration_seconds": {"type": "integer"},
                "pages_viewed": {"type": "integer"}, "channel_origin": string},
            "required": ["crm_record_id"]}),
    ]
}

/// Creates the source, schemas and configurations in `sim` and answers the org to store
/// (`genesys::org::save`).
pub async fn set_up(sim: &SimulatorHandle) -> anyhow::Result<Org> {
    let api = Api::connect(sim).await?;
    let source = api
        .post(
            EXTERNAL_SOURCES_PATH,
            json!({"name": SOURCE_NAME, "active": true}),
        )
        .await?;
    let division = api.get(HOME_DIVISION_PATH).await?;
    let mut event_types = BTreeMap::new();
    for schema in default_manifest_schemas() {
        let title = schema["title"].as_str().unwrap_or_default().to_owned();
        let created = api.post(SCHEMAS_PATH, schema).await?;
        let configuration = json!({"name": title, "description": "pesync events",
            "divisionId": division["id"], "schemaId": created["id"], "source": SOURCE_NAME});
        let configuration = api.post(CONFIGURATIONS_PATH, configuration).await?;
        let configured = Configured {
            schema_id: id(&created)?,
            schema_version: created["version"].as_i64().unwrap_or(1) as i32,
            configuration_id: id(&configuration)?,
        };
        event_types.insert(title, configured);
    }
    Ok(Org {
        base_url: sim.base_url.clone(),
        external_source_id: id(&source)?,
        external_source_name: SOURCE_NAME.into(),
        division_id: id(&division)?,
        setup_at: Utc::now(),
        event_types,
    })
}

fn id(object: &Value) -> anyhow::Result<String> {
    object["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {object}"))
}

/// The simulator's API with a token of the default client.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn connect(sim: &SimulatorHandle) -> anyhow::Result<Self> {
        let cfg = SimulatorConfig::default();
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(sim.token_url())
            .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = answer["access_token"]
            .as_str()
            .context("no access_token")?
            .to_owned();
        Ok(Self {
            http,
            base: sim.base_url.clone(),
            token,
        })
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let request = self.http.post(format!("{}{path}", self.base)).json(&body);
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "simulator answered {status}: {body}");
        Ok(body)
    }
}
