//! A reviewed plan: the PLAN job a session is told to apply (`plan_job_id`), checked against
//! what the session would deploy before its APPLY job (`FROM_PLAN_JOB_ID`) starts.
//!
//! What the job planned is read from Resource Manager's own record of the job, never from
//! anything the provider wrote: the configuration it ran (GetJobTfConfig: its zip, digested
//! as the configuration directory is), its `variables` and its `workingDirectory`. So a plan
//! job run by anyone (the console, the CLI, another tool, `operation = "plan"`) can be applied,
//! and editing tags cannot make a stale plan pass. The job must be a SUCCEEDED PLAN job of the
//! same stack, and no job that changes the stack's state (APPLY, DESTROY, IMPORT_TF_STATE) may
//! have been created after it: Terraform would refuse its saved plan as stale.

use std::collections::{BTreeMap, BTreeSet};

use galley_oci::resource_manager::{
    Job, JobLifecycleState, JobOperation, JobSummary, ListJobsRequest, ResourceManagerClient,
};

use super::error::{Call, SessionError};
use super::source::normalize_working_directory;
use crate::packaging::unzip;

/// What the session would deploy: the plan job must have planned exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The digest of the configuration directory; `None` when not known (then only the
    /// stack's recorded configuration could be compared, which the caller checks itself).
    pub source_sha256: Option<String>,
    /// Normalized.
    pub working_directory: Option<String>,
    /// The variables sent to Resource Manager (injected ones left out).
    pub variables: BTreeMap<String, String>,
}

/// What Resource Manager recorded of a plan job.
#[derive(Debug, Clone)]
pub struct Planned {
    pub job: Job,
    /// The digest of the job's configuration zip, or why it could not be read.
    pub source_sha256: Result<String, String>,
    /// Jobs of the stack created after the plan job that change its state.
    pub later_state_changes: Vec<JobSummary>,
}

/// Reads what plan job `plan_job_id` planned.
pub async fn read(rm: &ResourceManagerClient, plan_job_id: &str) -> Result<Planned, SessionError> {
    let job = match rm.get_job(plan_job_id).await {
        Ok(reply) => reply.value,
        Err(e) if e.is_not_found() => {
            return Err(SessionError::PlanJobRefused {
                plan_job_id: plan_job_id.to_owned(),
                reasons: vec![format!(
                    "it was not found (a deleted stack's jobs are deleted too): {e}"
                )],
            });
        }
        Err(e) => return Err(SessionError::oci(Call::ReadPlanJob)(e)),
    };
    let source_sha256 = match rm.get_job_tf_config(plan_job_id).await {
        Ok(zip) => unzip::digest(&zip.value).map_err(|e| e.to_string()),
        Err(e) if e.is_not_found() => Err("Resource Manager has no configuration for it".into()),
        Err(e) => return Err(SessionError::oci(Call::ReadPlanJob)(e)),
    };
    let jobs = rm
        .list_all_jobs(&ListJobsRequest {
            stack_id: Some(job.stack_id.clone()),
            ..Default::default()
        })
        .await
        .map_err(SessionError::oci(Call::ListJobs))?;
    let later_state_changes = jobs
        .into_iter()
        .filter(|j| {
            j.id != job.id
                && matches!(
                    j.operation,
                    JobOperation::Apply | JobOperation::Destroy | JobOperation::ImportTfState
                )
                && is_after(j.time_created.as_deref(), job.time_created.as_deref())
        })
        .collect();
    Ok(Planned {
        job,
        source_sha256,
        later_state_changes,
    })
}

fn is_after(a: Option<&str>, b: Option<&str>) -> bool {
    use galley_oci::model::parse_rfc3339;
    match (a.and_then(parse_rfc3339), b.and_then(parse_rfc3339)) {
        (Some(a), Some(b)) => a > b,
        // Unknown times: count it, a refusal can be fixed by planning again.
        _ => true,
    }
}

/// Why `planned` may not be applied to stack `stack_id` to deploy `wanted`: one sentence per
/// reason, empty when it may.
pub fn refusals(planned: &Planned, stack_id: &str, wanted: &Wanted) -> Vec<String> {
    let job = &planned.job;
    let mut out = Vec::new();
    if job.stack_id != stack_id {
        out.push(format!(
            "it is a job of stack {}, not of this session's stack {stack_id}",
            job.stack_id
        ));
        return out;
    }
    if job.operation != JobOperation::Plan {
        out.push(format!("its operation is {}, not PLAN", job.operation));
        return out;
    }
    if job.lifecycle_state != JobLifecycleState::Succeeded {
        out.push(format!(
            "it is {}: only a SUCCEEDED plan job can be applied",
            job.lifecycle_state
        ));
        return out;
    }
    match (&planned.source_sha256, &wanted.source_sha256) {
        (Ok(planned), Some(now)) if planned != now => out.push(format!(
            "the configuration changed: the job planned source_sha256 {planned}, the \
             configuration to deploy now is {now}"
        )),
        (Err(why), Some(_)) => out.push(format!(
            "its configuration cannot be compared with the one to deploy: {why}"
        )),
        _ => {}
    }
    let planned_wd = normalize_working_directory(job.working_directory.as_deref());
    if planned_wd != wanted.working_directory {
        out.push(format!(
            "the working directory changed: the job planned {}, now {}",
            shown(planned_wd.as_deref()),
            shown(wanted.working_directory.as_deref())
        ));
    }
    let planned_vars = job.variables.clone().unwrap_or_default();
    let changed: BTreeSet<&String> = planned_vars
        .keys()
        .chain(wanted.variables.keys())
        .filter(|k| planned_vars.get(*k) != wanted.variables.get(*k))
        .collect();
    if !changed.is_empty() {
        let names: Vec<&str> = changed.into_iter().map(String::as_str).collect();
        out.push(format!(
            "variables differ from what the job planned: {}",
            names.join(", ")
        ));
    }
    for later in &planned.later_state_changes {
        out.push(format!(
            "{} job {} ({}) was created after it and may have changed the stack's state, so \
             its saved plan is stale",
            later.operation, later.id, later.lifecycle_state
        ));
    }
    out
}

