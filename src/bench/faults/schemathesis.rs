//! schemathesis (PyPI) against a running service and the OpenAPI document it serves, with the
//! admin token, for a time budget: no 5xx, every answer as the document describes it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::bed::Bed;
use super::service::{Service, free_port};

pub struct Outcome {
    pub ok: bool,
    pub summary: String,
}

pub async fn run(bed: &Bed, command: &str, secs: u64, log_dir: &Path) -> anyhow::Result<Outcome> {
    let service = Service::start(&bed.cfg, "schemathesis", free_port()?).await?;
    bed.create_source(&service.base_url()).await?;
    let schema = format!("{}/openapi.json", service.base_url());
    let report = log_dir.join("schemathesis.txt");
    let out = std::fs::File::create(&report)?;
    let mut cmd = Command::new(command);
    cmd.args(["run", &schema, "--max-time", &secs.to_string()])
        .args(["--header", &format!("Authorization: Bearer {}", bed.cfg.admin_token)])
        .args(["--request-timeout", "40", "--no-color"])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await?
        .with_context(|| format!("running {command} (pip install schemathesis)"))?;
    drop(service);
    // Give the budget's last requests a moment before the bed is torn down.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    Ok(Outcome {
        ok: status.success(),
        summary: format!(
            "{} in {secs} s ({status}); full output: {}",
            summary_of(&text),
            report.display()
        ),
    })
}

/// schemathesis's closing summary lines (the last block of its output), trimmed.
fn summary_of(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    tail.join(" / ")
}
