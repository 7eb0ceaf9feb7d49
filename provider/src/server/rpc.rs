//! The tfplugin5 `Provider` service: decodes Terraform's requests, hands typed values to the
//! provider and its resources, checks the answers against what Terraform would reject, and
//! encodes them back.
//!
//! This module owns protocol semantics only; the wire shapes are `fromproto` and `toproto`.
//! RPCs the provider does not serve answer the way Terraform expects (an empty answer or a
//! diagnostic), and every call into provider code goes through one panic guard, so a panic
//! becomes an error diagnostic carrying its message instead of a crashed plugin.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::{FutureExt as _, Stream};
use galley_proto::tfplugin5 as pb;
use tonic::{Request, Response, Status};
use tracing::{debug, warn};

use super::fromproto::dynamic_value as decode;
use super::toproto::{self, dynamic_value as encode};
use crate::cty::{self, Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::provider::Provider;
use crate::provider_config;
use crate::resource::{ApplyRequest, PlanRequest, ReadOutcome};

pub struct ProviderService {
    provider: Arc<Provider>,
}

impl ProviderService {
    pub fn new(provider: Arc<Provider>) -> Self {
        Self { provider }
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

/// The answer to a type name the provider does not serve, listing the ones it does.
fn unknown_type<'a>(
    kind: &str,
    type_name: &str,
    known: impl Iterator<Item = &'a &'static str>,
) -> Diagnostic {
    let known: Vec<&str> = known.copied().collect();
    let serves = if known.is_empty() {
        format!("It serves no {kind}s.")
    } else {
        format!("It serves: {}.", known.join(", "))
    };
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type {type_name:?}. {serves}"),
    )
}

fn unknown_resource(type_name: &str, provider: &Provider) -> Diagnostic {
    unknown_type("resource", type_name, provider.resources().map(|(n, _)| n))
}

fn unknown_data_source(type_name: &str, provider: &Provider) -> Diagnostic {
    unknown_type(
        "data source",
        type_name,
        provider.data_sources().map(|(n, _)| n),
    )
}

/// Runs provider code for the RPC `rpc`, turning a panic into an error diagnostic that keeps
/// the panic's message, so Terraform reports a provider bug instead of "plugin crashed".
async fn guarded<T>(rpc: &str, fut: impl Future<Output = T>) -> Result<T, Diagnostic> {
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        tracing::error!(rpc, panic = %msg, "provider call panicked");
        Diagnostic::error(
            "Internal error in the galley provider",
            format!("The provider hit a bug and stopped this operation: {msg}. Please report it."),
        )
    })
}

/// [`guarded`] for a call that itself answers with diagnostics on failure.
async fn guarded_try<T>(
    rpc: &str,
    fut: impl Future<Output = Result<T, Diagnostics>>,
) -> Result<T, Diagnostics> {
    guarded(rpc, fut).await.unwrap_or_else(|d| Err(d.into()))
}