fn shown(wd: Option<&str>) -> String {
    wd.map_or_else(|| "the zip's root".to_owned(), |w| format!("{w:?}"))
}

/// Checks that `plan_job_id` may be applied to `stack_id` to deploy `wanted`.
pub async fn check(
    rm: &ResourceManagerClient,
    stack_id: &str,
    plan_job_id: &str,
    wanted: &Wanted,
) -> Result<(), SessionError> {
    let planned = read(rm, plan_job_id).await?;
    let mut wanted = wanted.clone();
    if wanted.source_sha256.is_none() {
        // No directory of its own (an adopted stack): the stack's configuration is what an
        // apply would deploy.
        let zip = rm
            .get_stack_tf_config(stack_id)
            .await
            .map_err(SessionError::oci(Call::ReadStack))?;
        wanted.source_sha256 =
            Some(
                unzip::digest(&zip.value).map_err(|e| SessionError::PlanJobRefused {
                    plan_job_id: plan_job_id.to_owned(),
                    reasons: vec![format!("the stack's configuration cannot be read: {e}")],
                })?,
            );
    }
    let reasons = refusals(&planned, stack_id, &wanted);
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(SessionError::PlanJobRefused {
            plan_job_id: plan_job_id.to_owned(),
            reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned() -> Planned {
        Planned {
            job: Job {
                id: "ocid1.ormjob.oc1..p".into(),
                stack_id: "ocid1.ormstack.oc1..s".into(),
                operation: JobOperation::Plan,
                lifecycle_state: JobLifecycleState::Succeeded,
                variables: Some(BTreeMap::from([("greeting".into(), "hi".into())])),
                time_created: Some("2024-05-06T07:08:09.123Z".into()),
                ..Job::default()
            },
            source_sha256: Ok("aaa".into()),
            later_state_changes: Vec::new(),
        }
    }

    fn wanted() -> Wanted {
        Wanted {
            source_sha256: Some("aaa".into()),
            working_directory: None,
            variables: BTreeMap::from([("greeting".into(), "hi".into())]),
        }
    }

    #[test]
    fn the_plan_that_was_reviewed_may_be_applied() {
        assert!(refusals(&planned(), "ocid1.ormstack.oc1..s", &wanted()).is_empty());
    }

    #[test]
    fn anything_that_changed_since_the_plan_is_named() {
        let mut w = wanted();
        w.source_sha256 = Some("bbb".into());
        w.variables.insert("greeting".into(), "hello".into());
        w.variables.insert("extra".into(), "x".into());
        w.working_directory = Some("stack".into());
        let mut p = planned();
        p.later_state_changes.push(JobSummary {
            id: "ocid1.ormjob.oc1..a".into(),
            operation: JobOperation::Apply,
            lifecycle_state: JobLifecycleState::Succeeded,
            ..JobSummary::default()
        });
        let r = refusals(&p, "ocid1.ormstack.oc1..s", &w);
        assert_eq!(r.len(), 4, "{r:#?}");
        assert!(r[0].contains("planned source_sha256 aaa") && r[0].contains("now is bbb"));
        assert!(r[1].contains("working directory changed"));
        assert_eq!(
            r[2],
            "variables differ from what the job planned: extra, greeting"
        );
        assert!(r[3].starts_with("APPLY job ocid1.ormjob.oc1..a (SUCCEEDED) was created after it"));
        // Values of variables are never quoted: they may be secrets.
        assert!(!r.concat().contains("hello"));
    }

    #[test]
    fn only_a_succeeded_plan_job_of_the_same_stack_qualifies() {
        assert!(
            refusals(&planned(), "ocid1.ormstack.oc1..other", &wanted())[0]
                .contains("not of this session's stack")
        );
        let mut p = planned();
        p.job.operation = JobOperation::Apply;
        assert_eq!(
            refusals(&p, "ocid1.ormstack.oc1..s", &wanted()),
            ["its operation is APPLY, not PLAN"]
        );
        let mut p = planned();
        p.job.lifecycle_state = JobLifecycleState::Failed;
        assert!(refusals(&p, "ocid1.ormstack.oc1..s", &wanted())[0].starts_with("it is FAILED"));
    }
}
