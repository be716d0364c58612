//! The committed `openapi/openapi.json` must equal the generated document; set
//! `UPDATE_OPENAPI=1` to rewrite it, so an API change is always a visible diff.

use reqwest::RequestBuilder;
use serde_json::Value;

use crate::helpers::{ADMIN, TestApp, VIEWER, spawn_app};

#[test]
fn committed_openapi_matches_the_code() {
    let generated = pesync::app::routes::openapi_document()
        .to_pretty_json()
        .unwrap()
        + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn served_document_and_docs_page() {
    let app = spawn_app().await;
    let served: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        served,
        serde_json::to_value(pesync::app::routes::openapi_document()).unwrap()
    );
    assert!(served["paths"]["/v1/sources/{source}/events"]["post"].is_object());
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
}

const PROBLEM_JSON: &str = "application/problem+json";

fn generated_document() -> Value {
    serde_json::to_value(pesync::app::routes::openapi_document()).unwrap()
}

/// Every operation of the document: (method, path template, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("responses").is_some() {
                ops.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

/// A response object, following a `$ref` into `components/responses`.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/responses/").unwrap();
            &doc["components"]["responses"][name]
        }
        None => response,
    }
}

#[test]
fn every_error_response_is_declared_as_a_problem_document() {
    let doc = generated_document();
    let (mut checked, mut wrong) = (0, vec![]);
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            checked += 1;
            let response = resolve(&doc, response);
            let content = response["content"].as_object();
            let types: Vec<&String> = content.map(|c| c.keys().collect()).unwrap_or_default();
            let schema = &response["content"][PROBLEM_JSON]["schema"]["$ref"];
            if types != [PROBLEM_JSON] || schema != "#/components/schemas/Problem" {
                wrong.push(format!("{method} {path} {status}: {types:?} {schema}"));
            }
        }
    }
    assert!(checked > 100, "only {checked} error responses declared");
    assert!(
        wrong.is_empty(),
        "not declared as problem documents: {wrong:#?}"
    );
}

/// The probes sent to one operation: no token, the viewer's, the admin's; a body that is not JSON,
/// one of the wrong shape and a large one where the operation takes a body; `limit` out of range
/// and of the wrong type where it takes one.
fn probes(app: &TestApp, method: &str, url: &str, op: &Value) -> Vec<(String, RequestBuilder)> {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let request = |token: Option<&str>, query: &str| {
        let rb = app.client.request(method.clone(), format!("{url}{query}"));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    };
    let mut probes = vec![
        ("no token".to_string(), request(None, "")),
        ("viewer".to_string(), request(Some(VIEWER), "")),
        ("admin".to_string(), request(Some(ADMIN), "")),
    ];
    if op.get("requestBody").is_some() {
        let large = format!("[{}]", " ".repeat(300 * 1024));
        for (name, body) in [
            ("not JSON", "{".to_string()),
            ("[]", "[]".into()),
            ("300 KiB", large),
        ] {
            let rb = request(Some(ADMIN), "")
                .header("content-type", "application/json")
                .body(body);
            probes.push((format!("admin, body {name}"), rb));
        }
    }
    let takes_limit = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["name"] == "limit"));
    if takes_limit {
        for query in ["?limit=0", "?limit=x", "?cursor=x"] {
            probes.push((format!("admin, {query}"), request(Some(ADMIN), query)));
        }
    }
    probes
}

/// Path parameters filled in: integers with a number no resource has, strings with a name.
fn concrete_path(path: &str, op: &Value) -> String {
    let mut path = path.to_string();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "path" {
            let name = p["name"].as_str().unwrap();
            let value = if p["schema"]["type"] == "integer" {
                "999999"
            } else {
                "no-such-thing"
            };
            path = path.replace(&format!("{{{name}}}"), value);
        }
    }
    path
}

/// The document is true to the wire: every operation, probed with bad and unauthorized requests
/// through the real HTTP API, answers only statuses it declares, and every error is a problem
/// document (what schemathesis checks as "undocumented status / Content-Type").
#[tokio::test]
async fn every_answer_to_a_bad_request_is_declared() {
    let app = spawn_app().await;
    let doc = generated_document();
    let (mut sent, mut wrong) = (0, vec![]);
    for (method, path, op) in operations(&doc) {
        let url = app.url(&concrete_path(&path, &op));
        for (probe, rb) in probes(&app, &method, &url, &op) {
            let response = rb.send().await.unwrap();
            sent += 1;
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let declared = op["responses"].get(status.as_str()).is_some();
            let problem_ok = status.as_u16() < 400 || content_type.starts_with(PROBLEM_JSON);
            if !declared || !problem_ok {
                wrong.push(format!(
                    "{method} {path} ({probe}): {status} {content_type}"
                ));
            }
        }
    }
    assert!(sent > 100, "only {sent} probes");
    assert!(
        wrong.is_empty(),
        "answers the document does not declare: {wrong:#?}"
    );
}

/// The value of `attr="…"` in `html`.
fn attribute<'a>(html: &'a str, attr: &str) -> &'a str {
    let start = html.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    let len = html[start..].find('"').unwrap();
    &html[start..start + len]
}

/// `/docs` loads nothing from another host (it renders on closed networks and tells no third
/// party who reads it): no absolute URL in the page, the browser held to this host by its
/// Content-Security-Policy, and the script and the document it names served here.
#[tokio::test]
async fn docs_page_loads_nothing_from_another_host() {
    let app = spawn_app().await;
    let docs = app.get_as("/docs", None).await;
    assert_eq!(docs.status(), 200);
    assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
    let policy = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("default-src 'self';"), "{policy}");
    assert!(!policy.contains("http"), "{policy}");
    let html = docs.text().await.unwrap();
    assert!(
        !html.contains("//"),
        "an absolute URL in the docs page: {html}"
    );
    assert!(html.contains(r#"disable-telemetry="true""#), "{html}");

    let page = reqwest::Url::parse(&app.url("/docs")).unwrap();
    let script = page.join(attribute(&html, "src")).unwrap();
    assert_eq!(script.host_str(), Some("127.0.0.1"));
    let bundle = app.client.get(script).send().await.unwrap();
    assert_eq!(bundle.status(), 200);
    assert_eq!(
        bundle.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let cache = bundle.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("immutable"), "{cache}");
    assert!(bundle.text().await.unwrap().contains("Redoc"));

    // The document itself: `served_document_and_docs_page`.
    let spec = page.join(attribute(&html, "spec-url")).unwrap();
    assert_eq!(spec.path(), "/openapi.json");
    assert_eq!(app.client.get(spec).send().await.unwrap().status(), 200);
}

/// `limit` is declared with the range the routes enforce, so a client (or schemathesis) that keeps
/// to the document is not refused with a 422.
#[test]
fn limit_parameters_declare_their_range() {
    let doc = generated_document();
    let mut seen = 0;
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["name"] == "limit" {
                seen += 1;
                let schema = &p["schema"];
                assert_eq!(schema["minimum"], 1, "{method} {path}");
                assert_eq!(schema["maximum"], 1000, "{method} {path}");
            }
        }
    }
    assert!(seen >= 6, "only {seen} limit parameters");
}
