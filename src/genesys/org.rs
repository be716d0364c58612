//! What `pesync genesys setup` found or created in the org, as stored in the database: the External
//! Source and, per event type, its schema (id, version) and events configuration. Setup writes it
//! (`save`); delivery through External Events and `GET /v1/admin/genesys` read it (`load`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Why events wait while the target is `external-events` and setup has not run (for the log,
/// `/v1/admin/stats` and `/v1/admin/genesys`).
pub const NOT_SET_UP: &str = "PESYNC_GENESYS_EVENTS=external-events but the org is not set up: \
events stay queued until `pesync genesys setup` has run against this org";

/// The org as setup left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// The API base URL setup ran against.
    pub base_url: String,
    pub external_source_id: String,
    pub external_source_name: String,
    pub division_id: String,
    pub setup_at: DateTime<Utc>,
    /// Event type → where its events go.
    pub event_types: BTreeMap<String, Configured>,
}

/// One event type's schema and events configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    pub schema_id: String,
    pub schema_version: i32,
    pub configuration_id: String,
}

impl Org {
    /// Whether these ids belong to the org at `base_url` (the one the client talks to now): ids
    /// from another org, or from the simulator, would only earn 404s.
    pub fn is_for(&self, base_url: &str) -> bool {
        self.base_url.trim_end_matches('/') == base_url.trim_end_matches('/')
    }
}

/// The stored org, `None` before setup ever ran.
pub async fn load(db: &mut PgConnection) -> sqlx::Result<Option<Org>> {
    let Some(row) = sqlx::query!(
        "SELECT base_url, external_source_id, external_source_name, division_id, setup_at
         FROM genesys_org"
    )
    .fetch_optional(&mut *db)
    .await?
    else {
        return Ok(None);
    };
    let event_types = sqlx::query!(
        "SELECT event_type, schema_id, schema_version, configuration_id
         FROM genesys_event_types ORDER BY event_type"
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|r| {
        let configured = Configured {
            schema_id: r.schema_id,
            schema_version: r.schema_version,
            configuration_id: r.configuration_id,
        };
        (r.event_type, configured)
    })
    .collect();
    Ok(Some(Org {
        base_url: row.base_url,
        external_source_id: row.external_source_id,
        external_source_name: row.external_source_name,
        division_id: row.division_id,
        setup_at: row.setup_at,
        event_types,
    }))
}

/// Replaces the stored org with `org` (inside the caller's transaction): event types it no longer
/// has are forgotten.
pub async fn save(tx: &mut PgConnection, org: &Org) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO genesys_org
             (singleton, base_url, external_source_id, external_source_name, division_id, setup_at)
           VALUES (true, $1, $2, $3, $4, $5)
           ON CONFLICT (singleton) DO UPDATE SET
             base_url = EXCLUDED.base_url, external_source_id = EXCLUDED.external_source_id,
             external_source_name = EXCLUDED.external_source_name,
             division_id = EXCLUDED.division_id, setup_at = EXCLUDED.setup_at"#,
        org.base_url,
        org.external_source_id,
        org.external_source_name,
        org.division_id,
        org.setup_at
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM genesys_event_types")
        .execute(&mut *tx)
        .await?;
    let types: Vec<String> = org.event_types.keys().cloned().collect();
    let schemas: Vec<String> = org
        .event_types
        .values()
        .map(|c| c.schema_id.clone())
        .collect();
    let versions: Vec<i32> = org.event_types.values().map(|c| c.schema_version).collect();
    let configs: Vec<String> = org
        .event_types
        .values()
        .map(|c| c.configuration_id.clone())
        .collect();
    sqlx::query!(
        r#"INSERT INTO genesys_event_types
             (event_type, schema_id, schema_version, configuration_id, updated_at)
           SELECT t, s, v, c, $5
           FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::text[]) AS u(t, s, v, c)"#,
        &types,
        &schemas,
        &versions,
        &configs,
        org.setup_at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Why events cannot go to the External Events API yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// `pesync genesys setup` never ran.
    NotSetUp,
    /// It ran against another org (another base URL): its ids would only earn 404s here.
    OtherOrg { set_up_for: String },
}

impl NotReady {
    /// For the log and `/v1/admin/stats`.
    pub fn note(&self) -> String {
        match self {
            NotReady::NotSetUp => NOT_SET_UP.to_owned(),
            NotReady::OtherOrg { set_up_for } => format!(
                "PESYNC_GENESYS_EVENTS=external-events but the stored org was set up against \
                 {set_up_for}, not the org pesync talks to now: events stay queued until \
                 `pesync genesys setup` has run against this org"
            ),
        }
    }
}

/// The stored org, if it is the one at `base_url`.
pub fn readiness<'a>(org: Option<&'a Org>, base_url: &str) -> Result<&'a Org, NotReady> {
    match org {
        None => Err(NotReady::NotSetUp),
        Some(org) if !org.is_for(base_url) => Err(NotReady::OtherOrg {
            set_up_for: org.base_url.clone(),
        }),
        Some(org) => Ok(org),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn org() -> Org {
        Org {
            base_url: "https://api.mypurecloud.ie".into(),
            external_source_id: "src-1".into(),
            external_source_name: "pesync".into(),
            division_id: "div".into(),
            setup_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            event_types: BTreeMap::new(),
        }
    }

    #[test]
    fn readiness_needs_setup_against_this_org() {
        let org = org();
        assert_eq!(
            readiness(None, "https://x").unwrap_err(),
            NotReady::NotSetUp
        );
        assert_eq!(NotReady::NotSetUp.note(), NOT_SET_UP);
        assert!(readiness(Some(&org), "https://api.mypurecloud.ie/").is_ok());
        let other = readiness(Some(&org), "https://api.usw2.pure.cloud").unwrap_err();
        assert!(other.note().contains("https://api.mypurecloud.ie"));
        assert!(other.note().contains("pesync genesys setup"));
    }
}
