//! Dry runs of a manifest or a mapping (issue 11 §1): `POST /v1/admin/manifests/{version}/check`,
//! and `PUT /v1/admin/sources/{name}?dry_run=true` (its handler is in [`super::sources`]). The
//! handlers read the request and the period; the ingestion stage ([`crate::ingest::check`]) plans
//! and compares.

use actix_web::{post, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ingest::check::compare::{NewFailure, SideBySide};
use crate::ingest::check::{self, Candidate};
use crate::normalize::Mapping;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Writer;
use crate::platform::http::responses as problems;
use crate::registry::{manifests, sources};
use crate::retention::Policy;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(check_manifest);
}

/// How far back a dry run reads stored events by default.
pub const DEFAULT_PERIOD: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// RFC 3339 instant: run the events received since then (default: 24 h ago; never earlier
    /// than retention keeps delivered events, `PESYNC_RETENTION_EVENTS_DAYS`).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
}

/// The period a dry run reads: from `since` (default 24 h before `now`), never earlier than what
/// retention keeps (`events_days`) nor later than `now`. Answers the start and whether it was
/// clamped. Pure.
pub fn period(
    since: Option<&str>,
    now: DateTime<Utc>,
    events_days: u32,
) -> Result<(DateTime<Utc>, bool), ApiError> {
    let asked = match since {
        None => now - DEFAULT_PERIOD,
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| ApiError::invalid("since", format!("must be an RFC 3339 instant ({e})")))?
            .with_timezone(&Utc),
    };
    if asked > now {
        return Err(ApiError::invalid("since", "must not be in the future"));
    }
    let kept = now - TimeDelta::days(i64::from(events_days));
    Ok(if asked < kept {
        (kept, true)
    } else {
        (asked, false)
    })
}

/// What a candidate mapping or manifest would do to recent traffic and to the open quarantine,
/// beside what the active one does.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    /// Events received since this instant were run.
    pub since: DateTime<Utc>,
    /// True when `since` was earlier than retention keeps events, and moved to that limit.
    pub since_clamped: bool,
    /// The stored events of the period (planned as of when each was received).
    pub events: SideBySide,
    /// The open quarantine items (planned as of now, as a replay would).
    pub quarantine: SideBySide,
    /// The attributes that newly fail, by name.
    pub failing_attributes: Vec<String>,
    /// Every failure the candidate adds, by reason and attribute, most frequent first, with up to
    /// 20 examples each.
    pub new_failures: Vec<NewFailure>,
    /// New failures of kinds beyond the first 100 (counted, not listed).
    pub untracked_failures: u64,
    /// Payloads of a source that no longer exists (not run).
    pub without_source: u64,
}

/// Runs the dry run of `candidate` over the period `query` asks for.
pub async fn run(
    state: &AppState,
    policy: &Policy,
    candidate: Candidate,
    query: &PeriodQuery,
) -> Result<CheckAnswer, ApiError> {
    let now = state.clock.now();
    let (since, since_clamped) = period(query.since.as_deref(), now, policy.events_days)?;
    let checked = check::check(&state.reads, candidate, since, now).await?;
    Ok(CheckAnswer {
        since,
        since_clamped,
        failing_attributes: checked.tally.failing_attributes(),
        new_failures: checked.tally.new_failures(),
        untracked_failures: checked.tally.untracked_failures,
        events: checked.tally.events,
        quarantine: checked.tally.quarantine,
        without_source: checked.without_source,
    })
}

/// Dry run of a manifest version: the events received since `since` (default 24 h) and the open
/// quarantine, run through this manifest and through the active one, each with its source's
/// mapping in force. Counts by outcome side by side (accepted per lane, quarantined per reason),
/// the attributes that newly fail, and up to 20 examples per new failure. Nothing is stored,
/// activated or re-queued. Admin token only. Unknown version 404; a bad `since` 422.
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    params(("version" = i32, Path), PeriodQuery),
    responses((status = 200, body = CheckAnswer), problems::Writes, problems::NotFound,
        problems::Query))]
#[post("/v1/admin/manifests/{version}/check")]
pub async fn check_manifest(
    _: Writer,
    state: web::Data<AppState>,
    policy: web::Data<Policy>,
    version: web::Path<i32>,
    query: web::Query<PeriodQuery>,
) -> Result<web::Json<CheckAnswer>, ApiError> {
    let version = version.into_inner();
    let manifest = manifests::get(&state.reads, version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no manifest version {version}")))?;
    let answer = run(&state, &policy, Candidate::Manifest(manifest), &query).await?;
    Ok(web::Json(answer))
}

/// The dry run of a source's new mapping (`PUT /v1/admin/sources/{name}?dry_run=true`, see
/// [`super::sources::put_source`]): only the source's own events and quarantine items. An unknown
/// source is 404.
pub async fn source_dry_run(
    state: &AppState,
    policy: &Policy,
    name: &str,
    mapping: Mapping,
    since: Option<String>,
) -> Result<CheckAnswer, ApiError> {
    if sources::find(&state.reads, name).await?.is_none() {
        return Err(ApiError::NotFound(format!("no source named {name:?}")));
    }
    let candidate = Candidate::Mapping {
        source: name.to_owned(),
        mapping,
    };
    run(state, policy, candidate, &PeriodQuery { since }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-06T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_period_defaults_to_a_day_and_is_clamped_to_retention() {
        assert_eq!(
            period(None, now(), 30).unwrap(),
            (now() - TimeDelta::hours(24), false)
        );
        assert_eq!(
            period(Some("2026-12-06T08:00:00+01:00"), now(), 30).unwrap(),
            ("2026-12-06T07:00:00Z".parse().unwrap(), false)
        );
        assert_eq!(
            period(Some("2026-01-01T00:00:00Z"), now(), 7).unwrap(),
            (now() - TimeDelta::days(7), true)
        );
    }

    #[test]
    fn a_bad_or_future_since_names_the_field() {
        for bad in ["yesterday", "2026-12-06", "2026-12-07T00:00:00Z"] {
            let Err(ApiError::Invalid(p)) = period(Some(bad), now(), 30) else {
                panic!("{bad} accepted")
            };
            assert_eq!(p[0].field, "since", "{bad}");
        }
    }
}
