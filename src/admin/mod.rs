//! The admin API (SPEC §8): bearer-authenticated; the viewer token may only read.

pub mod breakdown;
pub mod calling_hours;
pub mod campaigns;
pub mod changes;
pub mod check;
pub mod console;
pub mod contact_windows;
pub mod contacts;
pub mod dead_letters;
pub mod document;
pub mod evaluate;
pub mod genesys;
pub mod manifests;
pub mod population;
pub mod prometheus;
pub mod quarantine;
pub mod reconciliation;
pub mod series;
pub mod sources;
pub mod stats;
pub mod suppressions;
pub mod tenant;
pub mod thresholds;

pub use crate::platform::http::document::{parse_document, parse_json};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    sources::routes(cfg);
    manifests::routes(cfg);
    check::routes(cfg);
    quarantine::routes(cfg);
    reconciliation::routes(cfg);
    thresholds::routes(cfg);
    campaigns::routes(cfg);
    evaluate::routes(cfg);
    population::routes(cfg);
    contacts::routes(cfg);
    dead_letters::routes(cfg);
    stats::routes(cfg);
    prometheus::routes(cfg);
    series::routes(cfg);
    breakdown::routes(cfg);
    changes::routes(cfg);
    suppressions::routes(cfg);
    genesys::routes(cfg);
}

/// Who made a change, for the audit records (thresholds versions, the change log).
pub fn changed_by(
    who: &crate::platform::http::auth::Writer,
) -> crate::registry::thresholds::ChangedBy<'_> {
    crate::registry::thresholds::ChangedBy {
        role: who.principal(),
        token: who.token_fingerprint(),
    }
}

/// Record `change` in the change log (issue 11 §2) in `tx`; a mapping or manifest activation opens
/// a watch of the configured length.
pub async fn record_change(
    tx: &mut sqlx::PgConnection,
    state: &crate::platform::context::AppState,
    change: crate::registry::changes::NewChange<'_>,
) -> sqlx::Result<i64> {
    crate::registry::changes::record(tx, change, state.monitors.watch()).await
}

/// Body of dead-letter replay and reconciliation release / discard: the items to act on, by id.
/// (The quarantine's operations also take a reason: [`QuarantineRequest`].)
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<Uuid>,
}

/// Body of quarantine replay / discard: the items named by id, and/or every open item with a reason
/// (at least one of the two).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub ids: Vec<Uuid>,
    /// Act on every open item with this reason (at most 1,000 a call, oldest first).
    pub reason: Option<crate::normalize::QuarantineReason>,
}

/// Operations act on at most this many items per call, so one call stays one bounded transaction.
pub const MAX_ITEMS_PER_CALL: usize = 1000;

/// At most [`MAX_ITEMS_PER_CALL`] ids.
pub fn check_ids(ids: &[Uuid]) -> Result<(), crate::platform::http::ApiError> {
    if ids.len() > MAX_ITEMS_PER_CALL {
        return Err(crate::platform::http::ApiError::invalid(
            "ids",
            format!("at most {MAX_ITEMS_PER_CALL} ids per call"),
        ));
    }
    Ok(())
}

impl IdsRequest {
    /// The ids of a call (`what`: "dead letters"): at least one, at most [`MAX_ITEMS_PER_CALL`].
    pub fn named_ids(&self, what: &str) -> Result<&[Uuid], crate::platform::http::ApiError> {
        check_ids(&self.ids)?;
        if self.ids.is_empty() {
            return Err(crate::platform::http::ApiError::invalid(
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
    fn named_ids_wants_at_least_one_id_and_no_reason() {
        let req = |ids: Vec<Uuid>| IdsRequest { ids };
        assert!(req(vec![]).named_ids("dead letters").is_err());
        assert!(
            req(vec![Uuid::nil(); MAX_ITEMS_PER_CALL + 1])
                .named_ids("x")
                .is_err()
        );
        assert_eq!(
            req(vec![Uuid::nil()]).named_ids("x").unwrap(),
            &[Uuid::nil()]
        );
        // A reason is the quarantine's alone, and must be one of its codes.
        let body = br#"{"ids": [], "reason": "unknown_attribute"}"#;
        assert!(parse_document::<IdsRequest>(body).is_err());
        let q: QuarantineRequest = parse_document(body).unwrap();
        assert_eq!(
            q.reason,
            Some(crate::normalize::QuarantineReason::UnknownAttribute)
        );
        let e = parse_document::<QuarantineRequest>(br#"{"ids": [], "reason": "AAA"}"#);
        assert!(e.is_err());
    }
}
