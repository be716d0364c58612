//! Reading a JSON document a client sent: malformed JSON is 400, the wrong shape 422 (SPEC
//! §11.19), and a NUL anywhere is 422 naming the field. Shared by the admin API and the pull feed.

/// Parses a JSON body we took as bytes, so that malformed JSON is 400 and a document of the wrong
/// shape is 422 (SPEC §11.19) — actix's `Json` extractor would answer 400 for both.
pub fn parse_document<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, crate::platform::http::ApiError> {
    serde_json::from_value(parse_json(body)?)
        .map_err(|e| crate::platform::http::ApiError::invalid("body", e.to_string()))
}

/// Every JSON body the API takes goes through here: malformed JSON is 400, and a NUL in any key or
/// string is 422 naming the field, before any of it can reach the database (which cannot store a
/// NUL, issue 8).
pub fn parse_json(body: &[u8]) -> Result<serde_json::Value, crate::platform::http::ApiError> {
    use crate::domain::text;
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| crate::platform::http::ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    match text::nul_path(&value) {
        Some(path) if path.is_empty() => Err(crate::platform::http::ApiError::invalid(
            "body",
            text::NUL_MESSAGE,
        )),
        Some(path) => Err(crate::platform::http::ApiError::invalid(
            path,
            text::NUL_MESSAGE,
        )),
        None => Ok(value),
    }
}
