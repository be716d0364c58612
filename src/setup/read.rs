//! Reading the org before a plan: the External Sources, schemas and configurations (a page at a
//! time), and the home division new configurations go to.

use reqwest::Method;

use super::answer::field;
use super::listing::{self, Listings, Page};
use super::run::{Api, SyncError};
use crate::genesys::{
    CONFIGURATIONS_PATH, EXTERNAL_SOURCES_PATH, HOME_DIVISION_PATH, SCHEMAS_PATH,
};

/// Listings are read a page at a time; this many pages is more than any org has (20 schemas).
const MAX_PAGES: usize = 100;

impl Api<'_> {
    pub(super) async fn listings(&self) -> Result<Listings, SyncError> {
        Ok(Listings {
            sources: self.list(EXTERNAL_SOURCES_PATH, "External Sources").await?,
            schemas: self.schemas().await?,
            configurations: self
                .list(CONFIGURATIONS_PATH, "external events configurations")
                .await?,
        })
    }

    /// The schemas with their JSON schema: a listing that leaves it out is completed by reading
    /// each schema (`GET …/schemas/{id}`), since the title is what finds an event type's schema.
    pub(super) async fn schemas(&self) -> Result<Vec<listing::Schema>, SyncError> {
        let mut schemas: Vec<listing::Schema> =
            self.list(SCHEMAS_PATH, "external event schemas").await?;
        for schema in schemas.iter_mut().filter(|s| s.json_schema.is_null()) {
            let what = format!("reading the external event schema {}", schema.id);
            let ids = [schema.id.as_str()];
            let body = self
                .request(Method::GET, SCHEMAS_PATH, &ids, &[], None, &what)
                .await?;
            *schema = serde_json::from_str(&body).map_err(|e| SyncError::Failed {
                what,
                cause: format!("unexpected answer: {e}"),
            })?;
        }
        Ok(schemas)
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<Vec<T>, SyncError> {
        let what = format!("listing {what} ({path})");
        let mut all = Vec::new();
        let mut query: Vec<(String, String)> = Vec::new();
        for _ in 0..MAX_PAGES {
            let pairs: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = self
                .request(Method::GET, path, &[], &pairs, None, &what)
                .await?;
            let page: Page<T> = listing::page(&body, path).map_err(|cause| SyncError::Failed {
                what: what.clone(),
                cause: format!("unexpected answer: {cause}"),
            })?;
            all.extend(page.entities);
            match page.next {
                Some(next) => query = next,
                None => return Ok(all),
            }
        }
        Err(SyncError::Failed {
            what,
            cause: format!("more than {MAX_PAGES} pages"),
        })
    }

    pub(super) async fn home_division(&self) -> Result<String, SyncError> {
        let what = format!("reading the org's home division ({HOME_DIVISION_PATH})");
        let body = self
            .request(Method::GET, HOME_DIVISION_PATH, &[], &[], None, &what)
            .await?;
        field(&body, "id").ok_or_else(|| SyncError::Failed {
            what,
            cause: "the answer has no id".into(),
        })
    }
}
