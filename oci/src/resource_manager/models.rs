//! Resource Manager 20180917 request and response bodies, field names as in the official SDKs'
//! models (checked against the Python SDK's `attribute_map` by the crate's tests).
//!
//! Response types decode leniently: every field has a default and enums keep unknown values, so
//! a field or value the service adds later never breaks a read.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::string_enum;

/// `freeformTags`.
pub type FreeformTags = BTreeMap<String, String>;
/// `definedTags` and `systemTags`: namespace -> key -> value.
pub type DefinedTags = BTreeMap<String, BTreeMap<String, Value>>;

string_enum! {
    /// `lifecycleState` of a stack.
    StackLifecycleState {
        Creating => "CREATING",
        Active => "ACTIVE",
        Deleting => "DELETING",
        Deleted => "DELETED",
        Failed => "FAILED",
    }
}

string_enum! {
    /// `stackDriftStatus`.
    StackDriftStatus {
        NotChecked => "NOT_CHECKED",
        InSync => "IN_SYNC",
        Drifted => "DRIFTED",
    }
}

string_enum! {
    /// `configSourceType` (and `configSourceRecordType`).
    ConfigSourceType {
        ZipUpload => "ZIP_UPLOAD",
        Git => "GIT_CONFIG_SOURCE",
        ObjectStorage => "OBJECT_STORAGE_CONFIG_SOURCE",
        Compartment => "COMPARTMENT_CONFIG_SOURCE",
        DevOps => "DEVOPS_CONFIG_SOURCE",
        BitbucketCloud => "BITBUCKET_CLOUD_CONFIG_SOURCE",
        BitbucketServer => "BITBUCKET_SERVER_CONFIG_SOURCE",
    }
}

string_enum! {
    /// `operation` of a job.
    JobOperation {
        Plan => "PLAN",
        Apply => "APPLY",
        Destroy => "DESTROY",
        ImportTfState => "IMPORT_TF_STATE",
        PlanRollback => "PLAN_ROLLBACK",
        ApplyRollback => "APPLY_ROLLBACK",
    }
}

string_enum! {
    /// `lifecycleState` of a job.
    JobLifecycleState {
        Accepted => "ACCEPTED",
        InProgress => "IN_PROGRESS",
        Failed => "FAILED",
        Succeeded => "SUCCEEDED",
        Canceling => "CANCELING",
        Canceled => "CANCELED",
    }
}

impl JobLifecycleState {
    /// True once the job can no longer change (succeeded, failed or canceled).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobLifecycleState::Succeeded | JobLifecycleState::Failed | JobLifecycleState::Canceled
        )
    }
}

string_enum! {
    /// `executionPlanStrategy` of an apply or destroy job.
    ExecutionPlanStrategy {
        FromPlanJobId => "FROM_PLAN_JOB_ID",
        FromLatestPlanJob => "FROM_LATEST_PLAN_JOB",
        AutoApproved => "AUTO_APPROVED",
    }
}

string_enum! {
    /// `detailedLogLevel` of Terraform (its `TF_LOG`).
    DetailedLogLevel {
        Error => "ERROR",
        Warn => "WARN",
        Info => "INFO",
        Debug => "DEBUG",
        Trace => "TRACE",
    }
}

string_enum! {
    /// `failureDetails.code` of a failed job.
    JobFailureCode {
        InternalServiceError => "INTERNAL_SERVICE_ERROR",
        TerraformExecutionError => "TERRAFORM_EXECUTION_ERROR",
        TerraformConfigUnzipFailed => "TERRAFORM_CONFIG_UNZIP_FAILED",
        InvalidWorkingDirectory => "INVALID_WORKING_DIRECTORY",
        JobTimeout => "JOB_TIMEOUT",
        TerraformConfigVirusFound => "TERRAFORM_CONFIG_VIRUS_FOUND",
        TerraformGitCloneFailure => "TERRAFORM_GIT_CLONE_FAILURE",
        TerraformGitCheckoutFailure => "TERRAFORM_GIT_CHECKOUT_FAILURE",
        TerraformObjectStorageConfigSourceEmptyBucket => "TERRAFORM_OBJECT_STORAGE_CONFIG_SOURCE_EMPTY_BUCKET",
        TerraformObjectStorageConfigSourceNoTfFilePresent => "TERRAFORM_OBJECT_STORAGE_CONFIG_SOURCE_NO_TF_FILE_PRESENT",
        TerraformObjectStorageConfigSourceUnsupportedObjectSize => "TERRAFORM_OBJECT_STORAGE_CONFIG_SOURCE_UNSUPPORTED_OBJECT_SIZE",
        CustomTerraformProviderBucketNotFound => "CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND",
        CustomTerraformProviderUnsupportedObjectSize => "CUSTOM_TERRAFORM_PROVIDER_UNSUPPORTED_OBJECT_SIZE",
    }
}

string_enum! {
    /// `type` of a log entry.
    LogEntryType {
        TerraformConsole => "TERRAFORM_CONSOLE",
    }
}

