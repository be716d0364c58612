use serde_json::json;

use super::*;
use crate::normalize::manifest::{AttrType, AttributeSpec, Presence};
use crate::setup::listing::Source;

fn manifest() -> Manifest {
    Manifest::default_v1()
}

/// The org as setup leaves it for `manifest`: every schema at `version`, configurations too.
fn org_for(manifest: &Manifest, version: i32) -> Listings {
    let mut listings = Listings {
        sources: vec![Source {
            id: "src-1".into(),
            name: "pesync".into(),
        }],
        ..Listings::default()
    };
    for (i, (event_type, spec)) in manifest.event_types.iter().enumerate() {
        listings.schemas.push(Schema {
            id: format!("schema-{i}"),
            version,
            enabled: true,
            json_schema: schema::request(event_type, spec),
        });
        listings.configurations.push(Configuration {
            id: format!("config-{i}"),
            name: event_type.clone(),
            schema_id: format!("schema-{i}"),
            division_id: "div-home".into(),
        });
    }
    listings
}

type Change<'a> = (&'a str, &'a str, AttrType, Presence);

/// The org as setup left it for the default manifest (schemas at `version`), and that manifest
/// with `changes` (event type, attribute, type, presence) made.
fn changed(version: i32, changes: &[Change]) -> (Listings, Manifest) {
    let old = manifest();
    let org = org_for(&old, version);
    let mut new = old;
    for &(event_type, name, kind, presence) in changes {
        set(&mut new, event_type, name, kind, presence);
    }
    (org, new)
}

fn set(m: &mut Manifest, event_type: &str, name: &str, kind: AttrType, presence: Presence) {
    m.event_types
        .entry(event_type.to_owned())
        .or_insert_with(|| EventTypeSpec {
            attributes: Default::default(),
        })
        .attributes
        .insert(name.to_owned(), AttributeSpec::new(kind, presence));
}

#[test]
fn an_empty_org_gets_everything_created() {
    let plan = plan(&manifest(), &Listings::default(), "pesync").unwrap();
    assert_eq!(
        plan.source,
        SourceStep::Create {
            name: "pesync".into()
        }
    );
    let types: Vec<&str> = plan.types.iter().map(|t| t.event_type.as_str()).collect();
    assert_eq!(types, ["crm.behavior", "crm.transaction"]);
    for t in &plan.types {
        let SchemaStep::Create { body } = &t.schema else {
            panic!("{t:?}")
        };
        assert_eq!(body["title"], t.event_type.as_str());
        assert_eq!(t.configuration, ConfigurationStep::Create);
    }
    assert_eq!(plan.writes(), 5);
    assert!(plan.creates_configurations());
    assert_eq!(plan.found_division(), None);
}

#[test]
fn an_org_already_set_up_needs_no_write() {
    let m = manifest();
    let plan = plan(&m, &org_for(&m, 4), "pesync").unwrap();
    assert_eq!(
        plan.source,
        SourceStep::Found {
            id: "src-1".into(),
            name: "pesync".into()
        }
    );
    assert_eq!(plan.writes(), 0);
    assert!(!plan.creates_configurations());
    assert_eq!(plan.found_division(), Some("div-home"));
    assert_eq!(
        plan.types[0].schema,
        SchemaStep::Unchanged {
            id: "schema-0".into(),
            version: 4
        }
    );
    assert_eq!(
        plan.types[1].configuration,
        ConfigurationStep::Found {
            id: "config-1".into(),
            division_id: "div-home".into()
        }
    );
}

#[test]
fn another_source_name_is_created_next_to_the_existing_one() {
    let m = manifest();
    let plan = plan(&m, &org_for(&m, 1), "crm-prod").unwrap();
    assert_eq!(
        plan.source,
        SourceStep::Create {
            name: "crm-prod".into()
        }
    );
    assert_eq!(plan.writes(), 1);
}

#[test]
fn the_order_of_required_names_does_not_matter() {
    let m = manifest();
    let mut org = org_for(&m, 1);
    // The org lists `required` in another order: the same schema.
    org.schemas[1].json_schema["required"] = json!(["transaction_value", "crm_record_id"]);
    assert_eq!(plan(&m, &org, "pesync").unwrap().writes(), 0);
}

