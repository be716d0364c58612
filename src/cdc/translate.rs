//! A change event and the source's CDC mapping in, the event envelope of SPEC §2 out: from there
//! the change goes through exactly the pipeline a posted event does (normalization, dedup, order).
//! Pure: the endpoint, quarantine replay and the tests all run this.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::change::{self, Change, ColumnType, Op, Parsed};
use super::decimal;
use crate::normalize::cdc_mapping::{CdcMapping, TableMapping};
use crate::normalize::{QuarantineReason, Rejection};

/// Why a change was received and deliberately not turned into an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A null value (Debezium's tombstone after a delete).
    Tombstone,
    /// A delete of a table whose mapping has no `on_delete`.
    DeleteIgnored,
}

impl Skip {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tombstone => "tombstone",
            Self::DeleteIgnored => "delete_ignored",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Translated {
    /// The envelope: `contact_id`, `event_type`, `event_timestamp`, `attributes` (source column
    /// names, which normalization renames through the field mapping, plus `crm_record_id`).
    Event(Value),
    Skipped(Skip),
}

/// Translates one received change. `unmapped_table` when the mapping has no entry for its table,
/// `invalid_change` when it cannot be read or lacks what the mapping needs; both keep the change as
/// received so a replay after the mapping is fixed translates it again.
pub fn translate(raw: &Value, cdc: &CdcMapping) -> Result<Translated, Rejection> {
    let invalid = |detail: String| Rejection::new(QuarantineReason::InvalidChange, detail);
    let change = match change::parse(raw).map_err(invalid)? {
        Parsed::Tombstone => return Ok(Translated::Skipped(Skip::Tombstone)),
        Parsed::Change(c) => c,
    };
    let Some(table) = cdc.tables.get(&change.table) else {
        return Err(Rejection::new(
            QuarantineReason::UnmappedTable,
            format!(
                "the CDC mapping has no table {:?} (mapping.cdc.tables)",
                change.table
            ),
        ));
    };
    let (row, event_type) = match change.op {
        Op::Create | Op::Update | Op::Read => (change.after.as_ref(), &table.event_type),
        Op::Delete => match &table.on_delete {
            Some(event_type) => (change.before.as_ref(), event_type),
            None => return Ok(Translated::Skipped(Skip::DeleteIgnored)),
        },
    };
    let row = row.ok_or_else(|| invalid("the change has no row".into()))?;
    let reader = Row {
        change: &change,
        table,
        row,
    };
    Ok(Translated::Event(
        envelope(&reader, event_type).map_err(invalid)?,
    ))
}

/// One row of a change, read through the mapping.
struct Row<'a> {
    change: &'a Change,
    table: &'a TableMapping,
    row: &'a Map<String, Value>,
}

fn envelope(r: &Row<'_>, event_type: &str) -> Result<Value, String> {
    let table = &r.change.table;
    let contact_id = r.text(&r.table.contact_column)?;
    let crm_record_id = match &r.table.record_column {
        Some(column) => r.text(column)?,
        None => {
            let keys = r
                .table
                .primary_key
                .iter()
                .map(|c| r.text(c))
                .collect::<Result<Vec<_>, _>>()?;
            format!("{table}:{}@{}", keys.join(","), r.change.position)
        }
    };
    let event_timestamp = match &r.table.timestamp_column {
        Some(column) => r.timestamp(column)?,
        None => {
            let ms = r
                .change
                .source_ts_ms
                .ok_or("source.ts_ms is missing (or name a timestamp_column)")?;
            from_epoch(ms, 1_000).ok_or("source.ts_ms is out of range")?
        }
    };
    let mut attributes = Map::new();
    for column in &r.table.attributes {
        if let Some(value) = r.row.get(column) {
            attributes.insert(column.clone(), r.decoded(column, value)?);
        }
    }
    // Set last: a column of that name cannot stand in for the record id the key was built from.
    attributes.insert("crm_record_id".into(), Value::String(crm_record_id));
    Ok(json!({
        "contact_id": contact_id,
        "event_type": event_type,
        "event_timestamp": event_timestamp,
        "attributes": attributes,
    }))
}

