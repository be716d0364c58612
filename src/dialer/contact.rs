//! What the dialer receives (SPEC §7 "The dialer", §11.17): Genesys' `WritableDialerContact`, whose
//! `data` values are all strings, with a stable `id` per campaign and contact. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::eligibility::window::hms_text;
use crate::eligibility::{Campaign, Evaluation};
use crate::normalize::dedup::dialer_contact_id;

/// At most this many contacts per `POST …/contactlists/{id}/contacts` (the SPEC's limit, which is
/// also what Genesys is reported to accept).
pub const MAX_CONTACTS_PER_PUSH: usize = 1000;

/// `WritableDialerContact` (see `../shared/reference/genesys-outbound-contacts.json`). The same
/// document is pushed to the dialer and leased from the pull feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DialerContact {
    /// Stable per campaign and contact, so a re-push updates the dialer's contact.
    #[schema(example = "0b8e2c1a-44f3-8d2e-9c51-7a3e6b1d0f42")]
    pub id: String,
    pub contact_list_id: String,
    pub data: DialerData,
    pub callable: bool,
}

/// The contact's columns; every value is a string, as Genesys requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DialerData {
    pub contact_id: String,
    pub campaign: String,
    pub channel: String,
    /// The effective score, e.g. `"0.82"`.
    #[schema(example = "0.82")]
    pub propensity_score: String,
    #[schema(example = "high")]
    pub tier: String,
    /// `HH:MM:SS` in the contact's zone.
    #[schema(example = "09:00:00")]
    pub window_start: String,
    #[schema(example = "11:30:00")]
    pub window_end: String,
    #[schema(example = "America/New_York")]
    pub timezone: String,
}

/// A score as the dialer gets it: the shortest text that reads back as the same number (`0.82`,
/// not `0.8200000000000001`).
pub fn score_text(score: f64) -> String {
    score.to_string()
}

/// The dialer contact for an eligible evaluation of `contact_id` by `campaign`: routed to the
/// contact list of the contact's channel, with the effective score, tier and the window applied
/// (the contact's own, else the campaign's default; with calling hours, the piece of their
/// intersection the contact is in now). `None` when the evaluation lacks any of them,
/// which an eligible one never does.
pub fn dialer_contact(
    campaign: &Campaign,
    contact_id: &str,
    evaluation: &Evaluation,
) -> Option<DialerContact> {
    // The open piece of window ∩ calling hours, so the dialer does not call outside either.
    let window = evaluation
        .handover_window
        .as_ref()
        .or(evaluation.effective_window.as_ref())?;
    Some(DialerContact {
        id: dialer_contact_id(&campaign.id, contact_id),
        contact_list_id: evaluation.contact_list_id.clone()?,
        data: DialerData {
            contact_id: contact_id.to_owned(),
            campaign: campaign.id.clone(),
            channel: evaluation.channel.clone()?,
            propensity_score: score_text(evaluation.effective_score?),
            tier: evaluation.tier?.as_str().to_owned(),
            window_start: hms_text(window.start_time),
            window_end: hms_text(window.end_time),
            timezone: window.timezone.clone(),
        },
        callable: true,
    })
}

