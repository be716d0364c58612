//! Settings (SPEC §1): environment variables, optionally a TOML file given with `--config`; env wins.
//! Each setting is read as `settings_table` says; here are their defaults and the checks across them.
//!
//! Secrets are `SecretString`s so that `Debug`, logs and error messages can never print them.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::SecretString;

use super::settings_table;
use crate::domain::monitors::MonitorSettings;
use crate::genesys::GenesysConfig;
use crate::genesys::region::Region;
use crate::genesys::target::{self, EventsTarget};
use crate::platform::secrets::SecretKey;
use crate::retention::{MAX_DAYS, Policy};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/pesync";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CRON: &str = "0 * * * * *";
/// The prune job runs hourly, on the hour.
pub const DEFAULT_PRUNE_CRON: &str = "0 0 * * * *";

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub listen: SocketAddr,
    pub admin_token: Option<SecretString>,
    pub viewer_token: Option<SecretString>,
    /// May only post scores (`POST /v1/scores`): what a model or reverse-ETL job is given.
    pub scorer_token: Option<SecretString>,
    /// Seals source signing secrets at rest (`PESYNC_SECRET_KEY`, 32 bytes in base64).
    pub secret_key: Option<SecretKey>,
    /// The Genesys Cloud region (`PESYNC_GENESYS_REGION`): when set, the API and token URLs derive
    /// from it unless `PESYNC_PE_BASE_URL` / `PESYNC_PE_TOKEN_URL` say otherwise.
    pub genesys_region: Option<Region>,
    /// Where events go (`PESYNC_GENESYS_EVENTS`): SPEC §5's endpoint or External Events.
    pub genesys_events: EventsTarget,
    /// Most entities in one External Events request (`PESYNC_GENESYS_EVENTS_BATCH`).
    pub genesys_events_batch: usize,
    /// The division `pesync genesys setup` puts configurations in (`PESYNC_GENESYS_DIVISION_ID`);
    /// the org's home division when unset.
    pub genesys_division_id: Option<String>,
    pub pe_base_url: Option<String>,
    pub pe_token_url: Option<String>,
    pub pe_client_id: Option<String>,
    pub pe_client_secret: Option<SecretString>,
    pub pe_rate_limit: f64,
    pub dialer_base_url: Option<String>,
    pub poll_cron: String,
    pub evaluate_cron: String,
    /// How long a delivery worker holds a claimed contact before another instance may take it over
    /// (what a crashed instance costs in delay).
    pub delivery_lease_seconds: i64,
    /// How long a pull-feed lease lasts before unacknowledged contacts return to the feed.
    pub feed_lease_seconds: u64,
    /// How long a client may take to send a request's head, and then its body (not read from the
    /// environment: tests shorten it).
    pub read_timeout: std::time::Duration,
    pub prune_cron: String,
    /// How long old rows are kept (`PESYNC_RETENTION_*_DAYS`, docs/RETENTION.md).
    pub retention: Policy,
    /// The change watch, its job and the chronology check (`PESYNC_CHANGE_WATCH_HOURS`,
    /// `PESYNC_WATCH_*`, `PESYNC_CHRONOLOGY_SKEW_SECONDS`; issue 11 §2).
    pub monitors: MonitorSettings,
}

/// Default pull-feed lease: 5 min (SPEC §7).
pub const DEFAULT_FEED_LEASE_SECONDS: u64 = 300;

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: SecretString::from(DEFAULT_DATABASE_URL),
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            admin_token: None,
            viewer_token: None,
            scorer_token: None,
            secret_key: None,
            genesys_region: None,
            genesys_events: EventsTarget::Pe,
            genesys_events_batch: target::DEFAULT_EVENTS_BATCH,
            genesys_division_id: None,
            pe_base_url: None,
            pe_token_url: None,
            pe_client_id: None,
            pe_client_secret: None,
            pe_rate_limit: 5.0,
            dialer_base_url: None,
            poll_cron: DEFAULT_CRON.into(),
            evaluate_cron: DEFAULT_CRON.into(),
            delivery_lease_seconds: 30,
            feed_lease_seconds: DEFAULT_FEED_LEASE_SECONDS,
            read_timeout: crate::platform::http::limits::READ_TIMEOUT,
            prune_cron: DEFAULT_PRUNE_CRON.into(),
            retention: Policy::default(),
            monitors: MonitorSettings::default(),
        }
    }
}

