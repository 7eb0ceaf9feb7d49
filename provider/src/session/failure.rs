//! A job that did not succeed ([`JobFailure`]), rendered for people: what ended it, Terraform's
//! errors with their locations, the last log lines and the request id. What to do next depends
//! on who ran the job and is added by the caller.

use std::fmt;

use super::jobs::JobKind;
use crate::remote::job::{Ending, Followed};
use crate::timeouts::format_duration;

/// Log lines quoted in [`JobFailure::report`].
const QUOTED_LINES: usize = 15;

/// A job of stack `stack_id` that ended otherwise than SUCCEEDED, with what following it saw.
#[derive(Debug)]
pub struct JobFailure {
    pub stack_id: String,
    pub kind: JobKind,
    pub followed: Followed,
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let job = &self.followed.job;
        write!(
            f,
            "failed to run the {} job {} of stack {}: ",
            self.kind, job.id, self.stack_id
        )?;
        match &self.followed.ending {
            Ending::Finished => write!(f, "it ended {}", job.lifecycle_state),
            Ending::Interrupted => f.write_str("Terraform was interrupted"),
            Ending::TimedOut(d) => write!(f, "it did not finish within {}", format_duration(*d)),
            Ending::Unreachable(e) => write!(f, "its status could not be read: {e}"),
        }
    }
}

impl std::error::Error for JobFailure {}

impl JobFailure {
    /// Where a job that was not seen to its end stands: its state as last read, whether it may
    /// still be running, and the commands to check on it and cancel it.
    fn standing(&self) -> String {
        let job = &self.followed.job;
        let check = format!("oci resource-manager job get --job-id {}", job.id);
        if job.lifecycle_state.is_terminal() {
            return format!(
                "The job is {} (check with `{check}`); the next refresh records it.",
                job.lifecycle_state
            );
        }
        format!(
            "The job was last seen {} and may still be running: check it with `{check}` and \
             cancel it with `oci resource-manager job cancel --job-id {}`; the next refresh \
             records how it ended.",
            job.lifecycle_state, job.id
        )
    }

    /// One line saying what happened.
    pub fn summary(&self) -> String {
        let op = self.kind;
        match &self.followed.ending {
            Ending::Finished => format!("Resource Manager {op} job failed"),
            Ending::Interrupted => {
                format!("Interrupted: the Resource Manager {op} job was cancelled")
            }
            Ending::TimedOut(_) => format!("Resource Manager {op} job timed out"),
            Ending::Unreachable(_) => format!("Lost track of the {op} job"),
        }
    }

