//! Bearer tokens on the admin API: the admin token may do anything, the viewer token may only read,
//! the scorer token may only post scores (`POST /v1/scores`).
//!
//! Handlers take `Reader` or `Writer` as an argument; the extractor does the check, so a route cannot
//! forget it. Tokens are compared in constant time.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::problem::ApiError;

/// Shortest bearer token accepted at start-up: shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 32;

/// The configured tokens, kept only as SHA-256 digests: comparing digests takes the same time
/// whatever the length or content of the presented token, and nothing secret stays in memory here.
#[derive(Clone)]
pub struct Tokens {
    known: Vec<KnownToken>,
}

#[derive(Clone)]
struct KnownToken {
    role: Role,
    digest: [u8; 32],
    fingerprint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
    /// `PESYNC_SCORER_TOKEN`: may only post scores, read nothing.
    Scorer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
            Self::Scorer => "scorer",
        }
    }
}

/// Who made a request: the role and a fingerprint of the token (see [`crate::platform::secrets::fingerprint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    pub token_fingerprint: String,
}

/// Refuses a configured token shorter than [`MIN_TOKEN_LEN`] characters (a clear start-up error).
pub fn check_token(name: &str, token: Option<&SecretString>) -> anyhow::Result<()> {
    if let Some(t) = token {
        let len = t.expose_secret().chars().count();
        if len < MIN_TOKEN_LEN {
            bail!(
                "{name} must be at least {MIN_TOKEN_LEN} characters (got {len}); make one with `openssl rand -hex 32`"
            );
        }
    }
    Ok(())
}

impl Tokens {
    /// Checks the lengths and keeps the digests. Tokens arrive trimmed (see `config`).
    pub fn new(
        admin: Option<&SecretString>,
        viewer: Option<&SecretString>,
    ) -> anyhow::Result<Self> {
        check_token("PESYNC_ADMIN_TOKEN", admin)?;
        check_token("PESYNC_VIEWER_TOKEN", viewer)?;
        let known = [(Role::Admin, admin), (Role::Viewer, viewer)]
            .into_iter()
            .filter_map(|(role, t)| t.map(|t| (role, t.expose_secret().as_bytes())))
            .map(|(role, t)| KnownToken {
                role,
                digest: Sha256::digest(t).into(),
                fingerprint: crate::platform::secrets::fingerprint(t),
            })
            .collect();
        Ok(Self { known })
    }

    /// Adds the scorer token (`PESYNC_SCORER_TOKEN`), checked like the others.
    pub fn with_scorer(mut self, scorer: Option<&SecretString>) -> anyhow::Result<Self> {
        check_token("PESYNC_SCORER_TOKEN", scorer)?;
        if let Some(t) = scorer {
            let t = t.expose_secret().as_bytes();
            self.known.push(KnownToken {
                role: Role::Scorer,
                digest: Sha256::digest(t).into(),
                fingerprint: crate::platform::secrets::fingerprint(t),
            });
        }
        Ok(self)
    }

    pub fn principal_of(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Every known token is compared, without stopping at a match, so the time taken does not
        // say which one matched.
        let mut found = None;
        for k in &self.known {
            if constant_time_eq(&k.digest, &digest) && found.is_none() {
                found = Some(Principal {
                    role: k.role,
                    token_fingerprint: k.fingerprint.clone(),
                });
            }
        }
        found
    }

    pub fn role_of(&self, presented: &str) -> Option<Role> {
        self.principal_of(presented).map(|p| p.role)
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("Tokens not configured")))?;
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    tokens.principal_of(presented).ok_or(ApiError::Unauthorized)
}

/// The admin or viewer token: may read. The scorer token reads nothing (403).
#[derive(Debug, Clone, Copy)]
pub struct Reader(pub Role);

/// The admin or scorer token: may post scores. Audit records name the token like [`Writer`]'s.
#[derive(Debug, Clone)]
pub struct ScorePoster(pub Principal);

/// The admin token: may change things. Audit records name its role and its fingerprint.
#[derive(Debug, Clone)]
pub struct Writer(pub Principal);

