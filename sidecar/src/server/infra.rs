//! Infra tools: plan, apply, destroy and job status. This module owns the gating that makes them
//! safe for a model to call: one heavy operation per session at a time, apply only of the latest
//! reviewed plan (by its token, which binds the Resource Manager PLAN job the user reviewed and
//! the variables it ran with, with the stack files unchanged since), destroy only of a reviewed
//! destroy preview, progress notifications and cancellation. The run itself is the `Runner`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Sidecar, fail};
use crate::model::{PendingPlan, PlanKind, SessionStatus, now_secs};
use crate::runner::{Diagnostic, JobStatus, PlanSummary, RunEvent, RunOutcome, RunRequest};
use crate::store::{Durability, Edit, Lease};

/// Sessions with a heavy operation (a Terraform run) in progress.
#[derive(Debug, Default, Clone)]
pub struct HeavyOps(Arc<Mutex<HashMap<String, (&'static str, Instant)>>>);

/// Held while a heavy operation runs; releases the session when dropped.
#[derive(Debug)]
pub struct HeavyGuard {
    ops: HeavyOps,
    session: String,
}

impl HeavyOps {
    /// How many operations are running.
    pub fn running(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Claims `session` for `op`, or says what already holds it.
    pub fn try_claim(&self, session: &str, op: &'static str) -> Result<HeavyGuard, String> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((running, since)) = map.get(session) {
            return Err(format!(
                "session {session} already has a {running} running (started {}s ago); wait for it to finish or cancel it, then try again",
                since.elapsed().as_secs()
            ));
        }
        map.insert(session.to_string(), (op, Instant::now()));
        Ok(HeavyGuard {
            ops: self.clone(),
            session: session.to_string(),
        })
    }
}

impl Drop for HeavyGuard {
    fn drop(&mut self) {
        let mut map = self.ops.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&self.session);
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PlanArgs {
    pub session_id: String,
    /// Values for the stack's variables (see variables.tf); tenancy_ocid, region and
    /// current_user_ocid are filled in by Resource Manager and never sent.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// True for a destroy preview: plans the removal of everything, and returns the plan_token
    /// run_terraform_destroy needs.
    #[serde(default)]
    pub destroy: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ApplyArgs {
    pub session_id: String,
    /// The plan_token of the latest run_terraform_plan of this session.
    #[serde(default)]
    pub plan_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DestroyArgs {
    pub session_id: String,
    /// The plan_token of the latest run_terraform_plan with destroy=true.
    #[serde(default)]
    pub plan_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct JobArgs {
    /// A Resource Manager job id (`ocid1.ormjob...`) a run returned.
    pub job_id: String,
}

/// What a plan, apply or destroy returns.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunResult {
    pub session_id: String,
    /// `plan`, `destroy_preview`, `apply` or `destroy`.
    pub operation: String,
    pub success: bool,
    pub cancelled: bool,
    /// What the Resource Manager plan adds, changes and destroys (for a destroy preview: the
    /// resources the stack deployed, all destroyed).
    pub plan_summary: Option<PlanSummary>,
    /// The last Resource Manager job of the run (get_rm_job_status follows it) and its state:
    /// for a plan its PLAN job, for an apply the APPLY job.
    pub job_id: Option<String>,
    pub job_state: Option<String>,
    /// The session's Resource Manager stack.
    pub stack_id: Option<String>,
    /// Terraform errors. `origin: stack` errors come from the session's files (`file` is what
    /// update_terraform_file takes); `origin: runner` ones from running them.
    pub errors: Vec<Diagnostic>,
    /// The last lines of the last job's log.
    pub log_tail: Vec<String>,
    /// The stack's outputs after an apply.
    pub outputs: BTreeMap<String, String>,
    /// Destroy preview: the resources that would be destroyed.
    pub resources: Vec<String>,
    /// After a successful plan or destroy preview: pass it to run_terraform_apply or
    /// run_terraform_destroy. It is valid until the next plan or a change to the files.
    pub plan_token: Option<String>,
    /// A plan: the Resource Manager PLAN job its token stands for. An apply: the reviewed PLAN
    /// job its APPLY job applied (executionPlanStrategy FROM_PLAN_JOB_ID; no new PLAN job ran).
    pub plan_job_id: Option<String>,
    pub next_step: String,
}

/// The saved plan the runner keeps for a kind of plan, when the pending plan names no file.
fn plan_file_name(kind: PlanKind) -> &'static str {
    match kind {
        PlanKind::Apply => "plan.tfplan",
        PlanKind::Destroy => "destroy.tfplan",
    }
}

/// A random token for a reviewed plan, bound to what was reviewed.
fn mint_token(
    kind: PlanKind,
    files_digest: &str,
    plan_file_digest: Option<&str>,
    plan_job_id: Option<&str>,
) -> String {
    let mut nonce = [0u8; 16];
    let _ = getrandom::fill(&mut nonce);
    let mut h = Sha256::new();
    h.update(nonce);
    h.update(format!(
        "{kind:?}\0{files_digest}\0{}\0{}",
        plan_file_digest.unwrap_or(""),
        plan_job_id.unwrap_or("")
    ));
    format!("pt-{}", &hex::encode(h.finalize())[..40])
}

fn tool_result(result: &RunResult, message: String) -> CallToolResult {
    let value = serde_json::to_value(result).unwrap_or_default();
    let mut r = if result.success {
        CallToolResult::structured(value)
    } else {
        CallToolResult::structured_error(value)
    };
    r.content.insert(0, ContentBlock::text(message));
    r
}

fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// Sends run events to the client as progress notifications (when it asked for progress).
pub(super) fn forward_progress(
    ctx: &RequestContext<RoleServer>,
    mut rx: mpsc::UnboundedReceiver<RunEvent>,
    sidecar: Sidecar,
    session_id: String,
) -> tokio::task::JoinHandle<()> {
    let token = ctx.meta.get_progress_token();
    let peer = ctx.peer.clone();
    tokio::spawn(async move {
        let mut n = 0.0;
        while let Some(ev) = rx.recv().await {
            let message = match ev {
                RunEvent::Log(l) => sidecar.without_server_paths(Some(&session_id), &l),
                RunEvent::JobState {
                    job_id,
                    operation,
                    state,
                } => {
                    tracing::info!(job = %job_id, %operation, %state, "job state");
                    format!("{operation} job {job_id}: {state}")
                }
            };
            let Some(token) = &token else { continue };
            n += 1.0;
            let _ = peer
                .notify_progress(
                    ProgressNotificationParam::new(token.clone(), n).with_message(message),
                )
                .await;
        }
    })
}

impl Sidecar {
    /// What a run of session `session_id` works on: its directories (the stack in them the
    /// stored one), the variables, the saved plan, where the runner's state lives.
    async fn run_request(
        &self,
        session_id: &str,
        variables: BTreeMap<String, String>,
        plan_name: Option<&str>,
        plan_job_id: Option<String>,
        recover: bool,
    ) -> Result<RunRequest, String> {
        let dirs = self.inner.store.run_dirs(session_id).await.map_err(fail)?;
        Ok(RunRequest {
            session_id: session_id.to_string(),
            plan_file: plan_name.map(|n| dirs.work_dir.join(n)),
            plan_job_id,
            stack_dir: dirs.stack_dir,
            work_dir: dirs.work_dir,
            variables,
            remote_state: self
                .inner
                .state_backend
                .as_ref()
                .map(|b| b.for_session(session_id)),
            recover,
        })
    }

    /// Claims session `id` for a heavy operation: here (one at a time per process) and with
    /// the store's lease (one at a time across sidecars sharing the store).
    pub(super) async fn claim(
        &self,
        id: &str,
        op: &'static str,
    ) -> Result<(HeavyGuard, Lease), String> {
        let guard = self.inner.heavy.try_claim(id, op)?;
        let lease = self.inner.store.lease(id, op).await.map_err(fail)?;
        if let Some(old) = lease.taken_over() {
            tracing::warn!(session = %id, holder = %old.holder, operation = %old.operation, "the last holder of the session stopped during an operation; recovering");
        }
        Ok((guard, lease))
    }

    /// Runs one runner operation with progress forwarding and the request's cancellation. What
    /// comes back (errors of Terraform and of the provider, the log tail, a runner failure) is
    /// given with paths relative to the session: no server path reaches the client.
    async fn drive<F>(
        &self,
        session_id: &str,
        ctx: &RequestContext<RoleServer>,
        lost: CancellationToken,
        op: F,
    ) -> Result<RunOutcome, String>
    where
        F: FnOnce(
            mpsc::UnboundedSender<RunEvent>,
            tokio_util::sync::CancellationToken,
        ) -> futures::future::BoxFuture<
            'static,
            Result<RunOutcome, crate::runner::RunnerError>,
        >,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let forward = forward_progress(ctx, rx, self.clone(), session_id.to_string());
        // The request's cancellation, or the loss of the lease (another sidecar took the
        // session over), interrupts the run.
        let cancel = ctx.ct.child_token();
        let watch = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = lost.cancelled() => cancel.cancel(),
                    _ = cancel.cancelled() => {}
                }
            })
        };
        let outcome = op(tx, cancel.clone()).await;
        watch.abort();
        let _ = forward.await;
        let relative = |t: &str| self.without_server_paths(Some(session_id), t);
        outcome
            .map(|mut o| {
                for e in &mut o.errors {
                    e.summary = relative(&e.summary);
                    e.detail = relative(&e.detail);
                    e.file = e.file.as_deref().map(relative);
                }
                for l in &mut o.log_tail {
                    *l = relative(l);
                }
                o
            })
            .map_err(|e| relative(&e.to_string()))
    }

    fn runner(&self) -> Arc<dyn crate::runner::Runner> {
        self.inner.runner.clone()
    }

    /// Checks a token against the session's pending plan and its stored files.
    fn check_token(
        &self,
        s: &crate::model::Session,
        edit: &Edit<'_>,
        kind: PlanKind,
        token: Option<&str>,
    ) -> Result<PendingPlan, String> {
        let session_id = s.id.as_str();
        let (how, tool) = match kind {
            PlanKind::Apply => ("run_terraform_plan", "apply"),
            PlanKind::Destroy => ("run_terraform_plan with destroy=true", "destroy"),
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(format!(
                "plan_token is required: call {how}, review its plan_summary, then call {tool} again with the plan_token it returned"
            ));
        };
        let Some(pending) = s.pending_plan.clone() else {
            return Err(format!(
                "session {session_id} has no reviewed plan waiting (none was made, it was already used, or the files changed since); call {how} first and pass its plan_token"
            ));
        };
        if pending.kind != kind {
            return Err(format!(
                "the latest plan of session {session_id} is a {} plan, not a {tool} plan; call {how} and pass its plan_token",
                match pending.kind {
                    PlanKind::Apply => "apply",
                    PlanKind::Destroy => "destroy",
                }
            ));
        }
        if !bool::from(pending.token.as_bytes().ct_eq(token.as_bytes())) {
            return Err(format!(
                "plan_token does not match the latest plan of session {session_id} (a newer plan replaced it, or it was mistyped); call {how} again and use its plan_token"
            ));
        }
        let digest = edit.stack_digest().map_err(fail)?;
        if digest != pending.files_digest {
            return Err(format!(
                "the stack files of session {session_id} changed after the plan was made; the reviewed plan no longer describes them. Call {how} again, review it, and use the new plan_token"
            ));
        }
        let name = pending.plan_file.as_deref().unwrap_or(plan_file_name(kind));
        let plan_file = edit.runner_file_digest(name).map_err(fail)?;
        if pending.plan_file_digest.is_some() && plan_file != pending.plan_file_digest {
            return Err(format!(
                "the saved plan of session {session_id} changed or disappeared since it was reviewed; call {how} again"
            ));
        }
        if kind == PlanKind::Apply && pending.plan_job_id.is_none() {
            return Err(format!(
                "the latest plan of session {session_id} names no Resource Manager PLAN job to apply (it was made by an older sidecar); call {how} again and use its plan_token"
            ));
        }
        Ok(pending)
    }

    async fn plan_impl(
        &self,
        args: PlanArgs,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let id = args.session_id.clone();
        let store = &self.inner.store;
        let session = store.load(&id).await.map_err(fail)?;
        let files = store.stack_files(&id).await.map_err(fail)?;
        if !files.iter().any(|f| f.rel.ends_with(".tf")) {
            return Err(format!(
                "session {id} has no Terraform files yet; call export_iac first"
            ));
        }
        if args.destroy && session.rm_stack_id.is_none() && session.status != SessionStatus::Applied
        {
            tracing::info!(session = %id, "destroy preview of a session that was never applied");
        }
        let op = if args.destroy {
            "destroy preview"
        } else {
            "plan"
        };
        let (_guard, lease) = self.claim(&id, op).await?;
        let before = store.stack_digest(&id).await.map_err(fail)?;
        let req = self
            .run_request(
                &id,
                args.variables,
                None,
                None,
                lease.taken_over().is_some(),
            )
            .await?;
        let runner = self.runner();
        let destroy = args.destroy;
        let outcome = self
            .drive(&id, &ctx, lease.lost(), move |tx, ct| {
                Box::pin(async move {
                    if destroy {
                        runner.preview_destroy(req, tx, ct).await
                    } else {
                        runner.plan(req, tx, ct).await
                    }
                })
            })
            .await?;
        let after = store.stack_digest(&id).await.map_err(fail)?;
        let kind = if destroy {
            PlanKind::Destroy
        } else {
            PlanKind::Apply
        };
        let plan_file = outcome
            .plan_file
            .as_deref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let plan_file_digest = match &plan_file {
            Some(name) => store.keep_plan(&id, name).await.map_err(fail)?,
            None => None,
        };
        let token = (outcome.success && before == after).then(|| {
            mint_token(
                kind,
                &after,
                plan_file_digest.as_deref(),
                outcome.plan_job_id.as_deref(),
            )
        });
        let (_, _) = self
            .update_session_with(&id, Durability::Flushed, |s, _| {
                s.pending_plan = token.as_ref().map(|t| PendingPlan {
                    kind,
                    token: t.clone(),
                    files_digest: after.clone(),
                    plan_file_digest: plan_file_digest.clone(),
                    plan_file: plan_file.clone(),
                    plan_job_id: outcome.plan_job_id.clone(),
                    created_at: now_secs(),
                });
                if token.is_some() {
                    s.status = if destroy {
                        SessionStatus::DestroyPreviewed
                    } else {
                        SessionStatus::Planned
                    };
                }
                if let Some(stack) = &outcome.stack_id {
                    s.rm_stack_id = Some(stack.clone());
                }
                if let Some(job) = &outcome.job_id {
                    s.last_job_id = Some(job.clone());
                }
                Ok(())
            })
            .await?;
        lease.release().await;
        let changed_during = outcome.success && before != after;
        let operation = if destroy { "destroy_preview" } else { "plan" };
        let next_tool = if destroy {
            "run_terraform_destroy"
        } else {
            "run_terraform_apply"
        };
        let next_step = if changed_during {
            "The stack files changed while the plan ran, so no token was issued; plan again."
                .to_string()
        } else if outcome.cancelled {
            "The plan was cancelled; plan again when ready.".to_string()
        } else if outcome.success {
            format!(
                "Show the plan_summary to the user; if they agree, call {next_tool} with this plan_token."
            )
        } else {
            "Fix the errors (file and line given; update_terraform_file edits a file, or change the design and export_iac again), then plan again.".to_string()
        };
        let result = RunResult {
            session_id: id,
            operation: operation.into(),
            success: outcome.success && !changed_during,
            cancelled: outcome.cancelled,
            plan_summary: outcome.summary,
            job_id: outcome.job_id.clone(),
            job_state: outcome.job_state.clone(),
            stack_id: outcome.stack_id.clone(),
            errors: outcome.errors.clone(),
            log_tail: outcome.log_tail.clone(),
            outputs: outcome.outputs.clone(),
            resources: outcome.resources.clone(),
            plan_token: token,
            plan_job_id: outcome.plan_job_id.clone(),
            next_step: next_step.clone(),
        };
        self.inner.last_runs.record(&result);
        Ok(tool_result(&result, summary_line(&result, &next_step)))
    }

    async fn execute_impl(
        &self,
        session_id: String,
        kind: PlanKind,
        token: Option<String>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let op = match kind {
            PlanKind::Apply => "apply",
            PlanKind::Destroy => "destroy",
        };
        let (_guard, lease) = self.claim(&session_id, op).await?;
        let store = &self.inner.store;
        // The saved plan the token stands for, brought back when it was kept elsewhere (another
        // sidecar planned, or this one restarted on an empty cache).
        let session = store.load(&session_id).await.map_err(fail)?;
        if let Some(PendingPlan {
            kind: pending,
            plan_file_digest: Some(digest),
            plan_file,
            ..
        }) = &session.pending_plan
            && *pending == kind
        {
            let name = plan_file.as_deref().unwrap_or(plan_file_name(kind));
            store
                .fetch_plan(&session_id, name, digest)
                .await
                .map_err(fail)?;
        }
        // Checked and consumed in one update of the session, so no file edit can slip in
        // between; a reviewed plan is good for one run.
        let (pending, _) = self
            .update_session_with(&session_id, Durability::Flushed, |s, edit| {
                let pending = self.check_token(s, edit, kind, token.as_deref())?;
                s.pending_plan = None;
                Ok(pending)
            })
            .await?;
        let name = pending
            .plan_file
            .clone()
            .unwrap_or_else(|| plan_file_name(kind).to_string());
        let req = self
            .run_request(
                &session_id,
                BTreeMap::new(),
                Some(&name),
                pending.plan_job_id.clone(),
                lease.taken_over().is_some(),
            )
            .await?;
        let runner = self.runner();
        let outcome = self
            .drive(&session_id, &ctx, lease.lost(), move |tx, ct| {
                Box::pin(async move {
                    match kind {
                        PlanKind::Apply => runner.apply(req, tx, ct).await,
                        PlanKind::Destroy => runner.destroy(req, tx, ct).await,
                    }
                })
            })
            .await?;
        self.update_session_with(&session_id, Durability::Flushed, |s, _| {
            if outcome.success {
                s.status = match kind {
                    PlanKind::Apply => SessionStatus::Applied,
                    PlanKind::Destroy => SessionStatus::Destroyed,
                };
            }
            if let Some(stack) = &outcome.stack_id {
                s.rm_stack_id = Some(stack.clone());
            }
            if let Some(job) = &outcome.job_id {
                s.last_job_id = Some(job.clone());
            }
            Ok(())
        })
        .await?;
        lease.release().await;
        let next_step = if outcome.success {
            "Done. get_rm_job_status tells the job's state; get_session shows the session."
                .to_string()
        } else if outcome.cancelled {
            "Cancelled; Terraform was interrupted and the provider asked to cancel the job. Plan again before retrying.".to_string()
        } else {
            "The run failed; read errors and log_tail, fix the cause, then plan again.".to_string()
        };
        let result = RunResult {
            session_id,
            operation: op.into(),
            success: outcome.success,
            cancelled: outcome.cancelled,
            plan_summary: outcome.summary,
            job_id: outcome.job_id.clone(),
            job_state: outcome.job_state.clone(),
            stack_id: outcome.stack_id.clone(),
            errors: outcome.errors.clone(),
            log_tail: outcome.log_tail.clone(),
            outputs: outcome.outputs.clone(),
            resources: outcome.resources.clone(),
            plan_token: None,
            plan_job_id: outcome.plan_job_id.clone(),
            next_step: next_step.clone(),
        };
        self.inner.last_runs.record(&result);
        Ok(tool_result(&result, summary_line(&result, &next_step)))
    }
}

