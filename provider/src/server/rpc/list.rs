//! ListResource and ValidateListResourceConfig: a list resource's results turned into the
//! event stream `terraform query` reads.
//!
//! The listing runs in its own task and hands typed results over a channel of one slot, so it
//! runs no further ahead of Terraform than one result. The stream side derives each result's
//! identity with the managed resource, nulls write-only attributes, sends the state only when
//! Terraform asked for resource objects, and ends after `limit` results or the first error.
//! When Terraform stops reading (limit reached on its side, Ctrl-C, connection gone) tonic drops
//! the stream, which cancels the listing's `ctx.stop` and closes its sink.

use std::sync::Arc;

use galley_proto::tfplugin5 as pb;
use tokio::sync::mpsc;
use tokio_util::sync::DropGuard;

use super::fromproto::dynamic_value as decode;
use super::toproto::{self, dynamic_value as encode};
use super::{BoxStream, guarded, guarded_try, identity, unknown_type};
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::list_resource::{ListItem, ListRequest, ListResult, ListSink};
use crate::provider::Provider;
use crate::resource::Ctx;

fn unknown_list_resource(type_name: &str, provider: &Provider) -> Diagnostic {
    unknown_type(
        "list resource",
        type_name,
        provider.list_resources().map(|(n, _)| n),
    )
}

/// ValidateListResourceConfig: the `config` block by the list resource's schema and checks, and
/// `include_resource`/`limit` when Terraform sends them (they may still be unknown).
pub(super) async fn validate(
    provider: &Provider,
    req: pb::validate_list_resource_config::Request,
) -> Diagnostics {
    let Some(reg) = provider.list_resource(&req.type_name) else {
        return unknown_list_resource(&req.type_name, provider).into();
    };
    let mut diagnostics = Diagnostics::new();
    if let Err(d) = decode(
        req.include_resource_object.as_ref(),
        &Type::Bool,
        "include_resource value",
    ) {
        diagnostics.push(d);
    }
    match decode(req.limit.as_ref(), &Type::Number, "limit") {
        Ok(limit) if limit.is_known() && !limit.is_null() => {
            if limit.as_i64().is_none_or(|n| n < 0) {
                diagnostics.push(Diagnostic::error(
                    "Invalid limit",
                    format!(
                        "The limit of a list \"{}\" block must be a whole number, 0 or more.",
                        req.type_name
                    ),
                ));
            }
        }
        Ok(_) => {}
        Err(d) => diagnostics.push(d),
    }
    match decode(req.config.as_ref(), &reg.value_type, "list configuration") {
        Ok(config) => diagnostics.extend(
            guarded("ValidateListResourceConfig", async {
                reg.list_resource.validate(&config)
            })
            .await
            .unwrap_or_else(Diagnostics::from),
        ),
        Err(d) => diagnostics.push(d),
    }
    diagnostics
}

/// A stream of one event holding `d`.
fn only(d: impl Into<Diagnostics>) -> BoxStream<pb::list_resource::Event> {
    let event = pb::list_resource::Event {
        diagnostic: toproto::diagnostics(&d.into()),
        ..Default::default()
    };
    Box::pin(futures::stream::iter([Ok(event)]))
}

