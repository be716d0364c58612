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

#[test]
fn a_row_holds_the_campaigns_and_reasons_space_separated_in_order() {
    let mut runs = DecisionRuns::default();
    let campaigns = [
        Campaign::open_all_day("a", 1),
        Campaign::open_all_day("b-2", 2),
    ];
    runs.push(
        &campaigns,
        "c-1",
        &[evaluation("eligible"), evaluation("cooldown")],
        &Thresholds::default(),
    );
    runs.push(
        &campaigns,
        "c-2",
        &[evaluation("no_profile"), evaluation("no_profile")],
        &Thresholds::default(),
    );
    assert_eq!(runs.decisions(), 4);
    assert_eq!(runs.campaigns, "a b-2");
    assert_eq!(runs.runs[0].reasons, "eligible cooldown");
    let parts: Value = serde_json::from_str(&runs.runs[1].details).unwrap();
    assert_eq!(parts.as_array().map(Vec::len), Some(2));
    // Every run but the skipped one is a row.
    let skip = HashSet::from(["c-1"]);
    let written: Vec<&str> = runs.written(&skip).map(|r| r.contact_id.as_str()).collect();
    assert_eq!(written, ["c-2"]);
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
