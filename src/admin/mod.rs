//! The admin API (SPEC §8): bearer-authenticated; the viewer token may only read.

pub mod campaigns;
pub mod contacts;
pub mod dead_letters;
pub mod document;
pub mod evaluate;
pub mod manifests;
pub mod quarantine;
pub mod reconciliation;
pub mod sources;
pub mod stats;
pub mod thresholds;

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    sources::routes(cfg);
    manifests::routes(cfg);
    quarantine::routes(cfg);
    reconciliation::routes(cfg);
    thresholds::routes(cfg);
    campaigns::routes(cfg);
    evaluate::routes(cfg);
    contacts::routes(cfg);
    dead_letters::routes(cfg);
    stats::routes(cfg);
}

/// Body of replay / release / discard: the items to act on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    #[serde(default)]
    pub ids: Vec<Uuid>,
    /// Quarantine only: act on every open item with this reason.
    pub reason: Option<String>,
}

/// Operations act on at most this many items per call, so one call stays one bounded transaction.
pub const MAX_ITEMS_PER_CALL: usize = 1000;

impl IdsRequest {
    pub fn check_ids(&self) -> Result<(), crate::http::ApiError> {
        if self.ids.len() > MAX_ITEMS_PER_CALL {
            return Err(crate::http::ApiError::invalid(
                "ids",
                format!("at most {MAX_ITEMS_PER_CALL} ids per call"),
            ));
        }
        Ok(())
    }
}

/// Parses a JSON body we took as bytes, so that malformed JSON is 400 and a document of the wrong
/// shape is 422 (SPEC §11.19) — actix's `Json` extractor would answer 400 for both.
pub fn parse_document<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, crate::http::ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| crate::http::ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    serde_json::from_value(value).map_err(|e| crate::http::ApiError::invalid("body", e.to_string()))
}
