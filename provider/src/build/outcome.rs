//! What a build command left: its [`Record`] (exit code, the last lines of its output, the
//! digest `docker push` printed), and, when it pushed no image, a [`Failed`] saying why with
//! what there is to look it up by.

use std::time::Duration;

use galley_oci::client::OciError;
use galley_oci::instance_agent::{ExecutionLifecycleState, InstanceAgentCommandExecution};

use super::script;
use crate::remote::command::{CommandEnding, CommandFollowed};
use crate::remote::tf_log;
use crate::timeouts::format_duration;

/// Lines of the output kept in [`Record::output_tail`].
pub const TAIL_LINES: usize = 20;

/// Lines of the output quoted by a [`Failed`].
const FAILURE_LINES: usize = 15;

/// What a build command left, whether or not it pushed an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub command_id: String,
    pub exit_code: Option<i64>,
    /// The pushed image's `sha256:...`, from the push output.
    pub image_digest: Option<String>,
    pub output_tail: String,
}

impl Record {
    /// The record of command `command_id` from its last execution status, if one was read.
    pub fn of(command_id: &str, execution: Option<&InstanceAgentCommandExecution>) -> Self {
        let content = execution.and_then(|e| e.content.as_ref());
        let text = content.and_then(|c| c.text.as_deref()).unwrap_or_default();
        Record {
            command_id: command_id.to_owned(),
            exit_code: content.and_then(|c| c.exit_code).map(i64::from),
            image_digest: script::pushed_digest(text),
            output_tail: tf_log::last_lines(text, TAIL_LINES),
        }
    }
}

/// Why a build pushed no image.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("the build command succeeded but its output has no image digest from docker push")]
    NoDigest,
    #[error("the build command ended with {}", exit_text(*.exit_code))]
    Exited {
        exit_code: Option<i32>,
        /// The agent's message about the execution, when it gave one.
        message: Option<String>,
        /// The output shows `curl` failing: the instance could not fetch what the build needs.
        download_failed: bool,
    },
    #[error("the instance's agent did not pick the build command up within {}; it was cancelled", format_duration(*.0))]
    NeverStarted(Duration),
    #[error("the build was stopped; its command was cancelled")]
    Interrupted,
    #[error("the build did not finish within {}; its command was cancelled", format_duration(*.0))]
    TimedOut(Duration),
    #[error("failed to follow the build command: {0}")]
    Unreachable(OciError),
}

/// `exit code 1`, or `no exit code` when the agent reported none.
pub fn exit_text(exit_code: Option<i32>) -> String {
    exit_code
        .map(|c| format!("exit code {c}"))
        .unwrap_or_else(|| "no exit code".to_owned())
}

/// A build command that pushed no image.
#[derive(Debug, thiserror::Error)]
#[error("build command {} on instance {instance_id}: {why}", .record.command_id)]
pub struct Failed {
    pub record: Record,
    pub instance_id: String,
    /// The execution's last state (the default when none was read).
    pub state: ExecutionLifecycleState,
    pub opc_request_id: Option<String>,
    /// The last lines of the output, for a message.
    pub last_lines: String,
    pub why: Failure,
}

/// The image a followed command pushed, or why there is none. `start_timeout` is how long
/// the agent was given to pick the command up.
pub fn judge(
    command_id: &str,
    instance_id: &str,
    followed: CommandFollowed,
    start_timeout: Duration,
) -> Result<Record, Box<Failed>> {
    let record = Record::of(command_id, followed.execution.as_ref());
    let content = followed.execution.as_ref().and_then(|e| e.content.as_ref());
    let text = content.and_then(|c| c.text.as_deref()).unwrap_or_default();
    let state = followed
        .execution
        .as_ref()
        .map(|e| e.lifecycle_state.clone())
        .unwrap_or_default();
    let why = match followed.ending {
        CommandEnding::Finished if state == ExecutionLifecycleState::Succeeded => {
            if record.image_digest.is_some() {
                return Ok(record);
            }
            Failure::NoDigest
        }
        CommandEnding::Finished => Failure::Exited {
            exit_code: content.and_then(|c| c.exit_code),
            message: content
                .and_then(|c| c.message.clone())
                .filter(|m| !m.is_empty()),
            download_failed: text.contains("curl:"),
        },
        CommandEnding::NeverStarted(waited) => Failure::NeverStarted(start_timeout.max(waited)),
        CommandEnding::Interrupted => Failure::Interrupted,
        CommandEnding::TimedOut(after) => Failure::TimedOut(after),
        CommandEnding::Unreachable(e) => Failure::Unreachable(e),
    };
    Err(Box::new(Failed {
        last_lines: tf_log::last_lines(text, FAILURE_LINES),
        record,
        instance_id: instance_id.to_owned(),
        state,
        opc_request_id: followed.opc_request_id,
        why,
    }))
}

#[cfg(test)]
mod tests {
    use galley_oci::instance_agent::{CommandExecutionOutput, DeliveryState};

    use super::*;

    fn followed(state: ExecutionLifecycleState, exit: i32, text: &str) -> CommandFollowed {
        CommandFollowed {
            execution: Some(InstanceAgentCommandExecution {
                delivery_state: DeliveryState::Acked,
                lifecycle_state: state,
                content: Some(CommandExecutionOutput {
                    exit_code: Some(exit),
                    text: Some(text.into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            opc_request_id: Some("REQ".into()),
            ending: CommandEnding::Finished,
            status_calls: 3,
        }
    }

    #[test]
    fn a_pushed_image_is_recorded_with_its_digest_and_the_output_tail() {
        let hex = "b".repeat(64);
        let lines: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let text = format!("{lines}v1: digest: sha256:{hex} size: 1\n");
        let f = followed(ExecutionLifecycleState::Succeeded, 0, &text);
        let record = judge("cmd", "inst", f, Duration::from_secs(300)).unwrap();
        assert_eq!(record.command_id, "cmd");
        assert_eq!(record.exit_code, Some(0));
        assert_eq!(record.image_digest, Some(format!("sha256:{hex}")));
        assert_eq!(record.output_tail.lines().count(), TAIL_LINES);
        assert!(record.output_tail.starts_with("line 12\n"));
    }

    #[test]
    fn a_success_without_a_digest_and_a_failed_curl_are_failures() {
        let f = followed(ExecutionLifecycleState::Succeeded, 0, "pushed, somehow");
        let failed = judge("cmd", "inst", f, Duration::from_secs(300)).unwrap_err();
        assert!(matches!(failed.why, Failure::NoDigest), "{:?}", failed.why);
        assert_eq!(failed.record.exit_code, Some(0));

        let f = followed(ExecutionLifecycleState::Failed, 22, "curl: (22) 404\n");
        let failed = judge("cmd", "inst", f, Duration::from_secs(300)).unwrap_err();
        let Failure::Exited {
            exit_code,
            download_failed,
            ..
        } = failed.why
        else {
            panic!("{:?}", failed.why);
        };
        assert_eq!((exit_code, download_failed), (Some(22), true));
        assert_eq!(failed.record.exit_code, Some(22));
        assert_eq!(failed.opc_request_id.as_deref(), Some("REQ"));
        assert_eq!(failed.last_lines, "curl: (22) 404");
    }
}