string_enum! {
    /// `level` of a log entry (and the `levelGreaterThanOrEqualTo` filter).
    LogLevel {
        Trace => "TRACE",
        Debug => "DEBUG",
        Info => "INFO",
        Warn => "WARN",
        Error => "ERROR",
        Fatal => "FATAL",
    }
}

string_enum! {
    /// `sortBy` of stack and job lists.
    ListSortBy {
        TimeCreated => "TIMECREATED",
        DisplayName => "DISPLAYNAME",
    }
}

string_enum! {
    /// `tfPlanFormat` of GetJobTfPlan.
    TfPlanFormat {
        Binary => "BINARY",
        Json => "JSON",
    }
}

/// `customTerraformProvider`: a bucket holding provider binaries Terraform may use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CustomTerraformProvider {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
}

/// `configSource` of CreateStack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "configSourceType",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum CreateConfigSourceDetails {
    /// A zip of the configuration, base64 in the request.
    ZipUpload {
        zip_file_base64_encoded: String,
        /// Folder of the zip holding the root module; unset means the zip's root.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        working_directory: Option<String>,
    },
}

impl CreateConfigSourceDetails {
    /// A zip upload from the zip's bytes.
    pub fn zip(zip: &[u8], working_directory: Option<String>) -> Self {
        CreateConfigSourceDetails::ZipUpload {
            zip_file_base64_encoded: STANDARD.encode(zip),
            working_directory,
        }
    }
}

/// `configSource` of UpdateStack: replaces the whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "configSourceType",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum UpdateConfigSourceDetails {
    ZipUpload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zip_file_base64_encoded: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        working_directory: Option<String>,
    },
}

impl UpdateConfigSourceDetails {
    /// A new zip from its bytes.
    pub fn zip(zip: &[u8], working_directory: Option<String>) -> Self {
        UpdateConfigSourceDetails::ZipUpload {
            zip_file_base64_encoded: Some(STANDARD.encode(zip)),
            working_directory,
        }
    }
}

/// CreateStack body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStackDetails {
    pub compartment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub config_source: CreateConfigSourceDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_terraform_provider: Option<CustomTerraformProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    /// Such as `1.5.x`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

impl CreateStackDetails {
    /// A stack of `zip` in `compartment_id`; other fields unset.
    pub fn new(
        compartment_id: impl Into<String>,
        config_source: CreateConfigSourceDetails,
    ) -> Self {
        Self {
            compartment_id: compartment_id.into(),
            display_name: None,
            description: None,
            config_source,
            custom_terraform_provider: None,
            variables: None,
            terraform_version: None,
            freeform_tags: None,
            defined_tags: None,
        }
    }
}

/// UpdateStack body. A set `config_source` or `variables` replaces the whole value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateStackDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_source: Option<UpdateConfigSourceDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_terraform_provider: Option<CustomTerraformProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_third_party_provider_experience_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

/// A stack's `configSource` as read back (the zip itself is never returned).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConfigSource {
    pub config_source_type: ConfigSourceType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

/// A stack.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Stack {
    pub id: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    pub lifecycle_state: StackLifecycleState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_source: Option<ConfigSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_terraform_provider: Option<CustomTerraformProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_third_party_provider_experience_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_drift_status: Option<StackDriftStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_drift_last_checked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_tags: Option<DefinedTags>,
}

/// A stack in a list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StackSummary {
    pub id: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    pub lifecycle_state: StackLifecycleState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_tags: Option<DefinedTags>,
}

/// `terraformAdvancedOptions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TerraformAdvancedOptions {
    /// Refresh state before the operation (`-refresh`), default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_refresh_required: Option<bool>,
    /// `-parallelism`, default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detailed_log_level: Option<DetailedLogLevel>,
}

/// `jobOperationDetails` of CreateJob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "operation",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum CreateJobOperationDetails {
    Plan {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_provider_upgrade_required: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terraform_advanced_options: Option<TerraformAdvancedOptions>,
    },
    Apply {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_provider_upgrade_required: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terraform_advanced_options: Option<TerraformAdvancedOptions>,
        /// `FromPlanJobId` (with `execution_plan_job_id`), `FromLatestPlanJob` or
        /// `AutoApproved`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_plan_strategy: Option<ExecutionPlanStrategy>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_plan_job_id: Option<String>,
    },
    Destroy {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_provider_upgrade_required: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terraform_advanced_options: Option<TerraformAdvancedOptions>,
        /// Only `AutoApproved` is accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_plan_strategy: Option<ExecutionPlanStrategy>,
    },
    ImportTfState {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_provider_upgrade_required: Option<bool>,
        tf_state_base64_encoded: String,
    },
}

impl CreateJobOperationDetails {
    /// A plan.
    pub fn plan(options: Option<TerraformAdvancedOptions>) -> Self {
        CreateJobOperationDetails::Plan {
            is_provider_upgrade_required: None,
            terraform_advanced_options: options,
        }
    }

