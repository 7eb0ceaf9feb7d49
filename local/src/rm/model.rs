//! Resource Manager wire models, with the exact field names of the OCI SDK models (`Stack`,
//! `StackSummary`, `Job`, `JobSummary`, `LogEntry`, `FailureDetails`...), and the create and
//! update request bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub type StringMap = BTreeMap<String, String>;
pub type TagMap = BTreeMap<String, Value>;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSource {
    pub config_source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    pub id: String,
    pub compartment_id: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub time_created: String,
    pub lifecycle_state: String,
    pub config_source: ConfigSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_terraform_provider: Option<Value>,
    /// May use `customTerraformProvider`. A stack stored before the engine knew the flag reads
    /// as false: an older stack.
    #[serde(default)]
    pub is_third_party_provider_experience_enabled: bool,
    #[serde(default)]
    pub variables: StringMap,
    pub terraform_version: String,
    pub stack_drift_status: String,
    /// When drift detection last finished for the stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_drift_last_checked: Option<String>,
    #[serde(default)]
    pub freeform_tags: StringMap,
    #[serde(default)]
    pub defined_tags: TagMap,
    #[serde(default)]
    pub system_tags: TagMap,
}

impl Stack {
    pub fn summary(&self) -> StackSummary<'_> {
        StackSummary {
            id: &self.id,
            compartment_id: &self.compartment_id,
            display_name: &self.display_name,
            description: self.description.as_deref(),
            time_created: &self.time_created,
            lifecycle_state: &self.lifecycle_state,
            terraform_version: &self.terraform_version,
            freeform_tags: &self.freeform_tags,
            defined_tags: &self.defined_tags,
            system_tags: &self.system_tags,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackSummary<'a> {
    pub id: &'a str,
    pub compartment_id: &'a str,
    pub display_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub time_created: &'a str,
    pub lifecycle_state: &'a str,
    pub terraform_version: &'a str,
    pub freeform_tags: &'a StringMap,
    pub defined_tags: &'a TagMap,
    pub system_tags: &'a TagMap,
}

/// `configSource` of CreateStackDetails / UpdateStackDetails.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSourceDetails {
    pub config_source_type: Option<String>,
    pub zip_file_base64_encoded: Option<String>,
    pub working_directory: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStackDetails {
    pub compartment_id: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub config_source: Option<ConfigSourceDetails>,
    pub custom_terraform_provider: Option<Value>,
    pub variables: Option<StringMap>,
    pub terraform_version: Option<String>,
    pub freeform_tags: Option<StringMap>,
    pub defined_tags: Option<TagMap>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStackDetails {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub config_source: Option<ConfigSourceDetails>,
    pub custom_terraform_provider: Option<Value>,
    pub is_third_party_provider_experience_enabled: Option<bool>,
    pub variables: Option<StringMap>,
    pub terraform_version: Option<String>,
    pub freeform_tags: Option<StringMap>,
    pub defined_tags: Option<TagMap>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operation {
    Plan,
    Apply,
    Destroy,
    ImportTfState,
}

impl Operation {
    /// True for operations that change the stack's state.
    pub fn writes_state(self) -> bool {
        !matches!(self, Operation::Plan)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Accepted,
    InProgress,
    Failed,
    Succeeded,
    Canceling,
    Canceled,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Failed | JobState::Succeeded | JobState::Canceled
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanStrategy {
    FromPlanJobId,
    FromLatestPlanJob,
    AutoApproved,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_refresh_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detailed_log_level: Option<String>,
}

/// `jobOperationDetails` as returned on a Job.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDetails {
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform_advanced_options: Option<AdvancedOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_plan_strategy: Option<PlanStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_plan_job_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyJobPlanResolution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_use_latest_job_id: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_auto_approved: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailureDetails {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancellationDetails {
    pub is_forced: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSourceRecord {
    pub config_source_record_type: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub stack_id: String,
    pub compartment_id: String,
    pub display_name: String,
    pub operation: Operation,
    /// The stack's flag when the job was created.
    #[serde(default)]
    pub is_third_party_provider_experience_enabled: bool,
    pub is_provider_upgrade_required: bool,
    pub job_operation_details: OperationDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_job_plan_resolution: Option<ApplyJobPlanResolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_plan_job_id: Option<String>,
    pub time_created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_finished: Option<String>,
    pub lifecycle_state: JobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_details: Option<FailureDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_details: Option<CancellationDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(default)]
    pub variables: StringMap,
    pub config_source: ConfigSourceRecord,
    #[serde(default)]
    pub freeform_tags: StringMap,
    #[serde(default)]
    pub defined_tags: TagMap,
    #[serde(default)]
    pub system_tags: TagMap,
}

impl Job {
    pub fn summary(&self) -> JobSummary<'_> {
        JobSummary {
            id: &self.id,
            stack_id: &self.stack_id,
            compartment_id: &self.compartment_id,
            display_name: &self.display_name,
            operation: self.operation,
            job_operation_details: &self.job_operation_details,
            apply_job_plan_resolution: self.apply_job_plan_resolution.as_ref(),
            resolved_plan_job_id: self.resolved_plan_job_id.as_deref(),
            time_created: &self.time_created,
            time_finished: self.time_finished.as_deref(),
            lifecycle_state: self.lifecycle_state,
            freeform_tags: &self.freeform_tags,
            defined_tags: &self.defined_tags,
            system_tags: &self.system_tags,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary<'a> {
    pub id: &'a str,
    pub stack_id: &'a str,
    pub compartment_id: &'a str,
    pub display_name: &'a str,
    pub operation: Operation,
    pub job_operation_details: &'a OperationDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_job_plan_resolution: Option<&'a ApplyJobPlanResolution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_plan_job_id: Option<&'a str>,
    pub time_created: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_finished: Option<&'a str>,
    pub lifecycle_state: JobState,
    pub freeform_tags: &'a StringMap,
    pub defined_tags: &'a TagMap,
    pub system_tags: &'a TagMap,
}

/// What the engine keeps about a job besides its wire form.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInternal {
    /// Injected as `TF_VAR_tenancy_ocid`: the tenancy of the key that created the job.
    #[serde(default)]
    pub tenancy_ocid: Option<String>,
    /// Injected as `TF_VAR_current_user_ocid`.
    #[serde(default)]
    pub user_ocid: Option<String>,
    /// SHA-256 over the job's zip, working directory and variables: a saved plan may only be
    /// applied to the configuration it was made from.
    #[serde(default)]
    pub config_sha256: String,
}

/// A job as stored in `job.json`: the wire form plus the engine's own fields under `galley`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredJob {
    #[serde(flatten)]
    pub api: Job,
    #[serde(default)]
    pub galley: JobInternal,
}

/// `jobOperationDetails` of CreateJobDetails.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOperationDetails {
    pub operation: Option<Operation>,
    pub is_provider_upgrade_required: Option<bool>,
    pub terraform_advanced_options: Option<AdvancedOptions>,
    pub execution_plan_strategy: Option<PlanStrategy>,
    pub execution_plan_job_id: Option<String>,
    pub tf_state_base64_encoded: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobDetails {
    pub stack_id: Option<String>,
    pub display_name: Option<String>,
    pub operation: Option<Operation>,
    pub job_operation_details: Option<CreateOperationDetails>,
    pub apply_job_plan_resolution: Option<ApplyJobPlanResolution>,
    pub freeform_tags: Option<StringMap>,
    pub defined_tags: Option<TagMap>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateJobDetails {
    pub display_name: Option<String>,
    pub freeform_tags: Option<StringMap>,
    pub defined_tags: Option<TagMap>,
}

/// One line of a job's log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub level: String,
    pub timestamp: String,
    pub message: String,
}
