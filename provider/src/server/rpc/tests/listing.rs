//! List resources through the RPCs: schemas and metadata, the event stream (identity, display
//! name, resource object only when asked), the limit, errors, validation, and cancellation when
//! the stream is dropped.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt as _;

use super::*;
use crate::list_resources::testing::{self, Widget, Widgets, as_sent};

fn list_config(prefix: &str, count: Option<i64>) -> pb::DynamicValue {
    let ty = testing::list_schema().block.value_type();
    let mut v = Value::null_object(&ty);
    v.set_attr("prefix", Value::string(prefix));
    if let Some(n) = count {
        v.set_attr("count", Value::number(n));
    }
    encode(&v, &ty, "list config").unwrap()
}

fn request(prefix: &str, include: bool, limit: i64) -> pb::list_resource::Request {
    pb::list_resource::Request {
        type_name: testing::TYPE_NAME.into(),
        config: Some(list_config(prefix, None)),
        include_resource_object: include,
        limit,
    }
}

/// Every event of one listing; a stream that does not end fails the test instead of hanging it.
pub(super) async fn events(
    svc: &ProviderService,
    prefix: &str,
    include: bool,
    limit: i64,
) -> Vec<pb::list_resource::Event> {
    let stream = svc
        .list_resource(Request::new(request(prefix, include, limit)))
        .await
        .unwrap()
        .into_inner()
        .map(|e| e.expect("events, not a status"))
        .collect();
    tokio::time::timeout(Duration::from_secs(10), stream)
        .await
        .expect("the stream ends")
}

/// A service with the widget and a list resource whose counters the test keeps.
fn counted_service() -> (ProviderService, Arc<Widgets>) {
    let widgets = Arc::new(Widgets::default());
    let provider = Provider::with(
        vec![Arc::new(Widget::default())],
        Vec::new(),
        vec![Arc::clone(&widgets) as Arc<dyn crate::list_resource::ListResource>],
    );
    (ProviderService::new(Arc::new(provider)), widgets)
}

