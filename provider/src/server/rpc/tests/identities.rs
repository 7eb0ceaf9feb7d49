//! Resource identity through the RPCs: schemas, derivation on plan, apply, read and import,
//! an identity that must not change, its upgrade, and import by identity.

use super::*;
use crate::list_resources::testing::{self, as_sent, state};

fn name() -> String {
    testing::TYPE_NAME.to_string()
}

async fn plan(
    svc: &ProviderService,
    prior: &Value,
    config: &Value,
    prior_identity: Option<&Value>,
) -> pb::plan_resource_change::Response {
    // Terraform's proposed new state: the configuration, with prior computed values kept.
    let mut proposed = config.clone();
    if !prior.is_null() {
        for k in ["id", "checksum"] {
            proposed.set_attr(k, prior.get_attr(k).cloned().unwrap());
        }
    }
    svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
        type_name: name(),
        prior_state: Some(widget_dv(prior)),
        proposed_new_state: Some(widget_dv(&proposed)),
        config: Some(widget_dv(config)),
        prior_identity: prior_identity.map(identity_dv),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

async fn read(
    svc: &ProviderService,
    state: &Value,
    current_identity: Option<&Value>,
) -> pb::read_resource::Response {
    svc.read_resource(Request::new(pb::read_resource::Request {
        type_name: name(),
        current_state: Some(widget_dv(state)),
        current_identity: current_identity.map(identity_dv),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

async fn import(
    svc: &ProviderService,
    id: &str,
    identity: Option<&Value>,
) -> pb::import_resource_state::Response {
    svc.import_resource_state(Request::new(pb::import_resource_state::Request {
        type_name: name(),
        id: id.into(),
        identity: identity.map(identity_dv),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn identity_schemas_are_served_for_the_resources_that_declare_one() {
    let (svc, _) = widget_service();
    let schemas = svc
        .get_resource_identity_schemas(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let widget = &schemas.identity_schemas[testing::TYPE_NAME];
    assert_eq!(widget.version, 1);
    let attrs: Vec<_> = widget
        .identity_attributes
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.required_for_import,
                a.optional_for_import,
            )
        })
        .collect();
    assert_eq!(attrs, [("name", true, false), ("zone", false, true)]);

    // A resource without an identity is left out, not answered with an empty schema.
    let plain = service(vec![Arc::new(Panicky2)], Vec::new());
    let schemas = plain
        .get_resource_identity_schemas(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(schemas.identity_schemas.is_empty());
    assert!(schemas.diagnostics.is_empty());
}

#[tokio::test]
async fn identity_round_trips_through_plan_apply_read_update_and_import() {
    let (svc, _) = widget_service();
    let config = widget_config("a", &[]);

    // Create: the identity is planned from the planned state.
    let planned = plan(&svc, &Value::Null, &config, None).await;
    assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);
    let want = widget_identity("a", Some("z1"));
    assert_eq!(identity_of(planned.planned_identity.as_ref()), want);
    // Not known yet at plan time: no planned identity (Terraform cannot render an unknown one).
    let unknown_name = widget_config("a", &[("name", Value::unknown())]);
    let pending = plan(&svc, &Value::Null, &unknown_name, None).await;
    assert!(pending.diagnostics.is_empty(), "{:?}", pending.diagnostics);
    assert!(pending.planned_identity.is_none());

    let applied = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: name(),
            prior_state: Some(widget_dv(&Value::Null)),
            planned_state: planned.planned_state.clone(),
            config: Some(widget_dv(&config)),
            planned_identity: planned.planned_identity.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
    assert_eq!(identity_of(applied.new_identity.as_ref()), want);
    let stored = widget_of(applied.new_state.as_ref());

    let refreshed = read(&svc, &stored, Some(&want)).await;
    assert!(
        refreshed.diagnostics.is_empty(),
        "{:?}",
        refreshed.diagnostics
    );
    assert_eq!(identity_of(refreshed.new_identity.as_ref()), want);
    // A state written before identities existed gets one on its first refresh.
    let first = read(&svc, &stored, None).await;
    assert_eq!(identity_of(first.new_identity.as_ref()), want);

    // An update of something else keeps the identity.
    let update = widget_config("a", &[("secret", Value::string("s"))]);
    let updated = plan(&svc, &stored, &update, Some(&want)).await;
    assert!(updated.diagnostics.is_empty(), "{:?}", updated.diagnostics);
    assert_eq!(identity_of(updated.planned_identity.as_ref()), want);
    let applied = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: name(),
            prior_state: Some(widget_dv(&stored)),
            planned_state: updated.planned_state.clone(),
            config: Some(widget_dv(&update)),
            planned_identity: updated.planned_identity.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
    assert_eq!(identity_of(applied.new_identity.as_ref()), want);

    // A replacement (a new name) may change it.
    let replaced = plan(&svc, &stored, &widget_config("b", &[]), Some(&want)).await;
    assert!(
        replaced.diagnostics.is_empty(),
        "{:?}",
        replaced.diagnostics
    );
    assert_eq!(
        identity_of(replaced.planned_identity.as_ref()),
        widget_identity("b", Some("z1"))
    );

    let imported = import(&svc, "w-a", None).await;
    assert!(
        imported.diagnostics.is_empty(),
        "{:?}",
        imported.diagnostics
    );
    let resource = &imported.imported_resources[0];
    assert_eq!(identity_of(resource.identity.as_ref()), want);
    assert_eq!(widget_of(resource.state.as_ref()), as_sent("a", "z1"));
}

#[tokio::test]
async fn an_identity_that_changes_without_a_replacement_is_refused() {
    let (svc, _) = widget_service();
    let stored = state("a", "z1");
    let identity = widget_identity("a", Some("z1"));

    // `zone` does not force a replacement, yet it is part of the identity.
    let moved = plan(
        &svc,
        &stored,
        &widget_config("a", &[("zone", Value::string("z2"))]),
        Some(&identity),
    )
    .await;
    let (summary, detail) = only_error(&moved.diagnostics);
    assert_eq!(summary, "Unexpected identity change");
    assert!(
        detail.starts_with("During plan, the galley_test_widget resource returned an identity"),
        "{detail}"
    );
    assert!(moved.planned_state.is_none());

    // A refresh that finds another object keeps the stored state and identity.
    let other = widget_identity("b", Some("z1"));
    let refreshed = read(&svc, &stored, Some(&other)).await;
    assert_eq!(
        only_error(&refreshed.diagnostics).0,
        "Unexpected identity change"
    );
    assert_eq!(widget_of(refreshed.new_state.as_ref()), stored);
    assert_eq!(identity_of(refreshed.new_identity.as_ref()), other);

    // Apply writes the state whatever happens, and says what is wrong.
    let applied = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: name(),
            prior_state: Some(widget_dv(&stored)),
            planned_state: Some(widget_dv(&stored)),
            config: Some(widget_dv(&widget_config("a", &[]))),
            planned_identity: Some(identity_dv(&other)),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        only_error(&applied.diagnostics).0,
        "Unexpected identity change"
    );
    assert!(applied.new_state.is_some());
}

#[tokio::test]
async fn stored_identities_are_upgraded() {
    let (svc, _) = widget_service();
    let upgrade = |type_name: &str, version: i64, json: &str| {
        svc.upgrade_resource_identity(Request::new(pb::upgrade_resource_identity::Request {
            type_name: type_name.into(),
            version,
            raw_identity: Some(pb::RawState {
                json: json.as_bytes().to_vec(),
                ..Default::default()
            }),
        }))
    };

    let r = upgrade(testing::TYPE_NAME, 0, r#"{"widget_name":"a"}"#)
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(
        identity_of(r.upgraded_identity.as_ref()),
        widget_identity("a", None)
    );

    // The current version passes through; unknown attributes are dropped.
    let r = upgrade(testing::TYPE_NAME, 1, r#"{"name":"a","zone":"z9","old":1}"#)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        identity_of(r.upgraded_identity.as_ref()),
        widget_identity("a", Some("z9"))
    );

    for (version, json, summary, detail) in [
        (
            0,
            "{}",
            "Failed to upgrade the stored identity",
            "the result leaves name null",
        ),
        (
            1,
            "not json",
            "Corrupt identity",
            "The stored identity is not JSON",
        ),
    ] {
        let r = upgrade(testing::TYPE_NAME, version, json)
            .await
            .unwrap()
            .into_inner();
        let (got_summary, got_detail) = only_error(&r.diagnostics);
        assert_eq!(got_summary, summary);
        assert!(got_detail.contains(detail), "{got_detail}");
        assert!(r.upgraded_identity.is_none());
    }

    let r = upgrade("galley_nope", 0, "{}").await.unwrap().into_inner();
    assert_eq!(
        only_error(&r.diagnostics).1,
        "This provider has no resource type \"galley_nope\". It serves: galley_test_widget."
    );
    let plain = service(vec![Arc::new(Panicky2)], Vec::new());
    let r = plain
        .upgrade_resource_identity(Request::new(pb::upgrade_resource_identity::Request {
            type_name: "galley_panicky2".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_error(&r.diagnostics).0, "Resource without an identity");
}

#[tokio::test]
async fn import_by_identity_hands_the_identity_to_the_resource() {
    let (svc, _) = widget_service();

    // `zone` is optional for import: the resource fills it in, completing the identity.
    let imported = import(&svc, "", Some(&widget_identity("b", None))).await;
    assert!(
        imported.diagnostics.is_empty(),
        "{:?}",
        imported.diagnostics
    );
    let resource = &imported.imported_resources[0];
    assert_eq!(resource.type_name, testing::TYPE_NAME);
    assert_eq!(widget_of(resource.state.as_ref()), as_sent("b", "z1"));
    assert_eq!(
        identity_of(resource.identity.as_ref()),
        widget_identity("b", Some("z1"))
    );
    let imported = import(&svc, "", Some(&widget_identity("b", Some("z7")))).await;
    assert_eq!(
        widget_of(imported.imported_resources[0].state.as_ref()),
        as_sent("b", "z7")
    );

    let missing = Value::object([("name", Value::Null), ("zone", Value::string("z1"))]);
    let r = import(&svc, "", Some(&missing)).await;
    let (summary, detail) = only_error(&r.diagnostics);
    assert_eq!(summary, "Incomplete import identity");
    assert_eq!(
        detail,
        "Importing a galley_test_widget by identity needs name set to a known value. Its \
         identity attributes are: name, zone."
    );
    assert!(r.imported_resources.is_empty());

    let r = import(&svc, "", None).await;
    assert_eq!(only_error(&r.diagnostics).0, "Nothing to import");

    let r = import(&svc, "", Some(&widget_identity("alias", None))).await;
    assert_eq!(
        only_error(&r.diagnostics).0,
        "Imported object has another identity"
    );
    assert!(r.imported_resources.is_empty());

    // The id still works, and still wins when both are sent.
    let r = import(&svc, "w-c", Some(&widget_identity("ignored", None))).await;
    assert_eq!(
        widget_of(r.imported_resources[0].state.as_ref()),
        as_sent("c", "z1")
    );

    // A resource without an identity says how to import it instead.
    let plain = service(vec![Arc::new(Panicky2)], Vec::new());
    let r = plain
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: "galley_panicky2".into(),
            identity: Some(identity_dv(&widget_identity("x", None))),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let (summary, detail) = only_error(&r.diagnostics);
    assert_eq!(summary, "Import by identity is not supported");
    assert!(
        detail.ends_with("Import it with an `id` instead."),
        "{detail}"
    );
}