fn summary_line(r: &RunResult, next: &str) -> String {
    let counts = r
        .plan_summary
        .map(|p| {
            format!(
                " ({} to add, {} to change, {} to destroy)",
                p.add, p.change, p.destroy
            )
        })
        .unwrap_or_default();
    let state = if r.success {
        "succeeded"
    } else if r.cancelled {
        "was cancelled"
    } else {
        "failed"
    };
    let errors: Vec<String> = r
        .errors
        .iter()
        .map(|e| match (&e.file, e.line) {
            (Some(f), Some(l)) => format!("{f}:{l}: {} {}", e.summary, e.detail),
            _ => format!("{} {}", e.summary, e.detail),
        })
        .collect();
    let mut s = format!(
        "{} of session {} {state}{counts}. {next}",
        r.operation, r.session_id
    );
    if !errors.is_empty() {
        s.push_str("\nErrors:\n");
        s.push_str(&errors.join("\n"));
    }
    s
}

#[tool_router(router = infra_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Plan the session's exported Terraform through Resource Manager (via galley_session): runs a PLAN job, which run_terraform_apply later applies exactly. Returns success, plan_summary (add/change/destroy counts), job_id, stack_id, errors with file and line, the log tail, and a plan_token. With destroy=true it previews destroying everything instead, and its plan_token is what run_terraform_destroy needs. Sends progress notifications when the request carries a progress token; cancelling the request interrupts Terraform.",
        output_schema = schema_for_output::<RunResult>(),
        annotations(title = "Plan Terraform", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn run_terraform_plan(
        &self,
        Parameters(args): Parameters<PlanArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.plan_impl(args, ctx).await.unwrap_or_else(error_result)
    }

    #[tool(
        description = "Apply exactly the latest reviewed plan of the session: one Resource Manager APPLY job of the reviewed PLAN job (no new plan). Requires the plan_token run_terraform_plan returned; refuses a missing or stale token and refuses if any stack file changed since that plan (Resource Manager refuses too when another job ran on the stack since). Returns the APPLY job_id and the plan_job_id it applied. The token is used up by this call.",
        output_schema = schema_for_output::<RunResult>(),
        annotations(title = "Apply Terraform plan", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn run_terraform_apply(
        &self,
        Parameters(args): Parameters<ApplyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.execute_impl(args.session_id, PlanKind::Apply, args.plan_token, ctx)
            .await
            .unwrap_or_else(error_result)
    }

    #[tool(
        description = "Destroy everything the session created, exactly as the latest destroy preview showed. Requires the plan_token of run_terraform_plan with destroy=true; refuses a missing or stale token and refuses if any stack file changed since.",
        output_schema = schema_for_output::<RunResult>(),
        annotations(title = "Destroy infrastructure", read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = true)
    )]
    async fn run_terraform_destroy(
        &self,
        Parameters(args): Parameters<DestroyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.execute_impl(args.session_id, PlanKind::Destroy, args.plan_token, ctx)
            .await
            .unwrap_or_else(error_result)
    }

    #[tool(
        description = "Ask Resource Manager for the state of a job (ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELING, CANCELED), its operation, stack, times and failure reason. Works for any job id a plan, apply or destroy returned, also after a restart of the sidecar.",
        annotations(
            title = "Get job status",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn get_rm_job_status(
        &self,
        Parameters(args): Parameters<JobArgs>,
    ) -> Result<rmcp::Json<JobStatus>, String> {
        let job_id = args.job_id.trim();
        if !job_id.starts_with("ocid1.ormjob.") {
            return Err(format!(
                "{} is not a Resource Manager job id (ocid1.ormjob...); pass the job_id a run returned",
                crate::echo::quoted(job_id)
            ));
        }
        let mut status = self
            .inner
            .runner
            .job_status(job_id)
            .await
            .map_err(|e| self.without_server_paths(None, &e.to_string()))?;
        // Which session the job belongs to, when its stack is one of ours.
        if let Ok(sessions) = self.inner.store.list().await {
            status.session_id = sessions
                .into_iter()
                .find(|s| s.rm_stack_id.as_deref() == Some(status.stack_id.as_str()))
                .map(|s| s.id);
        }
        Ok(rmcp::Json(status))
    }
}
