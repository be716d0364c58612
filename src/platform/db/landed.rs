//! Migrations are added, never edited once they landed: sqlx keeps each applied migration's
//! checksum (SHA-384 of the file) and refuses to start on a database whose recorded checksum
//! differs from the file's, so an edit breaks every database migrated before it. This guard keeps
//! the checksum of every landed migration in `migrations.lock`; a test fails when one changes.
//!
//! A new migration is added to the lock with `UPDATE_MIGRATIONS_LOCK=1 cargo test --lib landed`,
//! which only appends: an entry already in the lock is never rewritten.

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    const LOCK: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/platform/db/migrations.lock"
    );

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// version → (file description, checksum) of the migrations compiled into the binary.
    fn compiled() -> BTreeMap<i64, (String, String)> {
        super::super::MIGRATOR
            .iter()
            .map(|m| (m.version, (m.description.to_string(), hex(&m.checksum))))
            .collect()
    }

    fn locked(text: &str) -> BTreeMap<i64, (String, String)> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut parts = l.split_whitespace();
                let version = parts.next().unwrap().parse().unwrap();
                let checksum = parts.next().unwrap().to_owned();
                let description = parts.collect::<Vec<_>>().join(" ");
                (version, (description, checksum))
            })
            .collect()
    }

    #[test]
    fn landed_migrations_never_change() {
        let text = std::fs::read_to_string(LOCK).unwrap_or_default();
        let lock = locked(&text);
        let compiled = compiled();
        for (version, (description, checksum)) in &lock {
            let Some((_, now)) = compiled.get(version) else {
                panic!(
                    "migration {version} ({description}) landed and was removed; add a new one instead"
                );
            };
            assert_eq!(
                now, checksum,
                "migration {version} ({description}) changed after it landed: a database migrated \
                 before would refuse to start. Undo the edit and add a new migration instead."
            );
        }
        let new: Vec<_> = compiled
            .iter()
            .filter(|(v, _)| !lock.contains_key(v))
            .collect();
        if new.is_empty() {
            return;
        }
        if std::env::var("UPDATE_MIGRATIONS_LOCK").is_ok() {
            let mut text = text;
            for (version, (description, checksum)) in new {
                text.push_str(&format!("{version} {checksum} {description}\n"));
            }
            std::fs::write(LOCK, text).unwrap();
            return;
        }
        let names: Vec<String> = new.iter().map(|(v, (d, _))| format!("{v} {d}")).collect();
        panic!(
            "migrations not in src/platform/db/migrations.lock: {}. Run `UPDATE_MIGRATIONS_LOCK=1 cargo test \
             --lib landed` and commit the lock (it only appends)",
            names.join(", ")
        );
    }

    #[test]
    fn the_lock_reads_back_what_it_holds() {
        let lock = locked("# comment\n1 ab first one\n\n2 cd second\n");
        assert_eq!(lock[&1], ("first one".to_owned(), "ab".to_owned()));
        assert_eq!(lock.len(), 2);
    }
}