fn diags(d: impl Into<Diagnostics>) -> Vec<pb::Diagnostic> {
    toproto::diagnostics(&d.into())
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(server_capabilities()),
            resources: self
                .provider
                .resources()
                .map(|(name, _)| pb::get_metadata::ResourceMetadata {
                    type_name: name.to_string(),
                })
                .collect(),
            data_sources: self
                .provider
                .data_sources()
                .map(|(name, _)| pb::get_metadata::DataSourceMetadata {
                    type_name: name.to_string(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(toproto::schema(&self.provider.schema)),
            resource_schemas: self
                .provider
                .resources()
                .map(|(name, r)| (name.to_string(), toproto::schema(&r.schema)))
                .collect(),
            data_source_schemas: self
                .provider
                .data_sources()
                .map(|(name, d)| (name.to_string(), toproto::schema(&d.schema)))
                .collect(),
            server_capabilities: Some(server_capabilities()),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        // No resource declares an identity: an empty answer says exactly that.
        Ok(Response::new(Default::default()))
    }

    async fn prepare_provider_config(
        &self,
        req: Request<pb::prepare_provider_config::Request>,
    ) -> RpcResult<pb::prepare_provider_config::Response> {
        let req = req.into_inner();
        let ty = &self.provider.config_type;
        let config = match decode(req.config.as_ref(), ty, "provider configuration") {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new(pb::prepare_provider_config::Response {
                    diagnostics: diags(d),
                    ..Default::default()
                }));
            }
        };
        let diagnostics = guarded("PrepareProviderConfig", async {
            provider_config::validate(&config)
        })
        .await
        .unwrap_or_else(Diagnostics::from);
        Ok(Response::new(pb::prepare_provider_config::Response {
            prepared_config: req.config,
            diagnostics: toproto::diagnostics(&diagnostics),
        }))
    }

    async fn validate_resource_type_config(
        &self,
        req: Request<pb::validate_resource_type_config::Request>,
    ) -> RpcResult<pb::validate_resource_type_config::Response> {
        let req = req.into_inner();
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return Ok(Response::new(pb::validate_resource_type_config::Response {
                diagnostics: diags(unknown_resource(&req.type_name, &self.provider)),
            }));
        };
        let diagnostics = match decode(
            req.config.as_ref(),
            &reg.value_type,
            "resource configuration",
        ) {
            Ok(config) => guarded("ValidateResourceTypeConfig", async {
                reg.resource.validate(&config)
            })
            .await
            .unwrap_or_else(Diagnostics::from),
            Err(d) => d.into(),
        };
        Ok(Response::new(pb::validate_resource_type_config::Response {
            diagnostics: toproto::diagnostics(&diagnostics),
        }))
    }

    async fn validate_data_source_config(
        &self,
        req: Request<pb::validate_data_source_config::Request>,
    ) -> RpcResult<pb::validate_data_source_config::Response> {
        let req = req.into_inner();
        let Some(reg) = self.provider.data_source(&req.type_name) else {
            return Ok(Response::new(pb::validate_data_source_config::Response {
                diagnostics: diags(unknown_data_source(&req.type_name, &self.provider)),
            }));
        };
        let diagnostics = match decode(
            req.config.as_ref(),
            &reg.value_type,
            "data source configuration",
        ) {
            Ok(config) => guarded("ValidateDataSourceConfig", async {
                reg.data_source.validate(&config)
            })
            .await
            .unwrap_or_else(Diagnostics::from),
            Err(d) => d.into(),
        };
        Ok(Response::new(pb::validate_data_source_config::Response {
            diagnostics: toproto::diagnostics(&diagnostics),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let reply = |d: Diagnostics| {
            Ok(Response::new(pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: toproto::diagnostics(&d),
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return reply(unknown_resource(&req.type_name, &self.provider).into());
        };
        let Some(raw) = req.raw_state.filter(|r| !r.json.is_empty()) else {
            return reply(
                Diagnostic::error(
                    "Unsupported state format",
                    "The state of this resource was written in the legacy flatmap format, \
                     which this provider never used. Remove it from state and import it again.",
                )
                .into(),
            );
        };
        let json: serde_json::Value = match serde_json::from_slice(&raw.json) {
            Ok(j) => j,
            Err(e) => {
                return reply(
                    Diagnostic::error(
                        "Corrupt state",
                        format!("The stored state is not JSON: {e}"),
                    )
                    .into(),
                );
            }
        };
        let upgraded = guarded_try("UpgradeResourceState", async {
            reg.resource.upgrade_state(req.version, json)
        })
        .await;
        let upgraded = match upgraded {
            Ok(j) => j,
            Err(d) => return reply(d),
        };
        let normalized = normalize_state_json(upgraded, &reg.value_type);
        let bytes = serde_json::to_vec(&normalized).unwrap_or_default();
        let value = match cty::json::decode(&bytes, &reg.value_type) {
            Ok(v) => v,
            Err(e) => {
                return reply(
                    Diagnostic::error(
                        "Failed to read the stored state",
                        format!(
                            "The state written by schema version {} does not match this \
                             provider's schema: {e}.",
                            req.version
                        ),
                    )
                    .into(),
                );
            }
        };
        match encode(&value, &reg.value_type, "upgraded state") {
            Ok(dv) => Ok(Response::new(pb::upgrade_resource_state::Response {
                upgraded_state: Some(dv),
                diagnostics: Vec::new(),
            })),
            Err(d) => reply(d.into()),
        }
    }

    async fn upgrade_resource_identity(
        &self,
        _req: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        Err(Status::unimplemented(
            "no resource of this provider has an identity",
        ))
    }

    async fn configure(
        &self,
        req: Request<pb::configure::Request>,
    ) -> RpcResult<pb::configure::Response> {
        let req = req.into_inner();
        let config = match decode(
            req.config.as_ref(),
            &self.provider.config_type,
            "provider configuration",
        ) {
            Ok(v) => v,
            Err(d) => {
                return Ok(Response::new(pb::configure::Response {
                    diagnostics: diags(d),
                }));
            }
        };
        let diagnostics = guarded("ConfigureProvider", async {
            let diagnostics = provider_config::validate(&config);
            if !diagnostics.has_errors() {
                let cfg = provider_config::configure(&config, |k| std::env::var(k).ok());
                debug!(terraform_version = %req.terraform_version, config = ?cfg, "provider configured");
                self.provider.set_config(cfg);
            }
            diagnostics
        })
        .await
        .unwrap_or_else(Diagnostics::from);
        Ok(Response::new(pb::configure::Response {
            diagnostics: toproto::diagnostics(&diagnostics),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = req.into_inner();
        let fail = |d: Diagnostics, state: Option<pb::DynamicValue>, private: Vec<u8>| {
            Ok(Response::new(pb::read_resource::Response {
                new_state: state,
                diagnostics: toproto::diagnostics(&d),
                private,
                ..Default::default()
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return fail(
                unknown_resource(&req.type_name, &self.provider).into(),
                req.current_state,
                req.private,
            );
        };
        let state = match decode(req.current_state.as_ref(), &reg.value_type, "current state") {
            Ok(v) => v,
            Err(d) => return fail(d.into(), req.current_state, req.private),
        };
        if state.is_null() {
            return fail(Diagnostics::new(), req.current_state, req.private);
        }
        let ctx = self.provider.ctx();
        let outcome = guarded_try(
            "ReadResource",
            reg.resource.read(&ctx, &state, &req.private),
        )
        .await;
        match outcome {
            Ok(ReadOutcome::Gone) => {
                debug!(type_name = %req.type_name, "remote object is gone; removing from state");
                match encode(&Value::Null, &reg.value_type, "state") {
                    Ok(dv) => fail(Diagnostics::new(), Some(dv), Vec::new()),
                    Err(d) => fail(d.into(), req.current_state, req.private),
                }
            }
            Ok(ReadOutcome::Present { state, private }) => {
                match encode(&state, &reg.value_type, "refreshed state") {
                    Ok(dv) => fail(Diagnostics::new(), Some(dv), private),
                    Err(d) => fail(d.into(), req.current_state, req.private),
                }
            }
            // On error the prior state stands, so nothing is lost from state.
            Err(d) => fail(d, req.current_state, req.private),
        }
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let fail = |d: Diagnostics| {
            Ok(Response::new(pb::plan_resource_change::Response {
                diagnostics: toproto::diagnostics(&d),
                ..Default::default()
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return fail(unknown_resource(&req.type_name, &self.provider).into());
        };
        let ty = &reg.value_type;
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode(req.prior_state.as_ref(), ty, "prior state")?,
                decode(req.proposed_new_state.as_ref(), ty, "proposed new state")?,
                decode(req.config.as_ref(), ty, "resource configuration")?,
            ))
        })();
        let (prior, proposed, config) = match decoded {
            Ok(t) => t,
            Err(d) => return fail(d.into()),
        };
        // Destroy: nothing to decide (plan_destroy is not advertised, so this is defensive).
        if proposed.is_null() {
            return Ok(Response::new(pb::plan_resource_change::Response {
                planned_state: req.proposed_new_state,
                ..Default::default()
            }));
        }
        let ctx = self.provider.ctx();
        let planned = guarded_try(
            "PlanResourceChange",
            reg.resource.plan(
                &ctx,
                PlanRequest {
                    prior_state: &prior,
                    proposed_new_state: &proposed,
                    config: &config,
                    prior_private: &req.prior_private,
                },
            ),
        )
        .await;
        let planned = match planned {
            Ok(p) => p,
            Err(d) => return fail(d),
        };
        if let Err(d) = planned.planned_state.conforms_to(ty) {
            warn!(error = %d, "planned state does not match the schema");
        }
        let planned_state = match encode(&planned.planned_state, ty, "planned state") {
            Ok(dv) => dv,
            Err(d) => return fail(d.into()),
        };
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(planned_state),
            requires_replace: planned
                .requires_replace
                .iter()
                .map(|path| toproto::attribute_path(path))
                .collect(),
            planned_private: planned.planned_private,
            diagnostics: toproto::diagnostics(&planned.diagnostics),
            legacy_type_system: false,
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let fail = |d: Diagnostics, state: Option<pb::DynamicValue>| {
            Ok(Response::new(pb::apply_resource_change::Response {
                new_state: state,
                diagnostics: toproto::diagnostics(&d),
                ..Default::default()
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return fail(
                unknown_resource(&req.type_name, &self.provider).into(),
                req.prior_state,
            );
        };
        let ty = &reg.value_type;
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode(req.prior_state.as_ref(), ty, "prior state")?,
                decode(req.planned_state.as_ref(), ty, "planned state")?,
                decode(req.config.as_ref(), ty, "resource configuration")?,
            ))
        })();
        let (prior, planned, config) = match decoded {
            Ok(t) => t,
            Err(d) => return fail(d.into(), req.prior_state),
        };
        let ctx = self.provider.ctx();
        let applied = guarded(
            "ApplyResourceChange",
            reg.resource.apply(
                &ctx,
                ApplyRequest {
                    prior_state: &prior,
                    planned_state: &planned,
                    config: &config,
                    planned_private: &req.planned_private,
                },
            ),
        )
        .await;
        let applied = match applied {
            Ok(a) => a,
            Err(mut d) => {
                d.detail.push_str(" The prior state was kept.");
                return fail(d.into(), req.prior_state);
            }
        };
        let mut diagnostics = applied.diagnostics;
        if !applied.new_state.is_null() && !applied.new_state.is_wholly_known() {
            diagnostics.push(Diagnostic::error(
                "Provider returned an incomplete state",
                "The provider left a value unknown after apply. This is a provider bug; please \
                 report it.",
            ));
        }
        match encode(&applied.new_state, ty, "new state") {
            Ok(dv) => Ok(Response::new(pb::apply_resource_change::Response {
                new_state: Some(dv),
                private: applied.private,
                diagnostics: toproto::diagnostics(&diagnostics),
                legacy_type_system: false,
                ..Default::default()
            })),
            Err(d) => {
                diagnostics.push(d);
                fail(diagnostics, req.prior_state)
            }
        }
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let fail = |d: Diagnostics| {
            Ok(Response::new(pb::import_resource_state::Response {
                diagnostics: toproto::diagnostics(&d),
                ..Default::default()
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return fail(unknown_resource(&req.type_name, &self.provider).into());
        };
        let ctx = self.provider.ctx();
        let state =
            match guarded_try("ImportResourceState", reg.resource.import(&ctx, &req.id)).await {
                Ok(s) => s,
                Err(d) => return fail(d),
            };
        match encode(&state, &reg.value_type, "imported state") {
            Ok(dv) => Ok(Response::new(pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name,
                    state: Some(dv),
                    private: Vec::new(),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            Err(d) => fail(d.into()),
        }
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        let req = req.into_inner();
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: diags(Diagnostic::error(
                "Moving resource state is not supported",
                format!(
                    "The galley provider cannot take over the state of {:?}. Remove the `moved` \
                     block and import the object instead.",
                    req.source_type_name
                ),
            )),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let req = req.into_inner();
        let fail = |d: Diagnostics| {
            Ok(Response::new(pb::read_data_source::Response {
                diagnostics: toproto::diagnostics(&d),
                ..Default::default()
            }))
        };
        let Some(reg) = self.provider.data_source(&req.type_name) else {
            return fail(unknown_data_source(&req.type_name, &self.provider).into());
        };
        let ty = &reg.value_type;
        let config = match decode(req.config.as_ref(), ty, "data source configuration") {
            Ok(v) => v,
            Err(d) => return fail(d.into()),
        };
        let ctx = self.provider.ctx();
        let read = match guarded_try("ReadDataSource", reg.data_source.read(&ctx, &config)).await {
            Ok(r) => r,
            Err(d) => return fail(d),
        };
        let mut diagnostics = read.diagnostics;
        if diagnostics.has_errors() {
            return fail(diagnostics);
        }
        if let Err(d) = check_data_source_result(&req.type_name, &read.state, ty) {
            diagnostics.push(d);
            return fail(diagnostics);
        }
        match encode(&read.state, ty, "data source state") {
            Ok(dv) => Ok(Response::new(pb::read_data_source::Response {
                state: Some(dv),
                diagnostics: toproto::diagnostics(&diagnostics),
                ..Default::default()
            })),
            Err(d) => {
                diagnostics.push(d);
                fail(diagnostics)
            }
        }
    }

    async fn generate_resource_config(
        &self,
        _req: Request<pb::generate_resource_config::Request>,
    ) -> RpcResult<pb::generate_resource_config::Response> {
        Err(Status::unimplemented(
            "configuration generation is not supported",
        ))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: diags(no_such("ephemeral resource", &req.into_inner().type_name)),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: diags(no_such("ephemeral resource", &req.into_inner().type_name)),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: diags(no_such("ephemeral resource", &req.into_inner().type_name)),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: diags(no_such("ephemeral resource", &req.into_inner().type_name)),
        }))
    }

    type ListResourceStream = BoxStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        req: Request<pb::list_resource::Request>,
    ) -> RpcResult<Self::ListResourceStream> {
        let event = pb::list_resource::Event {
            diagnostic: diags(no_such("list resource", &req.into_inner().type_name)),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(event)]))))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> RpcResult<pb::validate_list_resource_config::Response> {
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics: diags(no_such("list resource", &req.into_inner().type_name)),
        }))
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        Ok(Response::new(Default::default()))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        Ok(Response::new(pb::call_function::Response {
            error: Some(pb::FunctionError {
                text: format!(
                    "the galley provider has no function {:?}",
                    req.into_inner().name
                ),
                function_argument: None,
            }),
            ..Default::default()
        }))
    }

    async fn plan_action(
        &self,
        req: Request<pb::plan_action::Request>,
    ) -> RpcResult<pb::plan_action::Response> {
        Ok(Response::new(pb::plan_action::Response {
            diagnostics: diags(no_such("action", &req.into_inner().action_type)),
            ..Default::default()
        }))
    }

    type InvokeActionStream = BoxStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _req: Request<pb::invoke_action::Request>,
    ) -> RpcResult<Self::InvokeActionStream> {
        Err(Status::unimplemented("the galley provider has no actions"))
    }

    async fn validate_action_config(
        &self,
        req: Request<pb::validate_action_config::Request>,
    ) -> RpcResult<pb::validate_action_config::Response> {
        Ok(Response::new(pb::validate_action_config::Response {
            diagnostics: diags(no_such("action", &req.into_inner().type_name)),
        }))
    }

    async fn stop(&self, _req: Request<pb::stop::Request>) -> RpcResult<pb::stop::Response> {
        debug!("Stop received: cancelling calls in flight");
        self.provider.stop();
        Ok(Response::new(pb::stop::Response {
            error: String::new(),
        }))
    }
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        ..Default::default()
    }
}

/// What Terraform would reject in a data source's result, refused here with a message that
/// names the data source and the place, instead of Terraform's generic one.
fn check_data_source_result(type_name: &str, state: &Value, ty: &Type) -> Result<(), Diagnostic> {
    let bug = |summary: &str, what: String| {
        Diagnostic::error(
            summary,
            format!(
                "The {type_name} data source {what}. This is a bug in the provider; please \
                 report it."
            ),
        )
    };
    if state.is_null() {
        return Err(bug(
            "Provider returned no data source value",
            "returned null from a successful read".into(),
        ));
    }
    if let Err(e) = state.conforms_to(ty) {
        return Err(bug(
            "Provider returned a data source value of the wrong type",
            format!("returned a value that does not match its schema: {e}"),
        ));
    }
    if let Some(at) = first_unknown(state) {
        return Err(bug(
            "Provider returned an incomplete data source value",
            format!("left {at} unknown after reading"),
        ));
    }
    Ok(())
}

/// Where the first unknown inside `v` is, written as Terraform writes paths (`a.b["k"][0]`);
/// `None` when `v` is wholly known.
fn first_unknown(v: &Value) -> Option<String> {
    fn walk(v: &Value, at: &mut String) -> bool {
        let inside = |at: &mut String, step: String, item: &Value| {
            let len = at.len();
            at.push_str(&step);
            if walk(item, at) {
                return true;
            }
            at.truncate(len);
            false
        };
        match v {
            Value::Unknown(_) => true,
            Value::Dynamic(_, inner) => walk(inner, at),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => items
                .iter()
                .enumerate()
                .any(|(i, item)| inside(at, format!("[{i}]"), item)),
            Value::Map(entries) => entries
                .iter()
                .any(|(k, item)| inside(at, format!("[{k:?}]"), item)),
            Value::Object(attrs) => attrs.iter().any(|(name, item)| {
                let dot = if at.is_empty() { "" } else { "." };
                inside(at, format!("{dot}{name}"), item)
            }),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
        }
    }
    let mut at = String::new();
    walk(v, &mut at).then(|| {
        if at.is_empty() {
            "the whole value".into()
        } else {
            at
        }
    })
}

fn no_such(kind: &str, type_name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("The galley provider has no {kind} {type_name:?}."),
    )
}

/// Makes stored JSON fit the current schema: attributes the schema dropped are removed, new
/// ones start as null. Terraform expects exactly the schema's attributes.
fn normalize_state_json(json: serde_json::Value, ty: &Type) -> serde_json::Value {
    match (json, ty) {
        (serde_json::Value::Object(mut map), Type::Object { attrs, .. }) => {
            map.retain(|k, _| attrs.contains_key(k));
            let mut out = serde_json::Map::new();
            for (name, attr_ty) in attrs {
                let v = map.remove(name).unwrap_or(serde_json::Value::Null);
                out.insert(name.clone(), normalize_state_json(v, attr_ty));
            }
            serde_json::Value::Object(out)
        }
        (serde_json::Value::Array(items), Type::List(inner) | Type::Set(inner)) => {
            serde_json::Value::Array(
                items
                    .into_iter()
                    .map(|i| normalize_state_json(i, inner))
                    .collect(),
            )
        }
        (json, _) => json,
    }
}

#[cfg(test)]
mod tests;
