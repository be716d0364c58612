//! The admin API (SPEC §8): bearer-authenticated; the viewer token may only read.

pub mod calling_hours;
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
pub mod suppressions;
pub mod thresholds;

pub use crate::http::document::{parse_document, parse_json};
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
    suppressions::routes(cfg);
}

/// Body of replay / release / discard: the items to act on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    #[serde(default)]
    pub ids: Vec<Uuid>,
    /// Quarantine only: act on every open item with this reason.
    #[schema(value_type = Option<crate::normalize::Reason>)]
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

    /// The ids of a call on items that are only ever chosen by id (`what`: "dead letters"): at
    /// least one, at most [`MAX_ITEMS_PER_CALL`], and no `reason`.
    pub fn named_ids(&self, what: &str) -> Result<&[Uuid], crate::http::ApiError> {
        self.check_ids()?;
        if self.reason.is_some() {
            return Err(crate::http::ApiError::invalid(
                "reason",
                format!("{what} are chosen by id"),
            ));
        }
        if self.ids.is_empty() {
            return Err(crate::http::ApiError::invalid(
                "ids",
                format!("give the ids of the {what}"),
            ));
        }
        Ok(&self.ids)
    }
}

/// `rows` found by id, in the order the caller named `ids`, each with the id it was asked for:
/// `None` for an id that names nothing (or nothing in a state the operation acts on), so the
/// answer says `not_found` at that index. An id named twice finds its row once.
pub fn in_named_order<T>(
    ids: &[Uuid],
    rows: Vec<T>,
    id_of: impl Fn(&T) -> Uuid,
) -> Vec<(Uuid, Option<T>)> {
    let mut by_id: std::collections::HashMap<Uuid, T> =
        rows.into_iter().map(|r| (id_of(&r), r)).collect();
    ids.iter().map(|id| (*id, by_id.remove(id))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_the_named_order_with_gaps_and_repeats() {
        let [a, b, c] = [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)];
        // Rows arrive in the database's order; `c` does not exist; `a` is named twice.
        let rows = vec![(b, "row b"), (a, "row a")];
        let out = in_named_order(&[a, c, b, a], rows, |r| r.0);
        let got: Vec<(Uuid, Option<&str>)> =
            out.iter().map(|(id, r)| (*id, r.map(|r| r.1))).collect();
        assert_eq!(
            got,
            vec![(a, Some("row a")), (c, None), (b, Some("row b")), (a, None)]
        );
    }

    #[test]
    fn named_ids_wants_ids_and_no_reason() {
        let req = |ids: Vec<Uuid>, reason: Option<&str>| IdsRequest {
            ids,
            reason: reason.map(str::to_owned),
        };
        assert!(req(vec![], None).named_ids("dead letters").is_err());
        assert!(
            req(vec![Uuid::nil()], Some("x"))
                .named_ids("dead letters")
                .is_err()
        );
        assert!(
            req(vec![Uuid::nil(); MAX_ITEMS_PER_CALL + 1], None)
                .named_ids("x")
                .is_err()
        );
        assert_eq!(
            req(vec![Uuid::nil()], None).named_ids("x").unwrap(),
            &[Uuid::nil()]
        );
    }
}
