//! The drift tool: asks Resource Manager whether the resources of a session's stack still match
//! what its last apply left (its drift detection, a refresh of the stack's state against the
//! real resources). It changes nothing, so it is offered in read-only mode too; it holds the
//! session like a plan does, so it never reads a stack an apply is changing.

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Sidecar, fail};
use crate::model::now_secs;
use crate::runner::DriftedResource;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DriftArgs {
    pub session_id: String,
}

/// What detect_drift returns.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DriftResult {
    pub session_id: String,
    /// The session's Resource Manager stack.
    pub stack_id: String,
    /// `IN_SYNC`: every resource matches the stack's state. `DRIFTED`: some were modified or
    /// deleted outside the stack's Terraform (`drifted_resources`).
    pub drift_status: String,
    /// The drifted resources by address, with `MODIFIED` or `DELETED`, sorted.
    pub drifted_resources: Vec<DriftedResource>,
    /// The Resource Manager work request of the detection.
    pub work_request_id: String,
    /// When the detection ended (seconds since the Unix epoch).
    pub checked_at: u64,
    pub next_step: String,
}

impl Sidecar {
    async fn drift_impl(
        &self,
        args: DriftArgs,
        ctx: RequestContext<RoleServer>,
    ) -> Result<DriftResult, String> {
        let id = args.session_id;
        let session = self.inner.store.load(&id).await.map_err(fail)?;
        let Some(stack_id) = session.rm_stack_id.clone() else {
            return Err(format!(
                "session {id} has no Resource Manager stack yet, so there is nothing to check for drift; call run_terraform_plan and run_terraform_apply first"
            ));
        };
        let (_guard, lease) = self.claim(&id, "drift detection").await?;
        let cancel = ctx.ct.child_token();
        let lost = lease.lost();
        let report = tokio::select! {
            r = self.inner.runner.detect_drift(&stack_id, cancel.clone()) => r,
            _ = lost.cancelled() => {
                cancel.cancel();
                Err(crate::runner::RunnerError::ResourceManager(crate::oci::RmError::Drift {
                    stack: stack_id.clone(),
                    work_request: String::new(),
                    reason: "another sidecar took the session over".into(),
                }))
            }
        };
        lease.release().await;
        let report = report.map_err(|e| self.without_server_paths(Some(&id), &e.to_string()))?;
        let next_step = if report.drifted_resources.is_empty() {
            "Nothing changed outside Terraform; nothing to do.".to_string()
        } else {
            "Tell the user which resources changed outside Terraform. To put them back as the files describe, call run_terraform_plan, review it, then run_terraform_apply; or change the design to match.".to_string()
        };
        Ok(DriftResult {
            session_id: id,
            stack_id,
            drift_status: report.drift_status,
            drifted_resources: report.drifted_resources,
            work_request_id: report.work_request_id,
            checked_at: now_secs(),
            next_step,
        })
    }
}

#[tool_router(router = drift_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Check whether the resources of the session's Resource Manager stack were changed outside Terraform (Resource Manager's drift detection: a refresh of the stack's state, which takes about as long as a plan). Returns drift_status (IN_SYNC or DRIFTED), drifted_resources (address and MODIFIED or DELETED), stack_id and checked_at. Needs a session whose stack exists (plan and apply first). Changes nothing.",
        output_schema = schema_for_output::<DriftResult>(),
        annotations(title = "Detect drift", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn detect_drift(
        &self,
        Parameters(args): Parameters<DriftArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        match self.drift_impl(args, ctx).await {
            Ok(r) => {
                let message = format!(
                    "Stack {} of session {} is {}{}. {}",
                    r.stack_id,
                    r.session_id,
                    r.drift_status,
                    if r.drifted_resources.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            r.drifted_resources
                                .iter()
                                .map(|d| format!("{} {}", d.address, d.status))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    r.next_step
                );
                let mut out =
                    CallToolResult::structured(serde_json::to_value(&r).unwrap_or_default());
                out.content.insert(0, ContentBlock::text(message));
                out
            }
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        }
    }
}
