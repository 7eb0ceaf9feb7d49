//! Compute Instance Agent run commands (core services API 20180530): send a script to an
//! instance's Oracle Cloud Agent, read its execution status and output, cancel it.
//!
//! Inline scripts should stay small (a few KB); larger payloads travel through Object Storage
//! and the script fetches them.

use http::Method;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::{Client, OciError, Request, encode_path_segment};
use crate::endpoints::{EndpointError, Endpoints, Service};
use crate::model::{Reply, string_enum};

string_enum! {
    /// `deliveryState` of a command execution: whether the agent picked the command up.
    DeliveryState {
        Visible => "VISIBLE",
        Pending => "PENDING",
        Acked => "ACKED",
        AckedCanceled => "ACKED_CANCELED",
        Expired => "EXPIRED",
    }
}

string_enum! {
    /// `lifecycleState` of a command execution.
    ExecutionLifecycleState {
        Accepted => "ACCEPTED",
        InProgress => "IN_PROGRESS",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        TimedOut => "TIMED_OUT",
        Canceled => "CANCELED",
    }
}

impl ExecutionLifecycleState {
    /// True once the execution can no longer change.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ExecutionLifecycleState::Succeeded
                | ExecutionLifecycleState::Failed
                | ExecutionLifecycleState::TimedOut
                | ExecutionLifecycleState::Canceled
        )
    }
}

string_enum! {
    /// `outputType` of an execution's output.
    OutputType {
        Text => "TEXT",
        ObjectStorageUri => "OBJECT_STORAGE_URI",
        ObjectStorageTuple => "OBJECT_STORAGE_TUPLE",
    }
}

/// `target`: the instance to run on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceAgentCommandTarget {
    pub instance_id: String,
}

/// `content.source`: where the script comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "sourceType",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum CommandSource {
    /// The script inline.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text_sha256: Option<String>,
    },
    /// An object, fetched by the agent with the instance's principal.
    ObjectStorageTuple {
        bucket_name: String,
        namespace_name: String,
        object_name: String,
    },
    /// An object by URL (such as a pre-authenticated request).
    ObjectStorageUri { source_uri: String },
    /// A source type this crate does not know.
    #[serde(other)]
    Unknown,
}

impl CommandSource {
    /// An inline script with its SHA-256 (lowercase hex), which the agent checks.
    pub fn text(script: impl Into<String>) -> Self {
        let text = script.into();
        let text_sha256 = Some(hex::encode(Sha256::digest(text.as_bytes())));
        CommandSource::Text { text, text_sha256 }
    }
}

/// `content.output`: where the output goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "outputType",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum CommandOutput {
    /// Returned in the execution status (the service keeps the tail of long output).
    Text,
    ObjectStorageTuple {
        bucket_name: String,
        namespace_name: String,
        object_name: String,
    },
    /// A writable URL (such as a pre-authenticated request).
    ObjectStorageUri { output_uri: String },
    #[serde(other)]
    Unknown,
}

/// `content`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceAgentCommandContent {
    pub source: CommandSource,
    pub output: CommandOutput,
}

/// CreateInstanceAgentCommand body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInstanceAgentCommandDetails {
    pub compartment_id: String,
    /// How long the agent lets the script run.
    pub execution_time_out_in_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub target: InstanceAgentCommandTarget,
    pub content: InstanceAgentCommandContent,
}

impl CreateInstanceAgentCommandDetails {
    /// An inline `script` for `instance_id` with text output.
    pub fn text_script(
        compartment_id: impl Into<String>,
        instance_id: impl Into<String>,
        script: impl Into<String>,
        timeout_seconds: u32,
    ) -> Self {
        Self {
            compartment_id: compartment_id.into(),
            execution_time_out_in_seconds: timeout_seconds,
            display_name: None,
            target: InstanceAgentCommandTarget {
                instance_id: instance_id.into(),
            },
            content: InstanceAgentCommandContent {
                source: CommandSource::text(script),
                output: CommandOutput::Text,
            },
        }
    }
}

/// A command as created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceAgentCommand {
    pub id: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_canceled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_time_out_in_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<InstanceAgentCommandTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<InstanceAgentCommandContent>,
}

/// An execution's output: exit code, message and (for text output) the text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CommandExecutionOutput {
    pub output_type: OutputType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_uri: Option<String>,
}

/// The status of a command on one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceAgentCommandExecution {
    pub instance_agent_command_id: String,
    pub instance_id: String,
    pub delivery_state: DeliveryState,
    pub lifecycle_state: ExecutionLifecycleState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<CommandExecutionOutput>,
}

/// A Compute Instance Agent client for one region (or endpoint).
#[derive(Clone, Debug)]
pub struct InstanceAgentClient {
    client: Client,
    base_url: String,
}

service_client!(InstanceAgentClient, Service::InstanceAgent);

impl InstanceAgentClient {
    fn command_url(&self, command_id: Option<&str>, tail: Option<&str>) -> String {
        let mut url = format!("{}/instanceAgentCommands", self.base_url);
        if let Some(id) = command_id {
            url.push('/');
            url.push_str(&encode_path_segment(id));
        }
        if let Some(tail) = tail {
            url.push('/');
            url.push_str(tail);
        }
        url
    }

    /// CreateInstanceAgentCommand.
    pub async fn create_instance_agent_command(
        &self,
        details: &CreateInstanceAgentCommandDetails,
    ) -> Result<Reply<InstanceAgentCommand>, OciError> {
        let request = Request::new(
            "CreateInstanceAgentCommand",
            Method::POST,
            self.command_url(None, None),
        )
        .json(details)?
        .with_retry_token();
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// GetInstanceAgentCommand.
    pub async fn get_instance_agent_command(
        &self,
        command_id: &str,
    ) -> Result<Reply<InstanceAgentCommand>, OciError> {
        let request = Request::new(
            "GetInstanceAgentCommand",
            Method::GET,
            self.command_url(Some(command_id), None),
        );
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// GetInstanceAgentCommandExecution: `GET /instanceAgentCommands/{id}/status?instanceId=`.
    pub async fn get_instance_agent_command_execution(
        &self,
        command_id: &str,
        instance_id: &str,
    ) -> Result<Reply<InstanceAgentCommandExecution>, OciError> {
        let request = Request::new(
            "GetInstanceAgentCommandExecution",
            Method::GET,
            self.command_url(Some(command_id), Some("status")),
        )
        .query("instanceId", instance_id);
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// CancelInstanceAgentCommand.
    pub async fn cancel_instance_agent_command(
        &self,
        command_id: &str,
    ) -> Result<Reply<()>, OciError> {
        let request = Request::new(
            "CancelInstanceAgentCommand",
            Method::DELETE,
            self.command_url(Some(command_id), None),
        );
        let response = self.client.send(request).await?;
        Ok(Reply::new((), &response))
    }
}