impl Row<'_> {
    /// A column's value with Debezium's decimal encodings decoded to exact decimal text.
    fn decoded(&self, column: &str, value: &Value) -> Result<Value, String> {
        let bad = |e: decimal::DecimalError| format!("column {column}: the decimal {e}");
        let schema = self.change.columns.get(column);
        match (schema, value) {
            (_, Value::Null) => Ok(Value::Null),
            (Some(ColumnType::Decimal { scale }), Value::String(b64)) => {
                decimal::from_base64(b64, *scale)
                    .map(Value::String)
                    .map_err(bad)
            }
            (Some(ColumnType::VariableScaleDecimal), v) => decimal::from_variable_scale(v)
                .map(Value::String)
                .map_err(bad),
            (None, v) if decimal::is_variable_scale(v) => decimal::from_variable_scale(v)
                .map(Value::String)
                .map_err(bad),
            (None, Value::String(b64)) => match self.table.scales.get(column) {
                Some(scale) => decimal::from_base64(b64, *scale)
                    .map(Value::String)
                    .map_err(bad),
                None => Ok(value.clone()),
            },
            _ => Ok(value.clone()),
        }
    }

    /// A column that names something (contact, record key): text, an integer, or a decimal.
    fn text(&self, column: &str) -> Result<String, String> {
        let table = &self.change.table;
        let value = self
            .row
            .get(column)
            .ok_or_else(|| format!("column {column} is not in the row of {table}"))?;
        match self.decoded(column, value)? {
            Value::String(s) if !s.is_empty() => Ok(s),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            Value::Null => Err(format!("column {column} of {table} is null")),
            other => Err(format!(
                "column {column} of {table} is {}, not text or an integer",
                crate::normalize::envelope::json_type(&other)
            )),
        }
    }

    fn timestamp(&self, column: &str) -> Result<String, String> {
        let value = self.row.get(column).unwrap_or(&Value::Null);
        match (self.change.columns.get(column), value) {
            // ZonedTimestamp (timestamptz) is ISO 8601 text: normalization checks it like any other.
            (_, Value::String(s)) => Ok(s.clone()),
            (Some(ColumnType::EpochTimestamp { per_second }), Value::Number(n)) => n
                .as_i64()
                .and_then(|v| from_epoch(v, *per_second))
                .ok_or_else(|| format!("column {column} is out of range")),
            (_, Value::Null) => Err(format!("column {column} is null")),
            _ => Err(format!(
                "column {column} is a number without a schema saying its unit; send the schema or \
                 use a timestamptz column"
            )),
        }
    }
}

/// An epoch count in `per_second` units as RFC 3339 UTC, with the precision the unit has.
fn from_epoch(value: i64, per_second: i64) -> Option<String> {
    let secs = value.div_euclid(per_second);
    let frac = value.rem_euclid(per_second);
    let nanos = u32::try_from(frac * (1_000_000_000 / per_second)).ok()?;
    let format = match per_second {
        1_000 => SecondsFormat::Millis,
        1_000_000 => SecondsFormat::Micros,
        _ => SecondsFormat::Nanos,
    };
    Some(
        Utc.timestamp_opt(secs, nanos)
            .single()?
            .to_rfc3339_opts(format, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_values_keep_their_precision() {
        assert_eq!(
            from_epoch(1_733_479_200_123, 1_000).unwrap(),
            "2024-12-06T10:00:00.123Z"
        );
        assert_eq!(
            from_epoch(1_733_479_200_123_456, 1_000_000).unwrap(),
            "2024-12-06T10:00:00.123456Z"
        );
        assert_eq!(from_epoch(-1, 1_000).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(from_epoch(i64::MAX, 1_000), None);
    }
}
