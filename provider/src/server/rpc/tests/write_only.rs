//! Write-only attributes: flagged in the schema, refused for clients that cannot handle them,
//! null in every state sent back, and still seen by apply in the configuration.

use super::*;
use crate::list_resources::testing::{self, LEAK};

fn with_write_only_values() -> Value {
    widget_config(
        "a",
        &[
            ("secret_wo", Value::string("s3cret")),
            (
                "options",
                Value::object([
                    ("label", Value::string("l")),
                    ("pin_wo", Value::string("1234")),
                ]),
            ),
        ],
    )
}

/// Both write-only attributes of `v` (top level and nested) are null.
fn assert_write_only_null(v: &Value, what: &str) {
    assert!(!v.is_null(), "{what}: a state was sent");
    assert_eq!(v.get_attr("secret_wo"), Some(&Value::Null), "{what}: {v:?}");
    if let Some(options) = v.get_attr("options").filter(|o| !o.is_null()) {
        assert_eq!(
            options.get_attr("pin_wo"),
            Some(&Value::Null),
            "{what}: {v:?}"
        );
    }
    assert!(!format!("{v:?}").contains(LEAK), "{what}: {v:?}");
}

async fn validate(
    svc: &ProviderService,
    config: &Value,
    write_only_attributes_allowed: Option<bool>,
) -> Vec<pb::Diagnostic> {
    svc.validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
        type_name: testing::TYPE_NAME.into(),
        config: Some(widget_dv(config)),
        client_capabilities: write_only_attributes_allowed.map(|allowed| pb::ClientCapabilities {
            deferral_allowed: false,
            write_only_attributes_allowed: allowed,
        }),
    }))
    .await
    .unwrap()
    .into_inner()
    .diagnostics
}

#[tokio::test]
async fn write_only_flags_reach_the_schema() {
    let (svc, _) = widget_service();
    let schema = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let block = schema.resource_schemas[testing::TYPE_NAME]
        .block
        .clone()
        .unwrap();
    let flag = |attrs: &[pb::schema::Attribute], name: &str| {
        attrs.iter().find(|a| a.name == name).unwrap().write_only
    };
    assert!(flag(&block.attributes, "secret_wo"));
    assert!(!flag(&block.attributes, "secret"));
    let options = block.block_types[0].block.as_ref().unwrap();
    assert!(flag(&options.attributes, "pin_wo"));
    assert!(!flag(&options.attributes, "label"));
}

#[tokio::test]
async fn validation_refuses_write_only_values_unless_the_client_can_handle_them() {
    let (svc, _) = widget_service();
    let config = with_write_only_values();

    // Terraform before 1.10 sends no capabilities; 1.10 sends them without write-only.
    for caps in [None, Some(false)] {
        let ds = validate(&svc, &config, caps).await;
        let errs = errors(&ds);
        assert_eq!(errs.len(), 2, "{caps:?}: {ds:?}");
        let secret = errs[0];
        assert_eq!(
            secret.summary,
            "Write-only attribute needs Terraform 1.11 or later"
        );
        assert_eq!(
            secret.detail,
            "`secret_wo` of galley_test_widget is write-only: Terraform passes it to the \
             provider without storing it in the plan or state, which the Terraform version \
             running this configuration cannot do. Use Terraform 1.11 or later, or set `secret` \
             instead (that value is stored in the state)."
        );
        assert_eq!(
            secret.attribute,
            Some(toproto::attribute_path(&[PathStep::Attr(
                "secret_wo".into()
            )]))
        );
        let pin = errs[1];
        assert!(pin.detail.starts_with("`pin_wo` of galley_test_widget"));
        assert!(
            pin.detail
                .ends_with("Use Terraform 1.11 or later, or remove it from the configuration.")
        );
        assert_eq!(
            pin.attribute,
            Some(toproto::attribute_path(&[
                PathStep::Attr("options".into()),
                PathStep::Attr("pin_wo".into())
            ]))
        );
    }

    // A value not known yet is still a value set.
    let unknown = widget_config("a", &[("secret_wo", Value::unknown())]);
    assert_eq!(errors(&validate(&svc, &unknown, None).await).len(), 1);

    // Terraform 1.11 and later may set them; older ones may leave them out.
    assert!(validate(&svc, &config, Some(true)).await.is_empty());
    let without = widget_config("a", &[("secret", Value::string("s3cret"))]);
    assert!(validate(&svc, &without, None).await.is_empty());
}