impl Writer {
    /// The role that made the change, for `changed_by`.
    pub fn principal(&self) -> &'static str {
        self.0.role.as_str()
    }

    /// Which token made the change (not secret: see [`crate::platform::secrets::fingerprint`]).
    pub fn token_fingerprint(&self) -> &str {
        &self.0.token_fingerprint
    }
}

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match principal(req) {
            Ok(p) if p.role == Role::Scorer => Err(ApiError::Forbidden),
            Ok(p) => Ok(Reader(p.role)),
            Err(e) => Err(e),
        })
    }
}

impl FromRequest for ScorePoster {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match principal(req) {
            Ok(p) if matches!(p.role, Role::Admin | Role::Scorer) => {
                audit(req, &p);
                Ok(ScorePoster(p))
            }
            Ok(_) => Err(ApiError::Forbidden),
            Err(e) => Err(e),
        })
    }
}

/// The audit trail of every change: which token (by fingerprint) asked for what.
fn audit(req: &HttpRequest, p: &Principal) {
    tracing::info!(target: "pesync::audit", role = p.role.as_str(),
        token = %p.token_fingerprint, method = %req.method(), path = %req.path(),
        "admin change requested");
}

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match principal(req) {
            Ok(p) if p.role == Role::Admin => {
                audit(req, &p);
                Ok(Writer(p))
            }
            Ok(_) => Err(ApiError::Forbidden),
            Err(e) => Err(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "an-admin-token-of-32-characters!";
    const VIEWER: &str = "a-viewer-token-of-32-characters!";

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn roles_by_token() {
        let t = Tokens::new(Some(&secret(ADMIN)), Some(&secret(VIEWER))).unwrap();
        assert_eq!(t.role_of(ADMIN), Some(Role::Admin));
        assert_eq!(t.role_of(VIEWER), Some(Role::Viewer));
        assert_eq!(t.role_of(&ADMIN[1..]), None);
        assert_eq!(t.role_of(""), None);
        let none = Tokens::new(Some(&secret(ADMIN)), None).unwrap();
        assert_eq!(
            none.role_of(""),
            None,
            "an unset viewer token must not match an empty one"
        );
    }

    #[test]
    fn the_scorer_token_is_its_own_role_and_checked_for_length() {
        const SCORER: &str = "a-scorer-token-of-32-characters!";
        let t = Tokens::new(Some(&secret(ADMIN)), Some(&secret(VIEWER)))
            .unwrap()
            .with_scorer(Some(&secret(SCORER)))
            .unwrap();
        assert_eq!(t.role_of(SCORER), Some(Role::Scorer));
        assert_eq!(t.role_of(ADMIN), Some(Role::Admin));
        let none = Tokens::new(Some(&secret(ADMIN)), None)
            .unwrap()
            .with_scorer(None)
            .unwrap();
        assert_eq!(none.role_of(""), None);
        let e = Tokens::new(None, None)
            .unwrap()
            .with_scorer(Some(&secret(&SCORER[..31])))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("PESYNC_SCORER_TOKEN"), "{e}");
    }

    #[test]
    fn the_principal_names_the_token_by_fingerprint() {
        let t = Tokens::new(Some(&secret(ADMIN)), Some(&secret(VIEWER))).unwrap();
        let p = t.principal_of(ADMIN).unwrap();
        assert_eq!(p.role, Role::Admin);
        assert_eq!(
            p.token_fingerprint,
            crate::platform::secrets::fingerprint(ADMIN.as_bytes())
        );
        assert_ne!(
            t.principal_of(VIEWER).unwrap().token_fingerprint,
            p.token_fingerprint
        );
    }

    #[test]
    fn short_tokens_are_refused_with_a_clear_error() {
        let short = secret(&ADMIN[..31]);
        let e = Tokens::new(Some(&short), None).err().unwrap().to_string();
        assert!(e.contains("PESYNC_ADMIN_TOKEN") && e.contains("32"), "{e}");
        assert!(!e.contains(&ADMIN[..31]), "the error quotes the token: {e}");
        let e = Tokens::new(Some(&secret(ADMIN)), Some(&short))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("PESYNC_VIEWER_TOKEN"), "{e}");
        // 32 characters, not bytes: multi-byte characters count once.
        assert!(check_token("T", Some(&secret(&"é".repeat(31)))).is_err());
        assert!(check_token("T", Some(&secret(&"é".repeat(32)))).is_ok());
    }
}
