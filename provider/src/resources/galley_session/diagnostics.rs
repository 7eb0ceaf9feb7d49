//! Engine errors as the user sees them: a summary, a detail that says what to do next, and the
//! attribute at fault; and the warnings of a configuration.

use galley_oci::provider_bucket::{Platform, ProviderObject};

use crate::cty::Value;
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::session::{CustomProvider, JobFailure, JobKind, SessionError, SourceError};

/// `failureDetails.code` prefix of the jobs Resource Manager fails for the stack's provider
/// bucket (`CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND`, `..._UNSUPPORTED_OBJECT_SIZE`).
const BUCKET_FAILURE_PREFIX: &str = "CUSTOM_TERRAFORM_PROVIDER_";

/// The diagnostic for an engine error: the attribute at fault and what to do next.
pub(crate) fn diagnostic(e: &SessionError) -> Diagnostic {
    diagnostic_for(e, None)
}

/// [`diagnostic`], naming the stack's provider bucket when a job failed because of it.
pub(crate) fn diagnostic_for(e: &SessionError, bucket: Option<&CustomProvider>) -> Diagnostic {
    match e {
        SessionError::Job(failure) if is_bucket_failure(failure) => {
            bucket_diagnostic(failure, bucket)
        }
        other => plain_diagnostic(other),
    }
}

fn is_bucket_failure(failure: &JobFailure) -> bool {
    failure
        .followed
        .job
        .failure_details
        .as_ref()
        .is_some_and(|d| d.code.as_str().starts_with(BUCKET_FAILURE_PREFIX))
}

/// A job Resource Manager failed for the provider bucket: the bucket, the object name it looks
/// for, and how to put it there.
fn bucket_diagnostic(failure: &JobFailure, bucket: Option<&CustomProvider>) -> Diagnostic {
    let ours = ProviderObject::new(Platform::LinuxAmd64, "galley", env!("CARGO_PKG_VERSION"));
    let named = match bucket {
        Some(b) => format!(
            "The stack's custom_terraform_provider names bucket {} (namespace {}, region {}). ",
            b.bucket_name, b.namespace, b.region
        ),
        None => String::new(),
    };
    let upload = bucket.map_or("NAME", |b| b.bucket_name.as_str());
    Diagnostic::error(
        failure.summary(),
        format!(
            "{report}{named}Resource Manager installs the provider binaries at the bucket's root \
             for the job's platform, named {platform}/terraform-provider-<TYPE>_v<X.Y.Z> (this \
             provider: {ours}, which the stack's Terraform finds as {address}). Upload them with \
             `galley-upload-providers --bucket {upload}` (from the release's dist/rm-bucket), or \
             fix custom_terraform_provider, then apply again.",
            report = failure.report(),
            platform = Platform::LinuxAmd64,
            address = ours.source_address(),
        ),
    )
    .at("custom_terraform_provider")
}

