-- Source signing secrets are sealed at rest (AES-256-GCM under PESYNC_SECRET_KEY, see src/secrets.rs).
-- The key never reaches the database, so this migration cannot seal the existing rows: the service
-- does at its first start with a key, in one transaction, and clears the plain text
-- (registry::sources::seal_plain_text). Until then a row holds one form or the other.
ALTER TABLE sources ADD COLUMN signing_secret_sealed bytea;
ALTER TABLE sources ALTER COLUMN signing_secret DROP NOT NULL;
ALTER TABLE sources ADD CONSTRAINT sources_signing_secret_present
    CHECK (signing_secret IS NOT NULL OR signing_secret_sealed IS NOT NULL);

-- The audit log names which token made a change: `changed_by` keeps the role, this the token's
-- fingerprint (first 8 hex digits of its SHA-256; null for changes made before it was recorded).
ALTER TABLE thresholds ADD COLUMN changed_by_token text;