    /// An apply of the plan made by job `plan_job_id`.
    pub fn apply_plan(
        plan_job_id: impl Into<String>,
        options: Option<TerraformAdvancedOptions>,
    ) -> Self {
        CreateJobOperationDetails::Apply {
            is_provider_upgrade_required: None,
            terraform_advanced_options: options,
            execution_plan_strategy: Some(ExecutionPlanStrategy::FromPlanJobId),
            execution_plan_job_id: Some(plan_job_id.into()),
        }
    }

    /// An apply that plans and applies in one job.
    pub fn apply_auto_approved(options: Option<TerraformAdvancedOptions>) -> Self {
        CreateJobOperationDetails::Apply {
            is_provider_upgrade_required: None,
            terraform_advanced_options: options,
            execution_plan_strategy: Some(ExecutionPlanStrategy::AutoApproved),
            execution_plan_job_id: None,
        }
    }

    /// A destroy (always auto-approved).
    pub fn destroy(options: Option<TerraformAdvancedOptions>) -> Self {
        CreateJobOperationDetails::Destroy {
            is_provider_upgrade_required: None,
            terraform_advanced_options: options,
            execution_plan_strategy: Some(ExecutionPlanStrategy::AutoApproved),
        }
    }

    /// The operation this body starts.
    pub fn operation(&self) -> JobOperation {
        match self {
            CreateJobOperationDetails::Plan { .. } => JobOperation::Plan,
            CreateJobOperationDetails::Apply { .. } => JobOperation::Apply,
            CreateJobOperationDetails::Destroy { .. } => JobOperation::Destroy,
            CreateJobOperationDetails::ImportTfState { .. } => JobOperation::ImportTfState,
        }
    }

    /// Sets `isProviderUpgradeRequired` (lets Terraform upgrade providers past a lock file).
    pub fn with_provider_upgrade(mut self, required: bool) -> Self {
        match &mut self {
            CreateJobOperationDetails::Plan {
                is_provider_upgrade_required,
                ..
            }
            | CreateJobOperationDetails::Apply {
                is_provider_upgrade_required,
                ..
            }
            | CreateJobOperationDetails::Destroy {
                is_provider_upgrade_required,
                ..
            }
            | CreateJobOperationDetails::ImportTfState {
                is_provider_upgrade_required,
                ..
            } => *is_provider_upgrade_required = Some(required),
        }
        self
    }
}

/// The older way to say how an apply picks its plan (kept for reading old jobs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplyJobPlanResolution {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_use_latest_job_id: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_auto_approved: Option<bool>,
}

/// CreateJob body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJobDetails {
    pub stack_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The deprecated top-level operation; [`CreateJobDetails::new`] sets it equal to the
    /// operation of `job_operation_details`, which services of every age accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<JobOperation>,
    pub job_operation_details: CreateJobOperationDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_job_plan_resolution: Option<ApplyJobPlanResolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
}

impl CreateJobDetails {
    pub fn new(stack_id: impl Into<String>, details: CreateJobOperationDetails) -> Self {
        Self {
            stack_id: stack_id.into(),
            display_name: None,
            operation: Some(details.operation()),
            job_operation_details: details,
            apply_job_plan_resolution: None,
            freeform_tags: None,
            defined_tags: None,
        }
    }
}

/// A job's `jobOperationDetails` as read back (one shape for every operation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JobOperationDetails {
    pub operation: JobOperation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_advanced_options: Option<TerraformAdvancedOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_plan_strategy: Option<ExecutionPlanStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_plan_job_id: Option<String>,
}

/// Why a job failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FailureDetails {
    pub code: JobFailureCode,
    pub message: String,
}

/// How a job was cancelled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CancellationDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_forced: Option<bool>,
}

/// The configuration a job ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConfigSourceRecord {
    pub config_source_record_type: ConfigSourceType,
}

/// A job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub stack_id: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub operation: JobOperation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_third_party_provider_experience_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_provider_upgrade_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_operation_details: Option<JobOperationDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_job_plan_resolution: Option<ApplyJobPlanResolution>,
    /// The plan job an apply used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_plan_job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_finished: Option<String>,
    pub lifecycle_state: JobLifecycleState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_details: Option<FailureDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_details: Option<CancellationDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_source: Option<ConfigSourceRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_tags: Option<DefinedTags>,
}

/// A job in a list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JobSummary {
    pub id: String,
    pub stack_id: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub operation: JobOperation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_operation_details: Option<JobOperationDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_job_plan_resolution: Option<ApplyJobPlanResolution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_plan_job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_finished: Option<String>,
    pub lifecycle_state: JobLifecycleState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<FreeformTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<DefinedTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_tags: Option<DefinedTags>,
}

/// One line of a job's Terraform output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogEntry {
    #[serde(rename = "type")]
    pub entry_type: LogEntryType,
    pub level: LogLevel,
    /// RFC 3339.
    pub timestamp: String,
    pub message: String,
}