#[test]
fn a_new_optional_attribute_updates_the_schema_with_its_current_version() {
    let (org, new) = changed(
        3,
        &[(
            "crm.transaction",
            "discount",
            AttrType::Number,
            Presence::Optional,
        )],
    );
    let plan = plan(&new, &org, "pesync").unwrap();
    assert_eq!(plan.writes(), 1);
    let SchemaStep::Update { id, version, body } = &plan.types[1].schema else {
        panic!("{:?}", plan.types[1])
    };
    assert_eq!((id.as_str(), *version), ("schema-1", 3));
    assert_eq!(body["properties"]["discount"], json!({"type": "number"}));
    assert_eq!(
        body["required"],
        json!(["crm_record_id", "transaction_value"])
    );
    assert_eq!(
        plan.types[1].configuration,
        ConfigurationStep::Found {
            id: "config-1".into(),
            division_id: "div-home".into()
        }
    );
}

#[test]
fn required_made_optional_deprecated_or_retyped_updates_the_schema() {
    let changes: [Change; 3] = [
        (
            "crm.transaction",
            "transaction_value",
            AttrType::Number,
            Presence::Optional,
        ),
        (
            "crm.transaction",
            "payment_status",
            AttrType::String,
            Presence::Deprecated,
        ),
        (
            "crm.transaction",
            "product_category",
            AttrType::Integer,
            Presence::Optional,
        ),
    ];
    for change @ (_, name, ..) in changes {
        let (org, new) = changed(1, &[change]);
        let plan = plan(&new, &org, "pesync").unwrap();
        assert!(
            matches!(plan.types[1].schema, SchemaStep::Update { .. }),
            "{name}: {:?}",
            plan.types[1].schema
        );
        assert_eq!(plan.writes(), 1, "{name}");
    }
}

#[test]
fn an_optional_attribute_made_required_is_refused_naming_it() {
    let (org, new) = changed(
        1,
        &[(
            "crm.transaction",
            "payment_status",
            AttrType::String,
            Presence::Required,
        )],
    );
    let refusals = plan(&new, &org, "pesync").unwrap_err();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(
        refusals[0].field,
        "event_types.crm.transaction.attributes.payment_status"
    );
    assert!(
        refusals[0].message.contains("payment_status is optional")
            && refusals[0].message.contains(OPTIONAL_TO_REQUIRED),
        "{}",
        refusals[0]
    );
}

#[test]
fn a_new_required_attribute_on_an_existing_schema_is_refused_but_fine_on_a_new_one() {
    let (org, new) = changed(
        1,
        &[(
            "crm.behavior",
            "visitor_id",
            AttrType::String,
            Presence::Required,
        )],
    );
    let refusals = plan(&new, &org, "pesync").unwrap_err();
    assert_eq!(
        refusals[0].field,
        "event_types.crm.behavior.attributes.visitor_id"
    );
    assert!(refusals[0].message.contains("new"), "{}", refusals[0]);
    // The same manifest on an empty org: the schema is new, anything may be required.
    assert!(plan(&new, &Listings::default(), "pesync").is_ok());
}

#[test]
fn a_new_event_type_gets_a_schema_and_a_configuration() {
    let (org, new) = changed(
        1,
        &[(
            "crm.refund",
            "crm_record_id",
            AttrType::String,
            Presence::Required,
        )],
    );
    let plan = plan(&new, &org, "pesync").unwrap();
    let refund = plan
        .types
        .iter()
        .find(|t| t.event_type == "crm.refund")
        .unwrap();
    assert!(matches!(refund.schema, SchemaStep::Create { .. }));
    assert_eq!(refund.configuration, ConfigurationStep::Create);
    assert_eq!(plan.writes(), 2);
    assert_eq!(plan.found_division(), Some("div-home"));
}

