//! The tfplugin5 `Provider` service: decodes Terraform's requests, hands typed values to the
//! provider and its resources, checks the answers against what Terraform would reject, and
//! encodes them back.
//!
//! This module owns protocol semantics only; the wire shapes are `fromproto` and `toproto`.
//! RPCs the provider does not serve answer the way Terraform expects (an empty answer or a
//! diagnostic), and every call into provider code goes through one panic guard, so a panic
//! becomes an error diagnostic carrying its message instead of a crashed plugin.
//!
//! Guarantees the resources rely on: write-only attributes are refused in configuration for
//! clients that cannot handle them and are null in every state sent back (planned, new, read,
//! imported, upgraded, listed); identities are derived from the states resources return,
//! checked, and kept across updates (`identity`); list resources stream through `list`.
//! Clients that never call the newer RPCs (Terraform 1.0 to 1.11) see none of it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::{FutureExt as _, Stream};
use galley_proto::tfplugin5 as pb;
use tonic::{Request, Response, Status};
use tracing::{debug, warn};

use super::fromproto::{self, dynamic_value as decode};
use super::toproto::{self, dynamic_value as encode};
use crate::cty::{self, Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::provider::{Provider, Registered};
use crate::provider_config;
use crate::resource::{ApplyRequest, PlanRequest, ReadOutcome};

mod identity;
mod list;

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
            list_resources: self
                .provider
                .list_resources()
                .map(|(name, _)| pb::get_metadata::ListResourceMetadata {
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
            list_resource_schemas: self
                .provider
                .list_resources()
                .map(|(name, l)| (name.to_string(), toproto::schema(&l.schema)))
                .collect(),
            server_capabilities: Some(server_capabilities()),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        // Resources without an identity are simply absent from the map.
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .provider
                .resources()
                .filter_map(|(name, r)| {
                    let schema = &r.identity.as_ref()?.schema;
                    Some((name.to_string(), toproto::identity_schema(schema)))
                })
                .collect(),
            diagnostics: Vec::new(),
        }))
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
        let client = fromproto::client_capabilities(req.client_capabilities.as_ref());
        let diagnostics = match decode(
            req.config.as_ref(),
            &reg.value_type,
            "resource configuration",
        ) {
            Ok(config) => {
                let mut diagnostics = if client.write_only_attributes_allowed {
                    Diagnostics::new()
                } else {
                    write_only_refused(reg, &config)
                };
                diagnostics.extend(
                    guarded("ValidateResourceTypeConfig", async {
                        reg.resource.validate(&config)
                    })
                    .await
                    .unwrap_or_else(Diagnostics::from),
                );
                diagnostics
            }
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
        let mut value = match cty::json::decode(&bytes, &reg.value_type) {
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
        reg.schema.block.null_write_only(&mut value);
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
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        let req = req.into_inner();
        let reply = |d: Diagnostics, identity| {
            Ok(Response::new(pb::upgrade_resource_identity::Response {
                upgraded_identity: identity,
                diagnostics: toproto::diagnostics(&d),
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return reply(
                unknown_resource(&req.type_name, &self.provider).into(),
                None,
            );
        };
        let Some(id_schema) = &reg.identity else {
            return reply(
                Diagnostic::error(
                    "Resource without an identity",
                    format!(
                        "The {} resource has no identity, so a stored identity cannot be \
                         upgraded. Remove the resource from state and import it again by id.",
                        req.type_name
                    ),
                )
                .into(),
                None,
            );
        };
        let raw = req.raw_identity.map(|r| r.json).unwrap_or_default();
        let json: serde_json::Value = match serde_json::from_slice(&raw) {
            Ok(j) => j,
            Err(e) => {
                return reply(
                    Diagnostic::error(
                        "Corrupt identity",
                        format!("The stored identity is not JSON: {e}"),
                    )
                    .into(),
                    None,
                );
            }
        };
        let upgraded = guarded_try("UpgradeResourceIdentity", async {
            reg.resource.upgrade_identity(req.version, json)
        })
        .await;
        let upgraded = match upgraded {
            Ok(j) => normalize_state_json(j, &id_schema.value_type),
            Err(d) => return reply(d, None),
        };
        let bytes = serde_json::to_vec(&upgraded).unwrap_or_default();
        let checked = cty::json::decode(&bytes, &id_schema.value_type)
            .map_err(|e| e.to_string())
            .and_then(|v| match id_schema.schema.check(&v, false) {
                None => Ok(v),
                Some(problem) => Err(format!("the result {problem}")),
            });
        let value = match checked {
            Ok(v) => v,
            Err(e) => {
                return reply(
                    Diagnostic::error(
                        "Failed to upgrade the stored identity",
                        format!(
                            "The identity written by identity schema version {} could not be \
                             upgraded to version {}: {e}.",
                            req.version, id_schema.schema.version
                        ),
                    )
                    .into(),
                    None,
                );
            }
        };
        match toproto::identity(&value, &id_schema.value_type) {
            Ok(identity) => reply(Diagnostics::new(), Some(identity)),
            Err(d) => reply(d.into(), None),
        }
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
        let client = fromproto::client_capabilities(req.client_capabilities.as_ref());
        let diagnostics = guarded("ConfigureProvider", async {
            let diagnostics = provider_config::validate(&config);
            if !diagnostics.has_errors() {
                let cfg = provider_config::configure(&config, |k| std::env::var(k).ok());
                debug!(terraform_version = %req.terraform_version, config = ?cfg, ?client, "provider configured");
                self.provider.set_config(cfg, client);
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
        // On any failure the current state and identity stand, so nothing is lost from state.
        let keep = |d: Diagnostics| {
            Ok(Response::new(pb::read_resource::Response {
                new_state: req.current_state.clone(),
                diagnostics: toproto::diagnostics(&d),
                private: req.private.clone(),
                new_identity: req.current_identity.clone(),
                ..Default::default()
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return keep(unknown_resource(&req.type_name, &self.provider).into());
        };
        let decoded = (|| {
            Ok::<_, Diagnostic>((
                decode(req.current_state.as_ref(), &reg.value_type, "current state")?,
                decode_identity(reg, req.current_identity.as_ref(), "current identity")?,
            ))
        })();
        let (state, current_identity) = match decoded {
            Ok(t) => t,
            Err(d) => return keep(d.into()),
        };
        if state.is_null() {
            return keep(Diagnostics::new());
        }
        let client = fromproto::client_capabilities(req.client_capabilities.as_ref());
        let ctx = self.provider.ctx(Some(client));
        let outcome = guarded_try(
            "ReadResource",
            reg.resource.read(&ctx, &state, &req.private),
        )
        .await;
        let (mut state, private, warnings) = match outcome {
            Ok(ReadOutcome::Present {
                state,
                private,
                diagnostics,
            }) => (state, private, diagnostics),
            Ok(ReadOutcome::Gone) => {
                debug!(type_name = %req.type_name, "remote object is gone; removing from state");
                return match encode(&Value::Null, &reg.value_type, "state") {
                    Ok(dv) => Ok(Response::new(pb::read_resource::Response {
                        new_state: Some(dv),
                        ..Default::default()
                    })),
                    Err(d) => keep(d.into()),
                };
            }
            Err(d) => return keep(d),
        };
        reg.schema.block.null_write_only(&mut state);
        let identity = match identity::derive("ReadResource", reg, &ctx, &state, false).await {
            Ok(identity) => identity,
            Err(d) => return keep(d),
        };
        if let Some(new) = &identity
            && let Err(d) = identity::check_kept(reg, &current_identity, new, "refresh")
        {
            return keep(d.into());
        }
        let encoded = (|| {
            Ok::<_, Diagnostic>((
                encode(&state, &reg.value_type, "refreshed state")?,
                encode_identity(reg, identity.as_ref())?,
            ))
        })();
        match encoded {
            Ok((new_state, new_identity)) => Ok(Response::new(pb::read_resource::Response {
                new_state: Some(new_state),
                private,
                new_identity,
                diagnostics: toproto::diagnostics(&warnings),
                ..Default::default()
            })),
            Err(d) => keep(d.into()),
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
                decode_identity(reg, req.prior_identity.as_ref(), "prior identity")?,
            ))
        })();
        let (prior, proposed, config, prior_identity) = match decoded {
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
        let client = fromproto::client_capabilities(req.client_capabilities.as_ref());
        let ctx = self.provider.ctx(Some(client));
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
        let mut planned = match planned {
            Ok(p) => p,
            Err(d) => return fail(d),
        };
        if let Err(d) = planned.planned_state.conforms_to(ty) {
            warn!(error = %d, "planned state does not match the schema");
        }
        reg.schema.block.null_write_only(&mut planned.planned_state);
        // A create or a replacement makes a new object, whose identity may change and may not
        // be known yet; an update keeps the object, and so its identity.
        let new_object = prior.is_null()
            || identity::replaces(
                &reg.schema.block,
                &prior,
                &planned.planned_state,
                &planned.requires_replace,
            );
        let planned_identity = match identity::derive(
            "PlanResourceChange",
            reg,
            &ctx,
            &planned.planned_state,
            new_object,
        )
        .await
        {
            // A new object's identity that is not known yet is left out: Terraform (1.15)
            // cannot render a plan holding an unknown identity ("Failed to marshal plan to
            // json: value is not known") and takes the identity from the apply.
            Ok(Some(identity)) if new_object && !identity.is_wholly_known() => None,
            Ok(identity) => identity,
            Err(d) => return fail(d),
        };
        if !new_object
            && let Some(planned_identity) = &planned_identity
            && let Err(d) = identity::check_kept(reg, &prior_identity, planned_identity, "plan")
        {
            return fail(d.into());
        }
        let encoded = (|| {
            Ok::<_, Diagnostic>((
                encode(&planned.planned_state, ty, "planned state")?,
                encode_identity(reg, planned_identity.as_ref())?,
            ))
        })();
        let (planned_state, planned_identity) = match encoded {
            Ok(t) => t,
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
            planned_identity,
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
                decode_identity(reg, req.planned_identity.as_ref(), "planned identity")?,
            ))
        })();
        let (prior, planned, config, planned_identity) = match decoded {
            Ok(t) => t,
            Err(d) => return fail(d.into(), req.prior_state),
        };
        // ApplyResourceChange carries no capabilities: Configure's stand.
        let ctx = self.provider.ctx(None);
        // `config` keeps write-only values: it is the only place apply can read them from.
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
        let mut new_state = applied.new_state;
        if !new_state.is_null() && !new_state.is_wholly_known() {
            diagnostics.push(Diagnostic::error(
                "Provider returned an incomplete state",
                "The provider left a value unknown after apply. This is a provider bug; please \
                 report it.",
            ));
        }
        reg.schema.block.null_write_only(&mut new_state);
        // The state is written whatever the identity's problems: an object that exists must
        // stay in state.
        let new_identity = if new_state.is_wholly_known() {
            match identity::derive("ApplyResourceChange", reg, &ctx, &new_state, false).await {
                Ok(identity) => identity,
                Err(d) => {
                    diagnostics.extend(d);
                    None
                }
            }
        } else {
            None
        };
        if !prior.is_null()
            && !planned.is_null()
            && let Some(new) = &new_identity
            && let Err(d) = identity::check_kept(reg, &planned_identity, new, "apply")
        {
            diagnostics.push(d);
        }
        let new_identity = match encode_identity(reg, new_identity.as_ref()) {
            Ok(identity) => identity,
            Err(d) => {
                diagnostics.push(d);
                None
            }
        };
        match encode(&new_state, ty, "new state") {
            Ok(dv) => Ok(Response::new(pb::apply_resource_change::Response {
                new_state: Some(dv),
                private: applied.private,
                diagnostics: toproto::diagnostics(&diagnostics),
                legacy_type_system: false,
                new_identity,
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
        let given_identity = match decode_identity(reg, req.identity.as_ref(), "import identity") {
            Ok(v) => v,
            Err(d) => return fail(d.into()),
        };
        let client = fromproto::client_capabilities(req.client_capabilities.as_ref());
        let ctx = self.provider.ctx(Some(client));
        // Terraform sends one or the other; should both come, the id decides.
        let by_identity = req.id.is_empty();
        let imported = if !by_identity {
            guarded_try("ImportResourceState", reg.resource.import(&ctx, &req.id)).await
        } else if req
            .identity
            .as_ref()
            .is_some_and(|i| i.identity_data.is_some())
        {
            match import_identity_problem(reg, &req.type_name, &given_identity) {
                Some(d) => Err(d.into()),
                None => {
                    guarded_try(
                        "ImportResourceState",
                        reg.resource.import_by_identity(&ctx, &given_identity),
                    )
                    .await
                }
            }
        } else {
            Err(Diagnostic::error(
                "Nothing to import",
                format!(
                    "Importing a {} needs an `id` (or, on Terraform 1.12 and later, an \
                     `identity`) naming the existing object.",
                    req.type_name
                ),
            )
            .into())
        };
        let mut state = match imported {
            Ok(s) => s,
            Err(d) => return fail(d),
        };
        reg.schema.block.null_write_only(&mut state);
        let identity = match identity::derive("ImportResourceState", reg, &ctx, &state, false).await
        {
            Ok(identity) => identity,
            Err(d) => return fail(d),
        };
        if by_identity
            && let Some(new) = &identity
            && !crate::identity::keeps(&given_identity, new)
        {
            return fail(
                Diagnostic::error(
                    "Imported object has another identity",
                    format!(
                        "The {} object found for the identity in the import block has a \
                         different identity. Check the identity's attributes.",
                        req.type_name
                    ),
                )
                .into(),
            );
        }
        let encoded = (|| {
            Ok::<_, Diagnostic>((
                encode(&state, &reg.value_type, "imported state")?,
                encode_identity(reg, identity.as_ref())?,
            ))
        })();
        match encoded {
            Ok((state, identity)) => Ok(Response::new(pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name,
                    state: Some(state),
                    private: Vec::new(),
                    identity,
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
        let client = fromproto::client_capabilities(req.client_capabilities.as_ref());
        let ctx = self.provider.ctx(Some(client));
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
        req: Request<pb::generate_resource_config::Request>,
    ) -> RpcResult<pb::generate_resource_config::Response> {
        let req = req.into_inner();
        let fail = |d: Diagnostics| {
            Ok(Response::new(pb::generate_resource_config::Response {
                config: None,
                diagnostics: toproto::diagnostics(&d),
            }))
        };
        let Some(reg) = self.provider.resource(&req.type_name) else {
            return fail(unknown_resource(&req.type_name, &self.provider).into());
        };
        let ty = &reg.value_type;
        let state = match decode(req.state.as_ref(), ty, "state") {
            Ok(v) => v,
            Err(d) => return fail(d.into()),
        };
        let generated = guarded_try("GenerateResourceConfig", async {
            reg.resource.generate_config(&state)
        })
        .await;
        let mut config = match generated {
            Ok(c) => c,
            Err(d) => return fail(d),
        };
        reg.schema.block.null_write_only(&mut config);
        if let Err(e) = config.conforms_to(ty) {
            return fail(
                Diagnostic::error(
                    "Provider generated an invalid configuration",
                    format!(
                        "The {} resource generated a configuration that does not match its \
                         schema: {e}. This is a bug in the provider; please report it.",
                        req.type_name
                    ),
                )
                .into(),
            );
        }
        match encode(&config, ty, "generated configuration") {
            Ok(dv) => Ok(Response::new(pb::generate_resource_config::Response {
                config: Some(dv),
                diagnostics: Vec::new(),
            })),
            Err(d) => fail(d.into()),
        }
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
        Ok(Response::new(list::stream(
            Arc::clone(&self.provider),
            req.into_inner(),
        )))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> RpcResult<pb::validate_list_resource_config::Response> {
        let diagnostics = list::validate(&self.provider, req.into_inner()).await;
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics: toproto::diagnostics(&diagnostics),
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
        // Every resource has a configuration generator (the default keeps what a user sets).
        generate_resource_config: true,
    }
}

/// An identity Terraform sent, of `reg`'s identity type; null for a resource without one
/// (Terraform sends none then).
fn decode_identity(
    reg: &Registered,
    data: Option<&pb::ResourceIdentityData>,
    what: &str,
) -> Result<Value, Diagnostic> {
    match &reg.identity {
        Some(id) => fromproto::identity(data, &id.value_type, what),
        None => Ok(Value::Null),
    }
}

fn encode_identity(
    reg: &Registered,
    identity: Option<&Value>,
) -> Result<Option<pb::ResourceIdentityData>, Diagnostic> {
    match (&reg.identity, identity) {
        (Some(id), Some(v)) => toproto::identity(v, &id.value_type).map(Some),
        _ => Ok(None),
    }
}

/// Errors for write-only attributes set in `config`, for a client that cannot handle them
/// (Terraform before 1.11 would store the value, or reject the null the provider plans).
fn write_only_refused(reg: &Registered, config: &Value) -> Diagnostics {
    reg.schema
        .block
        .write_only_set(config)
        .into_iter()
        .map(|(path, attr)| {
            let instead = match attr.write_only_fallback {
                Some(fallback) => format!(
                    "Use Terraform 1.11 or later, or set `{fallback}` instead (that value is \
                     stored in the state)."
                ),
                None => {
                    "Use Terraform 1.11 or later, or remove it from the configuration.".to_string()
                }
            };
            Diagnostic::error(
                "Write-only attribute needs Terraform 1.11 or later",
                format!(
                    "`{}` of {} is write-only: Terraform passes it to the provider without \
                     storing it in the plan or state, which the Terraform version running this \
                     configuration cannot do. {instead}",
                    attr.name,
                    reg.resource.type_name()
                ),
            )
            .at_path(path)
        })
        .collect()
}

/// Why `identity` cannot be imported, if it cannot: the resource has no identity, or an
/// attribute required for import is unset.
fn import_identity_problem(
    reg: &Registered,
    type_name: &str,
    identity: &Value,
) -> Option<Diagnostic> {
    let Some(id) = &reg.identity else {
        return Some(Diagnostic::error(
            "Import by identity is not supported",
            format!("The {type_name} resource has no identity. Import it with an `id` instead."),
        ));
    };
    let missing: Vec<_> = id
        .schema
        .required_for_import()
        .filter(|name| {
            identity
                .get_attr(name)
                .is_none_or(|v| v.is_null() || !v.is_wholly_known())
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let all: Vec<_> = id.schema.attributes.iter().map(|a| a.name).collect();
    Some(Diagnostic::error(
        "Incomplete import identity",
        format!(
            "Importing a {type_name} by identity needs {} set to a known value. Its identity \
             attributes are: {}.",
            missing.join(", "),
            all.join(", ")
        ),
    ))
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
