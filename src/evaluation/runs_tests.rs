use serde_json::{Value, json};

use super::*;
use crate::eligibility::{Rule, RuleOutcome, WindowState};

fn evaluation(reason: &str) -> Evaluation {
    serde_json::from_value(json!({"reason": reason, "observations": [], "outcomes": []})).unwrap()
}

#[test]
fn a_campaigns_details_are_the_json_array_the_view_reads() {
    let next: DateTime<Utc> = "2026-12-08T09:00:00.000001Z".parse().unwrap();
    let until: DateTime<Utc> = "2026-12-10T10:56:28.746496Z".parse().unwrap();
    let mut e = evaluation("cooldown");
    e.channel = Some("vo\"ice".into());
    e.window = Some(WindowState {
        open: false,
        next_opening: Some(next),
    });
    e.cooldown_until = Some(until);
    e.taken_by = Some("b".into());
    e.outcomes = Rule::ALL
        .iter()
        .map(|r| RuleOutcome {
            rule: *r,
            passed: *r != Rule::Cooldown,
            detail: "in cooldown \\ until".into(),
        })
        .collect();
    let rise = RiseParts::of(&Thresholds::default());
    let mut out = String::new();
    details(&mut out, &e, &rise);
    let v: Value = serde_json::from_str(&out).unwrap();
    let rules = json!([
        true,
        true,
        true,
        true,
        "in cooldown \\ until",
        true,
        true,
        true,
        true
    ]);
    assert_eq!(
        v,
        json!([
            "vo\"ice",
            false,
            "2026-12-08T09:00:00.000001Z",
            "2026-12-10T10:56:28.746496Z",
            "b",
            rules
        ])
    );

    let mut out = String::new();
    details(&mut out, &evaluation("no_profile"), &rise);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!([
            null,
            null,
            null,
            null,
            null,
            [
                "not evaluated",
                "not evaluated",
                "not evaluated",
                "not evaluated",
                "not evaluated",
                "not evaluated",
                "not evaluated",
                "not evaluated",
                "not evaluated"
            ]
        ])
    );
}

/// A row as [`DecisionRuns::push`] encoded it: its fields, `None` for NULL.
fn fields(row: &[u8]) -> Vec<Option<&[u8]>> {
    let count = i16::from_be_bytes([row[0], row[1]]);
    let mut at = 2;
    (0..count)
        .map(|_| {
            let len = i32::from_be_bytes(row[at..at + 4].try_into().unwrap());
            at += 4;
            let len = usize::try_from(len).ok()?;
            at += len;
            Some(&row[at - len..at])
        })
        .collect()
}

fn text(field: Option<&[u8]>) -> &str {
    std::str::from_utf8(field.unwrap()).unwrap()
}

#[test]
fn a_row_holds_the_campaigns_and_reasons_space_separated_in_order() {
    let now: DateTime<Utc> = "2026-12-08T09:00:00Z".parse().unwrap();
    let mut runs = DecisionRuns::default();
    let campaigns = [
        Campaign::open_all_day("a", 1),
        Campaign::open_all_day("b-2", 2),
    ];
    let mut eligible = evaluation("eligible");
    eligible.effective_score = Some(0.8);
    eligible.tier = Some(Tier::High);
    runs.push(
        &campaigns,
        "c-1",
        &[eligible, evaluation("cooldown")],
        &Thresholds::default(),
        now,
    );
    runs.push(
        &campaigns,
        "c-é",
        &[evaluation("no_profile"), evaluation("no_profile")],
        &Thresholds::default(),
        now,
    );
    assert_eq!(runs.decisions(), 4);
    let rows: Vec<&[u8]> = runs.rows.rows().collect();
    let first = fields(rows[0]);
    assert_eq!(first.len(), 8);
    assert_eq!(text(first[0]), "c-1");
    let micros = now.timestamp_micros() - 946_684_800_000_000;
    assert_eq!(first[1], Some(&micros.to_be_bytes()[..]));
    assert_eq!(text(first[2]), "high");
    assert_eq!(first[3], Some(&0.8f64.to_be_bytes()[..]));
    assert_eq!(first[4], None, "no rise");
    assert_eq!(text(first[5]), "a b-2");
    assert_eq!(text(first[6]), "eligible cooldown");
    let one: Value = serde_json::from_str(text(first[7])).unwrap();
    assert_eq!(one.as_array().map(Vec::len), Some(2));
    // The second contact's texts are its own: nothing of the first carries over.
    let second = fields(rows[1]);
    assert_eq!(second[2], None, "no tier");
    assert_eq!(text(second[6]), "no_profile no_profile");
    let parts: Value = serde_json::from_str(text(second[7])).unwrap();
    assert_eq!(parts.as_array().map(Vec::len), Some(2));
    // Every run but the skipped one is a row, whatever the contact's id holds.
    assert_eq!(contact_of(rows[1]), "c-é");
    let kept = |skip: HashSet<&str>| {
        let written = runs.written(&skip).map(contact_of);
        written.map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(kept(HashSet::from(["c-1"])), ["c-é"]);
    assert_eq!(kept(HashSet::from(["c-é"])), ["c-1"]);
    assert_eq!(kept(HashSet::new()), ["c-1", "c-é"]);
}

#[test]
fn no_reason_holds_a_space() {
    for r in crate::eligibility::Reason::ALL {
        assert!(!r.as_str().is_empty() && !r.as_str().contains(char::is_whitespace));
    }
}

proptest::proptest! {
    #[test]
    fn instants_are_written_as_chrono_writes_rfc_3339(
        micros in -62_135_596_800_000_000i64..253_402_300_799_999_999i64
    ) {
        let t = DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
        let mut out = String::new();
        push_instant(&mut out, t);
        let chrono = format!("\"{}\"", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        proptest::prop_assert_eq!(out, chrono);
    }
}

#[test]
fn instants_outside_four_digit_years_are_written_too() {
    let t: DateTime<Utc> = "+10000-01-01T00:00:00Z".parse().unwrap();
    let mut out = String::new();
    push_instant(&mut out, t);
    assert_eq!(out, "\"+10000-01-01T00:00:00.000000Z\"");
}
