//! The `pesync import` command line: its arguments and `--help`, the signing secret or bearer
//! token (from a file or the environment, never from the command line), and the exit status.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use secrecy::SecretString;

use super::read::{Format, Kind};
use super::send::Target;
use super::{Input, Options, Summary, import, max_batch};
use crate::scoring::push::MAX_SCORES;

/// The environment variable holding the source's signing secret.
pub const SECRET_ENV: &str = "PESYNC_SOURCE_SECRET";
/// Where a score import finds its bearer token, in this order: the variables the server reads its
/// tokens from, so the machine that runs pesync can run the import as it is.
pub const TOKEN_ENVS: [&str; 2] = ["PESYNC_SCORER_TOKEN", "PESYNC_ADMIN_TOKEN"];

/// `pesync import --help` (set on the subcommand in `cli.rs`).
pub const LONG_ABOUT: &str = "Streams a CSV or NDJSON export file into a source: reads it in batches (never whole), signs each batch with the source's secret and posts it to POST /v1/sources/{source}/events, with a progress bar on stderr (plain lines when stderr is not a terminal).\n\n\
CSV: a header row is required. The columns contact_id, event_type and event_timestamp form the event's envelope; every other column becomes an attribute, as a string (the manifest's coercion turns \"2450.00\" into a number where the attribute is one). An empty cell is left out. A row that cannot be read (wrong number of fields, invalid UTF-8) is reported with its line number and not sent.\n\n\
NDJSON: one event per line, sent as it is; blank lines are skipped, a line that is not JSON is quarantined by the server.\n\n\
The signing secret comes from the PESYNC_SOURCE_SECRET environment variable or from --secret-file (which wins), never from the command line, where `ps` would show it.\n\n\
A batch the server could not take (5xx, 429, timeout, connection error) is sent again with exponential backoff; resending is safe, as the server dedups. A refusal (401, 404, 413, 415, 400) stops the import. At the end a summary counts the events per status.\n\n\
SCORES (--scores): FILE is a score export (a propensity model's output, a reverse-ETL job's) and goes to POST /v1/scores in batches of --batch-size observations (default 1000, at most 10000), with a bearer token instead of a source and its secret: --token-file PATH, else PESYNC_SCORER_TOKEN, else PESYNC_ADMIN_TOKEN (the viewer token may not post scores). A CSV has a header row naming its columns, in any order: contact_id, score and observed_at are required; channel_preference and best_contact_window are optional, and no other column is taken (a misspelt one would be dropped unseen). score is sent as a number (0 to 1), observed_at as written (RFC 3339, e.g. 2026-12-06T10:00:00Z), best_contact_window as the JSON object the cell holds, e.g. \"{\"\"start_time\"\": \"\"09:00:00\"\", \"\"end_time\"\": \"\"17:00:00\"\", \"\"timezone\"\": \"\"Europe/Paris\"\"}\". An empty cell is left out. A row whose score is not a number or whose window is not a JSON object is reported with its line and not sent. NDJSON: one observation object per line, sent as it is. The server answers each observation stored, duplicate (the same contact and observed_at again: rerunning an import is safe) or rejected with a reason (e.g. score_out_of_range, invalid_timestamp, invalid_window), listed with its line.\n\n\
Exit status: 0 when every record was stored by the server (accepted, duplicate, quarantined, backfill or reconciliation; for scores stored or duplicate); 1 when something was not (a malformed row, a rejected observation, a failed batch) or the import stopped. Running the same import again is safe.";

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Base URL of the pesync service.
    #[arg(
        long,
        env = "PESYNC_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub url: String,
    /// The file is a score export: post its observations to POST /v1/scores (see SCORES in --help)
    /// instead of events to a source.
    #[arg(long)]
    pub scores: bool,
    /// The source (as configured with PUT /v1/admin/sources/NAME) the events come from.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "scores",
        conflicts_with = "scores"
    )]
    pub source: Option<String>,
    /// A file holding the source's signing secret (a trailing newline is ignored). Without it the
    /// secret is read from PESYNC_SOURCE_SECRET.
    #[arg(long, value_name = "PATH", conflicts_with = "scores")]
    pub secret_file: Option<PathBuf>,
    /// With --scores: a file holding the scorer (or admin) token. Without it the token is read
    /// from PESYNC_SCORER_TOKEN, else PESYNC_ADMIN_TOKEN.
    #[arg(long, value_name = "PATH", requires = "scores")]
    pub token_file: Option<PathBuf>,
    /// The file's format [default: from the extension: .csv, .ndjson or .jsonl; required for stdin].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Records per request [default: 500 events (at most 1000), 1000 observations (at most 10000)];
    /// a batch is also kept under 5 MiB.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=MAX_SCORES as i64))]
    pub batch_size: Option<u16>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// How many times a batch is sent again after a 5xx or connection error before the import stops.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub retries: u32,
}

/// The `pesync import` command: runs the import, prints the summary, fails unless it is complete.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let (options, input) = resolve(&args)?;
    let kind = options.target.kind();
    let started = Instant::now();
    let summary = import(&options, input).await?;
    println!(
        "{} {} answered by {} in {:.1} s:",
        summary.answered(),
        kind.noun(),
        options.url,
        started.elapsed().as_secs_f64()
    );
    print!("{summary}");
    verdict(kind, &summary)
}

