//! Who may post to a source (SPEC §2, issue 13): a request signed with the source's signing secret,
//! or one presenting the source's bearer token. The token is for senders that can add a static
//! header but cannot compute an HMAC, such as Debezium Server's HTTP sink. A signature header, when
//! present, is what is checked; the token is looked up only when a request presents one.

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::signature;
use crate::platform::http::ApiError;
use crate::platform::http::auth::constant_time_eq;
use crate::platform::secrets::SecretKey;
use crate::registry::sources::{self, Source};

/// Headers a bearer token is read from, in this order. Debezium Server's HTTP sink sends a record
/// header `Authorization` (set with Kafka Connect's `InsertHeader`) as `X-DEBEZIUM-AUTHORIZATION`:
/// it prefixes every header and its configuration cannot make the prefix empty.
pub const BEARER_HEADERS: [&str; 2] = ["Authorization", "X-Debezium-Authorization"];

/// The token of the first `Bearer` credential among [`BEARER_HEADERS`].
pub fn presented_bearer(req: &actix_web::HttpRequest) -> Option<&str> {
    BEARER_HEADERS.iter().find_map(|name| {
        let value = req.headers().get(*name)?.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    })
}

/// Compares a presented token with the source's in constant time: SHA-256 digests of both, so
/// neither the length nor the first differing byte shows in the time taken.
pub fn bearer_matches(expected: &str, presented: &str) -> bool {
    let (a, b) = (
        Sha256::digest(expected.as_bytes()),
        Sha256::digest(presented.as_bytes()),
    );
    constant_time_eq(&a, &b)
}

/// Authenticates a request to `source`: 401 (a problem document) unless its signature verifies or
/// its bearer token is the source's.
pub async fn authenticate(
    db: &sqlx::PgPool,
    key: &SecretKey,
    source: &Source,
    req: &actix_web::HttpRequest,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let internal = |e: crate::platform::secrets::OpenError| {
        ApiError::Internal(anyhow::anyhow!("source {:?}: {e}", source.name))
    };
    let header = req
        .headers()
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok());
    let token = presented_bearer(req);
    if let (None, Some(presented)) = (header, token) {
        let sealed = sources::bearer_token_sealed(db, &source.name)
            .await?
            .ok_or_else(|| {
                ApiError::BadSignature(format!(
                    "source {:?} has no bearer token: sign the request ({})",
                    source.name,
                    signature::HEADER
                ))
            })?;
        let expected = key
            .open(&sealed, &sources::bearer_token_context(&source.name))
            .map_err(internal)?;
        return if bearer_matches(expected.expose_secret(), presented) {
            Ok(())
        } else {
            Err(ApiError::BadSignature("bearer token does not match".into()))
        };
    }
    let secret = source.signing_secret(key).map_err(internal)?;
    signature::verify(header, secret.expose_secret().as_bytes(), body, now)
        .map_err(|e| ApiError::BadSignature(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_tokens_are_read_from_either_header() {
        let req = TestRequest::default()
            .insert_header(("Authorization", "Bearer abc"))
            .to_http_request();
        assert_eq!(presented_bearer(&req), Some("abc"));
        let req = TestRequest::default()
            .insert_header(("X-DEBEZIUM-AUTHORIZATION", "bearer  xyz "))
            .to_http_request();
        assert_eq!(presented_bearer(&req), Some("xyz"));
        for other in ["Basic abc", "Bearer ", "Bearerabc", ""] {
            let req = TestRequest::default()
                .insert_header(("Authorization", other))
                .to_http_request();
            assert_eq!(presented_bearer(&req), None, "{other:?}");
        }
    }

    #[test]
    fn tokens_match_exactly() {
        let t = "a-bearer-token-of-at-least-32-characters";
        assert!(bearer_matches(t, t));
        assert!(!bearer_matches(t, &t[..t.len() - 1]));
        assert!(!bearer_matches(t, &format!("{t}x")));
        assert!(!bearer_matches(t, ""));
    }
}
