//! The campaign document: its JSON form, defaults, and validation.

use super::*;

const SPEC_DOCUMENT: &str = r#"{"id": "spring-renewals", "name": "Spring renewals", "enabled": true, "priority": 10,
 "tiers": ["high", "moderate"], "mode": "push",
 "channels": {"voice": "list-voice", "email": "list-email"},
 "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"}}"#;

#[test]
fn the_spec_document_parses_and_round_trips() {
    let campaign: Campaign = serde_json::from_str(SPEC_DOCUMENT).unwrap();
    assert_eq!(campaign, spring_renewals());
    assert!(campaign.validate().is_empty());
    let again: Campaign = serde_json::from_value(serde_json::to_value(&campaign).unwrap()).unwrap();
    assert_eq!(again, campaign);
}

#[test]
fn defaults_for_enabled_priority_and_tiers() {
    let minimal = r#"{"id": "c1", "name": "C1", "mode": "pull", "channels": {"voice": "l1"},
      "default_window": {"start_time": "09:00:00", "end_time": "17:00:00", "timezone": "UTC"}}"#;
    let campaign: Campaign = serde_json::from_str(minimal).unwrap();
    assert!(campaign.enabled);
    assert_eq!(campaign.priority, 0);
    assert_eq!(campaign.tiers, [Tier::High, Tier::Moderate]);
    assert_eq!(campaign.mode, Mode::Pull);
}

#[test]
fn malformed_documents_do_not_parse() {
    let mut value: serde_json::Value = serde_json::from_str(SPEC_DOCUMENT).unwrap();
    let edits: [(&str, serde_json::Value); 4] = [
        ("tier", serde_json::json!(["high"])), // typo of "tiers": refused, not defaulted
        ("mode", "PUSH".into()),
        ("tiers", serde_json::json!(["urgent"])),
        ("priority", serde_json::json!(1.5)),
    ];
    for (field, bad) in edits {
        let original = value.get(field).cloned();
        value[field] = bad;
        assert!(
            serde_json::from_value::<Campaign>(value.clone()).is_err(),
            "{field}"
        );
        match original {
            Some(v) => value[field] = v,
            None => {
                value.as_object_mut().unwrap().remove(field);
            }
        }
    }
}

fn problems(campaign: &Campaign) -> Vec<String> {
    campaign.validate().into_iter().map(|p| p.field).collect()
}

#[test]
fn validation_table() {
    type Edit = fn(&mut Campaign);
    let cases: &[(&str, Edit, &[&str])] = &[
        ("64 characters", |c| c.id = "a".repeat(64), &[]),
        ("65 characters", |c| c.id = "a".repeat(65), &["id"]),
        ("empty id", |c| c.id = String::new(), &["id"]),
        ("space in id", |c| c.id = "spring renewals".into(), &["id"]),
        ("slash in id", |c| c.id = "a/b".into(), &["id"]),
        ("non-ASCII id", |c| c.id = "früh".into(), &["id"]),
        ("dot segment", |c| c.id = "..".into(), &["id"]),
        ("dots and more", |c| c.id = "v1.2_x-Y".into(), &[]),
        ("blank name", |c| c.name = "  ".into(), &["name"]),
        ("no tier", |c| c.tiers.clear(), &["tiers"]),
        ("duplicate tier", |c| c.tiers.push(Tier::High), &["tiers"]),
        ("no channel", |c| c.channels.clear(), &["channels"]),
        (
            "padded channel name",
            |c| {
                c.channels.insert(" sms".into(), "l".into());
            },
            &["channels. sms"],
        ),
        (
            "empty list id",
            |c| {
                c.channels.insert("sms".into(), String::new());
            },
            &["channels.sms"],
        ),
        (
            "list id with a slash",
            |c| {
                c.channels.insert("sms".into(), "a/b".into());
            },
            &["channels.sms"],
        ),
        (
            "unknown zone",
            |c| c.default_window.timezone = "Mars/Base".into(),
            &["default_window.timezone"],
        ),
        (
            "lower-case zone",
            |c| c.default_window.timezone = "america/new_york".into(),
            &["default_window.timezone"],
        ),
        (
            "all-day default window",
            |c| c.default_window.end_time = c.default_window.start_time,
            &[],
        ),
    ];
    for (name, edit, expected) in cases {
        let mut campaign = spring_renewals();
        edit(&mut campaign);
        assert_eq!(problems(&campaign), *expected, "{name}");
    }
}

#[test]
fn every_problem_is_listed_at_once() {
    let campaign = Campaign {
        id: String::new(),
        name: String::new(),
        tiers: vec![],
        channels: BTreeMap::new(),
        default_window: window("09:00:00", "17:00:00", "Nowhere"),
        ..spring_renewals()
    };
    assert_eq!(
        problems(&campaign),
        ["id", "name", "tiers", "channels", "default_window.timezone"]
    );
    let err = campaign.validated().unwrap_err();
    assert_eq!(err.problems.len(), 5);
}

#[test]
fn tiers_serialize_lowercase() {
    let json = serde_json::to_string(&[Tier::High, Tier::Moderate, Tier::Low]).unwrap();
    assert_eq!(json, r#"["high","moderate","low"]"#);
    assert_eq!(Tier::Moderate.as_str(), "moderate");
}

#[test]
fn the_default_channel_must_be_one_of_the_channels() {
    let mut campaign = Campaign {
        default_channel: Some("voice".into()),
        calling_hours: None,
        ..spring_renewals()
    };
    assert!(problems(&campaign).is_empty());
    campaign.default_channel = Some("fax".into());
    assert_eq!(problems(&campaign), ["default_channel"]);
}

#[test]
fn a_mode_is_stored_under_the_name_the_document_gives_it() {
    for mode in [Mode::Push, Mode::Pull] {
        assert_eq!(
            serde_json::to_value(mode).unwrap(),
            serde_json::json!(mode.as_str())
        );
    }
}