/// The options and input the arguments ask for, with the credentials loaded; any mistake in the
/// arguments is reported here, before anything is read or sent.
fn resolve(args: &ImportArgs) -> anyhow::Result<(Options, Input)> {
    let target = match (&args.source, args.scores) {
        (_, true) => Target::Scores {
            token: load_token(
                args.token_file.as_deref(),
                TOKEN_ENVS.map(|name| (name, std::env::var(name).ok())),
            )?,
        },
        (Some(source), false) => Target::Events {
            source: source.clone(),
            secret: load_secret(args.secret_file.as_deref(), std::env::var(SECRET_ENV).ok())?,
        },
        (None, false) => bail!("--source NAME is needed (or --scores for a score export)"),
    };
    let kind = target.kind();
    let (input, format) = if args.file.as_os_str() == "-" {
        let format = args
            .format
            .context("reading standard input needs --format csv or --format ndjson")?;
        (Input::Stdin, format)
    } else {
        let format = args
            .format
            .or_else(|| Format::from_path(&args.file))
            .with_context(|| {
                format!(
                    "cannot tell the format of {} from its name; pass --format csv or --format ndjson",
                    args.file.display()
                )
            })?;
        (Input::File(args.file.clone()), format)
    };
    let mut options = Options::to(&args.url, target, format);
    if let Some(n) = args.batch_size {
        let n = usize::from(n);
        if n > max_batch(kind) {
            bail!(
                "--batch-size {n} is more {} than one request may carry ({})",
                kind.noun(),
                max_batch(kind)
            );
        }
        options.batch_size = n;
    }
    options.concurrency = args.concurrency.into();
    options.backoff.retries = args.retries;
    options.show_progress = true;

    Ok((options, input))
}

/// The exit status: an error naming what was not stored, unless every record was.
fn verdict(kind: Kind, summary: &Summary) -> anyhow::Result<()> {
    if let Some(why) = &summary.stopped {
        bail!("the import stopped before the end of the input: {why}");
    }
    if !summary.complete() {
        let mut why = vec![format!("{} malformed", summary.malformed)];
        if kind == Kind::Scores {
            why.push(format!("{} rejected", summary.rejected));
        }
        why.push(format!("{} failed", summary.failed));
        bail!(
            "{} records were not stored ({})",
            summary.malformed + summary.rejected + summary.failed,
            why.join(", ")
        );
    }
    Ok(())
}

/// The secret from `--secret-file` if given, else from the environment; never empty.
pub fn load_secret(file: Option<&Path>, env: Option<String>) -> anyhow::Result<SecretString> {
    let secret = match (file, env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret file {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        (None, Some(value)) => value,
        (None, None) => {
            bail!("no signing secret: set {SECRET_ENV} or pass --secret-file PATH")
        }
    };
    if secret.is_empty() {
        bail!("the signing secret is empty");
    }
    Ok(SecretString::from(secret))
}

/// The bearer token of a score import: `--token-file` if given, else the first of `env` that is
/// set (`TOKEN_ENVS` in order). Trimmed, as the server trims the tokens it is configured with.
pub fn load_token<const N: usize>(
    file: Option<&Path>,
    env: [(&str, Option<String>); N],
) -> anyhow::Result<SecretString> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => match env.into_iter().find_map(|(_, v)| v) {
            Some(v) => v,
            None => bail!(
                "no token to post scores with: set {} or pass --token-file PATH",
                TOKEN_ENVS.join(" or ")
            ),
        },
    };
    let token = token.trim();
    if token.is_empty() {
        bail!("the token is empty");
    }
    Ok(SecretString::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_secret_file_wins_and_loses_its_trailing_newline() {
        let path = std::env::temp_dir().join(format!("pesync-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "from-file\r\n").unwrap();
        let s = load_secret(Some(&path), Some("from-env".into())).unwrap();
        assert_eq!(s.expose_secret(), "from-file");
        std::fs::remove_file(&path).unwrap();

        let s = load_secret(None, Some("from-env".into())).unwrap();
        assert_eq!(s.expose_secret(), "from-env");
        assert!(load_secret(None, None).is_err());
        assert!(load_secret(None, Some(String::new())).is_err());
        assert!(load_secret(Some(&path), None).is_err(), "a missing file");
    }

    #[test]
    fn the_token_file_wins_then_the_scorer_token_then_the_admin_token() {
        let path = std::env::temp_dir().join(format!("pesync-token-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "  from-file \n").unwrap();
        let env = |scorer: Option<&str>, admin: Option<&str>| {
            [
                (TOKEN_ENVS[0], scorer.map(str::to_owned)),
                (TOKEN_ENVS[1], admin.map(str::to_owned)),
            ]
        };
        let t = load_token(Some(&path), env(Some("s"), Some("a"))).unwrap();
        assert_eq!(t.expose_secret(), "from-file");
        std::fs::remove_file(&path).unwrap();
        let t = load_token(None, env(Some("s"), Some("a"))).unwrap();
        assert_eq!(t.expose_secret(), "s");
        let t = load_token(None, env(None, Some("a\n"))).unwrap();
        assert_eq!(t.expose_secret(), "a");
        let e = load_token(None, env(None, None)).unwrap_err().to_string();
        assert!(
            e.contains("PESYNC_SCORER_TOKEN or PESYNC_ADMIN_TOKEN"),
            "{e}"
        );
        assert!(load_token(None, env(Some(" "), None)).is_err());
        assert!(
            load_token(Some(&path), env(None, None)).is_err(),
            "a missing file"
        );
    }
}
