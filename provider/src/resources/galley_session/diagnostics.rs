//! Engine errors as the user sees them: a summary, a detail that says what to do next, and the
//! attribute at fault; and the warnings of a configuration.

use crate::cty::Value;
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::session::{JobKind, SessionError, SourceError};

/// The diagnostic for an engine error: the attribute at fault and what to do next.
pub(crate) fn diagnostic(e: &SessionError) -> Diagnostic {
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
