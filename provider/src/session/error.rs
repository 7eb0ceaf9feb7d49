//! [`SessionError`]: every way the session engine fails, typed, with messages that read as
//! "failed to ..." fragments. The resource and the data source turn them into diagnostics with
//! the attribute at fault and what to do next.

use std::fmt;

use galley_oci::client::OciError;

use super::failure::JobFailure;
use super::jobs::{JobKind, JobRun};
use super::source::SourceError;

/// The Resource Manager call that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    CreateStack,
    ReadStack,
    UpdateStack,
    /// Setting `isThirdPartyProviderExperienceEnabled` before the stack names a provider bucket.
    EnableCustomProviders,
    DeleteStack,
    /// Reading the stack's Terraform state to see whether it holds resources.
    ReadState,
    ReadOutputs,
    ListJobs,
    StartJob(JobKind),
    ReadJob,
    /// Reading the plan job a session was told to apply (the job, its configuration).
    ReadPlanJob,
    DetectDrift,
    ReadWorkRequest,
    ListDrift,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::CreateStack => f.write_str("create the stack"),
            Call::ReadStack => f.write_str("read the stack"),
            Call::UpdateStack => f.write_str("update the stack"),
            Call::EnableCustomProviders => {
                f.write_str("enable third-party provider sourcing on the stack")
            }
            Call::DeleteStack => f.write_str("delete the stack"),
            Call::ReadState => f.write_str("read the stack's state"),
            Call::ReadOutputs => f.write_str("read the stack's outputs"),
            Call::ListJobs => f.write_str("list the stack's jobs"),
            Call::StartJob(kind) => write!(f, "start the {kind} job"),
            Call::ReadJob => f.write_str("read the job"),
            Call::ReadPlanJob => f.write_str("read the plan job to apply"),
            Call::DetectDrift => f.write_str("start the stack's drift detection"),
            Call::ReadWorkRequest => f.write_str("read the drift detection's work request"),
            Call::ListDrift => f.write_str("list the stack's resource drift"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("failed to {call}: {source}")]
    Oci {
        call: Call,
        #[source]
        source: OciError,
    },

    #[error("failed to read stack {stack_id}: it was not found ({source})")]
    StackNotFound {
        stack_id: String,
        #[source]
        source: OciError,
    },

    #[error("failed to read stack {stack_id}: it is deleted")]
    StackDeleted { stack_id: String },

    #[error("failed to start the {kind} job of stack {stack_id}: Terraform was interrupted")]
    Interrupted { stack_id: String, kind: JobKind },

    #[error(transparent)]
    Job(Box<JobFailure>),

    /// The plan job a session was told to apply does not plan what it would deploy.
    #[error("failed to apply plan job {plan_job_id}: {}", reasons.join("; "))]
    PlanJobRefused {
        plan_job_id: String,
        reasons: Vec<String>,
    },

    #[error("failed to detect the drift of stack {stack_id}: {reason}")]
    Drift {
        stack_id: String,
        work_request_id: Option<String>,
        reason: String,
    },

    #[error(transparent)]
    Source(#[from] SourceError),
}

impl SessionError {
    pub(crate) fn oci(call: Call) -> impl FnOnce(OciError) -> SessionError {
        move |source| SessionError::Oci { call, source }
    }

    /// The stack is not there (never was, or deleted): refresh drops it, delete is done.
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            SessionError::StackNotFound { .. } | SessionError::StackDeleted { .. }
        )
    }

    /// The job that ran and did not succeed, as state records it.
    pub fn job_run(&self) -> Option<JobRun> {
        match self {
            SessionError::Job(failure) => Some(JobRun::of(&failure.followed)),
            _ => None,
        }
    }
}
