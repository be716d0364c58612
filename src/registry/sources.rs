//! Sources (SPEC §6): a name, a signing secret and a versioned mapping.
//!
//! The signing secret is stored sealed (see [`crate::platform::secrets`]), bound to the source's name.

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::normalize::mapping::Mapping;
use crate::platform::secrets::{OpenError, SecretKey};

pub struct Source {
    pub name: String,
    /// The signing secret as stored; [`Source::signing_secret`] opens it.
    sealed_secret: Option<Vec<u8>>,
    pub mapping: Mapping,
    pub mapping_version: i32,
    /// Whether the source also takes a bearer token (issue 13); the token itself is never read here.
    pub has_bearer_token: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn find(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<Source>> {
    let row = sqlx::query!(
        r#"SELECT s.name, s.signing_secret_sealed, s.mapping_version, s.created_at, s.updated_at, m.mapping,
                  s.bearer_token_sealed IS NOT NULL AS "has_bearer_token!"
           FROM sources s JOIN source_mappings m ON m.source = s.name AND m.version = s.mapping_version
           WHERE s.name = $1"#,
        name
    )
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Source {
            mapping: serde_json::from_value(r.mapping)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            name: r.name,
            sealed_secret: r.signing_secret_sealed,
            mapping_version: r.mapping_version,
            has_bearer_token: r.has_bearer_token,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    })
    .transpose()
}

pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Source>> {
    let rows = sqlx::query!(
        r#"SELECT s.name, s.signing_secret_sealed, s.mapping_version, s.created_at, s.updated_at, m.mapping,
                  s.bearer_token_sealed IS NOT NULL AS "has_bearer_token!"
           FROM sources s JOIN source_mappings m ON m.source = s.name AND m.version = s.mapping_version
           ORDER BY s.name"#
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Source {
                mapping: serde_json::from_value(r.mapping)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                name: r.name,
                sealed_secret: r.signing_secret_sealed,
                mapping_version: r.mapping_version,
                has_bearer_token: r.has_bearer_token,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

impl Source {
    /// Opens the signing secret. Fails only if the row was written with another key, altered, or
    /// not yet sealed; start-up checks every row, so a request never meets a wrong key.
    pub fn signing_secret(&self, key: &SecretKey) -> Result<SecretString, OpenError> {
        let sealed = self.sealed_secret.as_deref().ok_or(OpenError::Format)?;
        key.open(sealed, self.name.as_bytes())
    }
}

/// Secrets being written: the plain text and the key that seals it.
pub struct NewSecret<'a> {
    pub plain: &'a SecretString,
    pub key: &'a SecretKey,
}

/// The mapping versions of an upsert: the one in force before (`None` for a new source) and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingChange {
    pub before: Option<i32>,
    pub after: i32,
}

/// Creates or updates a source. A changed mapping becomes a new version; an unchanged one keeps its
/// version, so re-applying the same document is idempotent. Returns the versions before and after.
pub async fn upsert(
    tx: &mut PgConnection,
    name: &str,
    secret: NewSecret<'_>,
    mapping: &Mapping,
    now: DateTime<Utc>,
) -> sqlx::Result<MappingChange> {
    use secrecy::ExposeSecret;
    let sealed = secret
        .key
        .seal(secret.plain.expose_secret().as_bytes(), name.as_bytes());
    let mapping_json = serde_json::to_value(mapping).expect("mapping serializes");
    let current = sqlx::query!(
        r#"SELECT s.mapping_version, m.mapping FROM sources s
           JOIN source_mappings m ON m.source = s.name AND m.version = s.mapping_version
           WHERE s.name = $1 FOR UPDATE OF s"#,
        name
    )
    .fetch_optional(&mut *tx)
    .await?;
    let before = current.as_ref().map(|c| c.mapping_version);
    let version = match current {
        Some(c) if c.mapping == mapping_json => c.mapping_version,
        Some(c) => c.mapping_version + 1,
        None => 1,
    };
    sqlx::query!(
        r#"INSERT INTO sources (name, signing_secret_sealed, mapping_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $4)
           ON CONFLICT (name) DO UPDATE
           SET signing_secret = NULL, signing_secret_sealed = EXCLUDED.signing_secret_sealed,
               mapping_version = EXCLUDED.mapping_version, updated_at = EXCLUDED.updated_at"#,
        name,
        sealed,
        version,
        now
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO source_mappings (source, version, mapping, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (source, version) DO NOTHING"#,
        name,
        version,
        mapping_json,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(MappingChange {
        before,
        after: version,
    })
}

pub struct MappingVersion {
    pub version: i32,
    pub mapping: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn mapping_versions(
    db: impl PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Vec<MappingVersion>> {
    sqlx::query_as!(
        MappingVersion,
        "SELECT version, mapping, created_at FROM source_mappings WHERE source = $1 ORDER BY version",
        name
    )
    .fetch_all(db)
    .await
}

/// At start-up: seals every signing secret still stored in plain text (rows from before encryption),
/// in one transaction, then checks that `key` opens every sealed one. Idempotent: a second start
/// finds nothing to seal. A wrong key is a start-up error here rather than a 401 on every request.
pub async fn seal_and_check(pool: &PgPool, key: &SecretKey) -> anyhow::Result<()> {
    let sealed = match seal_plain_text(pool, key).await {
        Ok(n) => n,
        // `serve` migrated a moment ago, so the database was there; if it is gone now the service
        // still starts and answers 503 until it is back (SPEC §2), as it would a minute later.
        Err(e @ (sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))) => {
            tracing::warn!(error = %e, "database unreachable: source signing secrets not checked at start");
            return Ok(());
        }
        Err(e) => return Err(e).context("sealing source signing secrets"),
    };
    if sealed > 0 {
        tracing::info!(sources = sealed, "sealed plain-text source signing secrets");
    }
    let rows = sqlx::query!(
        r#"SELECT name, signing_secret_sealed, bearer_token_sealed FROM sources
           WHERE signing_secret_sealed IS NOT NULL OR bearer_token_sealed IS NOT NULL ORDER BY name"#
    )
    .fetch_all(pool)
    .await
    .context("reading source secrets")?;
    for r in rows {
        let sealed = [
            (
                "signing secret",
                r.signing_secret_sealed,
                r.name.clone().into_bytes(),
            ),
            (
                "bearer token",
                r.bearer_token_sealed,
                bearer_token_context(&r.name),
            ),
        ];
        for (what, sealed, context) in sealed {
            if let Some(Err(e)) = sealed.map(|s| key.open(&s, &context)) {
                anyhow::bail!(
                    "PESYNC_SECRET_KEY does not open the {what} of source {:?} ({e}): start with \
                     the key the secrets were sealed with",
                    r.name
                );
            }
        }
    }
    Ok(())
}

/// Seals the plain-text rows under a row lock, so two instances starting together seal each row once.
async fn seal_plain_text(pool: &PgPool, key: &SecretKey) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query!(
        r#"SELECT name, signing_secret AS "plain!" FROM sources
           WHERE signing_secret IS NOT NULL ORDER BY name FOR UPDATE"#
    )
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let sealed = key.seal(r.plain.as_bytes(), r.name.as_bytes());
        sqlx::query!(
            "UPDATE sources SET signing_secret = NULL, signing_secret_sealed = $2 WHERE name = $1",
            r.name,
            sealed
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// What a source's bearer token is sealed with besides the key: its name and the word
/// `bearer_token`, so neither a token copied to another source nor the signing secret opens as it.
pub fn bearer_token_context(name: &str) -> Vec<u8> {
    format!("{name}\0bearer_token").into_bytes()
}

/// The source's sealed bearer token (issue 13), `None` when it takes signatures only. Read only when
/// a request presents a token, so signed requests cost no extra query.
pub async fn bearer_token_sealed(
    db: impl PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Option<Vec<u8>>> {
    let row = sqlx::query_scalar!(
        "SELECT bearer_token_sealed FROM sources WHERE name = $1",
        name
    )
    .fetch_optional(db)
    .await?;
    Ok(row.flatten())
}

/// Sets (or, with `None`, removes) the source's bearer token, sealed.
pub async fn set_bearer_token(
    tx: &mut PgConnection,
    name: &str,
    token: Option<&SecretString>,
    key: &SecretKey,
) -> sqlx::Result<()> {
    use secrecy::ExposeSecret;
    let sealed = token.map(|t| key.seal(t.expose_secret().as_bytes(), &bearer_token_context(name)));
    sqlx::query!(
        "UPDATE sources SET bearer_token_sealed = $2 WHERE name = $1",
        name,
        sealed
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
