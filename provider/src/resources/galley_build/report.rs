//! How `galley_build` reports what the build engine returns: each [`BuildError`] as a
//! diagnostic with a summary, the attribute it is about and what to do next; a build that
//! pushed no image with its exit code, its last output lines and the ids to look it up by.

use crate::build::{BuildError, ContextError, Failed, Failure, outcome::exit_text};
use crate::diagnostics::Diagnostic;
use crate::timeouts::format_duration;

/// A build context that cannot be used, at plan or at apply.
pub(super) fn context(e: &ContextError) -> Diagnostic {
    match e {
        ContextError::Unreadable(_) => Diagnostic::error(
            "Cannot read the build context",
            format!("{e}. app_dir must name a directory."),
        )
        .at("app_dir"),
        ContextError::NoDockerfile { .. } => Diagnostic::error(
            "No Dockerfile in the build context",
            format!("{e}. Set dockerfile to its path inside app_dir."),
        )
        .at("dockerfile"),
        ContextError::Digest(source) => {
            Diagnostic::error("Cannot read the build context", source.to_string()).at("app_dir")
        }
        ContextError::Package(source) => {
            Diagnostic::error("Failed to package the build context", source.to_string())
                .at("app_dir")
        }
        ContextError::Changed { .. } => Diagnostic::error(
            "Build context changed after plan",
            "The files of app_dir changed between plan and apply, so the plan no longer \
             describes what would be built. Run terraform plan (or apply) again.",
        )
        .at("app_dir"),
    }
}

/// Any engine error. The details quote the error met (most often OCI's) as it came.
pub(super) fn error(e: &BuildError) -> Diagnostic {
    let quoting = |summary: &str, source: &dyn std::fmt::Display| {
        Diagnostic::error(summary, source.to_string())
    };
    match e {
        BuildError::Context(e) => context(e),
        BuildError::Namespace(s) => quoting("Failed to look up the namespace", s),
        BuildError::Upload(s) => quoting("Failed to upload the build context", s).at("bucket_name"),
        BuildError::ContextUrl(s) => quoting(
            "Failed to create a pre-authenticated URL for the build context",
            s,
        ),
        BuildError::StageToken(s) => quoting("Failed to stage the registry token", s),
        BuildError::TokenUrl(s) => quoting(
            "Failed to create a pre-authenticated URL for the registry token",
            s,
        ),
        BuildError::Script(s) => quoting("Cannot write the build script", s).at("build_args"),
        BuildError::Interrupted => Diagnostic::error(
            "Interrupted",
            "Terraform was interrupted before the build command was sent.",
        ),
        BuildError::Send(s) => quoting("Failed to send the build command", s).at("instance_id"),
        BuildError::Failed(f) => failed(f),
        BuildError::ReadCommand { source, .. } => quoting("Failed to read the command", source),
        BuildError::NotABuild(_) => quoting("Not a galley_build command", e),
        BuildError::ReadStatus { source, .. } => {
            quoting("Failed to read the command's status", source)
        }
        BuildError::CheckContext { source, .. } => {
            quoting("Failed to check the uploaded build context", source)
        }
        BuildError::DeleteContext { source, .. } => {
            quoting("Failed to delete the uploaded build context", source)
        }
    }
}

/// The warning for a previous upload a rebuild left behind.
pub(super) fn previous_context_left(e: &BuildError) -> Diagnostic {
    let detail = match e {
        BuildError::DeleteContext {
            bucket,
            object,
            source,
        } => format!("{source}. Delete {bucket}/{object} by hand."),
        other => other.to_string(),
    };
    Diagnostic::warning("Failed to delete the previous build context", detail)
}

