//! The human API docs at `/docs`: Redoc, vendored under `static/vendor/` and embedded at compile
//! time, rendering `/openapi.json`. Nothing is loaded from another host, so the page works on the
//! closed networks contact centers run in and tells no third party who reads it. Redoc 3 would
//! otherwise report usage to `otel.cloud.redocly.com` (off by `disable-telemetry`) and load its
//! badge's logo from `cdn.redoc.ly`: the Content-Security-Policy makes the browser refuse both,
//! and whatever a later version adds.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, ContentType};
use actix_web::{HttpResponse, web};

macro_rules! redoc_version {
    () => {
        "3.0.1"
    };
}

/// Where the bundle is served. The version is in the name, so it can be cached for good.
pub const BUNDLE_PATH: &str = concat!("/docs/redoc-", redoc_version!(), ".standalone.js");

const BUNDLE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/static/vendor/redoc-",
    redoc_version!(),
    "/redoc.standalone.js"
));

// Relative URLs, so the page also works behind a reverse proxy that mounts pesync under a prefix.
const PAGE: &str = concat!(
    r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pesync API</title>
</head>
<body>
<redoc spec-url="openapi.json" disable-telemetry="true"></redoc>
<script type="module" src="docs/redoc-"#,
    redoc_version!(),
    r#".standalone.js"></script>
</body>
</html>
"#
);

/// Only this host; Redoc styles its components inline and builds its search worker from a blob.
const POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'self'";

/// The routes served outside the OpenAPI document (the document itself and this page), for the
/// table of paths and methods that answers 405 (`http::methods`).
pub const UNDOCUMENTED_ROUTES: [(&str, actix_web::http::Method); 3] = [
    ("/openapi.json", actix_web::http::Method::GET),
    ("/docs", actix_web::http::Method::GET),
    (BUNDLE_PATH, actix_web::http::Method::GET),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs", web::get().to(page))
        .route(BUNDLE_PATH, web::get().to(bundle));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

async fn bundle() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(BUNDLE)
}
