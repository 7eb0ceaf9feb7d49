//! The tfplugin5 service called in-process, without a socket: unknown type names, and the
//! panic guard on every RPC that runs provider code.

use async_trait::async_trait;
use galley_proto::tfplugin5::provider_server::Provider as _;

use super::*;
use crate::resource::{Applied, Ctx, Planned, Resource};
use crate::schema::{Attribute, Block, Presence, Schema};

fn service(resources: Vec<Arc<dyn Resource>>) -> ProviderService {
    ProviderService::new(Arc::new(Provider::with_resources(resources)))
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

#[tokio::test]
async fn unknown_resource_types_are_answered_with_the_known_ones() {
    let resources = service(vec![Arc::new(Panicky), Arc::new(Panicky2)]);
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
    let svc = service(vec![Arc::new(Panicky)]);
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
    assert_eq!(answers.len(), 6);
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
