//! Secrets at rest and in audit records (issue 8).
//!
//! Source signing secrets are sealed with AES-256-GCM (ring, already used by rustls) under
//! `PESYNC_SECRET_KEY`: a copy of the database, a backup or a `SELECT` by a reporting user no longer
//! hands out the keys to forge events. Bearer tokens are never stored; audit records name a token by
//! its fingerprint.

use std::fmt;

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Length of `PESYNC_SECRET_KEY` once decoded.
pub const KEY_LEN: usize = 32;
/// The start-up error when `serve` has no key.
pub const KEY_REQUIRED: &str = "PESYNC_SECRET_KEY must be set (32 random bytes in base64, e.g. `openssl rand -base64 32`): it seals source signing secrets at rest";
/// First byte of every sealed value, so the format can change without guessing at old rows.
const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;

/// The key that seals secrets at rest. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(LessSafeKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("must be base64 (e.g. the output of `openssl rand -base64 32`)")]
    NotBase64,
    #[error("must be {KEY_LEN} bytes once decoded from base64, got {0}")]
    WrongLength(usize),
}

/// Why a sealed value did not open. Deliberately says nothing about the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("sealed value has an unknown format")]
    Format,
    #[error(
        "sealed value does not decrypt with this key (a different key, or the value was altered)"
    )]
    Decrypt,
}

impl SecretKey {
    /// Parses `PESYNC_SECRET_KEY`: standard base64 of 32 bytes; surrounding whitespace (a trailing
    /// newline from a file) is ignored. Errors never quote the value.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// The key `pesync demo` and the benchmarks use when `PESYNC_SECRET_KEY` is not set. Their
    /// databases hold demo data only, and a fixed key lets a second demo open what the first one
    /// sealed (a random one would fail on every restart). `serve` never falls back to it.
    pub fn demo() -> Self {
        Self::from_bytes(b"pesync-demo-key-never-for-serve!").expect("32 bytes")
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_bytes(&random::<KEY_LEN>()).expect("32 bytes is a valid AES-256 key")
    }

    /// A fresh random key in the form `PESYNC_SECRET_KEY` takes.
    pub fn generate_base64() -> String {
        base64::engine::general_purpose::STANDARD.encode(random::<KEY_LEN>())
    }

    /// Seals `plaintext` as `version ‖ nonce ‖ ciphertext ‖ tag`. `context` (e.g. the source's name)
    /// is authenticated but not stored: a sealed value copied to another row does not open there.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        // A random 96-bit nonce per value: a handful of secrets, rewritten rarely, is far from the
        // 2^32 values where random nonces start to risk repeating.
        let nonce = random::<NONCE_LEN>();
        let mut in_out = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut in_out,
            )
            .expect("AES-GCM seals any value shorter than 64 GiB");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        sealed
    }

    /// Opens a value made by [`seal`](Self::seal) with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<SecretString, OpenError> {
        let Some((&FORMAT_V1, rest)) = sealed.split_first() else {
            return Err(OpenError::Format);
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Format);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Format)?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context), &mut in_out)
            .map_err(|_| OpenError::Decrypt)?;
        let text = std::str::from_utf8(plain).map_err(|_| OpenError::Format)?;
        Ok(SecretString::from(text))
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator works");
    bytes
}

/// Names a token in audit records without revealing it: the first 8 hex digits of its SHA-256.
/// Tokens are at least 32 characters, so 32 bits of their hash give nothing away.
pub fn fingerprint(token: &[u8]) -> String {
    hex::encode(&Sha256::digest(token)[..4])
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn seal_and_open_round_trip() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"a-signing-secret", b"crm");
        assert_eq!(
            key.open(&sealed, b"crm").unwrap().expose_secret(),
            "a-signing-secret"
        );
        assert!(
            !sealed
                .windows(b"a-signing-secret".len())
                .any(|w| w == b"a-signing-secret"),
            "the plain text shows in the sealed value"
        );
        // A fresh nonce each time: the same secret seals differently.
        assert_ne!(sealed, key.seal(b"a-signing-secret", b"crm"));
    }

    #[test]
    fn a_wrong_key_or_another_context_does_not_open() {
        let sealed = SecretKey::generate().seal(b"secret", b"crm");
        let other = SecretKey::generate();
        assert_eq!(other.open(&sealed, b"crm").unwrap_err(), OpenError::Decrypt);
        let key = SecretKey::from_bytes(&[7; 32]).unwrap();
        let sealed = key.seal(b"secret", b"crm");
        assert_eq!(key.open(&sealed, b"erp").unwrap_err(), OpenError::Decrypt);
    }

    #[test]
    fn any_tampered_byte_is_refused() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"secret", b"crm");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(key.open(&bad, b"crm").is_err(), "byte {i} flipped");
        }
        assert_eq!(
            key.open(&sealed[..sealed.len() - 1], b"crm").unwrap_err(),
            OpenError::Decrypt
        );
        for short in [&[][..], &[FORMAT_V1], &sealed[..NONCE_LEN + TAG_LEN]] {
            assert_eq!(key.open(short, b"crm").unwrap_err(), OpenError::Format);
        }
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only() {
        let text = SecretKey::generate_base64();
        assert!(SecretKey::from_base64(&format!("{text}\n")).is_ok());
        assert_eq!(
            SecretKey::from_base64("not base64!").unwrap_err(),
            KeyError::NotBase64
        );
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert_eq!(
            SecretKey::from_base64(&short).unwrap_err(),
            KeyError::WrongLength(16)
        );
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let key = SecretKey::from_bytes(&[0xab; 32]).unwrap();
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "SecretKey([REDACTED])");
    }

    #[test]
    fn fingerprints_are_short_stable_and_distinct() {
        let a = fingerprint(b"an-admin-token-of-at-least-32-chars");
        assert_eq!(a.len(), 8);
        assert_eq!(a, fingerprint(b"an-admin-token-of-at-least-32-chars"));
        assert_ne!(a, fingerprint(b"an-admin-token-of-at-least-32-chart"));
        // SHA-256("abc") starts ba7816bf.
        assert_eq!(fingerprint(b"abc"), "ba7816bf");
    }
}
