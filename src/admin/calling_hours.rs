//! Reading a campaign's `calling_hours` (issue 11 §4) field by field, so a 422 names the exact
//! field (`calling_hours.start_time`) rather than the whole object.

use serde_json::Value;

use super::document::{Fields, join};
use crate::eligibility::CallingHours;
use crate::eligibility::window::parse_hms;
use crate::platform::http::problem::FieldProblem;

/// `calling_hours` at `path` (e.g. `campaign.calling_hours`): `{start_time, end_time}`, each
/// `HH:MM:SS`, nothing else.
pub fn parse_calling_hours(v: &Value, path: &str) -> Result<CallingHours, Vec<FieldProblem>> {
    let mut f = Fields::of(v, path)?;
    let start = f.required::<String>("start_time");
    let end = f.required::<String>("end_time");
    let mut time = |key: &'static str, text: Option<String>| {
        let text = text?;
        let t = parse_hms(&text);
        if t.is_none() {
            f.problem(key, format!("expected a time as HH:MM:SS, got {text:?}"));
        }
        t
    };
    let (start, end) = (time("start_time", start), time("end_time", end));
    let problems = f.finish();
    match (start, end) {
        (Some(start_time), Some(end_time)) if problems.is_empty() => Ok(CallingHours {
            start_time,
            end_time,
        }),
        _ => Err(problems),
    }
}

/// Reads the optional `calling_hours` of the document being read by `f`, recording its problems.
pub fn optional_calling_hours(f: &mut Fields<'_>, prefix: &str) -> Option<CallingHours> {
    let v = f.raw("calling_hours")?;
    match parse_calling_hours(v, &join(prefix, "calling_hours")) {
        Ok(h) => Some(h),
        Err(problems) => {
            f.extend(problems);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;
    use serde_json::json;

    fn fields(p: &[FieldProblem]) -> Vec<&str> {
        p.iter().map(|x| x.field.as_str()).collect()
    }

    #[test]
    fn reads_start_and_end() {
        let h = parse_calling_hours(
            &json!({"start_time": "08:00:00", "end_time": "21:00:00"}),
            "calling_hours",
        )
        .unwrap();
        assert_eq!(h.start_time, NaiveTime::from_hms_opt(8, 0, 0).unwrap());
        assert_eq!(h.end_time, NaiveTime::from_hms_opt(21, 0, 0).unwrap());
    }

    #[test]
    fn every_problem_names_its_field() {
        let p = parse_calling_hours(
            &json!({"start_time": "8am", "end_time": 21, "zone": "x"}),
            "campaign.calling_hours",
        )
        .unwrap_err();
        assert_eq!(
            fields(&p),
            [
                "campaign.calling_hours.end_time",
                "campaign.calling_hours.start_time",
                "campaign.calling_hours.zone"
            ]
        );
        let p = parse_calling_hours(&json!({}), "calling_hours").unwrap_err();
        assert_eq!(
            fields(&p),
            ["calling_hours.start_time", "calling_hours.end_time"]
        );
        let p = parse_calling_hours(&json!("08-21"), "calling_hours").unwrap_err();
        assert_eq!(fields(&p), ["calling_hours"]);
        let p = parse_calling_hours(
            &json!({"start_time": "24:00:00", "end_time": "21:00"}),
            "calling_hours",
        )
        .unwrap_err();
        assert_eq!(
            fields(&p),
            ["calling_hours.start_time", "calling_hours.end_time"]
        );
    }
}