#[test]
fn a_schema_without_its_configuration_gets_one() {
    let m = manifest();
    let mut org = org_for(&m, 1);
    // A configuration of that name for another schema is not ours.
    org.configurations[0].schema_id = "someone-elses".into();
    let plan = plan(&m, &org, "pesync").unwrap();
    assert_eq!(plan.types[0].configuration, ConfigurationStep::Create);
    assert!(matches!(plan.types[0].schema, SchemaStep::Unchanged { .. }));
    assert_eq!(plan.writes(), 1);
}

#[test]
fn a_disabled_schema_of_the_same_title_is_not_reused() {
    let m = manifest();
    let mut org = org_for(&m, 1);
    org.schemas[0].enabled = false;
    let plan = plan(&m, &org, "pesync").unwrap();
    assert!(matches!(plan.types[0].schema, SchemaStep::Create { .. }));
    assert_eq!(plan.types[0].configuration, ConfigurationStep::Create);
}

fn with_types(count: usize) -> Manifest {
    let mut m = Manifest {
        event_types: Default::default(),
    };
    for i in 0..count {
        set(
            &mut m,
            &format!("t{i:02}"),
            "crm_record_id",
            AttrType::String,
            Presence::Required,
        );
    }
    m
}

#[test]
fn twenty_event_types_fit_and_twenty_one_are_refused() {
    assert!(plan(&with_types(20), &Listings::default(), "pesync").is_ok());
    let refusals = plan(&with_types(21), &Listings::default(), "pesync").unwrap_err();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].field, "event_types");
    assert!(
        refusals[0].message.contains("21 event types"),
        "{}",
        refusals[0]
    );
}

#[test]
fn schemas_of_the_org_count_toward_its_twenty() {
    let mut org = Listings::default();
    for i in 0..5 {
        org.schemas.push(Schema {
            id: format!("other-{i}"),
            version: 1,
            enabled: i % 2 == 0,
            json_schema: json!({"title": format!("someone.else.{i}")}),
        });
    }
    assert!(plan(&with_types(15), &org, "pesync").is_ok());
    let refusals = plan(&with_types(16), &org, "pesync").unwrap_err();
    assert!(
        refusals[0]
            .message
            .contains("21 external event schemas (5 there already, 16 new)"),
        "{}",
        refusals[0]
    );
}

#[test]
fn fifty_attributes_fit_and_fifty_one_are_refused_deprecated_ones_not_counted() {
    let mut m = with_types(1);
    for i in 1..50 {
        set(
            &mut m,
            "t00",
            &format!("a{i:02}"),
            AttrType::Number,
            Presence::Optional,
        );
    }
    set(&mut m, "t00", "old", AttrType::Number, Presence::Deprecated);
    assert!(plan(&m, &Listings::default(), "pesync").is_ok());
    set(&mut m, "t00", "a50", AttrType::Number, Presence::Optional);
    let refusals = plan(&m, &Listings::default(), "pesync").unwrap_err();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].field, "event_types.t00.attributes");
    assert!(
        refusals[0].message.starts_with("51 attributes"),
        "{}",
        refusals[0]
    );
}

#[test]
fn every_refusal_is_listed_at_once() {
    let (org, new) = changed(
        1,
        &[
            (
                "crm.behavior",
                "pages_viewed",
                AttrType::Integer,
                Presence::Required,
            ),
            (
                "crm.transaction",
                "channel_origin",
                AttrType::String,
                Presence::Required,
            ),
        ],
    );
    let fields: Vec<String> = plan(&new, &org, "pesync")
        .unwrap_err()
        .into_iter()
        .map(|r| r.field)
        .collect();
    assert_eq!(
        fields,
        [
            "event_types.crm.behavior.attributes.pages_viewed",
            "event_types.crm.transaction.attributes.channel_origin"
        ]
    );
}

#[test]
fn the_plan_prints_one_line_per_object() {
    let (org, new) = changed(
        2,
        &[(
            "crm.behavior",
            "referrer",
            AttrType::String,
            Presence::Optional,
        )],
    );
    let text = plan(&new, &org, "pesync").unwrap().to_string();
    assert_eq!(
        text,
        "External Source \"pesync\": found (src-1)\n\
         crm.behavior: schema schema-0 to update (from version 2); configuration found (config-0)\n\
         crm.transaction: schema schema-1 unchanged (version 2); configuration found (config-1)\n"
    );
}
