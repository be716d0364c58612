//! `GET /v1/admin/genesys`: where events go, and what `pesync genesys setup` found or created in
//! the org (issue 10 §2).

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::tenant::Tenant;
use crate::genesys::EventsTarget;
use crate::genesys::org::{self, Org};
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::responses as problems;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_genesys);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenesysView {
    /// `PESYNC_GENESYS_EVENTS`: `pe` or `external-events`.
    #[schema(example = "external-events")]
    pub target: &'static str,
    /// `PESYNC_GENESYS_REGION` (its host suffix), `null` when the URLs are set directly.
    #[schema(example = "mypurecloud.ie")]
    pub region: Option<&'static str>,
    /// The External Source every external event names; `null` before setup.
    pub external_source: Option<ExternalSourceView>,
    /// Per event type, where its events go (empty before setup).
    pub configurations: Vec<ConfigurationView>,
    pub setup_at: Option<DateTime<Utc>>,
    /// Why events wait: the target is `external-events` and setup has not run against this org.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExternalSourceView {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigurationView {
    pub event_type: String,
    pub configuration_id: String,
    pub schema_id: String,
    pub schema_version: i32,
}

/// Where events go and the org's setup as stored.
#[utoipa::path(tag = "genesys", security(("bearer" = [])),
    responses((status = 200, body = GenesysView), problems::Reads))]
#[get("/v1/admin/genesys")]
pub async fn get_genesys(
    _: Reader,
    state: web::Data<AppState>,
    tenant: web::Data<Tenant>,
) -> Result<web::Json<GenesysView>, ApiError> {
    let mut db = state.reads.acquire().await?;
    let stored = org::load(&mut db).await?;
    // Ids from another org (or the simulator) are not this org's setup: delivery ignores them too
    // (`org::readiness`), and the note says why, as `/v1/admin/stats` does.
    let ready = match &tenant.client {
        Some(client) => org::readiness(stored.as_ref(), &client.config().base_url)
            .map(|_| ())
            .map_err(|why| why.note()),
        None => stored
            .as_ref()
            .map(|_| ())
            .ok_or_else(|| org::NOT_SET_UP.to_owned()),
    };
    let org = stored.filter(|_| ready.is_ok());
    Ok(web::Json(view(
        tenant.target,
        tenant.region.map(|r| r.host()),
        org,
        ready.err(),
    )))
}

/// `why`: what keeps a stored org from being this one's (`org::readiness`), when known.
fn view(
    target: EventsTarget,
    region: Option<&'static str>,
    org: Option<Org>,
    why: Option<String>,
) -> GenesysView {
    let note = (target == EventsTarget::ExternalEvents && org.is_none())
        .then(|| why.unwrap_or_else(|| org::NOT_SET_UP.to_owned()));
    let Some(org) = org else {
        return GenesysView {
            target: target.as_str(),
            region,
            external_source: None,
            configurations: Vec::new(),
            setup_at: None,
            note,
        };
    };
    let configurations = org
        .event_types
        .into_iter()
        .map(|(event_type, c)| ConfigurationView {
            event_type,
            configuration_id: c.configuration_id,
            schema_id: c.schema_id,
            schema_version: c.schema_version,
        })
        .collect();
    GenesysView {
        target: target.as_str(),
        region,
        external_source: Some(ExternalSourceView {
            id: org.external_source_id,
            name: org.external_source_name,
        }),
        configurations,
        setup_at: Some(org.setup_at),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::org::Configured;

    fn org() -> Org {
        Org {
            base_url: "https://api.mypurecloud.ie".into(),
            external_source_id: "src".into(),
            external_source_name: "pesync".into(),
            division_id: "div".into(),
            setup_at: DateTime::UNIX_EPOCH,
            event_types: [(
                "crm.behavior".to_owned(),
                Configured {
                    schema_id: "s".into(),
                    schema_version: 2,
                    configuration_id: "c".into(),
                },
            )]
            .into(),
        }
    }

    #[test]
    fn the_note_shows_only_while_external_events_wait_for_setup() {
        let waiting = view(EventsTarget::ExternalEvents, None, None, None);
        assert_eq!(waiting.note.as_deref(), Some(org::NOT_SET_UP));
        assert!(waiting.external_source.is_none() && waiting.configurations.is_empty());
        assert!(view(EventsTarget::Pe, None, None, None).note.is_none());
        let done = view(
            EventsTarget::ExternalEvents,
            Some("mypurecloud.ie"),
            Some(org()),
            None,
        );
        assert!(done.note.is_none());
        assert_eq!(done.region, Some("mypurecloud.ie"));
        assert_eq!(done.configurations[0].schema_version, 2);
        assert_eq!(done.external_source.unwrap().id, "src");
    }
}