/// Groups items by contact list (lists in first-seen order, items in their order) and cuts each
/// group into requests of at most `max` items.
pub fn batches<T>(
    items: impl IntoIterator<Item = (String, T)>,
    max: usize,
) -> Vec<(String, Vec<T>)> {
    let max = max.max(1);
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for (list, item) in items {
        if !groups.contains_key(&list) {
            order.push(list.clone());
        }
        groups.entry(list).or_default().push(item);
    }
    let mut out = Vec::new();
    for list in order {
        let mut items = groups.remove(&list).unwrap_or_default();
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(max));
            out.push((list.clone(), items));
            items = rest;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::thresholds::Thresholds;
    use crate::eligibility::{ContactFacts, Mode, Observation, Tier, Window, evaluate};
    use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
    use serde_json::json;

    fn campaign() -> Campaign {
        Campaign {
            id: "spring-renewals".into(),
            name: "Spring".into(),
            enabled: true,
            priority: 0,
            tiers: vec![Tier::High, Tier::Moderate],
            mode: Mode::Push,
            channels: BTreeMap::from([("voice".into(), "list-voice".into())]),
            default_window: Window {
                start_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                end_time: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
                timezone: "America/New_York".into(),
            },
            default_channel: None,
            calling_hours: None,
        }
    }

    fn eligible(now: DateTime<Utc>, own_window: Option<Window>) -> Evaluation {
        let facts = ContactFacts {
            observations: vec![
                Observation::new(now - TimeDelta::hours(3), 0.62),
                Observation::new(now - TimeDelta::hours(2), 0.82),
            ],
            channel_preference: Some("voice".into()),
            best_contact_window: own_window,
            last_handover_at: None,
            suppression: None,
        };
        evaluate(&facts, &campaign(), &Thresholds::default(), now)
    }

    #[test]
    fn every_data_value_is_a_string_and_the_id_is_stable() {
        let now: DateTime<Utc> = "2026-03-10T15:00:00Z".parse().unwrap();
        let own = Window {
            start_time: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
            timezone: "Asia/Kathmandu".into(),
        };
        let e = eligible(now, Some(own));
        assert!(e.is_eligible(), "{e:?}");
        let c = dialer_contact(&campaign(), "c-1", &e).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            json!({"id": dialer_contact_id("spring-renewals", "c-1"), "contactListId": "list-voice",
                   "data": {"contact_id": "c-1", "campaign": "spring-renewals", "channel": "voice",
                            "propensity_score": "0.82", "tier": "high", "window_start": "00:00:00",
                            "window_end": "00:00:00", "timezone": "Asia/Kathmandu"},
                   "callable": true})
        );
        assert!(
            v["data"]
                .as_object()
                .unwrap()
                .values()
                .all(|x| x.is_string())
        );
        assert_eq!(c, dialer_contact(&campaign(), "c-1", &e).unwrap());
    }

    #[test]
    fn without_a_window_of_its_own_the_campaign_default_is_sent() {
        let now: DateTime<Utc> = "2026-03-10T15:00:00Z".parse().unwrap(); // 11:00 in New York
        let c = dialer_contact(&campaign(), "c-2", &eligible(now, None)).unwrap();
        assert_eq!(c.data.window_start, "09:00:00");
        assert_eq!(c.data.window_end, "20:00:00");
        assert_eq!(c.data.timezone, "America/New_York");
    }

    #[test]
    fn scores_read_back_exactly() {
        assert_eq!(score_text(0.82), "0.82");
        assert_eq!(score_text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(score_text(1.0), "1");
        for s in [0.0, 0.4, 0.75, 0.123456789, 1.0 / 3.0] {
            assert_eq!(score_text(s).parse::<f64>().unwrap(), s);
        }
    }

    #[test]
    fn batches_never_exceed_the_limit_and_keep_lists_apart() {
        let items: Vec<(String, u32)> = (0..2501)
            .map(|i| (if i % 2 == 0 { "a" } else { "b" }.to_string(), i))
            .collect();
        let b = batches(items, MAX_CONTACTS_PER_PUSH);
        let sizes: Vec<(&str, usize)> = b.iter().map(|(l, v)| (l.as_str(), v.len())).collect();
        assert_eq!(sizes, [("a", 1000), ("a", 251), ("b", 1000), ("b", 250)]);
        assert!(b[0].1.iter().all(|i| i % 2 == 0));
        assert_eq!(b[0].1[..3], [0, 2, 4], "order kept within a list");
        assert_eq!(b.iter().map(|(_, v)| v.len()).sum::<usize>(), 2501);
    }

    #[test]
    fn batches_of_nothing_and_exact_multiples() {
        assert!(batches(Vec::<(String, u8)>::new(), 1000).is_empty());
        let items = (0..2000).map(|i| ("l".to_string(), i));
        let b = batches(items, 1000);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|(_, v)| v.len() == 1000));
    }
}
