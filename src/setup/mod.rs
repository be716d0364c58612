//! `pesync genesys setup` (issue 10 §2): the Genesys Cloud org set up from the active manifest,
//! so events can go through the External Events API. It finds what exists by listing each
//! collection and matching by name or title, and creates or updates only what differs: an
//! External Source, per event type a schema (`schema`) and an events configuration. `plan`
//! decides (pure), `run` does the requests (`read` lists the org, `apply` carries out the plan,
//! `answer` reads what comes back), and the result is stored with `genesys::org::save`.
//!
//! Manifest activation (`admin::manifests`) brings the org to the new manifest with the same
//! `run::sync` before it activates it.

mod answer;
mod apply;
pub mod listing;
pub mod plan;
mod read;
mod refusals;
pub mod run;
pub mod schema;

use secrecy::SecretString;
use std::fmt;

use anyhow::Context;
use chrono::Utc;

use crate::genesys::org::Org;
use crate::genesys::{EventsTarget, GenesysClient, GenesysConfig};
use crate::platform::db::lock::{JobLock, ORG_SYNC};
pub use plan::{Plan, Refusal};
pub use run::{Options, SyncError, Synced, sync};

/// `--help` of the command.
pub const LONG_ABOUT: &str = "Set up the Genesys Cloud org for PESYNC_GENESYS_EVENTS=external-events, from the active manifest.\n\n\
It lists the org's External Sources, external event schemas and events configurations, and creates what is missing: an External Source (--source-name), per event type of the active manifest a schema titled with the event type (its properties: the type's non-deprecated attributes; required: its required ones) and an events configuration named after it, in --division-id or else the org's home division. A schema that differs from the manifest is updated with its current version. An optional attribute made required, more than 20 event types or more than 50 attributes in one type are refused before anything is sent.\n\n\
Every request goes through the same client as delivery: OAuth with PESYNC_PE_CLIENT_ID / PESYNC_PE_CLIENT_SECRET, the region (PESYNC_GENESYS_REGION, or PESYNC_PE_BASE_URL and PESYNC_PE_TOKEN_URL) and the rate ceiling PESYNC_PE_RATE_LIMIT. Like `serve`, it creates and migrates the database (DATABASE_URL) when needed, and stores the ids there; GET /v1/admin/genesys shows them.\n\n\
Running it again is safe: when nothing differs, it sends no write at all. Run it against a sandbox org first, then for real.";

#[derive(Debug, Clone, clap::Args)]
pub struct SetupArgs {
    /// Print the plan only: send no write to Genesys Cloud and store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The External Source the events name (found by this name, else created).
    #[arg(long, default_value = "pesync", value_name = "NAME")]
    pub source_name: String,
    /// The division of new events configurations [default: PESYNC_GENESYS_DIVISION_ID, else the
    /// org's home division].
    #[arg(long, value_name = "ID")]
    pub division_id: Option<String>,
}

const NEEDS_TENANT: &str = "pesync genesys setup needs the org's OAuth client and region: set PESYNC_PE_CLIENT_ID, PESYNC_PE_CLIENT_SECRET and PESYNC_GENESYS_REGION (or PESYNC_PE_BASE_URL and PESYNC_PE_TOKEN_URL)";

/// What the command did, as it prints it.
#[derive(Debug, Clone)]
pub struct Report {
    pub base_url: String,
    pub manifest_version: i32,
    pub target: EventsTarget,
    pub dry_run: bool,
    pub synced: Synced,
}

/// The command: sets the org up (or plans it, with `--dry-run`) and stores what it holds.
/// Why setup or an activation did not start: the other one is changing the org right now.
pub const BUSY: &str = "another `pesync genesys setup` or manifest activation is changing the org; try again when it is done";

