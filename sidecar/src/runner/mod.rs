//! Running Terraform for a session, behind the `Runner` trait so the tools' gating (plan tokens,
//! locks, read-only mode) does not depend on how a run happens. The real implementation,
//! `TerraformRunner`, writes a root module that uses `galley_session` on the session's stack and
//! runs the `terraform` CLI; `lines` classifies what the CLI prints (the provider's job events
//! among it, read with `galley_contract`), `output` holds the shapes of reported errors and of
//! the plan summary, `state` reads the root module's Terraform state without running Terraform.
//! `build` builds a session's application into an image with `galley_build`, in a root module
//! and state of its own.

pub mod build;
mod child;
pub mod lines;
pub mod output;
pub mod state;
pub mod terraform;

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use crate::oci::JobStatus;
pub use output::{Diagnostic, Origin, PlanSummary};
pub use terraform::TerraformRunner;

/// The free-form tag every session's stack carries (its value: the session id): how the
/// session's stack is found when the runner's state of it is lost.
pub const SESSION_TAG: &str = "galley-session";

/// What a run works on.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub session_id: String,
    /// The session's generated stack (`sessions/<id>/terraform`).
    pub stack_dir: PathBuf,
    /// Where the runner keeps its root module, CLI config and saved plans (`sessions/<id>/runner`).
    pub work_dir: PathBuf,
    /// Values for the stack's variables, passed on to the Resource Manager stack.
    pub variables: BTreeMap<String, String>,
    /// The reviewed file the run works from (apply: the variables of the reviewed plan; destroy:
    /// the saved destroy plan).
    pub plan_file: Option<PathBuf>,
    /// Apply only: the reviewed Resource Manager PLAN job to apply (`FROM_PLAN_JOB_ID`).
    pub plan_job_id: Option<String>,
    /// Where the root module's Terraform state lives when not in `work_dir` (the bucket store).
    pub remote_state: Option<RemoteState>,
    /// The last holder of the session died during an operation: its Resource Manager jobs may
    /// still run, and are cancelled before this run starts.
    pub recover: bool,
}

/// The `http` backend the root module's Terraform keeps its state in: served by the sidecar on
/// loopback, behind a password of the process (see `crate::tfstate`).
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteState {
    /// The state's URL (also the lock's).
    pub address: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RemoteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteState")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl RemoteState {
    /// The variables that configure Terraform's `http` backend (the root module's block is
    /// empty, so a saved plan carries no address and the port may change between runs).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TF_HTTP_ADDRESS", self.address.clone()),
            ("TF_HTTP_LOCK_ADDRESS", self.address.clone()),
            ("TF_HTTP_UNLOCK_ADDRESS", self.address.clone()),
            ("TF_HTTP_USERNAME", self.username.clone()),
            ("TF_HTTP_PASSWORD", self.password.clone()),
        ]
    }
}

/// Something that happened during a run, forwarded to the client as a progress notification.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Log(String),
    /// A Resource Manager job changed state (`operation` is PLAN, APPLY or DESTROY).
    JobState {
        job_id: String,
        operation: String,
        state: String,
    },
}

/// The result of a run. A failed run is an `Ok(RunOutcome { success: false, .. })`; `Err` is
/// kept for the runner being unable to run at all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunOutcome {
    pub success: bool,
    /// True when the run was interrupted by cancellation.
    pub cancelled: bool,
    /// What the Resource Manager plan would do (or, for a destroy, what it removes).
    pub summary: Option<PlanSummary>,
    /// The last Resource Manager job of the run and its state.
    pub job_id: Option<String>,
    pub job_state: Option<String>,
    pub stack_id: Option<String>,
    pub errors: Vec<Diagnostic>,
    /// The last lines of the last job's log (or of Terraform's output when no job ran).
    pub log_tail: Vec<String>,
    /// The stack's Terraform outputs after an apply (sensitive ones left out).
    pub outputs: BTreeMap<String, String>,
    /// Destroy preview: the resources the stack deployed, which a destroy removes.
    pub resources: Vec<String>,
    /// The file a plan or destroy preview leaves for its apply, bound to the plan token (a plan:
    /// the variables the PLAN job ran with; a destroy preview: the saved destroy plan).
    #[serde(skip)]
    pub plan_file: Option<PathBuf>,
    /// A plan: the Resource Manager PLAN job to review and apply. An apply: the PLAN job its
    /// APPLY job applied.
    pub plan_job_id: Option<String>,
    /// How many times the run started the `terraform` CLI.
    #[serde(skip)]
    pub terraform_runs: u32,
}

/// What a drift detection of a session's stack found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DriftReport {
    /// `IN_SYNC` or `DRIFTED`.
    pub drift_status: String,
    /// The resources modified or deleted outside the stack's Terraform, sorted by address.
    pub drifted_resources: Vec<DriftedResource>,
    /// The Resource Manager work request of the detection.
    pub work_request_id: String,
}

/// One drifted resource of a stack.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DriftedResource {
    /// Its address in the stack (`oci_core_vcn.main`, `module.m.x.y[0]`).
    pub address: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(
        "failed to start terraform ({program}): {source}; install Terraform or set GALLEY_TERRAFORM"
    )]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to prepare the runner directory {path}: {source}")]
    Prepare {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    ResourceManager(#[from] crate::oci::RmError),
}

/// Where events of a run go.
pub type Events = mpsc::UnboundedSender<RunEvent>;

/// The operations the infra tools need. Implementations must honour `cancel` by interrupting the
/// run (so the provider cancels its remote job) and still return an outcome.
pub trait Runner: Send + Sync + 'static {
    /// Runs the stack's Resource Manager PLAN job for review (`RunOutcome::plan_job_id`).
    fn plan(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>>;
    /// Applies the reviewed PLAN job `req.plan_job_id`, with the variables in `req.plan_file`.
    fn apply(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>>;
    /// Plans destruction of everything the session created and saves that plan.
    fn preview_destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>>;
    /// Applies the saved destroy plan `req.plan_file`.
    fn destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>>;
    /// The state of a Resource Manager job, asked of Resource Manager.
    fn job_status(&self, job_id: &str) -> BoxFuture<'_, Result<JobStatus, RunnerError>>;
    /// Runs Resource Manager's drift detection on stack `stack_id` and waits for its result;
    /// `cancel` stops the waiting (a detection cannot be cancelled).
    fn detect_drift(
        &self,
        stack_id: &str,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<DriftReport, RunnerError>>;
}