fn plain_diagnostic(e: &SessionError) -> Diagnostic {
    match e {
        SessionError::Oci { call, source } => {
            Diagnostic::error(format!("Failed to {call}"), source.to_string())
        }
        SessionError::StackNotFound { source, .. } => Diagnostic::error(
            "Stack not found",
            format!(
                "{source}. Check the OCID, the region of the provider, and that the credentials \
                 may read stacks in its compartment."
            ),
        ),
        SessionError::StackDeleted { stack_id } => {
            Diagnostic::error("Stack is deleted", format!("Stack {stack_id} is deleted."))
        }
        SessionError::Interrupted { stack_id, kind } => Diagnostic::error(
            "Interrupted",
            format!(
                "Terraform was interrupted before the {kind} job of stack {stack_id} started; \
                 the stack is kept in state and the next apply runs the jobs."
            ),
        ),
        SessionError::Job(failure) => {
            let next = if failure.kind == JobKind::Destroy {
                "The stack stays in state; run terraform destroy again once the cause is fixed. \
                 When the stack's own configuration is what fails, apply the fixed \
                 configuration first (`terraform untaint` it if it is tainted), or set \
                 destroy_on_delete = false to delete the stack and leave what it deployed."
            } else {
                "The stack stays in state with this job recorded; fix the cause and apply again \
                 to run the jobs again."
            };
            Diagnostic::error(failure.summary(), failure.report() + next)
        }
        SessionError::Source(e) => source_diagnostic(e),
        SessionError::PlanJobRefused {
            plan_job_id,
            reasons,
        } => Diagnostic::error(
            "The plan job cannot be applied",
            format!(
                "plan_job_id = {plan_job_id:?} is not what this session would deploy now, so \
                 applying it would not apply what was reviewed:\n{}\nRun a new plan \
                 (operation = \"plan\"), review it (plan_summary, log_tail), and set plan_job_id \
                 to its last_job_id; or remove plan_job_id to plan and apply in one go.",
                reasons
                    .iter()
                    .map(|r| format!("  - {r}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        )
        .at("plan_job_id"),
        SessionError::Drift { .. } => drift_warning(e),
    }
}

/// A drift detection that did not give a result: a warning, since the plan can go on without
/// it (drift_status then says NOT_CHECKED).
pub(crate) fn drift_warning(e: &SessionError) -> Diagnostic {
    let work_request = match e {
        SessionError::Drift {
            work_request_id: Some(id),
            ..
        } => format!(
            " Its work request is {id} (`oci resource-manager work-request get \
             --work-request-id {id}`)."
        ),
        _ => String::new(),
    };
    let cause = e.to_string();
    Diagnostic::warning(
        "Drift was not checked",
        format!(
            "{cause}.{work_request} drift_status is NOT_CHECKED until a later refresh succeeds; \
             set detect_drift = false to stop checking."
        ),
    )
    .at("detect_drift")
}

pub(super) fn source_diagnostic(e: &SourceError) -> Diagnostic {
    match e {
        SourceError::Unreadable { source, .. } => Diagnostic::error(
            "Cannot read the configuration directory",
            format!(
                "{source}. terraform_dir must name a directory (relative paths are relative to \
                 where Terraform runs; \"${{path.module}}/stack\" is safest)."
            ),
        )
        .at("terraform_dir"),
        SourceError::NoTerraformFiles {
            place,
            in_working_directory,
        } => Diagnostic::error(
            "No Terraform configuration to deploy",
            format!(
                "{place} holds no .tf or .tf.json file (after .galleyignore), so Resource \
                 Manager would fail with \"Terraform config file is missing in zip file\". Point \
                 terraform_dir at the configuration, or working_directory at the folder of its \
                 root module."
            ),
        )
        .at(if *in_working_directory {
            "working_directory"
        } else {
            "terraform_dir"
        }),
        SourceError::Digest { source, .. } => Diagnostic::error(
            "Cannot read the configuration directory",
            source.to_string(),
        )
        .at("terraform_dir"),
        SourceError::Package { source, .. } => {
            Diagnostic::error("Failed to package the configuration", source.to_string())
                .at("terraform_dir")
        }
        SourceError::ChangedSincePlan { dir } => Diagnostic::error(
            "Configuration changed after plan",
            format!(
                "The files of {dir} changed between plan and apply, so the plan no longer \
                 describes what would be deployed. Run terraform plan (or apply) again."
            ),
        )
        .at("terraform_dir"),
    }
}

/// Warnings for variables Resource Manager sets itself.
pub(super) fn injected_variable_warnings(config: &Value) -> Diagnostics {
    let Some(vars) = config.get_attr("variables").and_then(Value::as_map) else {
        return Diagnostics::new();
    };
    vars.keys()
        .filter(|k| galley_contract::rm::is_injected(k))
        .map(|k| {
            Diagnostic::warning(
                "Variable set by Resource Manager is not sent",
                format!(
                    "Resource Manager sets `{k}` itself on every job, so the value given here is \
                     dropped. Declare `variable \"{k}\" {{}}` in the stack's configuration to \
                     use the value Resource Manager provides."
                ),
            )
            .at_path(vec![
                PathStep::Attr("variables".into()),
                PathStep::Key(k.clone()),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use galley_oci::resource_manager::{FailureDetails, Job, JobLifecycleState};

    use super::*;
    use crate::remote::job::{Ending, Followed};
    use crate::remote::tf_log::LineTail;

    fn failed_job(code: &str, message: &str) -> SessionError {
        SessionError::Job(Box::new(JobFailure {
            stack_id: "ocid1.ormstack.oc1..s".into(),
            kind: JobKind::Plan,
            followed: Followed {
                job: Job {
                    id: "ocid1.ormjob.oc1..j".into(),
                    lifecycle_state: JobLifecycleState::Failed,
                    failure_details: Some(FailureDetails {
                        code: code.into(),
                        message: message.into(),
                    }),
                    ..Job::default()
                },
                opc_request_id: Some("REQ".into()),
                ending: Ending::Finished,
                summary: None,
                errors: Vec::new(),
                lines: LineTail::new(10),
                stats: Default::default(),
                seen_finished_at: None,
            },
        }))
    }

    #[test]
    fn a_job_failed_for_the_bucket_points_at_it_and_names_the_object_expected() {
        let bucket = CustomProvider {
            region: "us-ashburn-1".into(),
            namespace: "ns".into(),
            bucket_name: "galley-providers".into(),
        };
        let e = failed_job(
            "CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND",
            "custom Terraform provider bucket galley-providers was not found",
        );
        let d = diagnostic_for(&e, Some(&bucket));
        assert_eq!(
            d.path,
            vec![PathStep::Attr("custom_terraform_provider".into())]
        );
        let version = env!("CARGO_PKG_VERSION");
        for needle in [
            "CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND: custom Terraform provider bucket",
            "names bucket galley-providers (namespace ns, region us-ashburn-1)",
            &format!("this provider: linux_amd64/terraform-provider-galley_v{version}"),
            "registry.terraform.io/hashicorp/galley",
            "galley-upload-providers --bucket galley-providers",
        ] {
            assert!(
                d.detail.contains(needle),
                "{needle} missing from:\n{}",
                d.detail
            );
        }

        // Any other failure stays where it was.
        let other = diagnostic_for(
            &failed_job("TERRAFORM_EXECUTION_ERROR", "Error: boom"),
            Some(&bucket),
        );
        assert!(other.path.is_empty());
        assert!(!other.detail.contains("galley-upload-providers"));
    }
}
