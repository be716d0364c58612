//! Liveness and readiness probes (SPEC §1).

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::platform::context::AppState;
use crate::platform::http::responses as problems;

#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The database answers and every migration is applied"),
    problems::NotReady))]
#[get("/readyz")]
pub async fn readyz(
    state: web::Data<AppState>,
) -> Result<HttpResponse, crate::platform::http::ApiError> {
    if crate::platform::db::is_ready(&state.pool).await {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(crate::platform::http::ApiError::Unavailable(
            anyhow::anyhow!("database unreachable or migrations pending"),
        ))
    }
}
