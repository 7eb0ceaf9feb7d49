//! The session's jobs: a PLAN job, then an APPLY job of exactly that plan (unless only a plan
//! is wanted), then the stack's outputs; a DESTROY job before the stack is deleted. Each job is
//! followed by `crate::remote::job`, which writes its log and the contract's job events to the
//! provider's log; cancellation (Terraform's Stop) and the timeouts reach the remote job there.

use std::fmt;
use std::time::Duration;

use galley_contract::tf_output::PlanSummary;
use galley_oci::resource_manager::{
    CreateJobDetails, CreateJobOperationDetails, JobLifecycleState, ResourceManagerClient,
};
use tokio_util::sync::CancellationToken;

use super::error::{Call, SessionError};
use super::failure::JobFailure;
use super::state::{self, Outputs};
use crate::remote::job::{self as rmjob, FollowPolicy, Followed};

/// Lines of a job's log kept in [`JobRun::log_tail`].
const TAIL_LINES: usize = 20;

/// Which job: its Resource Manager operation and its timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Plan,
    Apply,
    Destroy,
}

impl JobKind {
    /// The operation as Resource Manager spells it.
    pub const fn operation(self) -> &'static str {
        match self {
            JobKind::Plan => "PLAN",
            JobKind::Apply => "APPLY",
            JobKind::Destroy => "DESTROY",
        }
    }

    /// The name of its timeout setting (`timeouts.<name>`).
    pub const fn timeout_name(self) -> &'static str {
        match self {
            JobKind::Plan => "plan",
            JobKind::Apply => "apply",
            JobKind::Destroy => "destroy",
        }
    }

    /// How long the job may run unless configured otherwise: a plan is quick; applying and
    /// destroying real infrastructure may take long.
    pub const fn default_timeout(self) -> Duration {
        match self {
            JobKind::Plan => Duration::from_secs(5 * 60),
            JobKind::Apply | JobKind::Destroy => Duration::from_secs(30 * 60),
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation())
    }
}

/// How long each job may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobTimeouts {
    pub plan: Duration,
    pub apply: Duration,
    pub destroy: Duration,
}

impl Default for JobTimeouts {
    fn default() -> Self {
        Self {
            plan: JobKind::Plan.default_timeout(),
            apply: JobKind::Apply.default_timeout(),
            destroy: JobKind::Destroy.default_timeout(),
        }
    }
}

impl JobTimeouts {
    fn of(&self, kind: JobKind) -> Duration {
        match kind {
            JobKind::Plan => self.plan,
            JobKind::Apply => self.apply,
            JobKind::Destroy => self.destroy,
        }
    }
}

/// A job as a session records it: which one, its state as last seen, the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job_id: String,
    pub state: JobLifecycleState,
    /// The last lines of its log.
    pub log_tail: String,
}

impl JobRun {
    pub(crate) fn of(f: &Followed) -> Self {
        let lines: Vec<&str> = f.lines.lines().collect();
        JobRun {
            job_id: f.job.id.clone(),
            state: f.job.lifecycle_state.clone(),
            log_tail: lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n"),
        }
    }
}

/// What running the jobs left, whatever happened: a failure still leaves the jobs that ran.
#[derive(Debug, Default)]
pub struct JobsReport {
    /// The last job started, as last seen (`None`: none started).
    pub last_job: Option<JobRun>,
    /// The resource counts of the PLAN job, once it succeeded (`Some(None)`: its log printed
    /// none).
    pub plan_summary: Option<Option<PlanSummary>>,
    /// The stack's outputs after the jobs (`None`: the plan failed, or they could not be read).
    pub outputs: Option<Outputs>,
    /// Why the jobs stopped short; `None` when every job succeeded.
    pub failure: Option<SessionError>,
    /// Why the outputs could not be read; the next refresh reads them again.
    pub outputs_error: Option<SessionError>,
}

/// Runs and follows jobs of a stack.
pub struct Jobs<'a> {
    pub rm: &'a ResourceManagerClient,
    /// Terraform's Stop: cancels the running job.
    pub stop: &'a CancellationToken,
    pub timeouts: JobTimeouts,
}

