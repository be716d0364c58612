//! What a request that no route took is answered: 405 with an `Allow` header when its path is one
//! the service serves with other methods (`TRACE /v1/scores`, `DELETE /v1/admin/sources`), else 404
//! (RFC 9110 §15.5.6, §10.2.1). Both are problem documents.
//!
//! actix tries each route of a path in turn, its method being one of the route's guards, and falls
//! through to the default service when none matches: it cannot tell "no such path" from "no such
//! method". The table of paths and their methods is read from the OpenAPI document, which is
//! generated from the router itself (`app::routes`), so the two cannot drift apart; the few
//! undocumented routes (`/openapi.json`, the docs page) are added by name.

use actix_web::dev::ResourceDef;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::problem::problem_response;

/// The methods of an OpenAPI path item, as its keys spell them.
const METHODS: [(&str, Method); 8] = [
    ("get", Method::GET),
    ("head", Method::HEAD),
    ("post", Method::POST),
    ("put", Method::PUT),
    ("patch", Method::PATCH),
    ("delete", Method::DELETE),
    ("options", Method::OPTIONS),
    ("trace", Method::TRACE),
];

/// Every path the service serves (a pattern, `{name}` matching one segment) and its methods.
#[derive(Debug, Default)]
pub struct Routes {
    paths: Vec<(ResourceDef, Vec<Method>)>,
}

impl Routes {
    /// The paths and methods of an OpenAPI document (as JSON), and `extra` routes it does not list.
    pub fn new(openapi: &Value, extra: &[(&str, Method)]) -> Self {
        let mut routes = Self::default();
        if let Some(paths) = openapi.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                for (key, method) in &METHODS {
                    if item.get(*key).is_some() {
                        routes.add(path, method.clone());
                    }
                }
            }
        }
        for (path, method) in extra {
            routes.add(path, method.clone());
        }
        routes
    }

    fn add(&mut self, path: &str, method: Method) {
        match self
            .paths
            .iter_mut()
            .find(|(def, _)| def.pattern() == Some(path))
        {
            Some((_, methods)) if methods.contains(&method) => {}
            Some((_, methods)) => methods.push(method),
            None => self.paths.push((ResourceDef::new(path), vec![method])),
        }
    }

    /// The methods `path` is served with, in the order of [`METHODS`]; empty when no route has
    /// this path.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let served: Vec<&Method> = self
            .paths
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods)
            .collect();
        METHODS
            .iter()
            .map(|(_, m)| m)
            .filter(|m| served.contains(m))
            .cloned()
            .collect()
    }
}

/// The `Allow` header's value: the methods, comma-separated.
pub fn allow_header(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The methods `req`'s path is served with (empty when the table is not in the app's data or the
/// path is unknown).
pub fn allowed_for(req: &HttpRequest) -> Vec<Method> {
    req.app_data::<web::Data<Routes>>()
        .map(|routes| routes.allowed(req.path()))
        .unwrap_or_default()
}

/// 405: a problem document naming the methods, which the `Allow` header lists.
pub fn method_not_allowed(method: &Method, allowed: &[Method]) -> HttpResponse {
    let allow = allow_header(allowed);
    let mut res = problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        Some(format!(
            "{method} is not served at this path; it takes {allow}"
        )),
        vec![],
    );
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// The default service: 405 with `Allow` for a known path, 404 for any other. (A resource whose
/// routes all refused the method answers actix's own 405, which `problem_for_framework_error`
/// turns into the same answer.)
pub async fn not_routed(req: HttpRequest) -> HttpResponse {
    let allowed = allowed_for(&req);
    if allowed.is_empty() {
        return problem_response(
            StatusCode::NOT_FOUND,
            "not-found",
            Some(format!("no route for {}", req.path())),
            vec![],
        );
    }
    method_not_allowed(req.method(), &allowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn routes() -> Routes {
        let doc = json!({"paths": {
            "/v1/admin/campaigns": {"get": {}, "post": {}, "summary": "not a method"},
            "/v1/admin/campaigns/{id}": {"put": {}, "get": {}, "delete": {}},
            "/v1/sources/{source}/events": {"post": {}},
        }});
        Routes::new(
            &doc,
            &[("/openapi.json", Method::GET), ("/v1/scores", Method::POST)],
        )
    }

    #[test]
    fn a_known_path_lists_its_methods_in_a_fixed_order() {
        let r = routes();
        assert_eq!(
            r.allowed("/v1/admin/campaigns"),
            [Method::GET, Method::POST]
        );
        assert_eq!(
            r.allowed("/v1/admin/campaigns/spring"),
            [Method::GET, Method::PUT, Method::DELETE]
        );
        assert_eq!(r.allowed("/v1/sources/a%2Fb/events"), [Method::POST]);
        assert_eq!(r.allowed("/openapi.json"), [Method::GET]);
        assert_eq!(r.allowed("/v1/scores"), [Method::POST]);
        assert_eq!(
            allow_header(&r.allowed("/v1/admin/campaigns/x")),
            "GET, PUT, DELETE"
        );
    }

    #[test]
    fn an_unknown_path_has_no_methods() {
        let r = routes();
        for path in [
            "/",
            "/v1/admin/campaign",
            "/v1/admin/campaigns/a/b",
            "/v1/sources//events",
            "/v1/scores/",
            "/v1/admin/campaigns/",
        ] {
            assert!(r.allowed(path).is_empty(), "{path}");
        }
        assert!(Routes::new(&json!({}), &[]).allowed("/x").is_empty());
    }
}
