//! GenerateResourceConfig: advertised, the default configuration from a state, a resource's own
//! generator, and what the protocol refuses.

use super::*;
use crate::list_resources::testing::{self, Widget, state};

async fn generate(
    svc: &ProviderService,
    type_name: &str,
    state: &Value,
) -> pb::generate_resource_config::Response {
    svc.generate_resource_config(Request::new(pb::generate_resource_config::Request {
        type_name: type_name.into(),
        state: Some(widget_dv(state)),
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn the_capability_is_advertised() {
    let (svc, _) = widget_service();
    let schema = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let caps = schema.server_capabilities.unwrap();
    assert!(caps.generate_resource_config);
    assert!(!caps.plan_destroy && !caps.move_resource_state);
}

#[tokio::test]
async fn the_default_keeps_what_a_user_sets_and_drops_the_rest() {
    let (svc, _) = widget_service();
    let mut s = state("a", "z2");
    s.set_attr("secret", Value::string("kept"));
    s.set_attr(
        "options",
        Value::object([("label", Value::string("l")), ("pin_wo", Value::Null)]),
    );
    let r = generate(&svc, testing::TYPE_NAME, &s).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let mut want = widget_config("a", &[]);
    want.set_attr("zone", Value::string("z2")); // optional and computed: a user may set it
    want.set_attr("secret", Value::string("kept"));
    want.set_attr(
        "options",
        Value::object([("label", Value::string("l")), ("pin_wo", Value::Null)]),
    );
    // id and checksum are computed only: null, so Terraform writes no line for them.
    assert_eq!(widget_of(r.config.as_ref()), want);

    // A block left with nothing set is dropped rather than written empty.
    s.set_attr(
        "options",
        Value::object([("label", Value::Null), ("pin_wo", Value::Null)]),
    );
    let r = generate(&svc, testing::TYPE_NAME, &s).await;
    assert_eq!(
        widget_of(r.config.as_ref()).get_attr("options"),
        Some(&Value::Null)
    );

    let r = generate(&svc, "galley_nope", &s).await;
    assert_eq!(
        only_error(&r.diagnostics).1,
        "This provider has no resource type \"galley_nope\". It serves: galley_test_widget."
    );
    assert!(r.config.is_none());
}

/// The widget with its own generator: `name = "bad"` returns a value of the wrong shape.
struct Tailored(Widget);

#[async_trait]
impl Resource for Tailored {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    async fn plan(&self, ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        self.0.plan(ctx, req).await
    }
    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
        self.0.apply(ctx, req).await
    }
    async fn read(
        &self,
        ctx: &Ctx,
        state: &Value,
        private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        self.0.read(ctx, state, private).await
    }
    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        self.0.import(ctx, id).await
    }
    fn generate_config(&self, state: &Value) -> Result<Value, Diagnostics> {
        let mut config = self.schema().block.config_from_state(state);
        if crate::attrs::str_of(state, "name").as_deref() == Some("bad") {
            config.set_attr("name", Value::Bool(true));
        }
        // Leave out the zone when it is the default, and leak a write-only value.
        if crate::attrs::str_of(state, "zone").as_deref() == Some("z1") {
            config.set_attr("zone", Value::Null);
        }
        config.set_attr("secret_wo", Value::string("leak"));
        Ok(config)
    }
}

#[tokio::test]
async fn a_resource_may_generate_its_own_configuration() {
    let svc = service(vec![Arc::new(Tailored(Widget::default()))], Vec::new());
    let r = generate(&svc, testing::TYPE_NAME, &state("a", "z1")).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let config = widget_of(r.config.as_ref());
    assert_eq!(config, widget_config("a", &[]));

    let r = generate(&svc, testing::TYPE_NAME, &state("bad", "z1")).await;
    let (summary, detail) = only_error(&r.diagnostics);
    assert_eq!(summary, "Provider generated an invalid configuration");
    assert!(
        detail.starts_with("The galley_test_widget resource generated"),
        "{detail}"
    );
    assert!(r.config.is_none());
}
