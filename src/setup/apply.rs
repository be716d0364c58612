//! Applying a plan, in the order Genesys needs it: the External Source, then each event type's
//! schema, then its events configuration (which names both).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::answer::id_of;
use super::plan::{ConfigurationStep, Plan, SchemaStep, SourceStep};
use super::run::{Api, SyncError};
use crate::genesys::org::{Configured, Org};
use crate::genesys::{CONFIGURATIONS_PATH, EXTERNAL_SOURCES_PATH, SCHEMAS_PATH};

impl Api<'_> {
    pub(super) async fn apply(
        &self,
        plan: &Plan,
        division_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Org, SyncError> {
        let (source_id, source_name) = match &plan.source {
            SourceStep::Found { id, name } => (id.clone(), name.clone()),
            SourceStep::Create { name } => {
                let what = format!("creating the External Source {name:?}");
                let body = json!({"name": name, "active": true});
                let answer = self.write(Method::POST, EXTERNAL_SOURCES_PATH, &[], &body, &what);
                (id_of(&answer.await?, &what)?, name.clone())
            }
        };
        let mut schemas = Vec::new();
        for t in &plan.types {
            schemas.push(self.schema(&t.event_type, &t.schema).await?);
        }
        let mut event_types = BTreeMap::new();
        for (t, (schema_id, schema_version)) in plan.types.iter().zip(schemas) {
            let configuration_id = match &t.configuration {
                ConfigurationStep::Found { id, .. } => id.clone(),
                ConfigurationStep::Create => {
                    let what = format!("creating the events configuration of {}", t.event_type);
                    let body = json!({"name": t.event_type,
                        "description": format!("pesync delivers its {} events here", t.event_type),
                        "divisionId": division_id, "schemaId": schema_id, "source": source_name});
                    let answer = self.write(Method::POST, CONFIGURATIONS_PATH, &[], &body, &what);
                    id_of(&answer.await?, &what)?
                }
            };
            let configured = Configured {
                schema_id,
                schema_version,
                configuration_id,
            };
            event_types.insert(t.event_type.clone(), configured);
        }
        Ok(Org {
            base_url: self.client.config().base_url.clone(),
            external_source_id: source_id,
            external_source_name: source_name,
            division_id: division_id.to_owned(),
            setup_at: now,
            event_types,
        })
    }

    /// The schema's id and version once its step is done.
    async fn schema(
        &self,
        event_type: &str,
        step: &SchemaStep,
    ) -> Result<(String, i32), SyncError> {
        let (what, answer) = match step {
            SchemaStep::Unchanged { id, version } => return Ok((id.clone(), *version)),
            SchemaStep::Create { body } => {
                let what = format!("creating the schema of {event_type}");
                let answer = self
                    .write(Method::POST, SCHEMAS_PATH, &[], body, &what)
                    .await?;
                (what, answer)
            }
            SchemaStep::Update { id, version, body } => {
                let what = format!("updating the schema of {event_type} ({id}, version {version})");
                let update = json!({"version": version, "enabled": true, "jsonSchema": body});
                let ids = [id.as_str()];
                let answer = self
                    .write(Method::PUT, SCHEMAS_PATH, &ids, &update, &what)
                    .await?;
                (what, answer)
            }
        };
        let version = serde_json::from_str::<Value>(&answer)
            .ok()
            .and_then(|v| v.get("version").and_then(Value::as_i64))
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v > 0);
        match version {
            Some(version) => Ok((id_of(&answer, &what)?, version)),
            None => Err(SyncError::Failed {
                what,
                cause: "the answer has no version".into(),
            }),
        }
    }
}
