//! Reading the server's answer to a batch: the per-record results of a 200, whether another
//! status is worth a resend, and the text an operator sees for a refusal.

use reqwest::StatusCode;
use serde::Deserialize;

/// One per-record result of the ingestion API (SPEC §2) or of `POST /v1/scores` (same shape), as
/// much as the importer needs.
#[derive(Debug, Clone, Deserialize)]
pub struct EventResult {
    pub index: usize,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// The body of a 200 answer.
#[derive(Debug, Deserialize)]
pub(super) struct Results {
    pub(super) results: Vec<EventResult>,
}

/// What to do with an answer other than 200.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Retry,
    Stop,
}

pub fn verdict(status: StatusCode) -> Verdict {
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Verdict::Retry
    } else {
        Verdict::Stop
    }
}

/// One result per record, in order: anything else means we cannot tell what happened to which line.
pub(super) fn check_results(
    results: Vec<EventResult>,
    records: usize,
) -> Result<Vec<EventResult>, String> {
    if results.len() != records || results.iter().enumerate().any(|(i, r)| r.index != i) {
        return Err(format!(
            "the server answered {} results for {records} records; is --url a pesync server?",
            results.len()
        ));
    }
    Ok(results)
}

/// The `detail` (else `title`) of a problem document, else the body itself, shortened.
pub(super) fn problem_detail(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| v.get("detail").or_else(|| v.get("title")))
        .and_then(|v| v.as_str())
        .unwrap_or(body)
        .trim();
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    if short.is_empty() {
        "(no details)".to_owned()
    } else {
        short
    }
}

/// An error with its causes, for a message that says why a connection failed.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_trouble_is_retried_and_refusals_stop() {
        for s in [500, 502, 503, 504, 429, 408] {
            assert_eq!(
                verdict(StatusCode::from_u16(s).unwrap()),
                Verdict::Retry,
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 413, 415, 422] {
            assert_eq!(
                verdict(StatusCode::from_u16(s).unwrap()),
                Verdict::Stop,
                "{s}"
            );
        }
    }

    #[test]
    fn problem_details_are_shown_and_bodies_shortened() {
        assert_eq!(
            problem_detail(r#"{"type":"x","title":"Not found","detail":"no source named \"x\""}"#),
            "no source named \"x\""
        );
        assert_eq!(problem_detail(r#"{"title":"Bad"}"#), "Bad");
        assert_eq!(problem_detail(""), "(no details)");
        assert_eq!(problem_detail(&"z".repeat(1000)).chars().count(), 301);
    }

    #[test]
    fn results_must_match_the_batch() {
        let r = |i| EventResult {
            index: i,
            status: "accepted".into(),
            reason: None,
            detail: None,
        };
        assert!(check_results(vec![r(0), r(1)], 2).is_ok());
        assert!(check_results(vec![r(0)], 2).is_err());
        assert!(check_results(vec![r(1), r(0)], 2).is_err());
    }
}