    /// What ended the job, Terraform's errors, the last log lines and the request id; ends
    /// with a newline.
    pub fn report(&self) -> String {
        let (stack_id, op, f) = (&self.stack_id, self.kind, &self.followed);
        let job = &f.job;
        let request = f.opc_request_id.as_deref().unwrap_or("none");
        let lines: Vec<&str> = f.lines.lines().collect();
        let last = &lines[lines.len().saturating_sub(QUOTED_LINES)..];
        let mut detail = match &f.ending {
            Ending::Finished => match &job.failure_details {
                Some(fd) => format!(
                    "{op} job {} of stack {stack_id} ended {}: {}: {}",
                    job.id, job.lifecycle_state, fd.code, fd.message
                ),
                None => format!(
                    "{op} job {} of stack {stack_id} ended {}.",
                    job.id, job.lifecycle_state
                ),
            },
            Ending::Interrupted => format!(
                "Terraform was interrupted while the {op} job {} of stack {stack_id} was \
                 running: its cancellation was asked for. {}",
                job.id,
                self.standing()
            ),
            Ending::TimedOut(d) => format!(
                "The {op} job {} of stack {stack_id} did not finish within {} (timeouts.{}): its \
                 cancellation was asked for. {}",
                job.id,
                format_duration(*d),
                op.timeout_name(),
                self.standing()
            ),
            Ending::Unreachable(e) => format!(
                "Lost track of the {op} job {} of stack {stack_id}: {e}. {}",
                job.id,
                self.standing()
            ),
        };
        if !f.errors.is_empty() {
            detail.push_str("\n\nTerraform errors:\n");
            for e in &f.errors {
                detail.push_str(&format!("  {e}\n"));
            }
        }
        if !last.is_empty() {
            detail.push_str("\nLast log lines:\n");
            for l in last {
                detail.push_str(&format!("  {l}\n"));
            }
        }
        detail.push_str(&format!("\nopc-request-id: {request}\n"));
        detail
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use galley_oci::resource_manager::{FailureDetails, Job, JobLifecycleState};

    use super::*;
    use crate::remote::tf_log::LineTail;

    fn failure(ending: Ending) -> JobFailure {
        let mut lines = LineTail::new(100);
        for l in [
            "Running: terraform plan",
            "╷",
            "│ Error: Reference to undeclared input variable",
            "│ ",
            "│   on main.tf line 3, in output \"x\":",
            "│    3:   value = var.missing",
            "╵",
            "Job failed.",
        ] {
            lines.push(l);
        }
        JobFailure {
            stack_id: "ocid1.ormstack.oc1..s".into(),
            kind: JobKind::Plan,
            followed: Followed {
                job: Job {
                    id: "ocid1.ormjob.oc1..j".into(),
                    lifecycle_state: JobLifecycleState::Failed,
                    failure_details: Some(FailureDetails {
                        code: "TERRAFORM_EXECUTION_ERROR".into(),
                        message: "Error: Reference to undeclared input variable".into(),
                    }),
                    ..Job::default()
                },
                opc_request_id: Some("REQ123".into()),
                ending,
                summary: None,
                errors: galley_contract::tf_output::errors(lines.lines()),
                lines,
                stats: Default::default(),
                seen_finished_at: None,
            },
        }
    }

    #[test]
    fn failure_reports_carry_code_errors_lines_and_request_id() {
        let f = failure(Ending::Finished);
        assert_eq!(f.summary(), "Resource Manager PLAN job failed");
        let detail = f.report();
        for needle in [
            "TERRAFORM_EXECUTION_ERROR",
            "Error: Reference to undeclared input variable (on main.tf line 3, in output \"x\":)",
            "Job failed.",
            "opc-request-id: REQ123",
            "ocid1.ormstack.oc1..s",
        ] {
            assert!(detail.contains(needle), "{needle} missing from:\n{detail}");
        }
        assert_eq!(
            f.to_string(),
            "failed to run the PLAN job ocid1.ormjob.oc1..j of stack ocid1.ormstack.oc1..s: it \
             ended FAILED"
        );
    }

    #[test]
    fn a_timed_out_job_names_its_timeout_setting() {
        let f = failure(Ending::TimedOut(Duration::from_secs(300)));
        assert_eq!(f.summary(), "Resource Manager PLAN job timed out");
        assert!(f.report().contains("(timeouts.plan)"), "{}", f.report());
        // Not seen ending: it may still run, and the report says how to check and cancel it.
        let mut running = failure(Ending::TimedOut(Duration::from_secs(300)));
        running.followed.job.lifecycle_state = JobLifecycleState::Canceling;
        let report = running.report();
        for needle in [
            "last seen CANCELING and may still be running",
            "oci resource-manager job get --job-id ocid1.ormjob.oc1..j",
            "oci resource-manager job cancel --job-id ocid1.ormjob.oc1..j",
        ] {
            assert!(report.contains(needle), "{needle} missing from {report}");
        }
        let ended = failure(Ending::Interrupted).report();
        assert!(ended.contains("The job is FAILED"), "{ended}");
        assert!(!ended.contains("may still be running"), "{ended}");
        let f = failure(Ending::Interrupted);
        assert_eq!(
            f.summary(),
            "Interrupted: the Resource Manager PLAN job was cancelled"
        );
    }
}
