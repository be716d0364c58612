//! `POST /api/v2/outbound/contactlists/{contactListId}/contacts`: validates the body against Genesys'
//! `WritableDialerContact` (shared/reference/genesys-outbound-contacts.json), upserts by `id` per
//! contact list, and echoes the stored `DialerContact`s as Genesys does.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::gate::{Call, admit};
use super::response::{SimResponse, require_json};
use super::state::{Endpoint, Inner, SimState};

/// At most this many contacts per request (the reference notes it as the community-reported limit).
pub const MAX_CONTACTS_PER_REQUEST: usize = 1000;

/// Writable properties of `WritableDialerContact` besides `id`, `contactListId`, `data` and
/// `callable`, which are checked one by one; these are only required to be objects.
const WRITABLE_MAPS: [&str; 3] = [
    "phoneNumberStatus",
    "contactableStatus",
    "latestWhatsAppEvaluations",
];
/// `readOnly` in the reference: a client sending them has misread the schema.
const READ_ONLY: [&str; 3] = [
    "latestSmsEvaluations",
    "latestEmailEvaluations",
    "dateCreated",
];

/// A contact as the simulated dialer holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredDialerContact {
    pub id: String,
    pub contact_list_id: String,
    pub data: BTreeMap<String, String>,
    pub callable: Option<bool>,
    /// The other writable maps (`phoneNumberStatus`, …), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    pub date_created: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many times this contact was pushed (1 = never re-pushed).
    pub times_pushed: u32,
}

impl StoredDialerContact {
    /// The `DialerContact` Genesys answers with; `callable` defaults to true as on a new contact.
    fn to_genesys(&self) -> Value {
        let mut contact = json!({
            "id": self.id,
            "contactListId": self.contact_list_id,
            "data": self.data,
            "callable": self.callable.unwrap_or(true),
            "dateCreated": self.date_created,
            "selfUri": format!("/api/v2/outbound/contactlists/{}/contacts/{}", self.contact_list_id, self.id),
        });
        if let Value::Object(fields) = &mut contact {
            fields.extend(self.extra.clone());
        }
        contact
    }
}

/// One contact list: the current contacts by id and how many contacts were received in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DialerList {
    pub upserts: u64,
    pub contacts: BTreeMap<String, StoredDialerContact>,
}

struct ValidContact {
    id: Option<String>,
    data: BTreeMap<String, String>,
    callable: Option<bool>,
    extra: Map<String, Value>,
}

/// `POST /api/v2/outbound/contactlists/{contactListId}/contacts`.
pub(crate) async fn post_contacts(
    state: web::Data<SimState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let list_id = path.into_inner();
    let mut call = Call::new(&req, Endpoint::Dialer);
    let validated = require_json(&req).and_then(|()| validate(&list_id, &body));
    // Per-contact overrides match the pesync contact id carried in `data.contact_id`.
    if let Ok(contacts) = &validated {
        let ids = contacts
            .iter()
            .filter_map(|c| c.data.get("contact_id").cloned());
        call.contacts.extend(ids);
    }
    admit(&state, call, move |inner, now| match validated {
        Ok(contacts) => upsert(inner, &list_id, contacts, now),
        Err(response) => response,
    })
    .await
}

fn validate(list_id: &str, body: &[u8]) -> Result<Vec<ValidContact>, SimResponse> {
    let items = parse_items(body)?;
    let mut problems = Vec::new();
    let mut valid = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut problem = |field: &str, text: &str| {
            problems.push((format!("[{index}].{field}"), text.to_owned()))
        };
        let Value::Object(fields) = item else {
            problem("", "must be an object");
            continue;
        };
        valid.push(check_contact(list_id, &fields, &mut problem));
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(SimResponse::invalid(&problems))
    }
}

