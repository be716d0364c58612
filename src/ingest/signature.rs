//! Webhook signatures (SPEC §2): `X-Pesync-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
//! HMAC-SHA256 with the source's signing secret over `"<t>." + raw body`.
//!
//! Signing the timestamp with the body stops a captured request from being replayed later; the
//! tolerance bounds how much later.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "X-Pesync-Signature";
/// Seconds a signature's `t` may differ from the server clock; exactly this far is still accepted.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing X-Pesync-Signature header")]
    Missing,
    #[error("X-Pesync-Signature must look like t=<unix seconds>,v1=<hex>")]
    Malformed,
    #[error("signature timestamp is more than {TOLERANCE_SECS} s away from the server clock")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Computes the `v1` value for a body signed at `t` (used by clients, tests, `pesync import`).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The whole header value for a body signed at `t`.
pub fn header_value(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign(secret, t, body))
}

/// Checks a header against the body. Several `v1` entries are allowed so a sender can sign with an
/// old and a new secret while rotating.
pub fn verify(
    header: Option<&str>,
    secret: &[u8],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t: Option<i64> = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => candidates.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {} // Unknown schemes are ignored so new ones can be added without breaking.
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now.timestamp() - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let ok = candidates.iter().any(|sig| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(sig).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn accepts_a_good_signature_and_rejects_a_tampered_body() {
        let h = header_value(b"s3cret", now().timestamp(), b"{}");
        assert_eq!(verify(Some(&h), b"s3cret", b"{}", now()), Ok(()));
        assert_eq!(
            verify(Some(&h), b"s3cret", b"{ }", now()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&h), b"other", b"{}", now()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tolerance_is_inclusive_at_exactly_300_seconds() {
        for (offset, ok) in [(300, true), (-300, true), (301, false), (-301, false)] {
            let t = now().timestamp() + offset;
            let h = header_value(b"k", t, b"x");
            let r = verify(Some(&h), b"k", b"x", now());
            assert_eq!(r.is_ok(), ok, "offset {offset}: {r:?}");
            if !ok {
                assert_eq!(r, Err(SignatureError::Stale));
            }
        }
    }

    #[test]
    fn malformed_and_missing_headers() {
        assert_eq!(
            verify(None, b"k", b"x", now()),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1800000000",
            "t=1800000000,v1=zz",
            "garbage",
        ] {
            assert_eq!(
                verify(Some(bad), b"k", b"x", now()),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_of_several_v1_entries_may_match() {
        let t = now().timestamp();
        let h = format!(
            "t={t},v1={},v1={}",
            sign(b"old", t, b"x"),
            sign(b"new", t, b"x")
        );
        assert_eq!(verify(Some(&h), b"new", b"x", now()), Ok(()));
    }
}
