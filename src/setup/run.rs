//! Setup against the org: list what is there, plan, then write in order (the External Source, the
//! schemas, the configurations). Every request goes through the one Genesys client (OAuth, the
//! cluster's rate ceiling, the 401 retry); a 429 or 5xx is retried with SPEC §5 backoff a few
//! times, then reported naming the object. The caller stores the resulting org.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;

use super::answer::{Outcome, failure, outcome};
use super::plan::{self, Plan, Refusal};
use crate::genesys::org::Org;
use crate::genesys::{self, GenesysClient};
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

/// The client and the run's options: what every request of a run needs. Reading the org is in
/// `read.rs`, applying the plan in `apply.rs`; the retried request both use is here.
pub(super) struct Api<'a> {
    pub(super) client: &'a GenesysClient,
    pub(super) options: &'a Options,
}

impl Api<'_> {
    pub(super) async fn write(
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
    pub(super) async fn request(
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
