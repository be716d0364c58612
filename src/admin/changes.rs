//! `GET /v1/admin/changes` (issue 11 §2): every change to a mapping, the manifest, the thresholds
//! or a campaign — who, when, what — with its score stability watch when it opened one.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::responses as problems;
use crate::registry::changes::{self as store, StoredChange};
use crate::scoring::watch::{self, Watch, WatchFigures};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_changes);
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    pub id: i64,
    /// `mapping`, `manifest`, `thresholds` or `campaign`.
    #[schema(example = "manifest")]
    pub kind: String,
    /// The source's name, the campaign's id, `manifest` or `thresholds`.
    pub name: String,
    /// `activated` (a mapping or manifest version), `created`, `updated` or `deleted`.
    pub action: String,
    /// The version in force before; null for a first version, a campaign, or none.
    pub from_version: Option<i32>,
    pub to_version: Option<i32>,
    /// The role of the token that made the change (`admin`).
    pub changed_by: String,
    /// The first 8 hex digits of the token's SHA-256 (never the token).
    pub changed_by_token: Option<String>,
    pub changed_at: DateTime<Utc>,
    /// The score stability watch a mapping or manifest activation opened; null for other changes.
    pub watch: Option<Watch>,
}

/// The view of `c` at `now`: its watch judged from the figures the watch job kept.
fn view(state: &AppState, c: StoredChange, now: DateTime<Utc>) -> ChangeView {
    let watch = c.watch_until.map(|until| {
        let kept = c
            .figures
            .and_then(|f| serde_json::from_value::<WatchFigures>(f).ok());
        let computed = kept.zip(c.figures_at);
        watch::assess(computed, until, now, &state.monitors)
    });
    ChangeView {
        id: c.id,
        kind: c.kind,
        name: c.name,
        action: c.action,
        from_version: c.from_version,
        to_version: c.to_version,
        changed_by: c.changed_by,
        changed_by_token: c.changed_by_token,
        changed_at: c.changed_at,
        watch,
    }
}

fn views(state: &AppState, changes: Vec<StoredChange>) -> Vec<ChangeView> {
    let now = state.clock.now();
    changes.into_iter().map(|c| view(state, c, now)).collect()
}

/// The changes whose watch is open now, with their figures (`/metrics`, `/v1/admin/stats`).
pub async fn open_watches(state: &AppState) -> Result<Vec<ChangeView>, ApiError> {
    let open = store::open_watches(&state.reads, state.clock.now()).await?;
    Ok(views(state, open))
}

/// Every change, oldest first, each with its watch: `open` until `PESYNC_CHANGE_WATCH_HOURS` after
/// the change, then `closed`; its figures as the watch job (`PESYNC_WATCH_CRON`) last computed
/// them; `suspect` past the configured bounds.
#[utoipa::path(tag = "changes", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<ChangeView>), problems::Reads, problems::Query))]
#[get("/v1/admin/changes")]
pub async fn list_changes(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<ChangeView>>, ApiError> {
    let limit = page.limit()?;
    let rows = store::list(&state.reads, page.after()?, limit + 1).await?;
    let rows = views(&state, rows).into_iter().map(|v| (v.id, v)).collect();
    Ok(web::Json(Page::from_rows(rows, limit)))
}
