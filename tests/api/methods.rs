//! A method a path is not served with answers 405 with `Allow` and a problem document, not 404
//! (schemathesis `--checks all`: `unsupported_method`); an unknown path stays 404.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
}

fn allow(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_unserved_method_is_405_with_allow_and_an_unknown_path_is_404() {
    let app = spawn_app().await;
    for (method, path, allowed) in [
        (Method::TRACE, "/v1/scores", "POST"),
        (Method::GET, "/v1/scores", "POST"),
        (Method::DELETE, "/v1/admin/sources", "GET"),
        (
            Method::PATCH,
            "/v1/admin/campaigns/spring",
            "GET, PUT, DELETE",
        ),
        (Method::OPTIONS, "/openapi.json", "GET"),
        (Method::POST, "/docs", "GET"),
        (Method::PUT, "/v1/sources/crm/events", "POST"),
    ] {
        let r = send(&app, method.clone(), path).await;
        assert_eq!(allow(&r).as_deref(), Some(allowed), "{method} {path}");
        let p = assert_problem(r, 405).await;
        assert!(
            p["detail"].as_str().unwrap().contains(allowed),
            "{method} {path}: {p}"
        );
    }
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::TRACE, "/v1/admin/campaigns/a/b"),
        (Method::GET, "/v1/scores/"),
    ] {
        let r = send(&app, method.clone(), path).await;
        assert_eq!(allow(&r), None, "{method} {path}");
        assert_problem(r, 404).await;
    }
    // The methods a path is served with still answer as before.
    assert_eq!(
        send(&app, Method::GET, "/v1/admin/sources").await.status(),
        200
    );
}

#[tokio::test]
async fn every_documented_path_answers_trace_with_the_methods_the_document_lists() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 20);
    for (template, item) in paths {
        let mut expected: Vec<String> =
            ["get", "head", "post", "put", "patch", "delete", "options"]
                .into_iter()
                .filter(|m| item.get(*m).is_some())
                .map(str::to_uppercase)
                .collect();
        expected.dedup();
        // Every `{param}` filled with a plain segment.
        let path: String = template
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let r = send(&app, Method::TRACE, &path).await;
        assert_eq!(r.status(), 405, "TRACE {path}");
        assert_eq!(allow(&r), Some(expected.join(", ")), "TRACE {path}");
    }
}
