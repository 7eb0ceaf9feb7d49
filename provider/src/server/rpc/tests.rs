//! The tfplugin5 service called in-process, without a socket: data source plumbing with a
//! test-only data source, unknown type names, and the panic guard on every RPC that runs
//! provider code. The submodules prove the newer features with a test-only resource that has
//! an identity and write-only attributes, and its list resource
//! (`crate::list_resources::testing`).

use async_trait::async_trait;
use galley_proto::tfplugin5::provider_server::Provider as _;

mod generate_config;
mod identities;
mod listing;
mod write_only;

use super::*;
use crate::data_source::DataSource;
use crate::data_sources::testing::{self, Echo};
use crate::diagnostics::PathStep;
use crate::resource::{Applied, Ctx, Planned, Resource};
use crate::schema::{Attribute, Block, Presence, Schema};

fn service(
    resources: Vec<Arc<dyn Resource>>,
    data_sources: Vec<Arc<dyn DataSource>>,
) -> ProviderService {
    ProviderService::new(Arc::new(Provider::with(
        resources,
        data_sources,
        Vec::new(),
    )))
}

/// The widget resource and its list resource, plus what the widget's apply saw of `secret_wo`.
fn widget_service() -> (ProviderService, Arc<std::sync::Mutex<Option<String>>>) {
    use crate::list_resources::testing::{Widget, Widgets};
    let widget = Widget::default();
    let seen = Arc::clone(&widget.apply_saw_secret_wo);
    let provider = Provider::with(
        vec![Arc::new(widget)],
        Vec::new(),
        vec![Arc::new(Widgets::default())],
    );
    (ProviderService::new(Arc::new(provider)), seen)
}

/// A widget configuration: `name` and the given attributes, everything else null.
fn widget_config(name: &str, extra: &[(&str, Value)]) -> Value {
    let mut v = Value::null_object(&crate::list_resources::testing::value_type());
    v.set_attr("name", Value::string(name));
    for (k, val) in extra {
        v.set_attr(k, val.clone());
    }
    v
}

/// A widget value on the wire.
fn widget_dv(v: &Value) -> pb::DynamicValue {
    encode(v, &crate::list_resources::testing::value_type(), "widget").unwrap()
}

/// A widget value off the wire.
fn widget_of(dv: Option<&pb::DynamicValue>) -> Value {
    decode(dv, &crate::list_resources::testing::value_type(), "widget").unwrap()
}

fn widget_identity(name: &str, zone: Option<&str>) -> Value {
    Value::object([
        ("name", Value::string(name)),
        ("zone", zone.map_or(Value::Null, Value::string)),
    ])
}

fn identity_dv(v: &Value) -> pb::ResourceIdentityData {
    let ty = crate::list_resources::testing::identity_schema().value_type();
    toproto::identity(v, &ty).unwrap()
}

fn identity_of(data: Option<&pb::ResourceIdentityData>) -> Value {
    let ty = crate::list_resources::testing::identity_schema().value_type();
    fromproto::identity(data, &ty, "identity").unwrap()
}

fn echo_service() -> ProviderService {
    service(Vec::new(), vec![Arc::new(Echo)])
}

fn echo_type() -> Type {
    testing::schema().block.value_type()
}

fn echo_config(name: &str, tags: &[(&str, &str)]) -> pb::DynamicValue {
    let mut v = Value::null_object(&echo_type());
    v.set_attr("name", Value::string(name));
    if !tags.is_empty() {
        v.set_attr(
            "tags",
            Value::map(tags.iter().map(|(k, t)| (*k, Value::string(*t)))),
        );
    }
    encode(&v, &echo_type(), "config").unwrap()
}

fn errors(ds: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    ds.iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .collect()
}

/// The one error in `ds`, with its summary and detail.
fn only_error(ds: &[pb::Diagnostic]) -> (&str, &str) {
    let errs = errors(ds);
    assert_eq!(errs.len(), 1, "{ds:?}");
    (&errs[0].summary, &errs[0].detail)
}

