//! Reading a batch's `contact_scores` rows: the candidates themselves, with the profile the rules
//! need (channel, window). A full pass and a dense regular batch read them by binary COPY
//! ([`copy_out`]), as they read the observations: a million rows a run, each read in place and its
//! window parsed straight from the row's bytes.

use std::collections::{HashMap, HashSet};

use super::facts::DENSE_SPREAD;
use crate::eligibility::Window;
use crate::platform::db::copy_out::{self, Fields};

/// A candidate's row of `contact_scores`.
pub(super) struct Scored {
    pub contact_id: String,
    pub observed_seq: i64,
    pub channel: Option<String>,
    pub best_window: Option<Window>,
}

impl Scored {
    fn read(row: &mut Fields<'_>, windows: &mut WindowTexts) -> sqlx::Result<Self> {
        Ok(Self {
            contact_id: row.text()?.to_owned(),
            observed_seq: row.i64()?,
            channel: row.opt_text()?.map(str::to_owned),
            best_window: row.opt_text()?.and_then(|text| windows.parse(text)),
        })
    }
}

/// How many distinct window texts [`WindowTexts`] keeps.
const KEPT_WINDOWS: usize = 1_024;

/// Windows parsed from their JSON text, each distinct text once: a batch's thousands of contacts
/// have a handful of distinct windows (a few openings in a few zones), and parsing each row's was
/// about 3 % of pesync's CPU in a run over a million contacts (issue 12). Past [`KEPT_WINDOWS`]
/// distinct texts, a text is parsed and not kept.
#[derive(Default)]
struct WindowTexts(HashMap<String, Option<Window>>);

impl WindowTexts {
    fn parse(&mut self, text: &str) -> Option<Window> {
        if let Some(window) = self.0.get(text) {
            return window.clone();
        }
        let window = window_of_text(text);
        if self.0.len() < KEPT_WINDOWS {
            self.0.insert(text.to_owned(), window.clone());
        }
        window
    }
}

/// The next `limit` scored contacts after `after`, in contact-id order (a full pass).
pub(super) async fn after(
    db: &mut sqlx::PgConnection,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<Scored>> {
    let limit = limit.to_string();
    let settings = [("pesync.after", after), ("pesync.limit", &limit)];
    read(db, AFTER, &settings).await
}

const AFTER: &str = "COPY (SELECT contact_id, observed_seq, channel, best_window::text \
     FROM contact_scores \
     WHERE contact_id > current_setting('pesync.after') AND observed_seq > 0 \
     ORDER BY contact_id LIMIT current_setting('pesync.limit')::int8) TO STDOUT (FORMAT binary)";

/// The rows of a regular run's due contacts (`ids`, in contact-id order), and whether the batch
/// is dense: the range from its first id to its last holds at most [`DENSE_SPREAD`] scored
/// contacts per due one. That range is read first, cut at the bound, so a sparse batch costs one
/// short read more before its rows are read by id.
pub(super) async fn due(
    db: &mut sqlx::PgConnection,
    ids: &[String],
) -> sqlx::Result<(Vec<Scored>, bool)> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok((Vec::new(), false));
    };
    let bound = DENSE_SPREAD * ids.len() as i64;
    let cut = (bound + 1).to_string();
    let settings = [
        ("pesync.first", &**first),
        ("pesync.last", last),
        ("pesync.limit", &cut),
    ];
    let in_range = read(db, BETWEEN, &settings).await?;
    if in_range.len() as i64 <= bound {
        let due: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let rows = in_range
            .into_iter()
            .filter(|r| due.contains(r.contact_id.as_str()))
            .collect();
        return Ok((rows, true));
    }
    let rows = sqlx::query!(
        r#"SELECT contact_id, observed_seq, channel, best_window::text AS best_window
           FROM contact_scores WHERE contact_id = ANY($1) ORDER BY contact_id"#,
        ids
    )
    .fetch_all(&mut *db)
    .await?;
    let mut windows = WindowTexts::default();
    let rows = rows.into_iter().map(|r| Scored {
        best_window: r
            .best_window
            .as_deref()
            .and_then(|text| windows.parse(text)),
        contact_id: r.contact_id,
        observed_seq: r.observed_seq,
        channel: r.channel,
    });
    Ok((rows.collect(), false))
}

const BETWEEN: &str = "COPY (SELECT contact_id, observed_seq, channel, best_window::text \
     FROM contact_scores \
     WHERE contact_id >= current_setting('pesync.first') \
       AND contact_id <= current_setting('pesync.last') \
     ORDER BY contact_id LIMIT current_setting('pesync.limit')::int8) TO STDOUT (FORMAT binary)";

/// [`super::load::window_of`], from the window's JSON text (as the rows above hold it).
pub(super) fn window_of_text(v: &str) -> Option<Window> {
    serde_json::from_str(v).ok()
}

/// Runs one of the COPY statements above with its settings.
async fn read(
    db: &mut sqlx::PgConnection,
    statement: &str,
    settings: &[(&str, &str)],
) -> sqlx::Result<Vec<Scored>> {
    let mut rows = Vec::new();
    let mut windows = WindowTexts::default();
    copy_out::read_with(db, statement, settings, |row| {
        rows.push(Scored::read(row, &mut windows)?);
        Ok(())
    })
    .await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_window_text_reads_as_parsing_it_afresh() {
        let mut windows = WindowTexts::default();
        let texts: Vec<String> = (0..KEPT_WINDOWS + 10)
            .map(|i| {
                format!(
                    r#"{{"start_time": "{:02}:{:02}:00", "end_time": "20:00:00", "timezone": "{}"}}"#,
                    i / 60 % 24,
                    i % 60,
                    ["Europe/London", "Asia/Kathmandu", "Mars/Base"][i % 3]
                )
            })
            .chain(["not a window".to_owned(), r#"{"start_time": "25:00:00"}"#.to_owned()])
            .collect();
        // Twice over: the second pass reads what the first one kept, and parses the rest again.
        for _ in 0..2 {
            for text in &texts {
                assert_eq!(windows.parse(text), window_of_text(text), "{text}");
            }
        }
        assert_eq!(windows.0.len(), KEPT_WINDOWS);
        assert!(windows.parse(&texts[1]).is_some());
        assert_ne!(windows.parse(&texts[1]), windows.parse(&texts[2]));
    }
}