impl Settings {
    /// Defaults, then the file, then the process environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(config_file, |name| std::env::var(name).ok())
    }

    /// `load` with the environment injected, so tests need not touch the process environment.
    pub fn load_from(
        config_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut s = Settings::default();
        if let Some(path) = config_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            settings_table::apply_file(&mut s, &text)
                .with_context(|| format!("in config file {}", path.display()))?;
        }
        settings_table::apply_env(&mut s, env)?;
        s.derive_region_urls();
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> anyhow::Result<()> {
        crate::platform::http::auth::check_token("PESYNC_ADMIN_TOKEN", self.admin_token.as_ref())?;
        crate::platform::http::auth::check_token(
            "PESYNC_VIEWER_TOKEN",
            self.viewer_token.as_ref(),
        )?;
        crate::platform::http::auth::check_token(
            "PESYNC_SCORER_TOKEN",
            self.scorer_token.as_ref(),
        )?;
        if !(1..=3600).contains(&self.delivery_lease_seconds) {
            bail!("PESYNC_DELIVERY_LEASE_SECONDS must be 1–3600");
        }
        if !(1..=crate::domain::thresholds::MAX_DURATION_SECONDS as u64)
            .contains(&self.feed_lease_seconds)
        {
            bail!(
                "PESYNC_FEED_LEASE_SECONDS must be between 1 and {}, got {}",
                crate::domain::thresholds::MAX_DURATION_SECONDS,
                self.feed_lease_seconds
            );
        }
        for (name, days) in [
            ("PESYNC_RETENTION_EVENTS_DAYS", self.retention.events_days),
            ("PESYNC_RETENTION_SCORING_DAYS", self.retention.scoring_days),
            (
                "PESYNC_RETENTION_HANDOVER_DAYS",
                self.retention.handover_days,
            ),
        ] {
            if !(1..=MAX_DAYS).contains(&days) {
                bail!("{name} must be between 1 and {MAX_DAYS} days, got {days}");
            }
        }
        if !(1..=target::MAX_EVENTS_BATCH).contains(&self.genesys_events_batch) {
            bail!(
                "PESYNC_GENESYS_EVENTS_BATCH must be between 1 and {}, got {}",
                target::MAX_EVENTS_BATCH,
                self.genesys_events_batch
            );
        }
        if !(self.pe_rate_limit.is_finite() && self.pe_rate_limit > 0.0) {
            bail!(
                "PESYNC_PE_RATE_LIMIT must be a positive number, got {}",
                self.pe_rate_limit
            );
        }
        if let Some((name, message)) = self.monitors.problems().into_iter().next() {
            bail!("{name} {message}");
        }
        Ok(())
    }

    /// A region names both hosts; a URL set explicitly (a proxy, the simulator) wins over it.
    fn derive_region_urls(&mut self) {
        if let Some(region) = self.genesys_region {
            self.pe_base_url
                .get_or_insert_with(|| region.api_base_url());
            self.pe_token_url.get_or_insert_with(|| region.token_url());
        }
    }

    /// The Genesys client's settings; `None` when they name no Genesys tenant (the service then ingests but does not deliver).
    pub fn genesys(&self) -> anyhow::Result<Option<GenesysConfig>> {
        let s = self;
        let (Some(base), Some(token_url), Some(id), Some(secret)) = (
            s.pe_base_url.clone(),
            s.pe_token_url.clone(),
            s.pe_client_id.clone(),
            s.pe_client_secret.clone(),
        ) else {
            return Ok(None);
        };
        Ok(Some(GenesysConfig {
            dialer_base_url: s
                .dialer_base_url()
                .unwrap_or(&base)
                .trim_end_matches('/')
                .into(),
            base_url: base.trim_end_matches('/').into(),
            token_url,
            client_id: id,
            client_secret: secret,
            rate_limit: s.pe_rate_limit,
            events: s.genesys_events,
            events_batch: s.genesys_events_batch,
            division_id: s.genesys_division_id.clone(),
            request_timeout: Duration::from_secs(10),
        }))
    }

    /// The dialer defaults to the PE base URL (SPEC §1).
    pub fn dialer_base_url(&self) -> Option<&str> {
        self.dialer_base_url
            .as_deref()
            .or(self.pe_base_url.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.pe_rate_limit, 5.0);
        assert_eq!(s.poll_cron, "0 * * * * *");
        assert!(s.admin_token.is_none());
    }

    #[test]
    fn a_region_gives_the_api_and_token_urls_unless_they_are_set() {
        let s =
            Settings::load_from(None, env(&[("PESYNC_GENESYS_REGION", "mypurecloud.ie")])).unwrap();
        assert_eq!(s.pe_base_url.as_deref(), Some("https://api.mypurecloud.ie"));
        assert_eq!(
            s.pe_token_url.as_deref(),
            Some("https://login.mypurecloud.ie/oauth/token")
        );
        assert_eq!(s.dialer_base_url(), Some("https://api.mypurecloud.ie"));
        let proxied = env(&[
            ("PESYNC_GENESYS_REGION", "usw2.pure.cloud"),
            ("PESYNC_PE_BASE_URL", "http://proxy:8080"),
        ]);
        let s = Settings::load_from(None, proxied).unwrap();
        assert_eq!(s.pe_base_url.as_deref(), Some("http://proxy:8080"));
        assert_eq!(
            s.pe_token_url.as_deref(),
            Some("https://login.usw2.pure.cloud/oauth/token")
        );
    }

    #[test]
    fn the_events_target_defaults_to_pe_and_batches_are_bounded() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.genesys_events, EventsTarget::Pe);
        assert_eq!(s.genesys_events_batch, 100);
        let s = Settings::load_from(
            None,
            env(&[
                ("PESYNC_GENESYS_EVENTS", "external-events"),
                ("PESYNC_GENESYS_EVENTS_BATCH", "250"),
                ("PESYNC_GENESYS_DIVISION_ID", "div-1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.genesys_events, EventsTarget::ExternalEvents);
        assert_eq!(s.genesys_events_batch, 250);
        assert_eq!(s.genesys_division_id.as_deref(), Some("div-1"));
        for bad in ["0", "1001", "many"] {
            let e = Settings::load_from(None, env(&[("PESYNC_GENESYS_EVENTS_BATCH", bad)]))
                .unwrap_err();
            assert!(e.to_string().contains("PESYNC_GENESYS_EVENTS_BATCH"), "{e}");
        }
        let e = Settings::load_from(None, env(&[("PESYNC_GENESYS_EVENTS", "web")])).unwrap_err();
        assert!(e.to_string().contains("PESYNC_GENESYS_EVENTS"), "{e}");
    }

    #[test]
    fn an_unknown_region_is_a_start_up_error_listing_the_known_ones() {
        let error = Settings::load_from(None, env(&[("PESYNC_GENESYS_REGION", "mypurecloud.fr")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("mypurecloud.fr"), "{error}");
        assert!(error.contains("mypurecloud.com, mypurecloud.ie"), "{error}");
    }

    #[test]
    fn env_wins_over_file_and_dialer_defaults_to_pe() {
        let dir = std::env::temp_dir().join(format!("pesync-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::write(
            &dir,
            "pe_rate_limit = 9\npe_base_url = \"http://file\"\nadmin_token = \"from-file-0123456789abcdef0123456789\\n\"\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&dir), env(&[("PESYNC_PE_RATE_LIMIT", "3")])).unwrap();
        std::fs::remove_file(&dir).ok();
        assert_eq!(s.pe_rate_limit, 3.0);
        assert_eq!(s.pe_base_url.as_deref(), Some("http://file"));
        assert_eq!(s.dialer_base_url(), Some("http://file"));
        // The trailing newline a token file leaves is trimmed.
        assert_eq!(
            s.admin_token.unwrap().expose_secret(),
            "from-file-0123456789abcdef0123456789"
        );
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Settings::load_from(
            None,
            env(&[
                ("PESYNC_ADMIN_TOKEN", "hunter2-hunter2-hunter2-hunter2-x"),
                ("PESYNC_PE_CLIENT_SECRET", "s3cr3t"),
                ("PESYNC_SECRET_KEY", KEY),
            ]),
        )
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("s3cr3t"), "{dbg}");
        assert!(!dbg.contains(KEY) && !dbg.contains("cGVz"), "{dbg}");
    }

    /// base64 of the 32 bytes `pesync-integration-tests-key-32b`.
    const KEY: &str = "cGVzeW5jLWludGVncmF0aW9uLXRlc3RzLWtleS0zMmI=";

    #[test]
    fn tokens_are_trimmed_and_short_ones_refused_at_start() {
        let token = "0123456789abcdef0123456789abcdef";
        let s = Settings::load_from(
            None,
            env(&[
                ("PESYNC_ADMIN_TOKEN", &format!("{token}\n")),
                ("PESYNC_VIEWER_TOKEN", &format!("v{token}\r\n")),
                ("PESYNC_SCORER_TOKEN", &format!(" s{token}\n")),
            ]),
        )
        .unwrap();
        assert_eq!(s.admin_token.unwrap().expose_secret(), token);
        assert_eq!(s.viewer_token.unwrap().expose_secret(), format!("v{token}"));
        assert_eq!(s.scorer_token.unwrap().expose_secret(), format!("s{token}"));
        for var in [
            "PESYNC_ADMIN_TOKEN",
            "PESYNC_VIEWER_TOKEN",
            "PESYNC_SCORER_TOKEN",
        ] {
            let e = Settings::load_from(None, env(&[(var, "change-me\n")])).unwrap_err();
            let e = e.to_string();
            assert!(e.contains(var) && e.contains("at least 32"), "{e}");
            assert!(!e.contains("change-me"), "the error quotes the token: {e}");
        }
    }

    #[test]
    fn the_secret_key_is_32_bytes_of_base64() {
        let s = Settings::load_from(None, env(&[("PESYNC_SECRET_KEY", &format!("{KEY}\n"))]));
        assert!(s.unwrap().secret_key.is_some());
        for bad in ["not base64!", "c2hvcnQ="] {
            let e = Settings::load_from(None, env(&[("PESYNC_SECRET_KEY", bad)])).unwrap_err();
            let e = e.to_string();
            assert!(e.starts_with("PESYNC_SECRET_KEY must be"), "{e}");
            assert!(!e.contains(bad), "the error quotes the key: {e}");
        }
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let e = Settings::load_from(None, env(&[("PESYNC_PE_RATE_LIMIT", "fast")])).unwrap_err();
        assert!(e.to_string().contains("PESYNC_PE_RATE_LIMIT"));
        let e = Settings::load_from(None, env(&[("PESYNC_PE_RATE_LIMIT", "0")])).unwrap_err();
        assert!(e.to_string().contains("positive"));
        let e = Settings::load_from(None, env(&[("PESYNC_LISTEN", "nope")])).unwrap_err();
        assert!(e.to_string().contains("PESYNC_LISTEN"));
    }

    #[test]
    fn retention_settings_default_to_the_policy_and_are_checked() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(
            (s.retention.events_days, s.retention.scoring_days),
            (30, 90)
        );
        assert_eq!(s.retention.handover_days, 90);
        assert_eq!(s.prune_cron, "0 0 * * * *");
        let s = Settings::load_from(
            None,
            env(&[
                ("PESYNC_RETENTION_EVENTS_DAYS", "7"),
                ("PESYNC_RETENTION_HANDOVER_DAYS", "365"),
                ("PESYNC_PRUNE_CRON", "off"),
            ]),
        )
        .unwrap();
        assert_eq!(s.retention.events_days, 7);
        assert_eq!(s.retention.handover_days, 365);
        assert_eq!(s.prune_cron, "off");
        for bad in ["0", "3651", "-1", "soon"] {
            let e = Settings::load_from(None, env(&[("PESYNC_RETENTION_SCORING_DAYS", bad)]))
                .unwrap_err();
            assert!(
                e.to_string().contains("PESYNC_RETENTION_SCORING_DAYS"),
                "{e}"
            );
        }
    }

    #[test]
    fn monitor_settings_default_read_the_environment_and_the_file_and_are_checked() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.monitors, MonitorSettings::default());
        assert_eq!(s.monitors.change_watch_hours, 48);
        let s = Settings::load_from(
            None,
            env(&[
                ("PESYNC_CHANGE_WATCH_HOURS", "24"),
                ("PESYNC_WATCH_MAX_DROP_SHARE", "0.2"),
                ("PESYNC_WATCH_MAX_PLATEAU_SHARE", "0.4"),
                ("PESYNC_WATCH_MIN_CONTACTS", "5"),
                ("PESYNC_CHRONOLOGY_SKEW_SECONDS", "30"),
                ("PESYNC_WATCH_CRON", "off"),
            ]),
        )
        .unwrap();
        let m = &s.monitors;
        assert_eq!((m.change_watch_hours, m.min_contacts), (24, 5));
        assert_eq!((m.max_drop_share, m.max_plateau_share), (0.2, 0.4));
        assert_eq!(m.chronology_skew_seconds, 30);
        assert_eq!(m.watch_cron, "off");
        for (name, bad) in [
            ("PESYNC_CHANGE_WATCH_HOURS", "0"),
            ("PESYNC_CHANGE_WATCH_HOURS", "two days"),
            ("PESYNC_WATCH_MAX_DROP_SHARE", "1.5"),
            ("PESYNC_WATCH_MAX_PLATEAU_SHARE", "half"),
            ("PESYNC_WATCH_MIN_CONTACTS", "0"),
            ("PESYNC_CHRONOLOGY_SKEW_SECONDS", "-5"),
        ] {
            let e = Settings::load_from(None, env(&[(name, bad)])).unwrap_err();
            assert!(e.to_string().contains(name), "{name}={bad}: {e}");
        }
        let path =
            std::env::temp_dir().join(format!("pesync-monitors-{}.toml", std::process::id()));
        std::fs::write(&path, "change_watch_hours = 12\nwatch_min_contacts = 3\n").unwrap();
        let s = Settings::load_from(Some(&path), env(&[])).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            (s.monitors.change_watch_hours, s.monitors.min_contacts),
            (12, 3)
        );
    }
}