async fn read_echo(svc: &ProviderService, name: &str) -> pb::read_data_source::Response {
    svc.read_data_source(Request::new(pb::read_data_source::Request {
        type_name: testing::TYPE_NAME.into(),
        config: Some(echo_config(name, &[])),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn data_source_schemas_and_metadata_are_served() {
    let svc = echo_service();
    let schema = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let echo = &schema.data_source_schemas[testing::TYPE_NAME];
    let block = echo.block.as_ref().unwrap();
    let names: Vec<_> = block.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["name", "tags", "greeting", "tag_count"]);
    assert!(block.attributes[0].required);
    assert!(block.attributes[2].computed);
    assert!(schema.resource_schemas.is_empty());

    let meta = svc
        .get_metadata(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let types: Vec<_> = meta
        .data_sources
        .iter()
        .map(|d| d.type_name.as_str())
        .collect();
    assert_eq!(types, [testing::TYPE_NAME]);
}

#[tokio::test]
async fn data_source_validation_errors_reach_the_response() {
    let svc = echo_service();
    let validate = |name: &str| {
        svc.validate_data_source_config(Request::new(pb::validate_data_source_config::Request {
            type_name: testing::TYPE_NAME.into(),
            config: Some(echo_config(name, &[])),
        }))
    };
    let bad = validate("").await.unwrap().into_inner();
    let (summary, _) = only_error(&bad.diagnostics);
    assert_eq!(summary, "Empty name");
    assert_eq!(
        bad.diagnostics[0].attribute,
        Some(toproto::attribute_path(&[PathStep::Attr("name".into())]))
    );
    let good = validate("world").await.unwrap().into_inner();
    assert!(good.diagnostics.is_empty(), "{:?}", good.diagnostics);
}

#[tokio::test]
async fn read_data_source_round_trips_values() {
    let svc = echo_service();
    let resp = svc
        .read_data_source(Request::new(pb::read_data_source::Request {
            type_name: testing::TYPE_NAME.into(),
            config: Some(echo_config("world", &[("team", "core"), ("tier", "1")])),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
    let state = decode(resp.state.as_ref(), &echo_type(), "state").unwrap();
    let mut want = Value::null_object(&echo_type());
    want.set_attr("name", Value::string("world"));
    want.set_attr(
        "tags",
        Value::map([
            ("team", Value::string("core")),
            ("tier", Value::string("1")),
        ]),
    );
    want.set_attr("greeting", Value::string("hello, world"));
    want.set_attr("tag_count", Value::number(2));
    assert_eq!(state, want);
}

#[tokio::test]
async fn read_data_source_errors_are_answered_without_a_state() {
    let resp = read_echo(&echo_service(), "fail").await;
    assert_eq!(only_error(&resp.diagnostics).0, "Lookup failed");
    assert!(resp.state.is_none());
}

#[tokio::test]
async fn wrongly_typed_unknown_holding_or_null_results_are_refused_as_provider_bugs() {
    let svc = echo_service();
    for (name, summary, detail) in [
        (
            "wrong-type",
            "Provider returned a data source value of the wrong type",
            "does not match its schema",
        ),
        (
            "unknown",
            "Provider returned an incomplete data source value",
            "left greeting unknown after reading",
        ),
        (
            "null",
            "Provider returned no data source value",
            "returned null",
        ),
    ] {
        let resp = read_echo(&svc, name).await;
        let (got_summary, got_detail) = only_error(&resp.diagnostics);
        assert_eq!(got_summary, summary, "{name}");
        assert!(got_detail.contains(detail), "{name}: {got_detail}");
        assert!(
            got_detail.contains("galley_test_echo") && got_detail.contains("bug in the provider"),
            "{name}: {got_detail}"
        );
        assert!(resp.state.is_none(), "{name}: no state is sent");
    }
}

#[tokio::test]
async fn unknown_type_names_are_answered_with_the_known_ones() {
    let svc = echo_service();
    let validate = svc
        .validate_data_source_config(Request::new(pb::validate_data_source_config::Request {
            type_name: "galley_nope".into(),
            config: None,
        }))
        .await
        .unwrap()
        .into_inner();
    let read = svc
        .read_data_source(Request::new(pb::read_data_source::Request {
            type_name: "galley_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    for ds in [&validate.diagnostics, &read.diagnostics] {
        let (summary, detail) = only_error(ds);
        assert_eq!(summary, "Unknown data source type");
        assert_eq!(
            detail,
            "This provider has no data source type \"galley_nope\". It serves: galley_test_echo."
        );
    }

    let none = service(Vec::new(), Vec::new());
    let read = none
        .read_data_source(Request::new(pb::read_data_source::Request {
            type_name: "galley_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        only_error(&read.diagnostics)
            .1
            .ends_with("It serves no data sources.")
    );

    let resources = service(vec![Arc::new(Panicky), Arc::new(Panicky2)], Vec::new());
    let plan = resources
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "galley_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let (summary, detail) = only_error(&plan.diagnostics);
    assert_eq!(summary, "Unknown resource type");
    assert_eq!(
        detail,
        "This provider has no resource type \"galley_nope\". It serves: galley_panicky, \
         galley_panicky2."
    );
}

/// A resource whose every call panics with a message naming the call.
struct Panicky;

/// A second resource type, so "It serves" lists more than one.
struct Panicky2;

fn panicky_schema() -> Schema {
    Schema {
        version: 0,
        block: Block {
            attributes: vec![Attribute::new("id", Type::String, Presence::Computed, "")],
            ..Default::default()
        },
    }
}

#[async_trait]
impl Resource for Panicky {
    fn type_name(&self) -> &'static str {
        "galley_panicky"
    }
    fn schema(&self) -> Schema {
        panicky_schema()
    }
    fn validate(&self, _config: &Value) -> Diagnostics {
        panic!("boom in validate")
    }
    fn upgrade_state(
        &self,
        _from_version: i64,
        _json: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        panic!("boom in upgrade_state")
    }
    async fn plan(&self, _ctx: &Ctx, _req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        panic!("boom in plan")
    }
    async fn apply(&self, _ctx: &Ctx, _req: ApplyRequest<'_>) -> Applied {
        let n = 7;
        panic!("boom in apply #{n}") // a formatted message: a `String` payload
    }
    async fn read(
        &self,
        _ctx: &Ctx,
        _state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        panic!("boom in read")
    }
    async fn import(&self, _ctx: &Ctx, _id: &str) -> Result<Value, Diagnostics> {
        panic!("boom in import")
    }
}

#[async_trait]
impl Resource for Panicky2 {
    fn type_name(&self) -> &'static str {
        "galley_panicky2"
    }
    fn schema(&self) -> Schema {
        panicky_schema()
    }
    async fn plan(&self, _ctx: &Ctx, _req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        unreachable!()
    }
    async fn apply(&self, _ctx: &Ctx, _req: ApplyRequest<'_>) -> Applied {
        unreachable!()
    }
    async fn read(
        &self,
        _ctx: &Ctx,
        _state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        unreachable!()
    }
    async fn import(&self, _ctx: &Ctx, _id: &str) -> Result<Value, Diagnostics> {
        unreachable!()
    }
}

#[tokio::test]
async fn a_panic_in_any_provider_call_is_an_error_diagnostic_with_its_message() {
    let svc = service(vec![Arc::new(Panicky)], vec![Arc::new(Echo)]);
    let ty = panicky_schema().block.value_type();
    let state = {
        let mut v = Value::null_object(&ty);
        v.set_attr("id", Value::string("x"));
        encode(&v, &ty, "state").unwrap()
    };
    let name = || "galley_panicky".to_string();

    let mut answers: Vec<(&str, Vec<pb::Diagnostic>)> = Vec::new();
    let r = svc
        .validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
            type_name: name(),
            config: Some(state.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    answers.push(("boom in validate", r.diagnostics));
    let r = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: name(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"id":"x"}"#.to_vec(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    answers.push(("boom in upgrade_state", r.diagnostics));
    let r = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: name(),
            current_state: Some(state.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.new_state.as_ref(),
        Some(&state),
        "read keeps the prior state"
    );
    answers.push(("boom in read", r.diagnostics));
    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: name(),
            prior_state: Some(state.clone()),
            proposed_new_state: Some(state.clone()),
            config: Some(state.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    answers.push(("boom in plan", r.diagnostics));
    let r = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: name(),
            prior_state: Some(state.clone()),
            planned_state: Some(state.clone()),
            config: Some(state.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.new_state.as_ref(),
        Some(&state),
        "apply keeps the prior state"
    );
    assert!(
        r.diagnostics[0]
            .detail
            .ends_with("The prior state was kept.")
    );
    answers.push(("boom in apply #7", r.diagnostics));
    let r = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: name(),
            id: "x".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    answers.push(("boom in import", r.diagnostics));
    let r = svc
        .validate_data_source_config(Request::new(pb::validate_data_source_config::Request {
            type_name: testing::TYPE_NAME.into(),
            config: Some(echo_config("panic", &[])),
        }))
        .await
        .unwrap()
        .into_inner();
    answers.push(("boom in validate", r.diagnostics));
    let r = read_echo(&svc, "panic").await;
    assert!(r.state.is_none());
    answers.push(("boom in read", r.diagnostics));

    assert_eq!(answers.len(), 8);
    for (message, diagnostics) in answers {
        let (summary, detail) = only_error(&diagnostics);
        assert_eq!(
            summary, "Internal error in the galley provider",
            "{message}"
        );
        assert!(
            detail.contains(&format!("stopped this operation: {message}.")),
            "{message}: {detail}"
        );
    }
}

#[test]
fn first_unknown_names_the_path_terraform_would() {
    let v = Value::object([
        ("a", Value::string("x")),
        (
            "b",
            Value::object([(
                "c",
                Value::map([
                    ("k", Value::string("v")),
                    ("u", Value::list(vec![Value::Null, Value::unknown()])),
                ]),
            )]),
        ),
    ]);
    assert_eq!(first_unknown(&v).as_deref(), Some(r#"b.c["u"][1]"#));
    assert_eq!(
        first_unknown(&Value::unknown()).as_deref(),
        Some("the whole value")
    );
    assert_eq!(first_unknown(&Value::object([("a", Value::Null)])), None);
}

#[test]
fn normalize_drops_removed_and_adds_new_attributes() {
    let ty = Type::Object {
        attrs: [
            ("a".to_string(), Type::String),
            ("b".to_string(), Type::Bool),
        ]
        .into_iter()
        .collect(),
        optional: Default::default(),
    };
    let out = normalize_state_json(serde_json::json!({"a": "x", "gone": 1}), &ty);
    assert_eq!(out, serde_json::json!({"a": "x", "b": null}));
}
