//! The operator's console at `/console`: one page, its script and its style, written by hand under
//! `static/console/` and embedded at compile time (no build step, nothing from another host). The
//! page reads the documented API with the viewer token the operator gives it, kept in the tab's
//! `sessionStorage` only; the dry runs ask for the admin token when submitted and keep it in
//! memory.

use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::{HttpResponse, web};

const PAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/static/console/index.html"
));
const SCRIPT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/static/console/console.js"
));
const STYLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/static/console/console.css"
));

/// This host only, and no inline script or style at all: the page shows data an operator does not
/// control (quarantined payloads, contact ids), so an injected `<script>` must not run even if the
/// page's own escaping missed it. The charts are SVG built through the DOM.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

const SCRIPT_PATH: &str = "/console/console.js";
const STYLE_PATH: &str = "/console/console.css";

/// The console's routes, outside the OpenAPI document (for the table of paths that answer 405).
pub const ROUTES: [(&str, Method); 3] = [
    ("/console", Method::GET),
    (SCRIPT_PATH, Method::GET),
    (STYLE_PATH, Method::GET),
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(page))
        .route(SCRIPT_PATH, web::get().to(script))
        .route(STYLE_PATH, web::get().to(style));
}

/// `no-cache`: the three files change together with pesync, and are small.
fn answer(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(body)
}

async fn page() -> HttpResponse {
    answer("text/html; charset=utf-8", PAGE)
}

async fn script() -> HttpResponse {
    answer("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    answer("text/css; charset=utf-8", STYLE)
}
