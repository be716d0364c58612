//! Setup against the org: list what is there, plan, then write in order (the External Source, the
//! schemas, the configurations). Every request goes through the one Genesys client (OAuth, the
//! cluster's rate ceiling, the 401 retry); a 429 or 5xx is retried with SPEC §5 backoff a few
//! times, then reported naming the object. The caller stores the resulting org.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::answer::{Outcome, failure, field, id_of, outcome};
use super::listing::{self, Listings, Page};
use super::plan::{self, ConfigurationStep, Plan, Refusal, SchemaStep, SourceStep};
use crate::genesys::org::{Configured, Org};
use crate::genesys::{
    self, CONFIGURATIONS_PATH, EXTERNAL_SOURCES_PATH, GenesysClient, HOME_DIVISION_PATH,
    SCHEMAS_PATH,
};
use crate::normalize::manifest::Manifest;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The External Source's name (`--source-name`).
    pub source_name: String,
    /// The division of new configurations; the org's home division when `None`.
    pub division_id: Option<String>,
    /// Plan only: no write is sent.
    pub dry_run: bool,
    /// Requests sent at most for one object when Genesys answers 429/5xx.
    pub attempts: u32,
    /// The longest wait between two of them (a `Retry-After` is cut to it).
    pub max_wait: Duration,
}

impl Options {
    /// The command line's: a person waits, so a few tries over up to a minute.
    pub fn for_command(source_name: String, division_id: Option<String>, dry_run: bool) -> Self {
        Self {
            source_name,
            division_id,
            dry_run,
            attempts: 4,
            max_wait: Duration::from_secs(30),
        }
    }
}

/// Why a run stopped. Nothing is stored after any of these.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The plan found what Genesys would refuse; nothing was sent.
    #[error("Genesys Cloud would refuse this manifest: {}", join(.0))]
    Refused(Vec<Refusal>),
    /// Genesys refused a write as invalid (400/422).
    #[error("Genesys Cloud answered {status} to {what}: {message}")]
    Rejected {
        what: String,
        status: u16,
        message: String,
        fields: Vec<Refusal>,
    },
    /// Genesys did not do what was asked: an outage, throttling that outlasted the retries, a
    /// missing permission, an answer that makes no sense.
    #[error("{what}: {cause}")]
    Failed { what: String, cause: String },
}

fn join(refusals: &[Refusal]) -> String {
    let texts: Vec<String> = refusals.iter().map(Refusal::to_string).collect();
    texts.join("; ")
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct Synced {
    pub plan: Plan,
    /// The division of new configurations (`None` when none is created and none was found).
    pub division_id: Option<String>,
    /// The org as it is now; `None` on a dry run.
    pub org: Option<Org>,
    /// Requests sent that change the org.
    pub writes: usize,
}

/// Brings the org to `manifest` (or, with `dry_run`, only says how).
pub async fn sync(
    client: &GenesysClient,
    manifest: &Manifest,
    options: &Options,
    now: DateTime<Utc>,
) -> Result<Synced, SyncError> {
    let api = Api { client, options };
    let listings = api.listings().await?;
    let plan = plan::plan(manifest, &listings, &options.source_name).map_err(SyncError::Refused)?;
    let division_id = match (&options.division_id, plan.creates_configurations()) {
        (Some(given), _) => Some(given.clone()),
        (None, true) => Some(api.home_division().await?),
        (None, false) => plan.found_division().map(str::to_owned),
    };
    if options.dry_run {
        return Ok(Synced {
            plan,
            division_id,
            org: None,
            writes: 0,
        });
    }
    let org = api
        .apply(&plan, division_id.as_deref().unwrap_or_default(), now)
        .await?;
    Ok(Synced {
        writes: plan.writes(),
        plan,
        division_id,
        org: Some(org),
    })
}

struct Api<'a> {
    client: &'a GenesysClient,
    options: &'a Options,
}

/// Listings are read a page at a time; this many pages is more than any org has (20 schemas).
const MAX_PAGES: usize = 100;

