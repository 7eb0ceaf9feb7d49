//! The contract between the protocol layer and a managed resource.
//!
//! A resource sees typed cty values and returns values and diagnostics; it never sees gRPC,
//! msgpack or DynamicValue. The protocol layer (`server::rpc`) decodes, checks what Terraform
//! would reject, and encodes.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::cty::Value;
use crate::diagnostics::{Diagnostics, PathStep};
use crate::provider_config::ProviderConfig;
use crate::schema::Schema;

/// What every resource call gets besides its values.
#[derive(Clone)]
pub struct Ctx {
    /// The provider block as Configure received it (OCI auth is resolved lazily from it).
    pub config: Arc<ProviderConfig>,
    /// Cancelled when Terraform calls Stop (Ctrl-C): long waits must end and remote work must be
    /// cancelled or left in a known state.
    pub stop: CancellationToken,
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

pub enum ReadOutcome {
    /// The remote object is still there; here is its current state.
    Present { state: Value, private: Vec<u8> },
    /// Deleted out of band: Terraform removes it from state and plans a create.
    Gone,
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
}