#[tokio::test]
async fn write_only_values_are_null_in_every_state_sent_back() {
    let (svc, apply_saw) = widget_service();
    let config = with_write_only_values();
    let name = || testing::TYPE_NAME.to_string();

    let plan = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: name(),
            proposed_new_state: Some(widget_dv(&config)),
            config: Some(widget_dv(&config)),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let planned = widget_of(plan.planned_state.as_ref());
    assert_write_only_null(&planned, "planned state");
    assert_eq!(
        planned
            .get_attr("options")
            .and_then(|o| o.get_attr("label")),
        Some(&Value::string("l")),
        "only write-only attributes are nulled"
    );

    // Terraform sends the planned state (write-only null) and the configuration (with them).
    let apply = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: name(),
            planned_state: Some(widget_dv(&planned)),
            config: Some(widget_dv(&config)),
            planned_identity: plan.planned_identity,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(apply.diagnostics.is_empty(), "{:?}", apply.diagnostics);
    assert_eq!(
        apply_saw.lock().unwrap().as_deref(),
        Some("s3cret"),
        "apply reads the configured value"
    );
    let applied = widget_of(apply.new_state.as_ref());
    assert_write_only_null(&applied, "new state");

    let read = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: name(),
            current_state: apply.new_state.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    assert_write_only_null(&widget_of(read.new_state.as_ref()), "read state");

    let import = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: name(),
            id: "w-a".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(import.diagnostics.is_empty(), "{:?}", import.diagnostics);
    assert_write_only_null(
        &widget_of(import.imported_resources[0].state.as_ref()),
        "imported state",
    );

    let upgrade = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: name(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"name":"a","secret_wo":"old","options":{"label":"l","pin_wo":"old"}}"#
                    .to_vec(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(upgrade.diagnostics.is_empty(), "{:?}", upgrade.diagnostics);
    let upgraded = widget_of(upgrade.upgraded_state.as_ref());
    assert_write_only_null(&upgraded, "upgraded state");
    assert!(!format!("{upgraded:?}").contains("old"));

    let listed = listing::events(&svc, "w", true, 1).await;
    let object = widget_of(listed[0].resource_object.as_ref());
    assert_write_only_null(&object, "listed resource object");
}

#[tokio::test]
async fn client_capabilities_reach_the_resource() {
    use crate::list_resources::testing::Widget;
    use crate::resource::ClientCapabilities;

    let widget = Widget::default();
    let seen = Arc::clone(&widget.clients_seen);
    let svc = service(vec![Arc::new(widget)], Vec::new());
    let config_type = crate::provider_config::schema().block.value_type();
    let configured = svc
        .configure(Request::new(pb::configure::Request {
            terraform_version: "1.15.5".into(),
            config: Some(encode(&Value::null_object(&config_type), &config_type, "c").unwrap()),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        configured.diagnostics.is_empty(),
        "{:?}",
        configured.diagnostics
    );

    let config = widget_config("a", &[]);
    let plan = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: testing::TYPE_NAME.into(),
            proposed_new_state: Some(widget_dv(&config)),
            config: Some(widget_dv(&config)),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: true,
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
        type_name: testing::TYPE_NAME.into(),
        planned_state: plan.planned_state,
        config: Some(widget_dv(&config)),
        ..Default::default()
    }))
    .await
    .unwrap();

    // Plan gets the request's own; apply, whose request carries none, gets Configure's.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                "plan",
                ClientCapabilities {
                    deferral_allowed: true,
                    write_only_attributes_allowed: true
                }
            ),
            (
                "apply",
                ClientCapabilities {
                    deferral_allowed: false,
                    write_only_attributes_allowed: true
                }
            ),
        ]
    );
}