/// `config` is `None` when the settings name no org (the command then says what to set).
pub async fn setup(
    database_url: &SecretString,
    config: Option<GenesysConfig>,
    args: &SetupArgs,
) -> anyhow::Result<Report> {
    let config = config.context(NEEDS_TENANT)?;
    let pool = crate::platform::db::connect_and_migrate(database_url).await?;
    let result = setup_on(&pool, config, args).await;
    crate::platform::db::close(pool).await;
    result
}

async fn setup_on(
    pool: &sqlx::PgPool,
    config: GenesysConfig,
    args: &SetupArgs,
) -> anyhow::Result<Report> {
    let base_url = config.base_url.clone();
    let target = config.events;
    let configured_division = config.division_id.clone();
    let client = GenesysClient::new(config, pool.clone()).await?;
    let (manifest_version, manifest) = crate::registry::manifests::active(pool)
        .await
        .context("reading the active manifest")?;
    let division = args.division_id.clone().or(configured_division);
    let options = Options::for_command(args.source_name.clone(), division, args.dry_run);
    let lock = if args.dry_run {
        None
    } else {
        let lock = JobLock::try_acquire(pool, ORG_SYNC).await?;
        Some(lock.context(BUSY)?)
    };
    let result = async {
        let synced = sync(&client, &manifest, &options, Utc::now()).await?;
        if let Some(org) = &synced.org {
            store(pool, org).await?;
        }
        anyhow::Ok(synced)
    }
    .await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    let synced = result?;
    Ok(Report {
        base_url,
        manifest_version,
        target,
        dry_run: args.dry_run,
        synced,
    })
}

async fn store(pool: &sqlx::PgPool, org: &Org) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    crate::genesys::org::save(&mut tx, org).await?;
    tx.commit().await.context("storing the org's ids")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let synced = &self.synced;
        writeln!(
            f,
            "Genesys Cloud org at {}, manifest version {}",
            self.base_url, self.manifest_version
        )?;
        let division = synced.division_id.as_deref().unwrap_or("(none needed)");
        match &synced.org {
            None => {
                writeln!(f, "Dry run: nothing was sent to Genesys Cloud or stored.")?;
                write!(f, "{}", synced.plan)?;
                writeln!(f, "Division of new configurations: {division}")?;
                writeln!(f, "{} write(s) would be sent.", synced.plan.writes())?;
            }
            Some(org) => {
                write_done(f, &synced.plan, org)?;
                writeln!(f, "Division: {division}")?;
                writeln!(
                    f,
                    "{} write(s) sent; the ids are stored in the database (GET /v1/admin/genesys).",
                    synced.writes
                )?;
            }
        }
        if self.target != EventsTarget::ExternalEvents {
            writeln!(
                f,
                "Note: PESYNC_GENESYS_EVENTS is {}; set it to external-events for delivery to use this org's configurations.",
                self.target.as_str()
            )?;
        }
        Ok(())
    }
}

/// One line per object, with what was done and its id.
fn write_done(f: &mut fmt::Formatter<'_>, plan: &Plan, org: &Org) -> fmt::Result {
    use plan::{ConfigurationStep, SchemaStep, SourceStep};
    let done = match plan.source {
        SourceStep::Found { .. } => "found",
        SourceStep::Create { .. } => "created",
    };
    writeln!(
        f,
        "External Source {:?}: {done} ({})",
        org.external_source_name, org.external_source_id
    )?;
    for t in &plan.types {
        let Some(c) = org.event_types.get(&t.event_type) else {
            continue;
        };
        let schema = match t.schema {
            SchemaStep::Create { .. } => "created",
            SchemaStep::Update { .. } => "updated",
            SchemaStep::Unchanged { .. } => "unchanged",
        };
        let configuration = match t.configuration {
            ConfigurationStep::Create => "created",
            ConfigurationStep::Found { .. } => "found",
        };
        writeln!(
            f,
            "{}: schema {schema} ({}, version {}); configuration {configuration} ({})",
            t.event_type, c.schema_id, c.schema_version, c.configuration_id
        )?;
    }
    Ok(())
}