/// A build command that pushed no image.
pub(super) fn failed(f: &Failed) -> Diagnostic {
    let Failed {
        record,
        instance_id: instance,
        state,
        opc_request_id,
        last_lines,
        why,
    } = f;
    let tail_block = if last_lines.is_empty() {
        String::new()
    } else {
        format!(
            "\n\nLast output lines:\n{}",
            last_lines
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        )
    };
    let footer = format!(
        "\nCommand {} on instance {instance}; opc-request-id: {}",
        record.command_id,
        opc_request_id.as_deref().unwrap_or("none")
    );
    match why {
        Failure::NoDigest => Diagnostic::error(
            "The build pushed no image digest",
            format!(
                "The build command succeeded but its output has no `digest: sha256:...` line \
                 from docker push, so the image cannot be identified.{tail_block}{footer}"
            ),
        ),
        Failure::Exited {
            exit_code,
            message,
            download_failed,
        } => {
            let exit = exit_text(*exit_code);
            let message = message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            let hint = if *download_failed {
                "\n\nThe instance could not download what the build needs: check that it can \
                 reach Object Storage (a service gateway or NAT gateway on its subnet)."
            } else {
                ""
            };
            Diagnostic::error(
                format!("Build failed with {exit}"),
                format!(
                    "The build command ended {state} with {exit}{message}.{hint}{tail_block}\
                     {footer}"
                ),
            )
        }
        Failure::NeverStarted(waited) => Diagnostic::error(
            "The build command never started",
            format!(
                "The Oracle Cloud Agent of instance {instance} did not pick the build command \
                 up within {} (timeouts.start); it was cancelled. Check, in this order:\n\
                 1. the Compute Instance Run Command plugin is enabled for the instance (its \
                 Oracle Cloud Agent tab) and the agent is running;\n\
                 2. the instance has egress to OCI services (a service gateway or NAT gateway \
                 on its subnet): the agent fetches commands over HTTPS;\n\
                 3. IAM: the instance belongs to a dynamic group with a policy such as `allow \
                 dynamic-group <group> to use instance-agent-command-execution-family in \
                 compartment <compartment>`.{footer}",
                format_duration(*waited)
            ),
        ),
        Failure::Interrupted => Diagnostic::error(
            "Interrupted: the build command was cancelled",
            format!(
                "Terraform was interrupted while the build was running; the command was \
                 cancelled (now {state}). The next apply builds again.{tail_block}{footer}"
            ),
        ),
        Failure::TimedOut(after) => Diagnostic::error(
            "The build timed out",
            format!(
                "The build did not finish within {} (timeouts.build); it was cancelled (now \
                 {state}).{tail_block}{footer}",
                format_duration(*after)
            ),
        ),
        Failure::Unreachable(e) => Diagnostic::error(
            "Lost track of the build command",
            format!("{e}. The command may still be running.{footer}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use galley_oci::instance_agent::{
        CommandExecutionOutput, ExecutionLifecycleState, InstanceAgentCommandExecution,
    };

    use super::*;
    use crate::build::outcome::judge;
    use crate::diagnostics::PathStep;
    use crate::remote::command::{CommandEnding, CommandFollowed};

    fn build_outcome(f: CommandFollowed) -> Result<(), Diagnostic> {
        judge("cmd", "inst", f, Duration::from_secs(300))
            .map(drop)
            .map_err(|f| failed(&f))
    }

    #[test]
    fn context_errors_point_at_the_attribute_to_fix() {
        let no_dockerfile = ContextError::NoDockerfile {
            dir: "app".into(),
            dockerfile: "Dockerfile".into(),
        };
        let d = error(&BuildError::Context(no_dockerfile));
        assert_eq!(d.path, vec![PathStep::Attr("dockerfile".into())]);
        assert_eq!(
            d.detail,
            "app has no Dockerfile (after .galleyignore). Set dockerfile to its path inside \
             app_dir."
        );
        let d = context(&ContextError::Changed { dir: "app".into() });
        assert_eq!(d.summary, "Build context changed after plan");
        assert_eq!(d.path, vec![PathStep::Attr("app_dir".into())]);
        assert!(d.detail.contains("Run terraform plan"), "{}", d.detail);
    }

    #[test]
    fn a_command_that_never_starts_says_what_to_check() {
        let f = CommandFollowed {
            execution: None,
            opc_request_id: Some("REQ".into()),
            ending: CommandEnding::NeverStarted(Duration::from_secs(300)),
            status_calls: 3,
        };
        let err = build_outcome(f).unwrap_err();
        for needle in [
            "Run Command plugin",
            "service gateway",
            "dynamic-group",
            "5m",
            "REQ",
        ] {
            assert!(err.detail.contains(needle), "{needle}: {}", err.detail);
        }
    }

    #[test]
    fn a_failed_build_reports_its_exit_code_and_last_lines() {
        let f = CommandFollowed {
            execution: Some(InstanceAgentCommandExecution {
                lifecycle_state: ExecutionLifecycleState::Failed,
                content: Some(CommandExecutionOutput {
                    exit_code: Some(1),
                    text: Some("step 1\nERROR: failed to solve: boom\n".into()),
                    message: Some("Command exited with code 1.".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            opc_request_id: Some("REQ".into()),
            ending: CommandEnding::Finished,
            status_calls: 3,
        };
        let err = build_outcome(f).unwrap_err();
        assert_eq!(err.summary, "Build failed with exit code 1");
        assert!(err.detail.contains("ERROR: failed to solve: boom"));
        assert!(err.detail.contains("opc-request-id: REQ"));
    }
}