impl Jobs<'_> {
    /// The PLAN job, then (unless `plan_only`) the APPLY job of that plan, then the outputs,
    /// which a failed apply may have changed too.
    pub async fn plan_and_apply(&self, stack_id: &str, plan_only: bool) -> JobsReport {
        let mut report = JobsReport::default();
        let plan = match self
            .run(
                stack_id,
                JobKind::Plan,
                CreateJobOperationDetails::plan(None),
            )
            .await
        {
            Ok(followed) => {
                report.last_job = Some(JobRun::of(&followed));
                report.plan_summary = Some(followed.summary);
                followed
            }
            Err(e) => {
                report.last_job = e.job_run();
                report.failure = Some(e);
                return report;
            }
        };
        if !plan_only {
            self.apply_into(&mut report, stack_id, &plan.job.id).await;
        }
        self.outputs_into(&mut report, stack_id).await;
        report
    }

    /// The APPLY job of plan job `plan_job_id` (a plan reviewed before: no other PLAN job
    /// runs), then the outputs.
    pub async fn apply_reviewed(&self, stack_id: &str, plan_job_id: &str) -> JobsReport {
        let mut report = JobsReport::default();
        self.apply_into(&mut report, stack_id, plan_job_id).await;
        self.outputs_into(&mut report, stack_id).await;
        report
    }

    async fn apply_into(&self, report: &mut JobsReport, stack_id: &str, plan_job_id: &str) {
        let apply = CreateJobOperationDetails::apply_plan(plan_job_id, None);
        match self.run(stack_id, JobKind::Apply, apply).await {
            Ok(followed) => report.last_job = Some(JobRun::of(&followed)),
            Err(e) => {
                if let Some(run) = e.job_run() {
                    report.last_job = Some(run);
                }
                report.failure = Some(e);
            }
        }
    }

    /// The stack's outputs, which a failed apply may have changed too.
    async fn outputs_into(&self, report: &mut JobsReport, stack_id: &str) {
        match state::read_outputs(self.rm, stack_id).await {
            Ok(outputs) => report.outputs = Some(outputs),
            Err(source) => {
                report.outputs_error = Some(SessionError::Oci {
                    call: Call::ReadOutputs,
                    source,
                })
            }
        }
    }

    /// A DESTROY job. Its [`JobRun`] is in the error too when it did not succeed.
    pub async fn destroy(&self, stack_id: &str) -> Result<JobRun, SessionError> {
        let op = CreateJobOperationDetails::destroy(None);
        let followed = self.run(stack_id, JobKind::Destroy, op).await?;
        Ok(JobRun::of(&followed))
    }

    /// Starts a job and follows it to its end; anything but SUCCEEDED is an error.
    async fn run(
        &self,
        stack_id: &str,
        kind: JobKind,
        operation: CreateJobOperationDetails,
    ) -> Result<Followed, SessionError> {
        if self.stop.is_cancelled() {
            return Err(SessionError::Interrupted {
                stack_id: stack_id.to_owned(),
                kind,
            });
        }
        let details = CreateJobDetails {
            display_name: Some(format!(
                "galley_session {}",
                kind.operation().to_lowercase()
            )),
            ..CreateJobDetails::new(stack_id, operation)
        };
        let job = self
            .rm
            .create_job(&details)
            .await
            .map_err(SessionError::oci(Call::StartJob(kind)))?
            .value;
        let policy = FollowPolicy::default();
        let followed =
            rmjob::follow(self.rm, job, &policy, self.timeouts.of(kind), self.stop).await;
        if followed.succeeded() {
            Ok(followed)
        } else {
            Err(SessionError::Job(Box::new(JobFailure {
                stack_id: stack_id.to_owned(),
                kind,
                followed,
            })))
        }
    }
}

/// The job's state now (a job left running by an interrupted provider may have ended since).
pub async fn job_state(
    rm: &ResourceManagerClient,
    job_id: &str,
) -> Result<JobLifecycleState, SessionError> {
    Ok(rm
        .get_job(job_id)
        .await
        .map_err(SessionError::oci(Call::ReadJob))?
        .value
        .lifecycle_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_job_has_its_operation_timeout_name_and_default() {
        assert_eq!(JobKind::Plan.to_string(), "PLAN");
        assert_eq!(JobKind::Destroy.timeout_name(), "destroy");
        let t = JobTimeouts::default();
        assert_eq!(t.of(JobKind::Plan), Duration::from_secs(300));
        assert_eq!(t.of(JobKind::Apply), Duration::from_secs(1800));
        assert_eq!(t.of(JobKind::Destroy), Duration::from_secs(1800));
    }

    #[test]
    fn a_run_records_the_last_lines_of_the_log() {
        let mut lines = crate::remote::tf_log::LineTail::new(100);
        for i in 0..30 {
            lines.push(&format!("line {i}"));
        }
        let f = Followed {
            job: galley_oci::resource_manager::Job {
                id: "ocid1.ormjob.oc1..j".into(),
                lifecycle_state: JobLifecycleState::Succeeded,
                ..Default::default()
            },
            opc_request_id: None,
            ending: rmjob::Ending::Finished,
            summary: None,
            errors: Vec::new(),
            lines,
            stats: Default::default(),
            seen_finished_at: None,
        };
        let run = JobRun::of(&f);
        assert_eq!(run.state, JobLifecycleState::Succeeded);
        assert_eq!(run.log_tail.lines().count(), TAIL_LINES);
        assert!(run.log_tail.starts_with("line 10\n"));
        assert!(run.log_tail.ends_with("line 29"));
    }
}
