//! What a Genesys answer means to setup, as pure functions: done, try again (after how long), or
//! stop with which error; and the fields read out of answers and `ErrorBody`s.

use std::time::Duration;

use serde_json::Value;

use super::plan::Refusal;
use super::run::SyncError;
use crate::genesys::{self, ApiResponse, TransportError, Verdict};

pub(super) enum Outcome {
    Ok,
    /// Again, after this wait (`None`: backoff).
    Retry(Option<Duration>),
    Stop,
}

/// Only a 2xx is done here: a 409 (which delivery counts as delivered) is a conflict for setup.
pub(super) fn outcome(result: &Result<ApiResponse, TransportError>, write: bool) -> Outcome {
    if let Ok(r) = result
        && (200..300).contains(&r.status)
    {
        return Outcome::Ok;
    }
    match (genesys::verdict(result), result) {
        (_, Ok(r)) if r.status == 409 => Outcome::Stop,
        (Verdict::RetryAfter(wait), _) => Outcome::Retry(Some(wait)),
        // Sent perhaps, answered never: it may have been done.
        (Verdict::Backoff(_), Err(TransportError::Timeout | TransportError::Connect(_)))
            if write =>
        {
            Outcome::Stop
        }
        (Verdict::Backoff(_), _) => Outcome::Retry(None),
        _ => Outcome::Stop,
    }
}

/// The error for a request that did not succeed.
pub(super) fn failure(
    what: &str,
    result: &Result<ApiResponse, TransportError>,
    write: bool,
) -> SyncError {
    let what = what.to_owned();
    match result {
        Ok(r) if write && (r.status == 400 || r.status == 422) => SyncError::Rejected {
            what,
            status: r.status,
            message: message(&r.body),
            fields: details(&r.body),
        },
        Ok(r) => SyncError::Failed {
            what,
            cause: format!("Genesys Cloud answered {}: {}", r.status, message(&r.body)),
        },
        Err(e) if write => SyncError::Failed {
            what,
            cause: format!("{e}; it may have been done: run setup again, it finds what exists"),
        },
        Err(e) => SyncError::Failed {
            what,
            cause: e.to_string(),
        },
    }
}

/// An `ErrorBody`'s `message`, else the start of the body.
fn message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    from_json.unwrap_or_else(|| body.chars().take(300).collect())
}

/// An `ErrorBody`'s `details`, each `{fieldName, errorCode}`.
fn details(body: &str) -> Vec<Refusal> {
    let value = serde_json::from_str::<Value>(body).unwrap_or_default();
    let Some(details) = value.get("details").and_then(Value::as_array) else {
        return Vec::new();
    };
    details
        .iter()
        .map(|d| {
            let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default();
            Refusal {
                field: text("fieldName").to_owned(),
                message: text("errorCode").to_owned(),
            }
        })
        .collect()
}

pub(super) fn field(body: &str, name: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(super) fn id_of(body: &str, what: &str) -> Result<String, SyncError> {
    field(body, "id").ok_or_else(|| SyncError::Failed {
        what: what.to_owned(),
        cause: "the answer has no id".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<ApiResponse, TransportError> {
        Ok(ApiResponse {
            status,
            body: body.into(),
            retry_after: None,
        })
    }

    #[test]
    fn only_2xx_is_done_and_429_5xx_are_tried_again() {
        assert!(matches!(outcome(&answer(200, ""), true), Outcome::Ok));
        assert!(matches!(outcome(&answer(409, ""), true), Outcome::Stop));
        assert!(matches!(outcome(&answer(400, ""), true), Outcome::Stop));
        assert!(matches!(outcome(&answer(403, ""), false), Outcome::Stop));
        for status in [429, 500, 503, 401] {
            assert!(
                matches!(outcome(&answer(status, ""), true), Outcome::Retry(None)),
                "{status}"
            );
        }
        let throttled = Ok(ApiResponse {
            status: 429,
            body: String::new(),
            retry_after: Some(Duration::from_secs(2)),
        });
        assert!(matches!(
            outcome(&throttled, false),
            Outcome::Retry(Some(d)) if d == Duration::from_secs(2)
        ));
    }

    #[test]
    fn a_write_without_an_answer_is_not_sent_again_but_a_read_is() {
        let timeout: Result<ApiResponse, TransportError> = Err(TransportError::Timeout);
        assert!(matches!(outcome(&timeout, true), Outcome::Stop));
        assert!(matches!(outcome(&timeout, false), Outcome::Retry(None)));
        let e = failure("creating the schema of t", &timeout, true).to_string();
        assert!(
            e.contains("creating the schema of t") && e.contains("run setup again"),
            "{e}"
        );
    }

    #[test]
    fn a_refused_write_names_the_object_the_status_and_the_fields() {
        let body = r#"{"message": "required.x: an optional field can't be changed to required",
            "code": "bad.request", "status": 400,
            "details": [{"fieldName": "required.x", "errorCode": "an optional field can't be changed to required"}]}"#;
        let e = failure("updating the schema of t", &answer(400, body), true);
        let SyncError::Rejected { status, fields, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*status, 400);
        assert_eq!(fields[0].field, "required.x");
        let text = e.to_string();
        assert!(
            text.starts_with("Genesys Cloud answered 400 to updating the schema of t: required.x"),
            "{text}"
        );
    }

    #[test]
    fn other_answers_are_failures_naming_the_status() {
        let e = failure("listing x", &answer(403, "<html>no</html>"), false).to_string();
        assert_eq!(e, "listing x: Genesys Cloud answered 403: <html>no</html>");
        let e = failure("creating y", &answer(503, r#"{"message":"down"}"#), true).to_string();
        assert_eq!(e, "creating y: Genesys Cloud answered 503: down");
    }
}
