//! RFC 9457 problem documents: the one error type of the HTTP boundary.
//!
//! Handlers return `ApiError`; anything unexpected is wrapped as `Internal` and logged with its whole
//! cause chain while the client sees only a generic 500 body. The framework's own errors (404, 405,
//! 413, bad JSON, …) are rewritten into problem documents by `problem_for_framework_error`.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::problem::FieldProblem;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://pesync.dev/problems/";

/// The problem document (RFC 9457). `type` is a stable, machine-readable URI per kind of error.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("{0}")]
    BadSignature(String),
    #[error("the viewer token may only read")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the document is invalid")]
    Invalid(Vec<FieldProblem>),
    #[error("the database is unreachable; retry later")]
    Unavailable(#[source] anyhow::Error),
    /// Genesys Cloud would refuse a change (or did); `errors` names what.
    #[error("{0}")]
    GenesysRefused(String, Vec<FieldProblem>),
    /// Genesys Cloud did not answer as needed (an outage, throttling, a missing permission).
    #[error("{0}")]
    GenesysUnavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldProblem::new(field, message)])
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::BadSignature(_) => "invalid-signature",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::Invalid(_) => "validation-failed",
            Self::Unavailable(_) => "database-unavailable",
            Self::GenesysRefused(..) => "genesys-refused",
            Self::GenesysUnavailable(_) => "genesys-unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // Connection trouble is the sender's cue to retry (503), never a 500 (SPEC §2).
        if is_unavailable(&e) {
            Self::Unavailable(e.into())
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast_ref::<sqlx::Error>() {
            Some(se) if is_unavailable(se) => Self::Unavailable(e),
            _ => Self::Internal(e),
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // Connection, shutdown, resources, statement timeout, deadlock, serialization failure.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| crate::platform::db::retry::is_unavailable_code(&c)),
        _ => false,
    }
}

/// A handler's transaction that failed with a deadlock or serialization failure may run again.
impl crate::platform::db::retry::Conflict for ApiError {
    fn is_conflict(&self) -> bool {
        match self {
            Self::Unavailable(e) | Self::Internal(e) => e.is_conflict(),
            _ => false,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) | Self::GenesysRefused(..) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::GenesysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = match self {
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                None
            }
            Self::Unavailable(e) => {
                tracing::warn!(error = ?e, "database unavailable");
                Some(self.to_string())
            }
            Self::Invalid(_) => Some(self.to_string()),
            other => Some(other.to_string()),
        };
        let errors = match self {
            Self::Invalid(v) | Self::GenesysRefused(_, v) => v.clone(),
            _ => vec![],
        };
        let mut resp = problem_response(status, self.slug(), detail, errors);
        // The database comes back in moments; an org's outage or throttling lasts longer.
        let retry_after = match self {
            Self::Unavailable(_) => Some("1"),
            Self::GenesysUnavailable(_) => Some("30"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        if matches!(self, Self::Unauthorized) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

pub fn problem_response(
    status: StatusCode,
    slug: &str,
    detail: Option<String>,
    errors: Vec<FieldProblem>,
) -> HttpResponse {
    let body = Problem {
        type_: format!("{TYPE_BASE}{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        errors,
    };
    HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .json(body)
}

fn slug_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "request-timeout",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        s if s >= 500 => "internal",
        _ => "client-error",
    }
}

/// `ErrorHandlers` default handler: any error response that is not already a problem document (the
/// router's 404/405, payload and JSON extractor errors) is rewritten into one (SPEC §11.20).
pub fn problem_for_framework_error<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let already = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if already {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    // The extractor's message (e.g. "Json deserialize error: …") is useful to the client; internal
    // errors keep theirs in the log only.
    let detail = if status.is_server_error() {
        None
    } else {
        res.response()
            .error()
            .map(|e| e.to_string())
            .or_else(|| Some(status.canonical_reason().unwrap_or("error").to_string()))
    };
    let (req, _) = res.into_parts();
    let allowed = super::methods::allowed_for(&req);
    // A 405 says which methods the path takes (RFC 9110 §15.5.6).
    let resp = if status == StatusCode::METHOD_NOT_ALLOWED && !allowed.is_empty() {
        super::methods::method_not_allowed(req.method(), &allowed)
    } else {
        problem_response(status, slug_for_status(status), detail, vec![])
    };
    let res = ServiceResponse::new(req, resp).map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}

/// Turns a body extractor error into 400 (or 413 for size) with our problem document.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::Overflow { .. } | J::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge(err.to_string())
        }
        J::ContentType => ApiError::UnsupportedMediaType("expected application/json".into()),
        _ => ApiError::BadRequest(err.to_string()),
    };
    api.into()
}

pub fn query_error(err: actix_web::error::QueryPayloadError) -> actix_web::Error {
    ApiError::BadRequest(err.to_string()).into()
}

/// A path segment of the wrong type names no resource: 404, like any other unknown path.
pub fn path_error(err: actix_web::error::PathError) -> actix_web::Error {
    ApiError::NotFound(err.to_string()).into()
}
