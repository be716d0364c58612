//! The monitors' settings (issue 11 §2) read from the environment and checked, kept apart from
//! `config` so that file does not grow past its seams.

use anyhow::{Context, bail};

use crate::domain::monitors::MonitorSettings;

/// `get` answers a variable, empty ones already left out.
pub fn apply_env(
    m: &mut MonitorSettings,
    get: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    fn parse<T: std::str::FromStr>(name: &str, v: &str, what: &str) -> anyhow::Result<T>
    where
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        v.trim()
            .parse()
            .with_context(|| format!("{name} must be {what}, got {v:?}"))
    }
    let whole = "a whole number";
    for (name, field) in [
        ("PESYNC_CHANGE_WATCH_HOURS", &mut m.change_watch_hours),
        ("PESYNC_WATCH_MIN_CONTACTS", &mut m.min_contacts),
        (
            "PESYNC_CHRONOLOGY_SKEW_SECONDS",
            &mut m.chronology_skew_seconds,
        ),
    ] {
        if let Some(v) = get(name) {
            *field = parse(name, &v, whole)?;
        }
    }
    if let Some(v) = get("PESYNC_WATCH_CRON") {
        m.watch_cron = v;
    }
    for (name, field) in [
        ("PESYNC_WATCH_MAX_DROP_SHARE", &mut m.max_drop_share),
        ("PESYNC_WATCH_MAX_PLATEAU_SHARE", &mut m.max_plateau_share),
    ] {
        if let Some(v) = get(name) {
            *field = parse(name, &v, "a number from 0 to 1")?;
        }
    }
    Ok(())
}

pub fn check(m: &MonitorSettings) -> anyhow::Result<()> {
    if let Some((name, message)) = m.problems().into_iter().next() {
        bail!("{name} {message}");
    }
    Ok(())
}
