//! One Debezium change event, read in every form Debezium Server's HTTP sink posts it: the bare
//! payload (`debezium.format.value.schemas.enable=false`), the `{schema, payload}` wrapper (the JSON
//! converter's default), and CloudEvents structured mode (`debezium.format.value=cloudevents`: the
//! source fields become `iodebezium*` attributes, the rows are in `data`, itself wrapped or not).
//! A tombstone (a null value) is no change at all.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// What happened to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    /// A snapshot read: the row as it was when the connector started, an event like an insert.
    Read,
    Delete,
}

impl Op {
    fn parse(code: &str) -> Option<Self> {
        match code {
            "c" => Some(Self::Create),
            "u" => Some(Self::Update),
            "r" => Some(Self::Read),
            "d" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// Where in the database's log the change is: it tells two changes of one row apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// PostgreSQL: `source.lsn`.
    Lsn(u64),
    /// MySQL: `source.file` and `source.pos` in the binlog.
    Binlog { file: String, pos: u64 },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lsn(lsn) => write!(f, "{lsn}"),
            Self::Binlog { file, pos } => write!(f, "{file}:{pos}"),
        }
    }
}

/// How a column is encoded, as the `schema` wrapper says (nothing for plain JSON types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `org.apache.kafka.connect.data.Decimal`: base64 unscaled bytes at this scale.
    Decimal { scale: i32 },
    /// `io.debezium.data.VariableScaleDecimal`: `{scale, value}`.
    VariableScaleDecimal,
    /// `io.debezium.time.Timestamp` / `MicroTimestamp` / `NanoTimestamp`: an integer since the epoch
    /// in this many units per second.
    EpochTimestamp { per_second: i64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub op: Op,
    pub before: Option<Map<String, Value>>,
    pub after: Option<Map<String, Value>>,
    pub connector: String,
    /// `schema.table` (PostgreSQL) or `db.table` (MySQL): how the CDC mapping names the table.
    pub table: String,
    /// `source.ts_ms`: when the change happened in the database.
    pub source_ts_ms: Option<i64>,
    pub position: Position,
    /// Column encodings from the schema wrapper; empty without it.
    pub columns: BTreeMap<String, ColumnType>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A null value: Debezium's tombstone after a delete, for log compaction. Nothing to ingest.
    Tombstone,
    Change(Box<Change>),
}

/// Parses one change event; the error says what is missing or wrong, naming the field.
pub fn parse(value: &Value) -> Result<Parsed, String> {
    let obj = match value {
        Value::Null => return Ok(Parsed::Tombstone),
        Value::Object(obj) => obj,
        _ => return Err("a change event must be a JSON object (or null for a tombstone)".into()),
    };
    if obj.contains_key("specversion") {
        return cloud_event(obj);
    }
    let (payload, schema) = unwrap(value);
    let payload = match payload {
        Value::Null => return Ok(Parsed::Tombstone),
        Value::Object(p) => p,
        _ => return Err("payload must be an object".into()),
    };
    let op = string(payload.get("op")).ok_or("op is missing")?;
    let source = payload
        .get("source")
        .and_then(Value::as_object)
        .ok_or("source is missing")?;
    let fields = SourceFields {
        connector: string(source.get("connector")),
        db: string(source.get("db")),
        schema: string(source.get("schema")),
        table: string(source.get("table")),
        ts_ms: integer(source.get("ts_ms")),
        lsn: integer(source.get("lsn")),
        file: string(source.get("file")),
        pos: integer(source.get("pos")),
    };
    build(&op, payload, schema, fields, "source.")
}

/// `{schema, payload}` → (payload, Some(schema)); anything else is the payload itself.
fn unwrap(value: &Value) -> (&Value, Option<&Value>) {
    match (value.get("schema"), value.get("payload")) {
        (Some(schema), Some(payload)) if value.as_object().is_some_and(|o| o.len() == 2) => {
            (payload, Some(schema))
        }
        _ => (value, None),
    }
}

struct SourceFields {
    connector: Option<String>,
    db: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    ts_ms: Option<i64>,
    lsn: Option<i64>,
    file: Option<String>,
    pos: Option<i64>,
}

