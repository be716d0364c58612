//! The CDC mapping of a source (issue 13): per captured table, the event it becomes. It lives in the
//! source's mapping document (`mapping.cdc`), so it is versioned with the field mapping (SPEC §6)
//! and every event records the version that translated it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CdcMapping {
    /// `schema.table` (PostgreSQL) or `db.table` (MySQL) → what its changes become. A change from a
    /// table not listed is quarantined as `unmapped_table`.
    pub tables: BTreeMap<String, TableMapping>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableMapping {
    /// The event type a change of a row becomes (a manifest type, or one the mapping renames).
    pub event_type: String,
    /// The column holding the contact id (a number becomes its decimal text).
    pub contact_column: String,
    /// The primary key columns: `crm_record_id` is `<table>:<key values>@<log position>`, so two
    /// changes of one row are two events and a redelivered change is a duplicate (SPEC §4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Instead: a column whose value is the `crm_record_id` as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_column: Option<String>,
    /// The column giving `event_timestamp` (RFC 3339 text, or a Debezium epoch timestamp with its
    /// schema); default: `source.ts_ms`, when the change was made in the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_column: Option<String>,
    /// The columns that become attributes, renamed through the source's field mapping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// The event type a delete (`op: d`) becomes, read from `before`; deletes are ignored without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<String>,
    /// Scales of decimal columns for events sent without the `schema` wrapper (base64 values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scales: BTreeMap<String, i32>,
}

impl CdcMapping {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Every problem, as (field path under `mapping.cdc`, message); empty when the mapping is usable.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (table, t) in &self.tables {
            let at = |field: &str| format!("mapping.cdc.tables.{table}.{field}");
            let parts: Vec<&str> = table.split('.').collect();
            if parts.len() != 2 || parts.iter().any(|p| blank(p)) {
                problems.push((
                    format!("mapping.cdc.tables.{table}"),
                    "tables are keyed schema.table (PostgreSQL) or db.table (MySQL)".to_owned(),
                ));
            }
            for (field, value) in [
                ("event_type", &t.event_type),
                ("contact_column", &t.contact_column),
            ] {
                if blank(value) {
                    problems.push((at(field), NAME.to_owned()));
                }
            }
            for (field, value) in [
                ("record_column", &t.record_column),
                ("timestamp_column", &t.timestamp_column),
                ("on_delete", &t.on_delete),
            ] {
                if value.as_deref().is_some_and(blank) {
                    problems.push((at(field), NAME.to_owned()));
                }
            }
            if t.primary_key.is_empty() && t.record_column.is_none() {
                problems.push((
                    at("primary_key"),
                    "list the primary key columns (or give record_column)".to_owned(),
                ));
            }
            for (field, list) in [
                ("primary_key", &t.primary_key),
                ("attributes", &t.attributes),
            ] {
                let mut seen = BTreeSet::new();
                for column in list {
                    if blank(column) {
                        problems.push((at(field), NAME.to_owned()));
                    } else if !seen.insert(column) {
                        problems.push((at(field), format!("{column} is listed twice")));
                    }
                }
            }
            for (column, scale) in &t.scales {
                if blank(column) || !(-1000..=1000).contains(scale) {
                    problems.push((
                        at(&format!("scales.{column}")),
                        "a column name and a scale in -1000..=1000".to_owned(),
                    ));
                }
            }
        }
        problems
    }
}

const NAME: &str = "must be a non-empty name not padded with spaces";

fn blank(name: &str) -> bool {
    name.is_empty() || name.trim() != name
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_readme_mapping_is_valid_and_round_trips() {
        let doc = json!({"tables": {"crm.opportunities": {
            "event_type": "crm.transaction", "contact_column": "contact_id", "primary_key": ["id"],
            "attributes": ["amount", "stage"], "on_delete": "crm.behavior", "scales": {"amount": 2}}}});
        let m: CdcMapping = serde_json::from_value(doc.clone()).unwrap();
        assert!(m.validate().is_empty(), "{:?}", m.validate());
        assert_eq!(serde_json::to_value(&m).unwrap(), doc);
        assert!(
            serde_json::from_value::<CdcMapping>(json!({"tables": {"a.b": {
            "event_type": "t", "contact_column": "c", "primary_key": ["id"], "extra": 1}}}))
            .is_err()
        );
    }

    #[test]
    fn every_problem_names_its_field() {
        let m: CdcMapping = serde_json::from_value(json!({"tables": {
            "opportunities": {"event_type": "", "contact_column": " c", "attributes": ["a", "a"],
                              "scales": {"amount": 5000}},
            "crm.deals": {"event_type": "t", "contact_column": "c", "record_column": "ref"}}}))
        .unwrap();
        let fields: Vec<String> = m.validate().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "mapping.cdc.tables.opportunities",
                "mapping.cdc.tables.opportunities.event_type",
                "mapping.cdc.tables.opportunities.contact_column",
                "mapping.cdc.tables.opportunities.primary_key",
                "mapping.cdc.tables.opportunities.attributes",
                "mapping.cdc.tables.opportunities.scales.amount",
            ]
        );
    }
}
