//! The simulator's External Events API and its setup objects over real HTTP (reference §1a, §6):
//! what it accepts, what it refuses, and the partial success of an events request.

use pesync::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const SOURCES: &str = "/api/v2/externalcontacts/externalsources";
const SCHEMAS: &str = "/api/v2/journey/externalevents/schemas";
const CONFIGURATIONS: &str = "/api/v2/journey/externalevents/configurations";
const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";

struct Org {
    sim: SimulatorHandle,
    client: Client,
    token: String,
}

impl Org {
    async fn start() -> Self {
        let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
        let client = Client::new();
        let response = client
            .post(sim.token_url())
            .basic_auth("pesync-simulator", Some("pesync-simulator-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        Self { sim, client, token }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.sim.base_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// A source, the `crm.transaction` schema and its configuration: (source id, configuration id).
    async fn set_up(&self) -> (String, String) {
        let (status, source) = self
            .post(SOURCES, json!({"name": "pesync", "active": true}))
            .await;
        assert_eq!(status, 200, "{source}");
        let (status, schema) = self.post(SCHEMAS, transaction_schema()).await;
        assert_eq!(status, 200, "{schema}");
        let (_, division) = self.get("/api/v2/authorization/divisions/home").await;
        let configuration = json!({"name": "crm.transaction", "description": "by pesync",
            "divisionId": division["id"], "schemaId": schema["id"], "source": "pesync"});
        let (status, configuration) = self.post(CONFIGURATIONS, configuration).await;
        assert_eq!(status, 200, "{configuration}");
        let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
        (id(&source), id(&configuration))
    }
}

fn transaction_schema() -> Value {
    json!({"$schema": DRAFT_04, "title": "crm.transaction", "description": "A CRM transaction",
        "properties": {"transaction_value": {"type": "number"}, "quantity": {"type": "integer"},
                       "channel_origin": {"type": "string"}},
        "required": ["transaction_value"]})
}

fn entity(id: &str, contact: &str, source: &str, attributes: Value) -> Value {
    json!({"id": id, "dateCreated": "2026-12-01T10:00:00.000Z",
        "identifiers": {"externalIds": [{"value": contact, "externalSourceId": source}]},
        "attributes": attributes})
}

fn indexes(answer: &Value) -> Vec<(u64, bool, u64)> {
    let entries = answer["unprocessedEntities"].as_array().unwrap();
    let entry = |e: &Value| {
        let index = e["originalRequestIndex"].as_u64().unwrap();
        (
            index,
            e["isRetryable"].as_bool().unwrap(),
            e["statusCode"].as_u64().unwrap(),
        )
    };
    entries.iter().map(entry).collect()
}

#[tokio::test]
async fn setup_objects_are_created_listed_and_checked() {
    let org = Org::start().await;
    assert_eq!(
        org.get(SOURCES).await,
        (200, json!({"entities": [], "selfUri": SOURCES}))
    );
    let (source_id, configuration_id) = org.set_up().await;
    let (_, sources) = org.get(SOURCES).await;
    assert_eq!(sources["entities"][0]["id"], source_id.as_str());
    assert_eq!(sources["entities"][0]["name"], "pesync");

    let (_, schemas) = org.get(SCHEMAS).await;
    let schema = &schemas["entities"][0];
    assert_eq!(
        (schema["version"].clone(), schema["enabled"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(schema["jsonSchema"], transaction_schema());
    let (status, again) = org.post(SCHEMAS, transaction_schema()).await;
    assert_eq!(status, 400, "a title is unique: {again}");

    let mut draft_07 = transaction_schema();
    draft_07["$schema"] = json!("http://json-schema.org/draft-07/schema#");
    draft_07["title"] = json!("crm.other");
    draft_07["required"] = json!([]);
    let (status, refused) = org.post(SCHEMAS, draft_07).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = refused["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["$schema", "required"]);

    let (status, configuration) = org
        .get(&format!("{CONFIGURATIONS}/{configuration_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(configuration["schemaId"], schema["id"]);
    let bad = json!({"name": "x", "description": "y", "divisionId": "nope",
        "schemaId": "nope", "source": "pesync"});
    let (status, refused) = org.post(CONFIGURATIONS, bad).await;
    assert_eq!(status, 400);
    assert_eq!(refused["details"].as_array().unwrap().len(), 2, "{refused}");
    let (status, _) = org.get(&format!("{CONFIGURATIONS}/nope")).await;
    assert_eq!(status, 404);
    let (_, limits) = org.get(&format!("{SCHEMAS}/limits")).await;
    assert_eq!(limits["maxNumberOfSchemasPerOrg"], 20);
    assert_eq!(org.sim.state.journey().configurations.len(), 1);
}

#[tokio::test]
async fn a_schema_update_needs_the_current_version_and_keeps_optional_fields_optional() {
    let org = Org::start().await;
    org.set_up().await;
    let (_, schemas) = org.get(SCHEMAS).await;
    let path = format!(
        "{SCHEMAS}/{}",
        schemas["entities"][0]["id"].as_str().unwrap()
    );
    let mut wider = transaction_schema();
    wider["properties"]["store_id"] = json!({"type": "string"});
    let stale = json!({"version": 2, "enabled": true, "jsonSchema": wider});
    assert_eq!(org.put(&path, stale).await.0, 409);
    let mut stricter = transaction_schema();
    stricter["required"] = json!(["transaction_value", "quantity"]);
    let (status, refused) = org
        .put(
            &path,
            json!({"version": 1, "enabled": true, "jsonSchema": stricter}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["details"][0]["fieldName"], "required.quantity");
    let (status, updated) = org
        .put(
            &path,
            json!({"version": 1, "enabled": true, "jsonSchema": wider}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        org.get(&path).await.1["jsonSchema"]["properties"]["store_id"]["type"],
        "string"
    );
}

#[tokio::test]
async fn an_events_request_succeeds_in_part_and_says_which_entities_failed() {
    let org = Org::start().await;
    let (source, configuration) = org.set_up().await;
    let path = format!("{CONFIGURATIONS}/{configuration}/events");
    let entities = json!([
        entity(
            "e-1",
            "c-1",
            &source,
            json!({"transaction_value": 12.5, "quantity": 2})
        ),
        entity("e-2", "c-2", &source, json!({"quantity": 2})),
        entity(
            "e-3",
            "c-3",
            "no-such-source",
            json!({"transaction_value": 1})
        ),
        entity(
            "e-4",
            "c-4",
            &source,
            json!({"transaction_value": 1, "quantity": 2.0})
        ),
        entity(
            "e-5",
            "c-5",
            &source,
            json!({"transaction_value": 1, "store": "x"})
        ),
    ]);
    let (status, answer) = org.post(&path, json!({"entities": entities})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        indexes(&answer),
        [
            (1, false, 400),
            (2, false, 400),
            (3, false, 400),
            (4, false, 400)
        ]
    );
    assert_eq!(answer["unprocessedEntities"][0]["event"], entities[1]);
    let taken = org.sim.state.external_events();
    assert_eq!(taken.len(), 1);
    assert_eq!(
        (taken[0].id.as_str(), taken[0].contact_id.as_str()),
        ("e-1", "c-1")
    );
    assert_eq!(taken[0].event_type, "crm.transaction");
    assert_eq!(taken[0].attributes["quantity"], 2);
}

#[tokio::test]
async fn injected_and_per_contact_failures_come_back_unprocessed() {
    let org = Org::start().await;
    let (source, configuration) = org.set_up().await;
    let path = format!("{CONFIGURATIONS}/{configuration}/events");
    let response = org
        .client
        .post(format!("{}/_sim/externalevents/fail", org.sim.base_url))
        .json(&json!({"retryable": 1, "non_retryable": 1, "non_retryable_status": 422}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    org.sim.state.set_contact_status("c-9", Some(429)).unwrap();
    let good =
        |id: &str, contact: &str| entity(id, contact, &source, json!({"transaction_value": 1}));
    let entities = json!([
        good("a", "c-1"),
        good("b", "c-2"),
        good("c", "c-9"),
        good("d", "c-3")
    ]);
    let (status, answer) = org.post(&path, json!({"entities": entities})).await;
    assert_eq!(status, 200);
    assert_eq!(
        indexes(&answer),
        [(0, true, 503), (1, false, 422), (2, true, 429)]
    );
    let ids: Vec<String> = org
        .sim
        .state
        .external_events()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["d"]);
    // The same entity again is taken in again: Genesys documents no deduplication on the id.
    org.post(&path, json!({"entities": [good("d", "c-3")]}))
        .await;
    assert_eq!(org.sim.state.journey().repeated_ids, 1);
}

#[tokio::test]
async fn whole_requests_are_refused_for_their_own_faults() {
    let org = Org::start().await;
    let (source, configuration) = org.set_up().await;
    let path = format!("{CONFIGURATIONS}/{configuration}/events");
    assert_eq!(org.post(&path, json!({"entities": []})).await.0, 400);
    assert_eq!(org.post(&path, json!({"events": []})).await.0, 400);
    let unknown = format!("{CONFIGURATIONS}/nope/events");
    let one = entity("x", "c-1", &source, json!({"transaction_value": 1}));
    assert_eq!(org.post(&unknown, json!({"entities": [one]})).await.0, 404);
    let big = "x".repeat(200_000);
    let heavy: Vec<Value> = (0..3)
        .map(|i| {
            entity(
                &format!("h{i}"),
                "c-1",
                &source,
                json!({"channel_origin": big}),
            )
        })
        .collect();
    let (status, body) = org.post(&path, json!({"entities": heavy})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("request.entity.too.large"))
    );
    let anonymous = org
        .client
        .get(format!("{}{SOURCES}", org.sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(org.sim.state.external_events().is_empty());
}
