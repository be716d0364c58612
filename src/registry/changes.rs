//! The change log (issue 11 §2): every activation of a source mapping or manifest version, every
//! thresholds version and every campaign change, with who made it and when. An activated mapping
//! or manifest opens a score stability watch (`scoring::watch`) for the configured period.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::thresholds::ChangedBy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mapping,
    Manifest,
    Thresholds,
    Campaign,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapping => "mapping",
            Self::Manifest => "manifest",
            Self::Thresholds => "thresholds",
            Self::Campaign => "campaign",
        }
    }

    /// Whether a change of this kind opens a watch: a mapping or a manifest changes what PE is
    /// sent, so what it scores; thresholds and campaigns change only pesync's own decisions.
    pub fn watched(self) -> bool {
        matches!(self, Self::Mapping | Self::Manifest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Activated,
    Created,
    Updated,
    Deleted,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }
}

/// A change to record: what (`kind`, `name`, `action`, versions from → to), who and when.
pub struct NewChange<'a> {
    pub kind: Kind,
    /// The source's name, the campaign's id, `manifest` or `thresholds`.
    pub name: &'a str,
    pub action: Action,
    pub from_version: Option<i32>,
    pub to_version: Option<i32>,
    pub who: ChangedBy<'a>,
    pub at: DateTime<Utc>,
}

/// Records `c` in the caller's transaction (so a change and its record stand or fall together);
/// a watched kind opens a watch of `watch`. Returns the change's id.
pub async fn record(
    tx: &mut PgConnection,
    c: NewChange<'_>,
    watch: TimeDelta,
) -> sqlx::Result<i64> {
    let until = c
        .kind
        .watched()
        .then(|| c.at.checked_add_signed(watch))
        .flatten();
    sqlx::query_scalar!(
        r#"INSERT INTO changes (kind, name, action, from_version, to_version, changed_by,
               changed_by_token, changed_at, watch_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"#,
        c.kind.as_str(),
        c.name,
        c.action.as_str(),
        c.from_version,
        c.to_version,
        c.who.role,
        c.who.token,
        c.at,
        until
    )
    .fetch_one(&mut *tx)
    .await
}

pub struct StoredChange {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub action: String,
    pub from_version: Option<i32>,
    pub to_version: Option<i32>,
    pub changed_by: String,
    pub changed_by_token: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub watch_until: Option<DateTime<Utc>>,
    /// The watch's figures as the watch job last computed them (`scoring::watch::WatchFigures`).
    pub figures: Option<serde_json::Value>,
    pub figures_at: Option<DateTime<Utc>>,
}

/// Changes after id `after`, oldest first.
pub async fn list(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<StoredChange>> {
    sqlx::query_as!(
        StoredChange,
        r#"SELECT id, kind, name, action, from_version, to_version, changed_by, changed_by_token,
                  changed_at, watch_until, figures, figures_at
           FROM changes WHERE id > $1 ORDER BY id LIMIT $2"#,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// The changes whose watch is open at `now`, oldest first.
pub async fn open_watches(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<StoredChange>> {
    sqlx::query_as!(
        StoredChange,
        r#"SELECT id, kind, name, action, from_version, to_version, changed_by, changed_by_token,
                  changed_at, watch_until, figures, figures_at
           FROM changes WHERE watch_until > $1 AND changed_at <= $1 ORDER BY id"#,
        now
    )
    .fetch_all(db)
    .await
}

/// A watch whose figures are not final: `(id, changed_at, watch_until)`.
pub struct Unsettled {
    pub id: i64,
    pub changed_at: DateTime<Utc>,
    pub watch_until: DateTime<Utc>,
}

/// The watches begun by `now` whose figures are missing or were computed before their end, oldest
/// first.
pub async fn unsettled_watches(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Unsettled>> {
    sqlx::query_as!(
        Unsettled,
        r#"SELECT id, changed_at, watch_until AS "watch_until!" FROM changes
           WHERE watch_until IS NOT NULL AND (figures_at IS NULL OR figures_at < watch_until)
             AND changed_at <= $1
           ORDER BY id"#,
        now
    )
    .fetch_all(db)
    .await
}

/// Keeps a watch's figures as of `at`.
pub async fn save_figures(
    db: impl PgExecutor<'_>,
    id: i64,
    figures: &serde_json::Value,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE changes SET figures = $2, figures_at = $3 WHERE id = $1",
        id,
        figures,
        at
    )
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_and_manifests_are_watched_thresholds_and_campaigns_are_not() {
        assert!(Kind::Mapping.watched());
        assert!(Kind::Manifest.watched());
        assert!(!Kind::Thresholds.watched());
        assert!(!Kind::Campaign.watched());
    }
}
