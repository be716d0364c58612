//! What setup will do to the org, decided from the active manifest and what the org holds: the
//! External Source found or to create, and per event type its schema (to create, to update with
//! its current version, or unchanged) and its events configuration (found or to create). Pure.
//!
//! Whatever Genesys would refuse is refused here, before any write, so a manifest change is
//! either made whole or not started: an optional (or new) attribute made required on an existing
//! schema, more than 20 event types, more than 50 attributes in one event type.

use std::fmt;

use serde_json::Value;

use super::listing::{Configuration, Listings, Schema};
use super::refusals::{limits, names, newly_required};
use super::schema;
use crate::normalize::manifest::{EventTypeSpec, Manifest};

pub use super::refusals::{MAX_ATTRIBUTES_PER_TYPE, MAX_SCHEMAS_PER_ORG, OPTIONAL_TO_REQUIRED};

#[derive(Debug, Clone, PartialEq)]
pub enum SourceStep {
    Found { id: String, name: String },
    Create { name: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SchemaStep {
    /// `POST …/schemas` with this `JourneyJsonSchemaRequest`.
    Create {
        body: Value,
    },
    /// `PUT …/schemas/{id}` with the current `version` and this `jsonSchema`.
    Update {
        id: String,
        version: i32,
        body: Value,
    },
    Unchanged {
        id: String,
        version: i32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigurationStep {
    Create,
    Found { id: String, division_id: String },
}

/// One event type of the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct TypePlan {
    pub event_type: String,
    pub schema: SchemaStep,
    pub configuration: ConfigurationStep,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub source: SourceStep,
    /// In event type order.
    pub types: Vec<TypePlan>,
}

/// Why the org cannot be brought to the manifest; `field` names the manifest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: String,
    pub message: String,
}

impl Refusal {
    pub(super) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Plan {
    /// How many requests that change the org the plan sends.
    pub fn writes(&self) -> usize {
        let source = usize::from(matches!(self.source, SourceStep::Create { .. }));
        let types = self.types.iter().map(|t| {
            usize::from(!matches!(t.schema, SchemaStep::Unchanged { .. }))
                + usize::from(t.configuration == ConfigurationStep::Create)
        });
        source + types.sum::<usize>()
    }

    /// Whether a configuration must be created, which needs a division.
    pub fn creates_configurations(&self) -> bool {
        self.types
            .iter()
            .any(|t| t.configuration == ConfigurationStep::Create)
    }

    /// The division of the configurations that exist already (the first one's).
    pub fn found_division(&self) -> Option<&str> {
        self.types.iter().find_map(|t| match &t.configuration {
            ConfigurationStep::Found { division_id, .. } if !division_id.is_empty() => {
                Some(division_id.as_str())
            }
            _ => None,
        })
    }
}

/// The plan that brings the org in `listings` to `manifest`, with the source named `source_name`.
pub fn plan(
    manifest: &Manifest,
    listings: &Listings,
    source_name: &str,
) -> Result<Plan, Vec<Refusal>> {
    let mut refusals = limits(manifest, listings);
    let mut types = Vec::new();
    for (event_type, spec) in &manifest.event_types {
        match type_plan(event_type, spec, listings) {
            Ok(plan) => types.push(plan),
            Err(mut found) => refusals.append(&mut found),
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let source = match listings.sources.iter().find(|s| s.name == source_name) {
        Some(found) => SourceStep::Found {
            id: found.id.clone(),
            name: found.name.clone(),
        },
        None => SourceStep::Create {
            name: source_name.to_owned(),
        },
    };
    Ok(Plan { source, types })
}

/// The enabled schema titled `event_type` (titles are unique among enabled schemas).
pub(super) fn current_schema<'a>(listings: &'a Listings, event_type: &str) -> Option<&'a Schema> {
    listings
        .schemas
        .iter()
        .find(|s| s.enabled && s.title() == Some(event_type))
}

fn type_plan(
    event_type: &str,
    spec: &EventTypeSpec,
    listings: &Listings,
) -> Result<TypePlan, Vec<Refusal>> {
    let body = schema::request(event_type, spec);
    let Some(current) = current_schema(listings, event_type) else {
        return Ok(TypePlan {
            event_type: event_type.to_owned(),
            schema: SchemaStep::Create { body },
            configuration: ConfigurationStep::Create,
        });
    };
    let refusals = newly_required(event_type, spec, current);
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let same = current.json_schema.get("properties") == body.get("properties")
        && names(current.json_schema.get("required")) == names(body.get("required"));
    let schema = if same {
        SchemaStep::Unchanged {
            id: current.id.clone(),
            version: current.version,
        }
    } else {
        SchemaStep::Update {
            id: current.id.clone(),
            version: current.version,
            body,
        }
    };
    Ok(TypePlan {
        event_type: event_type.to_owned(),
        schema,
        configuration: configuration(listings, event_type, &current.id),
    })
}

/// The configuration named `event_type` for this schema, or one to create.
fn configuration(listings: &Listings, event_type: &str, schema_id: &str) -> ConfigurationStep {
    let found = listings
        .configurations
        .iter()
        .find(|c: &&Configuration| c.name == event_type && c.schema_id == schema_id);
    match found {
        Some(c) => ConfigurationStep::Found {
            id: c.id.clone(),
            division_id: c.division_id.clone(),
        },
        None => ConfigurationStep::Create,
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            SourceStep::Found { id, name } => {
                writeln!(f, "External Source {name:?}: found ({id})")?
            }
            SourceStep::Create { name } => writeln!(f, "External Source {name:?}: to create")?,
        }
        for t in &self.types {
            let schema = match &t.schema {
                SchemaStep::Create { .. } => "schema to create".to_owned(),
                SchemaStep::Update { id, version, .. } => {
                    format!("schema {id} to update (from version {version})")
                }
                SchemaStep::Unchanged { id, version } => {
                    format!("schema {id} unchanged (version {version})")
                }
            };
            let configuration = match &t.configuration {
                ConfigurationStep::Create => "configuration to create".to_owned(),
                ConfigurationStep::Found { id, .. } => format!("configuration found ({id})"),
            };
            writeln!(f, "{}: {schema}; {configuration}", t.event_type)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