/// Waits (a bounded time) for the listing to be told to stop.
async fn told_to_stop(widgets: &Widgets) -> bool {
    for _ in 0..200 {
        if widgets.told_to_stop.load(Ordering::SeqCst) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn list_resource_schemas_and_metadata_are_served() {
    let (svc, _) = widget_service();
    let schema = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let list = schema.list_resource_schemas[testing::TYPE_NAME]
        .block
        .clone()
        .unwrap();
    let names: Vec<_> = list.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["prefix", "count"]);
    assert!(list.attributes[0].required);
    // The managed resource keeps its own schema under the same name.
    assert!(schema.resource_schemas.contains_key(testing::TYPE_NAME));

    let meta = svc
        .get_metadata(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let lists: Vec<_> = meta
        .list_resources
        .iter()
        .map(|l| l.type_name.as_str())
        .collect();
    assert_eq!(lists, [testing::TYPE_NAME]);
    assert_eq!(meta.resources.len(), 1);
}

#[tokio::test]
async fn events_carry_identity_and_display_name_and_objects_only_when_asked() {
    let (svc, _) = widget_service();
    let listed = events(&svc, "w", false, 100).await;
    let shown: Vec<_> = listed
        .iter()
        .map(|e| {
            (
                e.display_name.as_str(),
                identity_of(e.identity.as_ref()),
                e.resource_object.is_some(),
                e.diagnostic.len(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("Widget w-0", widget_identity("w-0", Some("z1")), false, 0),
            ("Widget w-1", widget_identity("w-1", Some("z1")), false, 0),
            ("Widget w-2", widget_identity("w-2", Some("z1")), false, 0),
        ]
    );

    let listed = events(&svc, "w", true, 100).await;
    assert_eq!(listed.len(), 3);
    assert_eq!(
        widget_of(listed[1].resource_object.as_ref()),
        as_sent("w-1", "z1")
    );
}

#[tokio::test]
async fn the_stream_ends_at_the_limit_and_stops_the_listing() {
    let (svc, widgets) = counted_service();
    let listed = events(&svc, "forever", false, 4).await;
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[3].display_name, "Widget forever-3");
    assert!(told_to_stop(&widgets).await, "the listing never stopped");
    // The channel holds one result: the listing runs at most one ahead of Terraform.
    assert!(widgets.sent.load(Ordering::SeqCst) <= 5);

    // A limit of 0 asks for nothing: the listing does not even start.
    let (svc, widgets) = counted_service();
    assert!(events(&svc, "w", false, 0).await.is_empty());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(widgets.sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_listing() {
    let (svc, widgets) = counted_service();
    let mut stream = svc
        .list_resource(Request::new(request("hang", false, 100)))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.display_name, "Widget hang-0");
    assert!(!widgets.told_to_stop.load(Ordering::SeqCst));
    // What tonic does when Terraform cancels the call or the connection goes away.
    drop(stream);
    assert!(told_to_stop(&widgets).await, "ctx.stop was not cancelled");
}

#[tokio::test]
async fn errors_end_the_stream_after_the_results_already_sent() {
    let (svc, _) = widget_service();
    let listed = events(&svc, "fail", false, 100).await;
    assert_eq!(listed.len(), 3);
    assert!(listed[..2].iter().all(|e| e.identity.is_some()));
    assert!(listed[2].identity.is_none());
    assert_eq!(only_error(&listed[2].diagnostic).0, "Listing failed");

    // Warnings travel alone, without ending anything.
    let listed = events(&svc, "warn", false, 100).await;
    assert_eq!(listed.len(), 4);
    assert!(listed[0].identity.is_none());
    assert_eq!(listed[0].diagnostic[0].summary, "Slow listing");
    assert_eq!(
        listed[0].diagnostic[0].severity,
        pb::diagnostic::Severity::Warning as i32
    );

    // A panic is an error event carrying its message, like in every other RPC.
    let listed = events(&svc, "panic", false, 100).await;
    assert_eq!(listed.len(), 1);
    let (summary, detail) = only_error(&listed[0].diagnostic);
    assert_eq!(summary, "Internal error in the galley provider");
    assert!(
        detail.contains("stopped this operation: boom in list."),
        "{detail}"
    );

    // A result without a state is the provider's bug, and the end of the listing.
    let listed = events(&svc, "anonymous", false, 100).await;
    assert_eq!(listed.len(), 1);
    let (summary, detail) = only_error(&listed[0].diagnostic);
    assert_eq!(summary, "Provider returned an invalid list result");
    assert!(
        detail.contains("returned a null state for \"Widget anonymous-0\""),
        "{detail}"
    );
}

#[tokio::test]
async fn list_configuration_is_validated() {
    let (svc, _) = widget_service();
    let validate = |config, limit: Option<Value>| {
        svc.validate_list_resource_config(Request::new(
            pb::validate_list_resource_config::Request {
                type_name: testing::TYPE_NAME.into(),
                config: Some(config),
                include_resource_object: None,
                limit: limit.map(|v| encode(&v, &Type::Number, "limit").unwrap()),
            },
        ))
    };
    let ok = validate(list_config("w", Some(2)), Some(Value::number(10)))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);
    // What Terraform sends: the config only, limit and include_resource left unset.
    let ok = validate(list_config("w", None), None)
        .await
        .unwrap()
        .into_inner();
    assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);
    // Not known yet: nothing to say.
    let ok = validate(list_config("w", None), Some(Value::unknown()))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.diagnostics.is_empty(), "{:?}", ok.diagnostics);

    let bad = validate(list_config("w", Some(-1)), None)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_error(&bad.diagnostics).0, "Negative count");
    assert_eq!(
        bad.diagnostics[0].attribute,
        Some(toproto::attribute_path(&[PathStep::Attr("count".into())]))
    );
    let bad = validate(list_config("w", None), Some(Value::number(-1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        only_error(&bad.diagnostics),
        (
            "Invalid limit",
            "The limit of a list \"galley_test_widget\" block must be a whole number, 0 or more."
        )
    );
}

#[tokio::test]
async fn unknown_list_types_are_answered_with_the_known_ones() {
    let (svc, _) = widget_service();
    let mut req = request("w", false, 10);
    req.type_name = "galley_nope".into();
    let listed: Vec<_> = svc
        .list_resource(Request::new(req))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(listed.len(), 1);
    let event = listed[0].as_ref().unwrap();
    let want = (
        "Unknown list resource type",
        "This provider has no list resource type \"galley_nope\". It serves: galley_test_widget.",
    );
    assert_eq!(only_error(&event.diagnostic), want);
    let validated = svc
        .validate_list_resource_config(Request::new(pb::validate_list_resource_config::Request {
            type_name: "galley_nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_error(&validated.diagnostics), want);

    // A list resource whose managed resource has no identity cannot describe its results.
    let lonely = ProviderService::new(Arc::new(Provider::with(
        Vec::new(),
        Vec::new(),
        vec![Arc::new(Widgets::default())],
    )));
    let listed: Vec<_> = lonely
        .list_resource(Request::new(request("w", false, 10)))
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(
        only_error(&listed[0].as_ref().unwrap().diagnostic).0,
        "List resource without an identity"
    );
}
