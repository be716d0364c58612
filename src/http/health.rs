//! Liveness and readiness probes (SPEC §1).

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::context::AppState;
use crate::http::responses as problems;

#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The database answers and every migration is applied"),
    problems::NotReady))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, crate::http::ApiError> {
    if crate::db::is_ready(&state.pool).await {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(crate::http::ApiError::Unavailable(anyhow::anyhow!(
            "database unreachable or migrations pending"
        )))
    }
}
