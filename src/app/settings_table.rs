//! Every setting, said once: its variable, and how a value is read into [`Settings`]. The
//! environment and the `--config` TOML file go through the same table (a file key is the variable
//! in lower case without `PESYNC_`), so a new setting is one field of `Settings`, its default, and
//! one line here.

use std::str::FromStr;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

use super::config::Settings;
use crate::genesys::region::Region;
use crate::genesys::target::EventsTarget;
use crate::platform::secrets::SecretKey;

pub struct Setting {
    /// The environment variable.
    pub env: &'static str,
    apply: fn(&mut Settings, String) -> anyhow::Result<()>,
}

impl Setting {
    /// The key in the TOML file: `PESYNC_POLL_CRON` → `poll_cron`, `DATABASE_URL` → `database_url`.
    pub fn file_key(&self) -> String {
        self.env
            .strip_prefix("PESYNC_")
            .unwrap_or(self.env)
            .to_ascii_lowercase()
    }
}

macro_rules! setting {
    ($env:literal, |$s:ident, $v:ident| $body:expr) => {
        Setting {
            env: $env,
            apply: |$s: &mut Settings, $v: String| {
                $body;
                Ok(())
            },
        }
    };
}

pub const SETTINGS: &[Setting] = &[
    setting!("DATABASE_URL", |s, v| s.database_url =
        SecretString::from(v)),
    setting!("PESYNC_LISTEN", |s, v| s.listen =
        parse("PESYNC_LISTEN", &v, "host:port")?),
    setting!("PESYNC_ADMIN_TOKEN", |s, v| s.admin_token = Some(token(v))),
    setting!("PESYNC_VIEWER_TOKEN", |s, v| s.viewer_token =
        Some(token(v))),
    setting!("PESYNC_SCORER_TOKEN", |s, v| s.scorer_token =
        Some(token(v))),
    setting!("PESYNC_SECRET_KEY", |s, v| s.secret_key =
        Some(secret_key(v)?)),
    setting!("PESYNC_GENESYS_REGION", |s, v| s.genesys_region =
        Some(Region::parse(&v)?)),
    setting!("PESYNC_GENESYS_EVENTS", |s, v| s.genesys_events =
        EventsTarget::parse(&v)?),
    setting!("PESYNC_GENESYS_EVENTS_BATCH", |s, v| {
        s.genesys_events_batch = parse("PESYNC_GENESYS_EVENTS_BATCH", &v, "a whole number")?
    }),
    setting!("PESYNC_GENESYS_DIVISION_ID", |s, v| {
        s.genesys_division_id = Some(v.trim().to_owned())
    }),
    setting!("PESYNC_PE_BASE_URL", |s, v| s.pe_base_url = Some(v)),
    setting!("PESYNC_PE_TOKEN_URL", |s, v| s.pe_token_url = Some(v)),
    setting!("PESYNC_PE_CLIENT_ID", |s, v| s.pe_client_id = Some(v)),
    setting!("PESYNC_PE_CLIENT_SECRET", |s, v| {
        s.pe_client_secret = Some(SecretString::from(v))
    }),
    setting!("PESYNC_PE_RATE_LIMIT", |s, v| {
        s.pe_rate_limit = parse("PESYNC_PE_RATE_LIMIT", &v, "a number")?
    }),
    setting!("PESYNC_DIALER_BASE_URL", |s, v| s.dialer_base_url = Some(v)),
    setting!("PESYNC_POLL_CRON", |s, v| s.poll_cron = v),
    setting!("PESYNC_EVALUATE_CRON", |s, v| s.evaluate_cron = v),
    setting!("PESYNC_PRUNE_CRON", |s, v| s.prune_cron = v),
    setting!("PESYNC_DELIVERY_LEASE_SECONDS", |s, v| {
        s.delivery_lease_seconds = parse("PESYNC_DELIVERY_LEASE_SECONDS", &v, "whole seconds")?
    }),
    setting!("PESYNC_FEED_LEASE_SECONDS", |s, v| {
        s.feed_lease_seconds = parse("PESYNC_FEED_LEASE_SECONDS", &v, "a whole number of seconds")?
    }),
    setting!("PESYNC_RETENTION_EVENTS_DAYS", |s, v| {
        s.retention.events_days = days("PESYNC_RETENTION_EVENTS_DAYS", &v)?
    }),
    setting!("PESYNC_RETENTION_SCORING_DAYS", |s, v| {
        s.retention.scoring_days = days("PESYNC_RETENTION_SCORING_DAYS", &v)?
    }),
    setting!("PESYNC_RETENTION_HANDOVER_DAYS", |s, v| {
        s.retention.handover_days = days("PESYNC_RETENTION_HANDOVER_DAYS", &v)?
    }),
    // The monitors (issue 11 §2); `MonitorSettings::problems` checks their ranges.
    setting!("PESYNC_CHANGE_WATCH_HOURS", |s, v| {
        s.monitors.change_watch_hours = parse("PESYNC_CHANGE_WATCH_HOURS", &v, "a whole number")?
    }),
    setting!("PESYNC_WATCH_MAX_DROP_SHARE", |s, v| {
        s.monitors.max_drop_share =
            parse("PESYNC_WATCH_MAX_DROP_SHARE", &v, "a number from 0 to 1")?
    }),
    setting!("PESYNC_WATCH_MAX_PLATEAU_SHARE", |s, v| {
        s.monitors.max_plateau_share =
            parse("PESYNC_WATCH_MAX_PLATEAU_SHARE", &v, "a number from 0 to 1")?
    }),
    setting!("PESYNC_WATCH_MIN_CONTACTS", |s, v| {
        s.monitors.min_contacts = parse("PESYNC_WATCH_MIN_CONTACTS", &v, "a whole number")?
    }),
    setting!("PESYNC_WATCH_CRON", |s, v| s.monitors.watch_cron = v),
    setting!("PESYNC_CHRONOLOGY_SKEW_SECONDS", |s, v| {
        s.monitors.chronology_skew_seconds =
            parse("PESYNC_CHRONOLOGY_SKEW_SECONDS", &v, "whole seconds")?
    }),
];

