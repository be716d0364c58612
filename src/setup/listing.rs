//! What setup reads of the org: the listings of External Sources, external-event schemas and
//! events configurations (reference §6, each `{"entities": [...]}`), read into plain records, and
//! where the next page of a listing is. Pure: `run` does the requests.

use serde::Deserialize;
use serde_json::Value;

/// An External Source (`ExternalSource`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Source {
    pub id: String,
    pub name: String,
}

/// A `JourneyExternalEventsSchema`: its current version and JSON schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub id: String,
    pub version: i32,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// `null` when a listing leaves it out: `run` then reads the schema by id.
    #[serde(default)]
    pub json_schema: Value,
}

fn enabled_by_default() -> bool {
    true
}

impl Schema {
    /// The schema's title: the event type it is for, when pesync made it.
    pub fn title(&self) -> Option<&str> {
        self.json_schema.get("title").and_then(Value::as_str)
    }
}

/// An `ExternalEventsConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    pub id: String,
    pub name: String,
    pub schema_id: String,
    #[serde(default)]
    pub division_id: String,
}

/// Everything setup found in the org.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listings {
    pub sources: Vec<Source>,
    pub schemas: Vec<Schema>,
    pub configurations: Vec<Configuration>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub entities: Vec<T>,
    /// The query of the next page (for the same path), `None` on the last one.
    pub next: Option<Vec<(String, String)>>,
}

/// Reads one page of the listing at `path` from the answer's body. The platform's listings
/// page with `pageNumber`/`pageSize` and say `nextUri` (or `pageCount`) when there is more; an
/// answer without them is the whole collection.
pub fn page<T: serde::de::DeserializeOwned>(body: &str, path: &str) -> Result<Page<T>, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let entities = value
        .get("entities")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    let entities: Vec<T> =
        serde_json::from_value(entities).map_err(|e| format!("unexpected entities: {e}"))?;
    Ok(Page {
        entities,
        next: next_page(&value, path)?,
    })
}

/// The query of the page after this one: `nextUri`'s when given (it must name the same
/// collection), else page `pageNumber + 1` while `pageNumber < pageCount`.
fn next_page(listing: &Value, path: &str) -> Result<Option<Vec<(String, String)>>, String> {
    if let Some(next) = listing
        .get("nextUri")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    {
        let base = reqwest::Url::parse("https://genesys.invalid/").expect("a valid base");
        let url = base
            .join(next)
            .map_err(|e| format!("nextUri {next:?}: {e}"))?;
        if url.path().trim_end_matches('/') != path {
            return Err(format!("nextUri {next:?} leaves {path}"));
        }
        return Ok(Some(url.query_pairs().into_owned().collect()));
    }
    let number = |key: &str| listing.get(key).and_then(Value::as_u64);
    match (number("pageNumber"), number("pageCount")) {
        (Some(page), Some(count)) if page < count => {
            let mut query = vec![("pageNumber".to_owned(), (page + 1).to_string())];
            if let Some(size) = number("pageSize") {
                query.push(("pageSize".to_owned(), size.to_string()));
            }
            Ok(Some(query))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SCHEMAS: &str = "/api/v2/journey/externalevents/schemas";

    #[test]
    fn a_listing_without_paging_is_the_whole_collection() {
        let body = json!({"entities": [{"id": "s1", "version": 3, "enabled": true,
            "jsonSchema": {"title": "crm.behavior"}, "dateCreated": "2026-12-01T00:00:00Z",
            "selfUri": "/x"}], "selfUri": SCHEMAS});
        let first: Page<Schema> = page(&body.to_string(), SCHEMAS).unwrap();
        assert_eq!(first.next, None);
        assert_eq!(first.entities.len(), 1);
        assert_eq!(first.entities[0].version, 3);
        assert_eq!(first.entities[0].title(), Some("crm.behavior"));
        let empty: Page<Source> = page(r#"{"selfUri": "/y"}"#, "/y").unwrap();
        assert!(empty.entities.is_empty());
    }

    #[test]
    fn next_uri_gives_the_next_query() {
        let body = json!({"entities": [], "pageNumber": 1, "pageCount": 3,
            "nextUri": format!("{SCHEMAS}?pageSize=25&pageNumber=2")});
        let first: Page<Schema> = page(&body.to_string(), SCHEMAS).unwrap();
        assert_eq!(
            first.next,
            Some(vec![
                ("pageSize".to_owned(), "25".to_owned()),
                ("pageNumber".to_owned(), "2".to_owned())
            ])
        );
    }

    #[test]
    fn page_count_gives_the_next_page_when_there_is_no_next_uri() {
        let body = json!({"entities": [], "pageNumber": 2, "pageCount": 3, "pageSize": 25});
        let next = page::<Schema>(&body.to_string(), SCHEMAS).unwrap().next;
        assert_eq!(
            next,
            Some(vec![
                ("pageNumber".to_owned(), "3".to_owned()),
                ("pageSize".to_owned(), "25".to_owned())
            ])
        );
        let last = json!({"entities": [], "pageNumber": 3, "pageCount": 3, "nextUri": null});
        assert_eq!(
            page::<Schema>(&last.to_string(), SCHEMAS).unwrap().next,
            None
        );
    }

    #[test]
    fn a_next_uri_elsewhere_or_a_bad_body_is_an_error() {
        let away = json!({"entities": [], "nextUri": "/api/v2/users?pageNumber=2"});
        assert!(page::<Schema>(&away.to_string(), SCHEMAS).is_err());
        assert!(page::<Schema>("<html>", SCHEMAS).is_err());
        let no_id = json!({"entities": [{"name": "pesync"}]});
        assert!(page::<Source>(&no_id.to_string(), "/s").is_err());
    }

    #[test]
    fn configurations_read_their_schema_and_division() {
        let body = json!({"entities": [{"id": "c1", "name": "crm.transaction",
            "description": "d", "divisionId": "home", "schemaId": "s1", "source": "pesync",
            "dateLastModified": "2026-12-01T00:00:00Z"}]});
        let read: Page<Configuration> = page(&body.to_string(), "/c").unwrap();
        assert_eq!(
            read.entities,
            [Configuration {
                id: "c1".into(),
                name: "crm.transaction".into(),
                schema_id: "s1".into(),
                division_id: "home".into()
            }]
        );
    }
}
