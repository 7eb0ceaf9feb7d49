//! Running Terraform for a session, behind the `Runner` trait so the tools' gating (plan tokens,
//! locks, read-only mode) does not depend on how a run happens. The real implementation,
//! `TerraformRunner`, writes a root module that uses `galley_session` on the session's stack and
//! runs the `terraform` CLI; `output` parses what the CLI prints.

pub mod output;
pub mod terraform;

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use output::{Diagnostic, PlanSummary};
pub use terraform::TerraformRunner;

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
    /// The saved plan to apply (apply and destroy only).
    pub plan_file: Option<PathBuf>,
}

/// Something that happened during a run, forwarded to the client as a progress notification.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    Log(String),
    JobState { job_id: String, state: String },
}

/// The result of a run. A failed run is an `Ok(RunOutcome { success: false, .. })`; `Err` is
/// kept for the runner being unable to run at all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunOutcome {
    pub success: bool,
    /// True when the run was interrupted by cancellation.
    pub cancelled: bool,
    pub summary: Option<PlanSummary>,
    pub job_id: Option<String>,
    pub stack_id: Option<String>,
    pub errors: Vec<Diagnostic>,
    /// The last lines Terraform printed.
    pub log_tail: Vec<String>,
    /// The saved plan a plan or destroy preview produced.
    #[serde(skip)]
    pub plan_file: Option<PathBuf>,
}

/// State of a Resource Manager job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct JobStatus {
    pub job_id: String,
    /// ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELING, CANCELED, or UNKNOWN.
    pub state: String,
    pub session_id: Option<String>,
    /// Where the state came from, for example the run's log.
    pub source: String,
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
    #[error("job {0} is not known to this sidecar; pass a job_id a run of this sidecar returned")]
    UnknownJob(String),
}

/// Where events of a run go.
pub type Events = mpsc::UnboundedSender<RunEvent>;

/// The operations the infra tools need. Implementations must honour `cancel` by interrupting the
/// run (so the provider cancels its remote job) and still return an outcome.
pub trait Runner: Send + Sync + 'static {
    /// Plans the stack and saves the plan.
    fn plan(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>>;
    /// Applies the saved plan `req.plan_file`.
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
    /// The state of a job a run reported.
    fn job_status(&self, job_id: &str) -> BoxFuture<'_, Result<JobStatus, RunnerError>>;
}
