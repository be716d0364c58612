//! The OAuth client-credentials token endpoint (Genesys: `https://login.<domain>/oauth/token`) and
//! the bearer check the counted endpoints use.

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;

use super::gate::{Injected, render};
use super::response::SimResponse;
use super::state::{Inner, SimState};

/// `POST /oauth/token` — form `grant_type=client_credentials`, HTTP Basic client id and secret.
pub(crate) async fn token(
    state: web::Data<SimState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let credentials = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(basic_credentials);
    let now = Utc::now();
    let mut inner = state.lock();
    if let Some(failure) = Injected::take(&mut inner.failures.token) {
        return render(failure, None);
    }
    let valid = credentials
        .as_ref()
        .is_some_and(|(id, secret)| *id == state.client_id && *secret == state.client_secret);
    if !valid {
        inner.stats.token_rejections += 1;
        let body = json!({"error": "invalid_client", "description": "client not found",
                          "error_description": "client not found"});
        return render(SimResponse::json(401, body), None);
    }
    if let Err(response) = check_grant(&req, &body) {
        inner.stats.token_rejections += 1;
        return render(response, None);
    }
    let ttl = inner.config.token_ttl_secs;
    // Expired tokens are pruned here, the only place that adds one, to keep the map small.
    inner.tokens.retain(|_, expires_at| *expires_at > now);
    let token: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    // Saturating: an absurd TTL set through the control API means "never expires", not a panic.
    let ttl_delta = Duration::try_seconds(i64::try_from(ttl).unwrap_or(i64::MAX));
    let expires_at = ttl_delta.and_then(|d| now.checked_add_signed(d));
    inner.tokens.insert(
        token.clone(),
        expires_at.unwrap_or(DateTime::<Utc>::MAX_UTC),
    );
    inner.stats.tokens_issued += 1;
    let body = json!({"access_token": token, "token_type": "bearer", "expires_in": ttl});
    render(SimResponse::json(200, body), None)
}

fn check_grant(req: &HttpRequest, body: &[u8]) -> Result<(), SimResponse> {
    let oauth_error = |error: &str, description: &str| {
        SimResponse::json(
            400,
            json!({"error": error, "error_description": description}),
        )
    };
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded")) {
        return Err(oauth_error(
            "invalid_request",
            "expected an application/x-www-form-urlencoded body",
        ));
    }
    let form = std::str::from_utf8(body).ok().and_then(|text| {
        web::Query::<std::collections::HashMap<String, String>>::from_query(text).ok()
    });
    match form
        .as_ref()
        .and_then(|form| form.get("grant_type"))
        .map(String::as_str)
    {
        Some("client_credentials") => Ok(()),
        Some(_) => Err(oauth_error(
            "unsupported_grant_type",
            "only client_credentials is supported",
        )),
        None => Err(oauth_error("invalid_request", "grant_type is required")),
    }
}

/// The bearer check of the counted endpoints: a missing header and an unknown or expired token are
/// both 401, with the Genesys wording for each.
pub(crate) fn authorize(
    inner: &Inner,
    header: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), SimResponse> {
    let Some(token) = header.and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    }) else {
        return Err(SimResponse::error(
            401,
            "No authentication bearer token specified in authorization header.",
        ));
    };
    match inner.tokens.get(token.trim()) {
        Some(expires_at) if *expires_at > now => Ok(()),
        _ => {
            let mut response = SimResponse::error(401, "Invalid login credentials.");
            if let Some(body) = response.body.as_mut() {
                body["code"] = json!("bad.credentials");
            }
            Err(response)
        }
    }
}

/// Marks every issued token expired, as if they had all reached their end mid-run.
pub(crate) fn expire_all(inner: &mut Inner, now: DateTime<Utc>) -> usize {
    let mut expired = 0;
    for expires_at in inner.tokens.values_mut().filter(|at| **at > now) {
        *expires_at = now;
        expired += 1;
    }
    expired
}

/// `Basic base64(id:secret)` → `(id, secret)`.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Standard base64 with optional padding, decoded by hand: the only base64 the crate needs, not worth
/// a dependency.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        match byte {
            b'A'..=b'Z' => Some(u32::from(byte - b'A')),
            b'a'..=b'z' => Some(u32::from(byte - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(byte - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = input.trim_end_matches('=').as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for &byte in chunk {
            acc = (acc << 6) | sextet(byte)?;
        }
        // A chunk of n sextets carries n*6 bits, of which the first (n-1) whole bytes are data.
        acc <<= 6 * (4 - chunk.len() as u32);
        let [_, b0, b1, b2] = acc.to_be_bytes();
        out.extend_from_slice(&[b0, b1, b2][..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_with_and_without_padding() {
        assert_eq!(base64_decode("aWQ6c2VjcmV0").unwrap(), b"id:secret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("a*b=").is_none());
    }

    #[test]
    fn splits_basic_credentials_on_the_first_colon() {
        // "id:se:cret" — a secret may itself contain a colon.
        let parsed = basic_credentials("Basic aWQ6c2U6Y3JldA==").unwrap();
        assert_eq!(parsed, ("id".to_owned(), "se:cret".to_owned()));
        assert!(basic_credentials("Bearer aWQ6c2VjcmV0").is_none());
    }
}