/// ListResource: starts the listing and returns the stream of its events.
pub(super) fn stream(
    provider: Arc<Provider>,
    req: pb::list_resource::Request,
) -> BoxStream<pb::list_resource::Event> {
    let type_name = req.type_name;
    let Some(list) = provider.list_resource(&type_name) else {
        return only(unknown_list_resource(&type_name, &provider));
    };
    if provider
        .resource(&type_name)
        .is_none_or(|r| r.identity.is_none())
    {
        return only(Diagnostic::error(
            "List resource without an identity",
            format!(
                "The {type_name} list resource has no managed resource with an identity schema \
                 to describe its results. This is a bug in the provider; please report it."
            ),
        ));
    }
    let config = match decode(req.config.as_ref(), &list.value_type, "list configuration") {
        Ok(v) => v,
        Err(d) => return only(d),
    };
    // Terraform reads at most `limit` results; 0 (or a negative number) asks for none.
    let limit = u64::try_from(req.limit).unwrap_or(0);
    if limit == 0 {
        return Box::pin(futures::stream::empty());
    }

    let mut ctx = provider.ctx(None);
    let cancel = ctx.stop.child_token();
    ctx.stop = cancel.clone();
    let (tx, rx) = mpsc::channel(1);
    let include = req.include_resource_object;
    tokio::spawn({
        let provider = Arc::clone(&provider);
        let ctx = ctx.clone();
        let type_name = type_name.clone();
        async move {
            let Some(reg) = provider.list_resource(&type_name) else {
                return;
            };
            let sink = ListSink::new(tx);
            let request = ListRequest {
                config: &config,
                include_resource_object: include,
                limit,
            };
            let listed = guarded_try("ListResource", reg.list_resource.list(&ctx, request, &sink));
            if let Err(d) = listed.await {
                // Nobody may be listening any more; then there is no one to tell.
                let _ = sink.report(d).await;
            }
        }
    });

    let events = Events {
        provider,
        type_name,
        ctx,
        rx,
        remaining: limit,
        include,
        ended: false,
        _cancel_on_drop: cancel.drop_guard(),
    };
    Box::pin(futures::stream::unfold(events, |mut events| async move {
        let event = events.next().await?;
        Some((Ok(event), events))
    }))
}

/// The stream side of one listing.
struct Events {
    provider: Arc<Provider>,
    type_name: String,
    ctx: Ctx,
    rx: mpsc::Receiver<ListItem>,
    /// Results still wanted.
    remaining: u64,
    include: bool,
    /// After an error, nothing more is sent.
    ended: bool,
    /// Cancels the listing's `ctx.stop` when the stream is dropped.
    _cancel_on_drop: DropGuard,
}

impl Events {
    async fn next(&mut self) -> Option<pb::list_resource::Event> {
        loop {
            if self.ended || self.remaining == 0 {
                return None;
            }
            let event = match self.rx.recv().await? {
                ListItem::Found(result) => {
                    let event = self.found(result).await;
                    if event.is_ok() {
                        self.remaining -= 1;
                    }
                    event.unwrap_or_else(|d| pb::list_resource::Event {
                        diagnostic: toproto::diagnostics(&d),
                        ..Default::default()
                    })
                }
                ListItem::Report(d) if d.0.is_empty() => continue,
                ListItem::Report(d) => pb::list_resource::Event {
                    diagnostic: toproto::diagnostics(&d),
                    ..Default::default()
                },
            };
            // Terraform stops at the first error: so does the listing.
            self.ended = event
                .diagnostic
                .iter()
                .any(|d| d.severity == pb::diagnostic::Severity::Error as i32);
            return Some(event);
        }
    }

    /// The event of one result, or the error that replaces it.
    async fn found(&self, result: ListResult) -> Result<pb::list_resource::Event, Diagnostics> {
        let Some(reg) = self.provider.resource(&self.type_name) else {
            return Err(Diagnostic::error("Unknown resource type", self.type_name.clone()).into());
        };
        let Some(id_schema) = &reg.identity else {
            return Err(
                Diagnostic::error("Resource without an identity", self.type_name.clone()).into(),
            );
        };
        let mut state = result.state;
        let problem = match state.conforms_to(&reg.value_type) {
            _ if state.is_null() => Some("a null state".to_string()),
            Err(e) => Some(format!(
                "a state that does not match the resource schema: {e}"
            )),
            Ok(()) => None,
        };
        if let Some(problem) = problem {
            return Err(Diagnostic::error(
                "Provider returned an invalid list result",
                format!(
                    "The {} list resource returned {problem} for {:?}. This is a bug in the \
                     provider; please report it.",
                    self.type_name, result.display_name
                ),
            )
            .into());
        }
        reg.schema.block.null_write_only(&mut state);
        let identity = identity::derive("ListResource", reg, &self.ctx, &state, false)
            .await?
            .unwrap_or(Value::Null);
        let identity = toproto::identity(&identity, &id_schema.value_type)?;
        let resource_object = if self.include {
            Some(encode(&state, &reg.value_type, "listed resource object")?)
        } else {
            None
        };
        Ok(pb::list_resource::Event {
            identity: Some(identity),
            display_name: result.display_name,
            resource_object,
            diagnostic: toproto::diagnostics(&result.diagnostics),
        })
    }
}