impl Api<'_> {
    async fn listings(&self) -> Result<Listings, SyncError> {
        Ok(Listings {
            sources: self.list(EXTERNAL_SOURCES_PATH, "External Sources").await?,
            schemas: self.schemas().await?,
            configurations: self
                .list(CONFIGURATIONS_PATH, "external events configurations")
                .await?,
        })
    }

    /// The schemas with their JSON schema: a listing that leaves it out is completed by reading
    /// each schema (`GET …/schemas/{id}`), since the title is what finds an event type's schema.
    async fn schemas(&self) -> Result<Vec<listing::Schema>, SyncError> {
        let mut schemas: Vec<listing::Schema> =
            self.list(SCHEMAS_PATH, "external event schemas").await?;
        for schema in schemas.iter_mut().filter(|s| s.json_schema.is_null()) {
            let what = format!("reading the external event schema {}", schema.id);
            let ids = [schema.id.as_str()];
            let body = self
                .request(Method::GET, SCHEMAS_PATH, &ids, &[], None, &what)
                .await?;
            *schema = serde_json::from_str(&body).map_err(|e| SyncError::Failed {
                what,
                cause: format!("unexpected answer: {e}"),
            })?;
        }
        Ok(schemas)
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<Vec<T>, SyncError> {
        let what = format!("listing {what} ({path})");
        let mut all = Vec::new();
        let mut query: Vec<(String, String)> = Vec::new();
        for _ in 0..MAX_PAGES {
            let pairs: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = self
                .request(Method::GET, path, &[], &pairs, None, &what)
                .await?;
            let page: Page<T> = listing::page(&body, path).map_err(|cause| SyncError::Failed {
                what: what.clone(),
                cause: format!("unexpected answer: {cause}"),
            })?;
            all.extend(page.entities);
            match page.next {
                Some(next) => query = next,
                None => return Ok(all),
            }
        }
        Err(SyncError::Failed {
            what,
            cause: format!("more than {MAX_PAGES} pages"),
        })
    }

    async fn home_division(&self) -> Result<String, SyncError> {
        let what = format!("reading the org's home division ({HOME_DIVISION_PATH})");
        let body = self
            .request(Method::GET, HOME_DIVISION_PATH, &[], &[], None, &what)
            .await?;
        field(&body, "id").ok_or_else(|| SyncError::Failed {
            what,
            cause: "the answer has no id".into(),
        })
    }

    async fn apply(
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

    async fn write(
        &self,
        method: Method,
        path: &str,
        ids: &[&str],
        body: &Value,
        what: &str,
    ) -> Result<String, SyncError> {
        self.request(method, path, ids, &[], Some(body), what).await
    }

    /// One request, retried on 429/5xx with SPEC §5 backoff up to `attempts` times. A write that
    /// got no answer at all is not sent again: it may have been done, and a second `POST` would
    /// make a second object; the next run finds it by listing instead.
    async fn request(
        &self,
        method: Method,
        path: &str,
        ids: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<String, SyncError> {
        let write = method != Method::GET;
        let mut failures = 0;
        loop {
            let result = self
                .client
                .call(method.clone(), path, ids, query, body)
                .await;
            let wait = match outcome(&result, write) {
                Outcome::Ok => return Ok(result.map(|r| r.body).unwrap_or_default()),
                Outcome::Retry(wait) => wait,
                Outcome::Stop => return Err(failure(what, &result, write)),
            };
            failures += 1;
            if failures >= self.options.attempts.max(1) {
                return Err(failure(what, &result, write));
            }
            let wait = wait
                .unwrap_or_else(|| genesys::backoff(failures))
                .min(self.options.max_wait);
            let answer = match &result {
                Ok(r) => format!("answered {}", r.status),
                Err(e) => e.to_string(),
            };
            tracing::warn!(what, %answer, failures, wait_ms = wait.as_millis() as u64, "Genesys Cloud: trying again");
            tokio::time::sleep(wait).await;
        }
    }
}