fn build(
    op: &str,
    rows: &Map<String, Value>,
    schema: Option<&Value>,
    f: SourceFields,
    prefix: &str,
) -> Result<Parsed, String> {
    let op =
        Op::parse(op).ok_or_else(|| format!("op {op:?} is not a row change (c, u, r or d)"))?;
    let connector = f
        .connector
        .ok_or_else(|| format!("{prefix}connector is missing"))?;
    let table = f.table.ok_or_else(|| format!("{prefix}table is missing"))?;
    // MySQL has no schemas: its tables are `db.table`; PostgreSQL's are `schema.table`.
    let namespace = match connector.as_str() {
        "mysql" | "mariadb" => f.db.clone(),
        _ => f.schema.clone().or(f.db.clone()),
    }
    .ok_or_else(|| format!("{prefix}schema (or {prefix}db) is missing"))?;
    let position = match (f.lsn, f.file, f.pos) {
        (Some(lsn), _, _) => {
            Position::Lsn(u64::try_from(lsn).map_err(|_| format!("{prefix}lsn is negative"))?)
        }
        (None, Some(file), Some(pos)) => Position::Binlog {
            file,
            pos: u64::try_from(pos).map_err(|_| format!("{prefix}pos is negative"))?,
        },
        _ => {
            return Err(format!(
                "the change has no log position: {prefix}lsn (PostgreSQL) or {prefix}file and {prefix}pos (MySQL)"
            ));
        }
    };
    let row = |name: &str| match rows.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(r)) => Ok(Some(r.clone())),
        Some(_) => Err(format!("{name} must be an object or null")),
    };
    let (before, after) = (row("before")?, row("after")?);
    match op {
        Op::Delete if before.is_none() => return Err("a delete (op d) without before".into()),
        Op::Create | Op::Update | Op::Read if after.is_none() => {
            return Err("a row change without after".into());
        }
        _ => {}
    }
    Ok(Parsed::Change(Box::new(Change {
        op,
        before,
        after,
        connector,
        table: format!("{namespace}.{table}"),
        source_ts_ms: f.ts_ms,
        position,
        columns: schema.map(columns).unwrap_or_default(),
    })))
}

/// CloudEvents structured mode: the source fields are `iodebezium*` attributes (strings), the rows
/// are in `data` (wrapped in `{schema, payload}` when the data format has schemas).
fn cloud_event(ce: &Map<String, Value>) -> Result<Parsed, String> {
    let attr = |name: &str| {
        // Attribute names are lower case in CloudEvents; some Debezium versions also wrote `txId`.
        ce.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&format!("iodebezium{name}")))
            .and_then(|(_, v)| string(Some(v)))
    };
    let op = attr("op").ok_or("iodebeziumop is missing")?;
    let data = match ce.get("data") {
        None | Some(Value::Null) => return Ok(Parsed::Tombstone),
        Some(Value::Object(d)) => d,
        Some(_) => return Err("data must be an object".into()),
    };
    let (rows, schema) = match (data.get("schema"), data.get("payload")) {
        (Some(schema), Some(Value::Object(p))) if data.len() == 2 => (p, Some(schema)),
        _ => (data, None),
    };
    let number = |name: &str| attr(name).and_then(|s| s.parse::<i64>().ok());
    let fields = SourceFields {
        connector: attr("connector"),
        db: attr("db"),
        schema: attr("schema"),
        table: attr("table"),
        ts_ms: number("tsms"),
        lsn: number("lsn"),
        file: attr("file"),
        pos: number("pos"),
    };
    build(&op, rows, schema, fields, "iodebezium")
}

/// A string field; numbers are read as their text (CloudEvents attributes are strings anyway).
fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Column encodings from the Kafka Connect schema of the envelope: the fields of its `after` (or
/// `before`) struct that carry a logical type we decode.
fn columns(schema: &Value) -> BTreeMap<String, ColumnType> {
    let row_struct = schema
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| {
            matches!(
                f.get("field").and_then(Value::as_str),
                Some("after" | "before")
            )
        })
        .find_map(|f| f.get("fields").and_then(Value::as_array));
    let mut out = BTreeMap::new();
    for field in row_struct.into_iter().flatten() {
        let (Some(name), Some(logical)) = (
            field.get("field").and_then(Value::as_str),
            field.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let kind = match logical {
            "org.apache.kafka.connect.data.Decimal" => {
                // Kafka Connect writes the scale as a string parameter ("2").
                let scale = field
                    .pointer("/parameters/scale")
                    .and_then(|s| integer(Some(s)))
                    .and_then(|s| i32::try_from(s).ok());
                match scale {
                    Some(scale) => ColumnType::Decimal { scale },
                    None => continue,
                }
            }
            "io.debezium.data.VariableScaleDecimal" => ColumnType::VariableScaleDecimal,
            "io.debezium.time.Timestamp" => ColumnType::EpochTimestamp { per_second: 1_000 },
            "io.debezium.time.MicroTimestamp" => ColumnType::EpochTimestamp {
                per_second: 1_000_000,
            },
            "io.debezium.time.NanoTimestamp" => ColumnType::EpochTimestamp {
                per_second: 1_000_000_000,
            },
            _ => continue,
        };
        out.insert(name.to_owned(), kind);
    }
    out
}
