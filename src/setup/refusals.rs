//! What Genesys would refuse, checked before any write so a manifest change is made whole or not
//! started: more event types or attributes than the org allows, and an attribute made required
//! that the org's schema has as optional (or not at all).

use std::collections::BTreeSet;

use serde_json::Value;

use super::listing::{Listings, Schema};
use super::plan::{Refusal, current_schema};
use super::schema;
use crate::normalize::manifest::{EventTypeSpec, Manifest};

/// External event schemas per org (reference §1a, the help article's limits).
pub const MAX_SCHEMAS_PER_ORG: usize = 20;
/// Attributes per external event type.
pub const MAX_ATTRIBUTES_PER_TYPE: usize = 50;

/// Genesys' own words for the rule (reference §6).
pub const OPTIONAL_TO_REQUIRED: &str = "Optional fields can't be changed to required";

/// The org's limits: event types per org (the schemas already there count too) and attributes
/// per event type.
pub(super) fn limits(manifest: &Manifest, listings: &Listings) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let count = manifest.event_types.len();
    let new = manifest
        .event_types
        .keys()
        .filter(|t| current_schema(listings, t).is_none())
        .count();
    let total = listings.schemas.len() + new;
    if count > MAX_SCHEMAS_PER_ORG {
        refusals.push(Refusal::new(
            "event_types",
            format!("{count} event types: Genesys Cloud allows at most {MAX_SCHEMAS_PER_ORG} external event schemas per org"),
        ));
    } else if total > MAX_SCHEMAS_PER_ORG {
        refusals.push(Refusal::new(
            "event_types",
            format!(
                "the org would hold {total} external event schemas ({} there already, {new} new): Genesys Cloud allows at most {MAX_SCHEMAS_PER_ORG}",
                listings.schemas.len()
            ),
        ));
    }
    for (event_type, spec) in &manifest.event_types {
        let attributes = schema::properties(spec).len();
        if attributes > MAX_ATTRIBUTES_PER_TYPE {
            refusals.push(Refusal::new(
                format!("event_types.{event_type}.attributes"),
                format!("{attributes} attributes delivered: Genesys Cloud allows at most {MAX_ATTRIBUTES_PER_TYPE} per external event type"),
            ));
        }
    }
    refusals
}

/// Attributes the manifest requires that the org's schema does not: Genesys refuses to make an
/// optional field required, and a new attribute cannot be required either (events already queued
/// under the old manifest, or from a CRM not yet sending it, would all be refused).
pub(super) fn newly_required(
    event_type: &str,
    spec: &EventTypeSpec,
    current: &Schema,
) -> Vec<Refusal> {
    let required_now = names(current.json_schema.get("required"));
    let properties = current.json_schema.get("properties");
    schema::required(spec)
        .into_iter()
        .filter(|name| !required_now.contains(name))
        .map(|name| {
            let known = properties.and_then(|p| p.get(&name)).is_some();
            let what = if known {
                format!(
                    "{name} is optional in the org's {event_type} schema, and Genesys Cloud refuses to make it required (\"{OPTIONAL_TO_REQUIRED}\"); keep it optional"
                )
            } else {
                format!(
                    "{name} is new to the org's {event_type} schema and cannot be added as required (\"{OPTIONAL_TO_REQUIRED}\"); add it as optional"
                )
            };
            Refusal::new(format!("event_types.{event_type}.attributes.{name}"), what)
        })
        .collect()
}

/// The names listed in a JSON schema's `required`.
pub(super) fn names(required: Option<&Value>) -> BTreeSet<String> {
    required
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
