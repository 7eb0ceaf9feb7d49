//! The contract between the protocol layer and a managed resource.
//!
//! A resource sees typed cty values and returns values and diagnostics; it never sees gRPC,
//! msgpack or DynamicValue. The protocol layer (`server::rpc`) decodes, checks what Terraform
//! would reject, and encodes.
//!
//! Newer protocol features are optional methods with defaults, so a resource that ignores them
//! works unchanged, and so does every client that never asks for them (Terraform 1.0 to 1.10):
//! - write-only attributes (`Attribute::write_only`): the layer refuses them in configuration
//!   when the client cannot handle them and nulls them in every state it returns; `apply` reads
//!   the value from `ApplyRequest::config`.
//! - identity ([`Resource::identity_schema`], [`Resource::identity`]): the layer derives the
//!   identity of every state the resource returns, checks it and sends it;
//!   [`Resource::import_by_identity`] serves `import { identity = {...} }`.
//! - [`Resource::generate_config`]: the configuration `terraform query -generate-config-out`
//!   and `terraform plan -generate-config-out` write for an object.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::cty::Value;
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::identity::IdentitySchema;
use crate::provider_config::ProviderConfig;
use crate::schema::Schema;

/// What every resource call gets besides its values.
#[derive(Clone)]
pub struct Ctx {
    /// The provider block as Configure received it (OCI auth is resolved lazily from it).
    pub config: Arc<ProviderConfig>,
    /// Cancelled when Terraform calls Stop (Ctrl-C), or when the caller of a streaming call
    /// goes away: long waits must end and remote work must be cancelled or left in a known state.
    pub stop: CancellationToken,
    /// What the calling Terraform said it can handle: the request's own when it carries them,
    /// else what Configure received. All false for clients before Terraform 1.10.
    pub client: ClientCapabilities,
}

impl Ctx {
    /// A context with this provider configuration, nothing cancelled and no client
    /// capabilities (how tests call resources directly).
    pub fn new(config: Arc<ProviderConfig>) -> Self {
        Self {
            config,
            stop: CancellationToken::new(),
            client: ClientCapabilities::default(),
        }
    }
}

/// Optional protocol features the calling Terraform supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// The client accepts a deferred change (an experiment in Terraform; Galley never defers).
    pub deferral_allowed: bool,
    /// The client handles write-only attributes (Terraform 1.11 on).
    pub write_only_attributes_allowed: bool,
}

pub struct PlanRequest<'a> {
    /// Null when the resource is being created.
    pub prior_state: &'a Value,
    /// Terraform's merge of config and prior state; the starting point of the plan.
    pub proposed_new_state: &'a Value,
    pub config: &'a Value,
    pub prior_private: &'a [u8],
}

pub struct Planned {
    pub planned_state: Value,
    pub requires_replace: Vec<Vec<PathStep>>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ApplyRequest<'a> {
    /// Null on create.
    pub prior_state: &'a Value,
    /// Null on delete.
    pub planned_state: &'a Value,
    pub config: &'a Value,
    pub planned_private: &'a [u8],
}

/// The result of an apply. `new_state` is written even when `diagnostics` has errors, so a
/// half-finished create still lands in state and nothing is orphaned. Null means "gone".
///
/// Build one with a constructor, which says which of those cases it is.
pub struct Applied {
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

impl Applied {
    /// Done: `state` is the new state and there is nothing to report.
    pub fn done(state: Value) -> Self {
        Self::recorded(state, Diagnostics::new())
    }

    /// `state` is recorded whatever `diagnostics` say: after a failure it is what exists now
    /// (the prior state when nothing changed, null when nothing was created, or a partial
    /// state), so a retry starts from the truth.
    pub fn recorded(state: Value, diagnostics: Diagnostics) -> Self {
        Self {
            new_state: state,
            private: Vec::new(),
            diagnostics,
        }
    }

    /// The object is deleted: Terraform removes it from state.
    pub fn gone() -> Self {
        Self::done(Value::Null)
    }
}

// One value per read of one resource: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ReadOutcome {
    /// The remote object is still there; here is its current state, and warnings about it
    /// (a check that could not be made), which do not stop the plan.
    Present {
        state: Value,
        private: Vec<u8>,
        diagnostics: Diagnostics,
    },
    /// Deleted out of band: Terraform removes it from state and plans a create.
    Gone,
}

impl ReadOutcome {
    /// Still there, as `state`, with nothing to report.
    pub fn present(state: Value, private: Vec<u8>) -> Self {
        ReadOutcome::Present {
            state,
            private,
            diagnostics: Diagnostics::new(),
        }
    }
}

#[async_trait]
pub trait Resource: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Static checks of a configuration, which may still hold unknown values.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Turns a state written by an older schema version into the current version's JSON.
    fn upgrade_state(
        &self,
        _from_version: i64,
        json: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        Ok(json)
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics>;

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied;

    async fn read(
        &self,
        ctx: &Ctx,
        state: &Value,
        private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics>;

    /// Builds the state of an existing object from an import id. The usage error for a
    /// malformed id must show the exact expected format.
    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics>;

    /// The identity schema, for a resource whose objects have an identity. A list resource of
    /// the same type name needs one.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }

    /// The identity of the object `state` describes, a value of the identity schema's type.
    /// Called for every non-null state the resource returns (read, plan, apply, import) and for
    /// every list result; at plan time of a create it may hold unknowns. The default takes the
    /// state's attributes of the identity's names.
    fn identity(&self, _ctx: &Ctx, state: &Value) -> Result<Value, Diagnostics> {
        Ok(self
            .identity_schema()
            .map_or(Value::Null, |schema| schema.project(state)))
    }

    /// Turns an identity written by an older identity schema version into the current
    /// version's JSON.
    fn upgrade_identity(
        &self,
        _from_version: i64,
        json: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        Ok(json)
    }

    /// Builds the state of an existing object from an identity (`import { identity = {...} }`,
    /// Terraform 1.12 on). The protocol layer has checked that the attributes required for
    /// import are set.
    async fn import_by_identity(
        &self,
        _ctx: &Ctx,
        _identity: &Value,
    ) -> Result<Value, Diagnostics> {
        Err(Diagnostic::error(
            "Import by identity is not supported",
            format!(
                "The {} resource cannot be imported from an identity yet. Import it with an \
                 `id` instead.",
                self.type_name()
            ),
        )
        .into())
    }

    /// The configuration for an existing object, from its state: what Terraform writes with
    /// `-generate-config-out` (Terraform 1.14 on). The default keeps the attributes a user sets
    /// ([`crate::schema::Block::config_from_state`]); override it to drop values that merely
    /// repeat a default.
    fn generate_config(&self, state: &Value) -> Result<Value, Diagnostics> {
        Ok(self.schema().block.config_from_state(state))
    }
}

/// What the resources' unit tests share: a context and a plan made as Terraform makes one.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A context with the default provider configuration (no OCI settings).
    pub(crate) fn ctx() -> Ctx {
        Ctx::new(std::sync::Arc::new(
            crate::provider_config::ProviderConfig::default(),
        ))
    }

    /// Plans `config` over `prior` with the proposed new state Terraform would send.
    pub(crate) async fn plan(
        resource: &dyn Resource,
        prior: &Value,
        config: &Value,
    ) -> Result<Planned, Diagnostics> {
        let proposed = crate::attrs::proposed_new_state(&resource.schema().block, prior, config);
        resource
            .plan(
                &ctx(),
                PlanRequest {
                    prior_state: prior,
                    proposed_new_state: &proposed,
                    config,
                    prior_private: &[],
                },
            )
            .await
    }
}
