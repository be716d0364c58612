//! NUL in a URL (issue 8): `%00` decodes to a character PostgreSQL cannot store, so a path id or a
//! query value holding one would fail its query with a 500. Refused here, once, for every route,
//! before any handler sees it; JSON bodies are checked by `admin::parse_json` and events by the
//! normalization pipeline (`invalid_characters`), all with [`crate::domain::text`].

use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};

use super::ApiError;
use super::problem::PROBLEM_JSON;
use crate::domain::text::NUL_MESSAGE;

/// The part of a raw request target that decodes to a NUL: `"path"` or `"query"`. Only `%00`
/// does (the HTTP parser refuses a raw NUL byte, and `%2500` decodes to the text `%00`).
pub fn nul_in_target(path: &str, query: Option<&str>) -> Option<&'static str> {
    if path.contains("%00") {
        Some("path")
    } else if query.is_some_and(|q| q.contains("%00")) {
        Some("query")
    } else {
        None
    }
}

/// Middleware: a request whose URL holds a NUL is a 422 problem document naming the part.
pub async fn refuse_nul_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(part) = nul_in_target(req.path(), Some(req.query_string())) {
        let err = ApiError::invalid(part, format!("{NUL_MESSAGE} (%00)"));
        let (req, _) = req.into_parts();
        let res = ServiceResponse::new(req, err.error_response());
        return Ok(res.map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Documents that 422: on every operation that takes a parameter or a body (the ones whose input
/// can name something, and so hold a NUL), unless it already says what its 422 is.
pub struct NulResponses;

impl utoipa::Modify for NulResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let takes_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || op.request_body.is_some();
                if takes_input {
                    op.responses
                        .responses
                        .entry("422".into())
                        .or_insert_with(|| unprocessable().into());
                }
            }
        }
    }
}

fn unprocessable() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("Invalid input, such as a NUL character (`\\u0000`, `%00`) in a parameter or a document")
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_percent_zero_zero_is_a_nul() {
        assert_eq!(
            nul_in_target("/v1/admin/campaigns/a%00b", None),
            Some("path")
        );
        assert_eq!(nul_in_target("/v1/x", Some("reason=a%00")), Some("query"));
        assert_eq!(nul_in_target("/v1/a%2500b", Some("c=%2500&d=%20")), None);
        assert_eq!(nul_in_target("/v1/x", Some("")), None);
    }
}
