//! The simulator's answers in Genesys' shape: a decided [`SimResponse`] (status, `ErrorBody`,
//! `Retry-After`), the error code for each status, and the `Content-Type` check every JSON endpoint
//! makes. Kept apart from the gateway, which decides *whether* an endpoint's own answer is given.

use actix_web::HttpRequest;
use serde_json::{Value, json};

/// A decided answer, built under the lock and rendered to HTTP after it is released.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimResponse {
    pub status: u16,
    pub body: Option<Value>,
    pub retry_after: Option<u64>,
}

impl SimResponse {
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            retry_after: None,
        }
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            retry_after: None,
        }
    }

    /// A Genesys `ErrorBody`: `{"message", "code", "status"}`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        let body = json!({"message": message.into(), "code": code_for(status), "status": status});
        let retry_after = (status == 429).then_some(1);
        Self {
            status,
            body: Some(body),
            retry_after,
        }
    }

    /// A 400 listing every problem, both in `message` and as `ErrorBody.details`.
    pub fn invalid(problems: &[(String, String)]) -> Self {
        let message = problems.iter().map(|(f, p)| format!("{f}: {p}"));
        let message = message.collect::<Vec<_>>().join("; ");
        let details: Vec<Value> = problems
            .iter()
            .map(|(field, problem)| json!({"fieldName": field, "errorCode": problem}))
            .collect();
        let body =
            json!({"message": message, "code": "bad.request", "status": 400, "details": details});
        Self::json(400, body)
    }
}

/// The Genesys error code for a status, as its platform API uses them.
pub(crate) fn code_for(status: u16) -> &'static str {
    match status {
        401 => "authentication.required",
        403 => "missing.any.permissions",
        404 => "not.found",
        408 => "request.timeout",
        409 => "conflict",
        413 => "request.entity.too.large",
        415 => "unsupported.media.type",
        429 => "too.many.requests",
        502 => "bad.gateway",
        503 => "service.unavailable",
        504 => "gateway.timeout",
        // 400 and any other client error.
        400..=499 => "bad.request",
        _ => "internal.server.error",
    }
}

/// The real API takes only `application/json` bodies: 415 otherwise.
pub(crate) fn require_json(req: &HttpRequest) -> Result<(), SimResponse> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type.is_some_and(|ct| ct.starts_with("application/json")) {
        Ok(())
    } else {
        Err(SimResponse::error(
            415,
            "Content-Type must be application/json",
        ))
    }
}
