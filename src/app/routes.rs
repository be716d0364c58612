//! Every route the service serves, and the OpenAPI document generated from them; the table that
//! answers 405 (`platform::http::methods`) is read from that same document.

use actix_web::{App, web};
use anyhow::Context;
use utoipa_actix_web::AppExt;

use crate::platform::http::methods::Routes;

/// Every documented route. Registering through `utoipa_actix_web` keeps the OpenAPI document and
/// the router from drifting apart.
pub(super) fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(crate::platform::http::health::healthz)
        .service(crate::platform::http::health::readyz);
    crate::ingest::routes(cfg);
    crate::admin::routes(cfg);
    crate::dialer::http::routes(cfg);
    crate::scoring::push::routes(cfg);
}

/// The OpenAPI document of every route (served at `/openapi.json`, committed at `openapi/openapi.json`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    #[derive(OpenApi)]
    #[openapi(
        info(title = "pesync", description = "Syncs offline CRM events into Genesys Cloud Predictive Engagement and feeds outbound campaigns from the scores."),
        modifiers(&SecurityAddon),
        components(schemas(crate::platform::http::problem::Problem))
    )]
    struct ApiDoc;
    struct SecurityAddon;
    impl utoipa::Modify for SecurityAddon {
        fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
            use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
            let components = openapi.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    // After the routes are in: it documents the NUL check of every operation's input.
    utoipa::Modify::modify(&crate::platform::http::nul::NulResponses, &mut doc);
    doc
}

/// Every path served and its methods: those of `openapi`, and the undocumented routes (the
/// document itself, the docs page, the console).
pub(super) fn known_routes(
    openapi: &utoipa::openapi::OpenApi,
) -> anyhow::Result<web::Data<Routes>> {
    Ok(web::Data::new(Routes::new(
        &serde_json::to_value(openapi).context("the OpenAPI document as JSON")?,
        &[
            &crate::platform::http::docs::UNDOCUMENTED_ROUTES[..],
            &crate::admin::console::ROUTES[..],
        ]
        .concat(),
    )))
}
