//! The error answers of the API as OpenAPI responses, declared one way for every route: each is an
//! RFC 9457 problem document, `application/problem+json` with the `Problem` schema (SPEC §8), as
//! `ApiError` and `problem_for_framework_error` send them.
//!
//! A route lists the groups it can answer next to its success responses, e.g.
//! `responses((status = 200, body = Campaign), Reads, NotFound)`. `tests/api/openapi.rs` walks the
//! document and probes every route with bad requests, so a status a route answers but does not
//! declare, or an error declared with another content type, fails a test.

use std::collections::BTreeMap;

use utoipa::openapi::{
    ContentBuilder, Header, Object, Ref, RefOr, Response, ResponseBuilder, Type,
};

use super::problem::PROBLEM_JSON;

/// One documented error answer: its status and what it means.
type Answer = (u16, &'static str);

const MALFORMED: Answer = (400, "The body is not JSON");
const BAD_QUERY: Answer = (400, "A query parameter is missing or not of its type");
const UNAUTHORIZED: Answer = (401, "Missing or unknown bearer token");
const FORBIDDEN: Answer = (
    403,
    "The viewer token may only read; the scorer token may only post scores",
);
const NOT_FOUND: Answer = (
    404,
    "No such resource (a path segment of the wrong type names none either)",
);
const SLOW_BODY: Answer = (408, "The body did not arrive in time");
const CONFLICT: Answer = (409, "Conflicts with the current state (see `detail`)");
const TOO_LARGE: Answer = (413, "The body is larger than this endpoint accepts");
const INVALID_DOCUMENT: Answer = (422, "The document is invalid; `errors` lists every problem");
const INVALID_QUERY: Answer = (422, "A query parameter is out of range");
const INTERNAL: Answer = (
    500,
    "Unexpected error; the details are in the service's log",
);
const UNAVAILABLE: Answer = (
    503,
    "The database is unreachable; retry after `Retry-After` seconds",
);

/// A set of error answers a route declares with its name in `responses(...)`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident = [$($answer:expr),+ $(,)?];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problems(&[$($answer),+])
            }
        }
    )+};
}

problem_responses! {
    /// Any route that reads the database.
    ServerErrors = [INTERNAL, UNAVAILABLE];
    /// A route the admin and viewer tokens may call (the scorer token may not).
    Reads = [UNAUTHORIZED, FORBIDDEN, INTERNAL, UNAVAILABLE];
    /// A route only the admin token may call.
    Writes = [UNAUTHORIZED, FORBIDDEN, INTERNAL, UNAVAILABLE];
    /// A route that reads a JSON document from the body.
    Document = [MALFORMED, SLOW_BODY, TOO_LARGE, INVALID_DOCUMENT];
    /// A route with query parameters (`limit`, `cursor`, filters).
    Query = [BAD_QUERY, INVALID_QUERY];
    /// A route whose path names a resource.
    NotFound = [NOT_FOUND];
    /// A route that refuses what the current state does not allow.
    Conflict = [CONFLICT];
    /// Manifest activation while events go through External Events: the org's schemas follow the
    /// manifest first (declared after `Writes`, whose 503 it widens).
    GenesysSync = [
        (422, "Genesys Cloud would refuse the manifest (an optional attribute made required, over 20 event types or 50 attributes) or refused a schema; `errors` names each attribute; nothing was changed"),
        (503, "The database or Genesys Cloud is unreachable; retry after `Retry-After` seconds; nothing was activated"),
    ];
    /// `/readyz`.
    NotReady = [(503, "Not ready: the database does not answer or migrations are pending")];
    /// Event ingestion, which authenticates by signature or by the source's own bearer token.
    IngestErrors = [
        (400, "The body cannot be parsed at all"),
        (401, "Missing or wrong signature (or bearer token), or a stale `t`"),
        (404, "Unknown source"),
        SLOW_BODY,
        (413, "More than 1,000 events or 5 MiB"),
        (415, "Neither JSON nor NDJSON"),
        INTERNAL,
        UNAVAILABLE,
    ];
    /// `POST /v1/scores`: a bulk body like ingestion's, with its own limit.
    ScoreBody = [
        (400, "The body cannot be parsed at all"),
        SLOW_BODY,
        (413, "More than 10,000 observations or 5 MiB"),
        (415, "Neither JSON nor NDJSON"),
    ];
}

/// The responses for `answers`, each a problem document; a 503 also carries `Retry-After`.
fn problems(answers: &[Answer]) -> BTreeMap<String, RefOr<Response>> {
    answers
        .iter()
        .map(|&(status, description)| (status.to_string(), problem(status, description).into()))
        .collect()
}

fn problem(status: u16, description: &str) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content);
    if status == 503 {
        let mut retry = Header::new(Object::with_type(Type::Integer));
        retry.description = Some("Seconds to wait before retrying".into());
        response.header("Retry-After", retry).build()
    } else {
        response.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::IntoResponses;

    #[test]
    fn every_answer_is_a_problem_document() {
        for (status, response) in IngestErrors::responses() {
            let RefOr::T(response) = response else {
                panic!("{status}: inline response expected")
            };
            let types: Vec<&String> = response.content.keys().collect();
            assert_eq!(types, [PROBLEM_JSON], "{status}");
            assert_eq!(
                response.headers.contains_key("Retry-After"),
                status == "503"
            );
        }
    }
}
