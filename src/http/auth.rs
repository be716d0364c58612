//! Bearer tokens on the admin API: the admin token may do anything, the viewer token may only read.
//!
//! Handlers take `Reader` or `Writer` as an argument; the extractor does the check, so a route cannot
//! forget it. Tokens are compared in constant time.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use secrecy::{ExposeSecret, SecretString};

use super::problem::ApiError;

#[derive(Clone)]
pub struct Tokens {
    pub admin: Option<SecretString>,
    pub viewer: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Tokens {
    pub fn role_of(&self, presented: &str) -> Option<Role> {
        let matches = |t: &Option<SecretString>| {
            t.as_ref().is_some_and(|t| {
                constant_time_eq(t.expose_secret().as_bytes(), presented.as_bytes())
            })
        };
        if matches(&self.admin) {
            Some(Role::Admin)
        } else if matches(&self.viewer) {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn role(req: &HttpRequest) -> Result<Role, ApiError> {
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
    tokens.role_of(presented).ok_or(ApiError::Unauthorized)
}

/// Any valid token: may read.
#[derive(Debug, Clone, Copy)]
pub struct Reader(pub Role);

/// The admin token: may change things. The principal name goes into audit records.
#[derive(Debug, Clone, Copy)]
pub struct Writer;

impl Writer {
    pub fn principal(&self) -> &'static str {
        "admin"
    }
}

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(role(req).map(Reader))
    }
}

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match role(req) {
            Ok(Role::Admin) => Ok(Writer),
            Ok(Role::Viewer) => Err(ApiError::Forbidden),
            Err(e) => Err(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_token() {
        let t = Tokens {
            admin: Some("adm".to_string().into()),
            viewer: Some("view".to_string().into()),
        };
        assert_eq!(t.role_of("adm"), Some(Role::Admin));
        assert_eq!(t.role_of("view"), Some(Role::Viewer));
        assert_eq!(t.role_of("ad"), None);
        assert_eq!(t.role_of(""), None);
        let none = Tokens {
            admin: Some("adm".to_string().into()),
            viewer: None,
        };
        assert_eq!(
            none.role_of(""),
            None,
            "an unset viewer token must not match an empty one"
        );
    }
}