/// Applies the environment: every variable set and not empty (shells and compose files often
/// leave them empty, which counts as unset).
pub fn apply_env(s: &mut Settings, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    for setting in SETTINGS {
        if let Some(v) = env(setting.env).filter(|v| !v.trim().is_empty()) {
            (setting.apply)(s, v)?;
        }
    }
    Ok(())
}

/// Applies a TOML file's settings; a key that names no setting is an error (a typo would
/// otherwise be silently ignored).
pub fn apply_file(s: &mut Settings, text: &str) -> anyhow::Result<()> {
    let table: toml::Table = toml::from_str(text)?;
    for (key, value) in table {
        let Some(setting) = SETTINGS.iter().find(|x| x.file_key() == key) else {
            bail!("unknown setting `{key}`");
        };
        let v = match value {
            toml::Value::String(v) => v,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => bail!("`{key}` must be a string or a number"),
        };
        if !v.trim().is_empty() {
            (setting.apply)(s, v).with_context(|| format!("setting `{key}`"))?;
        }
    }
    Ok(())
}

fn parse<T: FromStr>(name: &str, v: &str, what: &str) -> anyhow::Result<T> {
    v.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{name} must be {what}, got {v:?}"))
}

fn days(name: &str, v: &str) -> anyhow::Result<u32> {
    parse(name, v, "a whole number of days")
}

/// Tokens pasted into a file or a secret store often carry a trailing newline, which no client sends.
fn token(v: String) -> SecretString {
    SecretString::from(v.trim())
}

/// The key's text is never part of the error.
fn secret_key(v: String) -> anyhow::Result<SecretKey> {
    let v = SecretString::from(v);
    SecretKey::from_base64(v.expose_secret()).map_err(|e| anyhow::anyhow!("PESYNC_SECRET_KEY {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_the_variables_without_the_prefix() {
        let key = |env| SETTINGS.iter().find(|s| s.env == env).unwrap().file_key();
        assert_eq!(key("PESYNC_POLL_CRON"), "poll_cron");
        assert_eq!(key("DATABASE_URL"), "database_url");
        let mut keys: Vec<String> = SETTINGS.iter().map(Setting::file_key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len(), "every setting once");
    }

    #[test]
    fn a_file_with_an_unknown_key_or_a_table_value_is_refused() {
        let mut s = Settings::default();
        let e = apply_file(&mut s, "pol_cron = \"* * * * * *\"").unwrap_err();
        assert!(e.to_string().contains("unknown setting `pol_cron`"), "{e}");
        let e = apply_file(&mut s, "[listen]\nhost = 1").unwrap_err();
        assert!(e.to_string().contains("`listen` must be"), "{e}");
    }

    #[test]
    fn file_numbers_and_strings_both_read() {
        let mut s = Settings::default();
        apply_file(&mut s, "pe_rate_limit = 3\nfeed_lease_seconds = \"60\"").unwrap();
        assert_eq!((s.pe_rate_limit, s.feed_lease_seconds), (3.0, 60));
    }
}
