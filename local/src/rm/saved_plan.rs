//! Whether a plan job's saved plan may still be applied (`executionPlanStrategy =
//! FROM_PLAN_JOB_ID` or `FROM_LATEST_PLAN_JOB`): it may not once the stack's configuration,
//! working directory or variables differ from what the plan job ran with.
//!
//! How the refusal looks, and why: Resource Manager accepts the CreateJob request (its checks
//! at creation are about the request: the plan job exists, belongs to the stack, is a
//! SUCCEEDED PLAN job) and the APPLY job then fails with `TERRAFORM_EXECUTION_ERROR`, the
//! SDK's code for Terraform refusing to run. Terraform's own refusal of a saved plan whose
//! state changed since is "Error: Saved plan is stale"; a plan whose configuration changed is
//! refused with the same error here, written as Terraform writes diagnostics, so clients that
//! read Terraform errors from the log (the galley provider does) report it like any other.
//! A state changed by another job after the plan needs nothing here: terraform itself refuses
//! that plan with the same error.

use std::collections::BTreeSet;

use super::Rm;
use super::logs::{Level, LogWriter};
use super::model::StoredJob;

/// Why a saved plan is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub plan_job_id: String,
    /// What changed: `configuration`, `working directory`, `variables (a, b)`.
    pub changed: Vec<String>,
}

impl Stale {
    /// `failureDetails.message` of the refused APPLY job.
    pub fn message(&self) -> String {
        format!(
            "Error: Saved plan is stale: the stack's {} changed after plan job {} ran, so its \
             plan no longer describes what would be applied. Run a new plan job and apply that \
             one.",
            self.changed.join(" and "),
            self.plan_job_id
        )
    }

    /// Writes the refusal to the job's log as terraform prints an error.
    pub fn log(&self, log: &LogWriter) {
        let detail = format!(
            "The stack's {} changed after plan job {} ran, so its plan no longer describes \
             what would be applied. Run a new plan job and apply that one.",
            self.changed.join(" and "),
            self.plan_job_id
        );
        for line in [
            "╷".to_owned(),
            "│ Error: Saved plan is stale".to_owned(),
            "│ ".to_owned(),
            format!("│ {detail}"),
            "╵".to_owned(),
        ] {
            log.line(Level::Error, &line);
        }
    }
}

/// Why `apply` may not apply `plan`'s saved plan, if it may not: both jobs snapshot the
/// stack's configuration and variables when created.
pub fn stale(rm: &Rm, plan: &StoredJob, apply: &StoredJob) -> Option<Stale> {
    if plan.galley.config_sha256 == apply.galley.config_sha256 {
        return None;
    }
    let zip = |job: &StoredJob| std::fs::read(rm.job_dir(&job.api.id).join("config.zip")).ok();
    let mut changed = Vec::new();
    if zip(plan) != zip(apply) {
        changed.push("configuration".to_owned());
    }
    if plan.api.working_directory != apply.api.working_directory {
        changed.push("working directory".to_owned());
    }
    let (before, after) = (&plan.api.variables, &apply.api.variables);
    let names: BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    if !names.is_empty() {
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        changed.push(format!("variables ({})", names.join(", ")));
    }
    if changed.is_empty() {
        // The digests differ for a reason not named above: still refuse, generically.
        changed.push("configuration".to_owned());
    }
    Some(Stale {
        plan_job_id: plan.api.id.clone(),
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_what_changed_and_reads_as_terraform_s_error() {
        let s = Stale {
            plan_job_id: "ocid1.ormjob.oc1..p".into(),
            changed: vec!["configuration".into(), "variables (greeting)".into()],
        };
        let m = s.message();
        assert!(m.starts_with("Error: Saved plan is stale"), "{m}");
        assert!(m.contains(
            "configuration and variables (greeting) changed after plan job ocid1.ormjob.oc1..p"
        ));
    }
}
