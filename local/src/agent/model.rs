//! Instance Agent wire models, with the field names of the OCI SDK models
//! (`InstanceAgentCommand`, `InstanceAgentCommandSummary`, `InstanceAgentCommandExecution`,
//! `InstanceAgentCommandExecution*OutputVia*Details`...).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub instance_id: String,
}

/// `content.source` as given at creation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_uri: Option<String>,
}

/// `content.output` as given at creation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub output_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_uri: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub source: Source,
    pub output: Output,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_string: Option<String>,
}

/// `InstanceAgentCommand`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Command {
    pub id: String,
    pub compartment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub time_created: String,
    pub time_updated: String,
    pub is_canceled: bool,
    pub execution_time_out_in_seconds: u64,
    pub target: Target,
    pub content: Content,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSummary<'a> {
    pub instance_agent_command_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    pub compartment_id: &'a str,
    pub time_created: &'a str,
    pub time_updated: &'a str,
    pub is_canceled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecState {
    Accepted,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Canceled,
}

impl ExecState {
    pub fn is_terminal(self) -> bool {
        !matches!(self, ExecState::Accepted | ExecState::InProgress)
    }
}

/// `content` of an execution: always has `outputType`, which the SDKs dispatch on.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionContent {
    pub output_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_uri: Option<String>,
}

/// `InstanceAgentCommandExecution` (also the summary's shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub instance_agent_command_id: String,
    pub instance_id: String,
    pub delivery_state: String,
    pub lifecycle_state: ExecState,
    pub time_created: String,
    pub time_updated: String,
    pub sequence_number: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub content: ExecutionContent,
}

/// A command as stored in `command.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredCommand {
    pub command: Command,
    pub execution: Execution,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCommandDetails {
    pub compartment_id: Option<String>,
    pub execution_time_out_in_seconds: Option<u64>,
    pub display_name: Option<String>,
    pub target: Option<Value>,
    pub content: Option<Value>,
}