/// The body as a list of at most [`MAX_CONTACTS_PER_REQUEST`] items; anything else is one 400.
fn parse_items(body: &[u8]) -> Result<Vec<Value>, SimResponse> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => {
            return Err(SimResponse::error(
                400,
                "The request body must be a JSON array of contacts",
            ));
        }
        Err(error) => {
            return Err(SimResponse::error(
                400,
                format!("The request body is not valid JSON: {error}"),
            ));
        }
    };
    if items.len() > MAX_CONTACTS_PER_REQUEST {
        let message = format!(
            "At most {MAX_CONTACTS_PER_REQUEST} contacts per request, got {}",
            items.len()
        );
        return Err(SimResponse::error(400, message));
    }
    Ok(items)
}

/// Checks one contact against `WritableDialerContact`, reporting each problem through `problem`
/// so the 400 lists every one of them.
fn check_contact(
    list_id: &str,
    fields: &Map<String, Value>,
    problem: &mut impl FnMut(&str, &str),
) -> ValidContact {
    match fields.get("contactListId") {
        Some(Value::String(id)) if id == list_id => {}
        Some(Value::String(_)) => problem(
            "contactListId",
            "does not match the contact list in the path",
        ),
        Some(_) => problem("contactListId", "must be a string"),
        None => problem("contactListId", "is required"),
    }
    let mut contact = ValidContact {
        id: None,
        data: check_data(fields.get("data"), problem),
        callable: None,
        extra: Map::new(),
    };
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("contactListId" | "data", _) => {}
            ("id", Value::String(id)) if !id.is_empty() => contact.id = Some(id.clone()),
            ("id", _) => problem("id", "must be a non-empty string"),
            ("callable", Value::Bool(callable)) => contact.callable = Some(*callable),
            ("callable", _) => problem("callable", "must be a boolean"),
            (key, Value::Object(_)) if WRITABLE_MAPS.contains(&key) => {
                contact.extra.insert(key.to_owned(), value.clone());
            }
            (key, _) if WRITABLE_MAPS.contains(&key) => problem(key, "must be an object"),
            (key, _) if READ_ONLY.contains(&key) => problem(key, "is read-only"),
            (key, _) => problem(key, "unknown field"),
        }
    }
    contact
}

/// `data` holds the contact list's columns, every value a string as Genesys stores them.
fn check_data(
    data: Option<&Value>,
    problem: &mut impl FnMut(&str, &str),
) -> BTreeMap<String, String> {
    let mut columns = BTreeMap::new();
    match data {
        Some(Value::Object(data)) => {
            for (column, value) in data {
                match value {
                    Value::String(text) => {
                        columns.insert(column.clone(), text.clone());
                    }
                    _ => problem(&format!("data.{column}"), "must be a string"),
                }
            }
        }
        Some(_) => problem("data", "must be an object"),
        None => problem("data", "is required"),
    }
    columns
}

/// Stores the contacts: an `id` already in the list is updated, one without `id` gets a new one
/// (so a client that omits ids creates duplicates, as with Genesys).
fn upsert(
    inner: &mut Inner,
    list_id: &str,
    contacts: Vec<ValidContact>,
    now: DateTime<Utc>,
) -> SimResponse {
    inner.stats.dialer_pushes += 1;
    inner.stats.dialer_upserts += contacts.len() as u64;
    let list = inner.dialer.entry(list_id.to_owned()).or_default();
    let mut echoed = Vec::with_capacity(contacts.len());
    for contact in contacts {
        list.upserts += 1;
        let id = contact.id.unwrap_or_else(|| Uuid::new_v4().to_string());
        let stored = list
            .contacts
            .entry(id.clone())
            .or_insert_with(|| StoredDialerContact {
                id,
                contact_list_id: list_id.to_owned(),
                data: BTreeMap::new(),
                callable: None,
                extra: Map::new(),
                date_created: now,
                updated_at: now,
                times_pushed: 0,
            });
        stored.data = contact.data;
        stored.callable = contact.callable;
        stored.extra = contact.extra;
        stored.updated_at = now;
        stored.times_pushed += 1;
        echoed.push(stored.to_genesys());
    }
    SimResponse::json(200, Value::Array(echoed))
}
