//! Webhook signatures (SPEC §2): `X-Pesync-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
//! HMAC-SHA256 with the source's signing secret over `"<t>." + raw body`.
//!
//! Signing the timestamp with the body stops a captured request from being replayed later; the
//! tolerance bounds how much later.

use chrono::{DateTime, Utc};
use hmac::digest::CtOutput;
use hmac::digest::generic_array::GenericArray;
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
    hex::encode(mac(secret, t, body).into_bytes())
}

/// The whole header value for a body signed at `t`.
pub fn header_value(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", sign(secret, t, body))
}

/// At most this many `v1` entries: enough to sign with an old and a new secret while rotating, few
/// enough that a forged header cannot multiply the work.
pub const MAX_SIGNATURES: usize = 5;

/// A parsed header: one `t` and the `v1` MACs, each exactly 32 bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub t: i64,
    pub candidates: Vec<[u8; 32]>,
}

/// Parses a header without touching the body, so a malformed one costs no HMAC: exactly one `t`,
/// 1 to [`MAX_SIGNATURES`] `v1` entries of exactly 64 hex digits.
pub fn parse(header: &str) -> Result<Parsed, SignatureError> {
    let mut t: Option<i64> = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            // Two `t`s would leave it open which one the MACs were computed with.
            "t" if t.is_some() => return Err(SignatureError::Malformed),
            "t" => t = Some(v.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" if candidates.len() == MAX_SIGNATURES => return Err(SignatureError::Malformed),
            "v1" => {
                let mut mac = [0u8; 32];
                hex::decode_to_slice(v, &mut mac).map_err(|_| SignatureError::Malformed)?;
                candidates.push(mac);
            }
            _ => {} // Unknown schemes are ignored so new ones can be added without breaking.
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok(Parsed { t, candidates })
}

/// Checks a header against the body. Several `v1` entries are allowed so a sender can sign with an
/// old and a new secret while rotating; they all share the one `t`, so the MAC is computed once and
/// compared with each entry in constant time.
pub fn verify(
    header: Option<&str>,
    secret: &[u8],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let Parsed { t, candidates } = parse(header.ok_or(SignatureError::Missing)?)?;
    if (now.timestamp() - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, t, body);
    // `CtOutput`'s equality is constant-time; every entry is compared, matching or not.
    let ok = candidates.iter().fold(false, |found, sig| {
        found | (expected == CtOutput::new(GenericArray::clone_from_slice(sig)))
    });
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> CtOutput<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
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

    #[test]
    fn up_to_five_v1_entries_and_the_match_may_be_any_of_them() {
        let t = now().timestamp();
        let decoys: Vec<String> = (0..4).map(|i| sign(b"old", t + i, b"x")).collect();
        let h = format!(
            "t={t},v1={},v1={}",
            decoys.join(",v1="),
            sign(b"k", t, b"x")
        );
        assert_eq!(parse(&h).unwrap().candidates.len(), MAX_SIGNATURES);
        assert_eq!(verify(Some(&h), b"k", b"x", now()), Ok(()));
    }

    #[test]
    fn a_sixth_v1_entry_is_malformed_even_when_one_matches() {
        let t = now().timestamp();
        let good = sign(b"k", t, b"x");
        let six = format!("t={t}{}", format!(",v1={good}").repeat(MAX_SIGNATURES + 1));
        assert_eq!(parse(&six), Err(SignatureError::Malformed));
        assert_eq!(
            verify(Some(&six), b"k", b"x", now()),
            Err(SignatureError::Malformed)
        );
        // The forged header of the issue: ~110 entries, refused before any HMAC.
        let many = format!("t={t}{}", format!(",v1={}", "ab".repeat(32)).repeat(110));
        assert_eq!(parse(&many), Err(SignatureError::Malformed));
    }

    #[test]
    fn v1_must_be_exactly_64_hex_digits_and_t_given_once() {
        let t = now().timestamp();
        let good = sign(b"k", t, b"x");
        for bad in [
            format!("t={t},v1={}", &good[..62]),
            format!("t={t},v1={good}00"),
            format!("t={t},v1={}zz", &good[..62]),
            format!("t={t},v1="),
            format!("t={t},t={t},v1={good}"),
        ] {
            assert_eq!(
                verify(Some(&bad), b"k", b"x", now()),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // Upper-case hex and unknown schemes are fine.
        let upper = format!("t={t},v0=whatever,v1={}", good.to_uppercase());
        assert_eq!(verify(Some(&upper), b"k", b"x", now()), Ok(()));
    }
}
