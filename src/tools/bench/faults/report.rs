//! The suite's report: Markdown tables (as `docs/RELIABILITY.md` quotes them) of the faults' and
//! the abuse cases' figures.

use std::time::Duration;

use super::Row;
use super::abuse::AbuseRow;

fn secs(d: Option<Duration>) -> String {
    d.map_or("—".into(), |d| format!("{:.1}", d.as_secs_f64()))
}

/// The faults' table, then a line of notes (and the dialer's figures) per fault.
pub(super) fn print_faults(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    println!();
    println!(
        "| fault | accepted | delivered | lost | wrong id | order violations | 5xx | 503 | re-sent same id | busiest 1 s / ceiling | recover (s) |"
    );
    println!("| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    for r in rows {
        let t = &r.tally;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
            r.fault,
            t.accepted,
            t.delivered,
            t.lost,
            t.wrong_id,
            t.order_violations,
            r.server_errors,
            r.unavailable,
            r.resent_same_id,
            r.busiest_second,
            r.ceiling,
            secs(r.recover)
        );
    }
    for r in rows {
        let other = if r.tally.other_status > 0 {
            format!(
                "; {} events answered other than accepted",
                r.tally.other_status
            )
        } else {
            String::new()
        };
        println!("  {}: {}{other}", r.fault, r.note);
        if let Some(d) = &r.dialer {
            println!(
                "  {}: dialer: {} eligible contacts, {} pushed once, {} missing, {} under two ids, {} not eligible; {} re-pushed under the same id",
                r.fault, d.eligible, d.once, d.missing, d.twice, d.unexpected, d.repushed_same_id
            );
        }
    }
}

/// The abuse cases' table: the answers each got, how long they took, and the verdict.
pub(super) fn print_abuse(rows: &[AbuseRow]) {
    println!();
    println!("| abuse case | answers | median | max | expected | verdict |");
    println!("| --- | --- | --: | --: | --- | --- |");
    for r in rows {
        let answers: Vec<String> = r
            .statuses
            .iter()
            .map(|(s, n)| match s {
                0 => format!("closed ×{n}"),
                1 => format!("still open ×{n}"),
                _ => format!("{s} ×{n}"),
            })
            .collect();
        println!(
            "| {} | {} | {:.3} s | {:.3} s | {} | {} |",
            r.case,
            answers.join(", "),
            r.median.as_secs_f64(),
            r.max.as_secs_f64(),
            r.expected,
            if r.ok { "ok" } else { "FAIL" }
        );
    }
}
