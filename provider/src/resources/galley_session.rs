//! `galley_session`: a Terraform configuration deployed as an OCI Resource Manager stack, with
//! its plan and apply jobs run and followed from Terraform.
//!
//! This file owns the Terraform side: schema, the typed model, plan (the configuration's digest
//! known at plan time; jobs planned when the configuration, its variables or the last job call
//! for them), apply (create or update the stack, then a PLAN job and an APPLY job of that plan;
//! state written even when a job fails), delete (a DESTROY job, then the stack), refresh (a
//! stack deleted out of band, drift of variables and configuration) and import by stack OCID.
//! Packaging is `crate::packaging`; following jobs is `crate::remote::job`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use galley_oci::client::OciError;
use galley_oci::resource_manager::{
    CreateConfigSourceDetails, CreateJobDetails, CreateJobOperationDetails, CreateStackDetails,
    CustomTerraformProvider, Job, JobLifecycleState, ListJobsRequest, ListSortBy,
    ResourceManagerClient, Stack, StackLifecycleState, UpdateConfigSourceDetails,
    UpdateStackDetails,
};

use crate::attrs::{bool_of, is_null, is_unknown, map_of, str_of, string_or_null, strings_value};
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::oci_clients::{self, OciClients};
use crate::packaging::{self, Tree};
use crate::remote::job::{self as rmjob, Ending, FollowPolicy, Followed};
use crate::remote::tf_log::{self, PlanSummary};
use crate::resource::{Applied, ApplyRequest, Ctx, PlanRequest, Planned, ReadOutcome, Resource};
use crate::schema::{Attribute, Block, NestedBlock, Nesting, Presence, Schema};
use crate::timeouts::{self, TimeoutField};

pub struct GalleySession;

const TYPE_NAME: &str = "galley_session";

/// The stack tag holding the digest of the uploaded configuration (the zip itself cannot be
/// read back cheaply), so refresh notices a configuration replaced out of band.
pub const SOURCE_TAG: &str = "galley-source-sha256";

/// The compartment used when `compartment_id` is not set.
pub use crate::oci_clients::WORK_COMPARTMENT_ENV;

pub const DEFAULT_TERRAFORM_VERSION: &str = "1.5.x";

/// Variables Resource Manager sets itself on every job; values given for them are not sent.
pub const RM_INJECTED: &[&str] = &[
    "region",
    "compartment_ocid",
    "tenancy_ocid",
    "current_user_ocid",
];

/// Lines of the last job's log kept in `log_tail`.
const TAIL_LINES: usize = 20;

const OPERATIONS: &[&str] = &["apply", "plan"];

const PLAN_TIMEOUT: TimeoutField = TimeoutField {
    name: "plan",
    default: Duration::from_secs(5 * 60),
    limits: "How long the PLAN job may run.",
};
const APPLY_TIMEOUT: TimeoutField = TimeoutField {
    name: "apply",
    default: Duration::from_secs(30 * 60),
    limits: "How long the APPLY job may run.",
};
const DESTROY_TIMEOUT: TimeoutField = TimeoutField {
    name: "destroy",
    default: Duration::from_secs(30 * 60),
    limits: "How long the DESTROY job may run.",
};
const TIMEOUTS: [TimeoutField; 3] = [PLAN_TIMEOUT, APPLY_TIMEOUT, DESTROY_TIMEOUT];

const IMPORT_FORMAT: &str = "the OCID of a Resource Manager stack, such as \
    ocid1.ormstack.oc1.iad.aaaaaaaaexample (`terraform import galley_session.NAME STACK_OCID`)";

fn plan_summary_type() -> Type {
    Type::object([
        ("add", Type::Number),
        ("change", Type::Number),
        ("destroy", Type::Number),
    ])
}

fn schema() -> Schema {
    let s = Type::String;
    let strings = || Type::Map(Box::new(Type::String));
    Schema {
        version: 0,
        block: Block {
            description: "A Terraform configuration deployed through OCI Resource Manager: the \
                directory is zipped and uploaded as a stack, then a PLAN job and an APPLY job of \
                that plan run, followed from Terraform with their log in the provider's log. A \
                change to any file of the directory shows in the plan and updates the stack. \
                When a job fails the stack stays in state with the failed job recorded, so \
                nothing is orphaned: after a failed update the next apply runs the jobs again on \
                the same stack; after a failed create Terraform marks the resource tainted and \
                the next apply replaces the stack (`terraform untaint` it to continue on it \
                instead). Destroy runs a DESTROY job (skipped when the stack's state holds no \
                resource) and deletes the stack.\
                \n\nJobs are followed with adaptive polling: the job's log is read every second \
                (its end is announced by Terraform's closing line) and its status on a schedule \
                starting at 250 ms and growing to 10 s. Terraform's interrupt (Ctrl-C) cancels \
                the running job."
                .into(),
            attributes: vec![
                Attribute::new("id", s.clone(), Presence::Computed, "The stack's OCID."),
                Attribute::new(
                    "compartment_id",
                    s.clone(),
                    Presence::OptionalComputed,
                    &format!(
                        "Compartment of the stack. Default: `{WORK_COMPARTMENT_ENV}`. Changing it \
                         replaces the stack."
                    ),
                ),
                Attribute::new(
                    "display_name",
                    s.clone(),
                    Presence::OptionalComputed,
                    "Display name of the stack. Default: the name Resource Manager assigns.",
                ),
                Attribute::new(
                    "description",
                    s.clone(),
                    Presence::Optional,
                    "Description of the stack.",
                ),
                Attribute::new(
                    "terraform_dir",
                    s.clone(),
                    Presence::Required,
                    "Directory of the configuration to deploy (relative paths are relative to \
                     where Terraform runs; `\"${path.module}/stack\"` is safest). It is zipped \
                     with relative paths, leaving out `.terraform/`, `.git/`, `*.tfstate*` and \
                     what a `.galleyignore` at its root lists (`.gitignore` syntax).",
                ),
                Attribute::new(
                    "working_directory",
                    s.clone(),
                    Presence::Optional,
                    "Folder of `terraform_dir` holding the root module, when it is not the \
                     directory itself (for example when modules sit beside it).",
                ),
                Attribute::new(
                    "variables",
                    strings(),
                    Presence::Optional,
                    "Terraform variables of the stack. `region`, `compartment_ocid`, \
                     `tenancy_ocid` and `current_user_ocid` are set by Resource Manager on every \
                     job; values given for them are not sent (with a warning).",
                ),
                Attribute::new(
                    "terraform_version",
                    s.clone(),
                    Presence::OptionalComputed,
                    &format!(
                        "Terraform version Resource Manager runs, such as `1.5.x`. Default \
                         `{DEFAULT_TERRAFORM_VERSION}`."
                    ),
                ),
                Attribute::new(
                    "operation",
                    s.clone(),
                    Presence::OptionalComputed,
                    "`apply` (default): a PLAN job, then an APPLY job of that plan. `plan`: the \
                     PLAN job only, to review `plan_summary` and `log_tail` before applying.",
                ),
                Attribute::new(
                    "destroy_on_delete",
                    Type::Bool,
                    Presence::OptionalComputed,
                    "Run a DESTROY job before deleting the stack. Default `true`; with `false` \
                     the stack is deleted and what it deployed is left in place.",
                ),
                Attribute::new(
                    "source_sha256",
                    s.clone(),
                    Presence::Computed,
                    "SHA-256 of the packaged files (paths, executable bits and contents; one \
                     line per file, `<content sha256> <mode> <path>`). Known at plan time, so a \
                     changed file shows in the plan.",
                ),
                Attribute::new(
                    "last_job_id",
                    s.clone(),
                    Presence::Computed,
                    "OCID of the last job run (the APPLY job, or the PLAN job with \
                     `operation = \"plan\"` or when the plan failed).",
                ),
                Attribute::new(
                    "last_job_state",
                    s.clone(),
                    Presence::Computed,
                    "State of the last job: `SUCCEEDED`, `FAILED`, `CANCELED`... Anything but \
                     `SUCCEEDED` makes the next plan run the jobs again.",
                ),
                Attribute::new(
                    "plan_summary",
                    plan_summary_type(),
                    Presence::Computed,
                    "Resources the last PLAN job would add, change and destroy, read from its \
                     log (zeros for `No changes.`).",
                ),
                Attribute::new(
                    "outputs",
                    strings(),
                    Presence::Computed,
                    "The stack's Terraform outputs, read from its state: strings as they are, \
                     other values JSON-encoded. Sensitive outputs are in `sensitive_outputs`.",
                ),
                Attribute::new(
                    "sensitive_outputs",
                    strings(),
                    Presence::Computed,
                    "The stack's sensitive outputs, encoded like `outputs`.",
                )
                .sensitive(),
                Attribute::new(
                    "log_tail",
                    s.clone(),
                    Presence::Computed,
                    "The last lines of the last job's log.",
                ),
            ],
            blocks: vec![
                NestedBlock {
                    type_name: "custom_terraform_provider",
                    nesting: Nesting::Single,
                    min_items: 0,
                    max_items: 0,
                    block: Block {
                        description: "A bucket holding Terraform provider binaries the jobs may \
                            use (`linux_amd64/terraform-provider-NAME_vX.Y.Z` at its root)."
                            .into(),
                        attributes: vec![
                            Attribute::new(
                                "region",
                                s.clone(),
                                Presence::Required,
                                "Region of the bucket.",
                            ),
                            Attribute::new(
                                "namespace",
                                s.clone(),
                                Presence::Required,
                                "Object Storage namespace of the bucket.",
                            ),
                            Attribute::new(
                                "bucket_name",
                                s.clone(),
                                Presence::Required,
                                "Name of the bucket.",
                            ),
                        ],
                        ..Default::default()
                    },
                },
                timeouts::block(&TIMEOUTS),
            ],
            deprecated: false,
        },
    }
}

/// `custom_terraform_provider`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CustomProvider {
    region: String,
    namespace: String,
    bucket_name: String,
}

impl CustomProvider {
    fn from_value(v: &Value) -> Option<Self> {
        Some(Self {
            region: str_of(v, "region")?,
            namespace: str_of(v, "namespace")?,
            bucket_name: str_of(v, "bucket_name")?,
        })
    }

    fn from_remote(c: &CustomTerraformProvider) -> Option<Self> {
        Some(Self {
            region: c.region.clone()?,
            namespace: c.namespace.clone()?,
            bucket_name: c.bucket_name.clone()?,
        })
    }

    fn to_value(&self) -> Value {
        Value::object([
            ("region", Value::string(&self.region)),
            ("namespace", Value::string(&self.namespace)),
            ("bucket_name", Value::string(&self.bucket_name)),
        ])
    }

    fn to_remote(&self) -> CustomTerraformProvider {
        CustomTerraformProvider {
            region: Some(self.region.clone()),
            namespace: Some(self.namespace.clone()),
            bucket_name: Some(self.bucket_name.clone()),
        }
    }
}

/// The resource's values, typed. Unknown and null both read as `None`.
#[derive(Debug, Clone, Default)]
struct Model {
    id: Option<String>,
    compartment_id: Option<String>,
    display_name: Option<String>,
    description: Option<String>,
    terraform_dir: Option<String>,
    working_directory: Option<String>,
    variables: Option<BTreeMap<String, String>>,
    terraform_version: Option<String>,
    custom_terraform_provider: Option<CustomProvider>,
    operation: Option<String>,
    destroy_on_delete: Option<bool>,
    source_sha256: Option<String>,
    last_job_id: Option<String>,
    last_job_state: Option<String>,
}

impl Model {
    fn from_value(v: &Value) -> Self {
        Model {
            id: str_of(v, "id"),
            compartment_id: str_of(v, "compartment_id"),
            display_name: str_of(v, "display_name"),
            description: str_of(v, "description"),
            terraform_dir: str_of(v, "terraform_dir"),
            working_directory: str_of(v, "working_directory"),
            variables: map_of(v, "variables"),
            terraform_version: str_of(v, "terraform_version"),
            custom_terraform_provider: v
                .get_attr("custom_terraform_provider")
                .and_then(CustomProvider::from_value),
            operation: str_of(v, "operation"),
            destroy_on_delete: bool_of(v, "destroy_on_delete"),
            source_sha256: str_of(v, "source_sha256"),
            last_job_id: str_of(v, "last_job_id"),
            last_job_state: str_of(v, "last_job_state"),
        }
    }

    /// The variables sent to Resource Manager: the configured ones minus those it injects.
    fn sent_variables(&self) -> BTreeMap<String, String> {
        sent_variables(self.variables.as_ref())
    }

    fn plan_only(&self) -> bool {
        self.operation.as_deref() == Some("plan")
    }

    fn working_directory(&self) -> Option<String> {
        normalize_working_directory(self.working_directory.as_deref())
    }
}

fn sent_variables(vars: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    vars.into_iter()
        .flatten()
        .filter(|(k, _)| !RM_INJECTED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `./stack/` and `stack` name the same folder; `.` and empty mean the zip's root.
fn normalize_working_directory(wd: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = wd?
        .trim()
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Whether the folder `wd` of the packaged tree has Terraform files of its own.
fn has_terraform_files(tree: &Tree, wd: Option<&str>) -> bool {
    tree.files.iter().any(|f| {
        let rest = match wd {
            Some(wd) => match f.rel.strip_prefix(wd).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => rest,
                None => return false,
            },
            None => f.rel.as_str(),
        };
        !rest.contains('/') && (rest.ends_with(".tf") || rest.ends_with(".tf.json"))
    })
}

fn scan_config(dir: &str, wd: Option<&str>) -> Result<Tree, Diagnostic> {
    let tree = Tree::scan(Path::new(dir)).map_err(|e| {
        Diagnostic::error(
            "Cannot read the configuration directory",
            format!(
                "{e}. terraform_dir must name a directory (relative paths are relative to where \
                 Terraform runs; \"${{path.module}}/stack\" is safest)."
            ),
        )
        .at("terraform_dir")
    })?;
    if !has_terraform_files(&tree, wd) {
        let (attribute, place) = match wd {
            Some(wd) => ("working_directory", format!("{dir}/{wd}")),
            None => ("terraform_dir", dir.to_owned()),
        };
        return Err(Diagnostic::error(
            "No Terraform configuration to deploy",
            format!(
                "{place} holds no .tf or .tf.json file (after .galleyignore), so Resource \
                 Manager would fail with \"Terraform config file is missing in zip file\". Point \
                 terraform_dir at the configuration, or working_directory at the folder of its \
                 root module."
            ),
        )
        .at(attribute));
    }
    Ok(tree)
}

fn oci_error(summary: &str, e: &OciError) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
}

/// Warnings for variables Resource Manager sets itself.
fn injected_variable_warnings(config: &Value) -> Diagnostics {
    let Some(vars) = config.get_attr("variables").and_then(Value::as_map) else {
        return Diagnostics::new();
    };
    vars.keys()
        .filter(|k| RM_INJECTED.contains(&k.as_str()))
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

/// The computed attributes that the jobs produce.
const JOB_ATTRIBUTES: &[&str] = &[
    "last_job_id",
    "last_job_state",
    "plan_summary",
    "outputs",
    "sensitive_outputs",
    "log_tail",
];

#[async_trait]
impl Resource for GalleySession {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(op) = str_of(config, "operation") {
            if !OPERATIONS.contains(&op.as_str()) {
                diags.push(
                    Diagnostic::error(
                        "Invalid operation",
                        format!("operation = {op:?} must be \"apply\" or \"plan\"."),
                    )
                    .at("operation"),
                );
            }
        }
        if let Some(wd) = str_of(config, "working_directory") {
            if wd.starts_with('/') || wd.split('/').any(|p| p == "..") {
                diags.push(
                    Diagnostic::error(
                        "Invalid working directory",
                        format!(
                            "working_directory = {wd:?} must be a relative path inside \
                             terraform_dir, without `..`."
                        ),
                    )
                    .at("working_directory"),
                );
            }
        }
        diags.extend(timeouts::validate(config, &TIMEOUTS));
        diags.extend(injected_variable_warnings(config));
        diags
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let config = req.config;
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let mut state = req.proposed_new_state.clone();

        // Defaults of optional+computed attributes left unset.
        if is_null(config, "terraform_version") {
            state.set_attr(
                "terraform_version",
                Value::string(DEFAULT_TERRAFORM_VERSION),
            );
        }
        if is_null(config, "operation") {
            state.set_attr("operation", Value::string("apply"));
        }
        if is_null(config, "destroy_on_delete") {
            state.set_attr("destroy_on_delete", Value::Bool(true));
        }
        crate::oci_clients::plan_compartment(
            &mut state,
            config,
            prior.as_ref().and_then(|p| p.compartment_id.clone()),
            "the compartment the stack belongs in",
        )?;
        if is_null(config, "display_name") && prior.is_none() {
            state.set_attr("display_name", Value::unknown());
        }

        let planned = Model::from_value(&state);
        let source_known =
            !is_unknown(config, "terraform_dir") && !is_unknown(config, "working_directory");
        let digest = match (&planned.terraform_dir, source_known) {
            (Some(dir), true) => {
                let wd = planned.working_directory();
                let tree = scan_config(dir, wd.as_deref()).map_err(Diagnostics::from)?;
                let digest = tree.digest().map_err(|e| {
                    Diagnostics::from(
                        Diagnostic::error("Cannot read the configuration directory", e.to_string())
                            .at("terraform_dir"),
                    )
                })?;
                Some(digest)
            }
            _ => None,
        };
        state.set_attr(
            "source_sha256",
            digest
                .as_deref()
                .map(Value::string)
                .unwrap_or_else(Value::unknown),
        );

        let mut requires_replace = Vec::new();
        let jobs_needed = match &prior {
            None => {
                state.set_attr("id", Value::unknown());
                true
            }
            Some(p) => {
                if !is_unknown(&state, "compartment_id")
                    && p.compartment_id != planned.compartment_id
                {
                    requires_replace.push(vec![PathStep::Attr("compartment_id".into())]);
                }
                digest.is_none()
                    || p.source_sha256 != digest
                    || p.working_directory() != planned.working_directory()
                    || is_unknown(config, "variables")
                    || p.sent_variables() != planned.sent_variables()
                    || p.terraform_version != planned.terraform_version
                    || is_unknown(config, "custom_terraform_provider")
                    || p.custom_terraform_provider != planned.custom_terraform_provider
                    || p.operation != planned.operation
                    || p.last_job_state.as_deref() != Some("SUCCEEDED")
            }
        };
        if jobs_needed {
            for name in JOB_ATTRIBUTES {
                state.set_attr(name, Value::unknown());
            }
        }
        Ok(Planned {
            planned_state: state,
            requires_replace,
            planned_private: Vec::new(),
            diagnostics: Diagnostics::new(),
        })
    }

    async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
        if req.planned_state.is_null() {
            return delete(ctx, req.prior_state).await;
        }
        if req.prior_state.is_null() {
            create(ctx, req.planned_state).await
        } else {
            update(ctx, req.prior_state, req.planned_state).await
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: &Value,
        _private: &[u8],
    ) -> Result<ReadOutcome, Diagnostics> {
        let m = Model::from_value(state);
        let Some(id) = m.id.clone() else {
            return Ok(ReadOutcome::Gone);
        };
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        let rm = &clients.resource_manager;
        let stack = match rm.get_stack(&id).await {
            Ok(reply) => reply.value,
            Err(e) if e.is_not_found() => return Ok(ReadOutcome::Gone),
            Err(e) => return Err(oci_error("Failed to read the stack", &e).into()),
        };
        if is_deleted(&stack) {
            return Ok(ReadOutcome::Gone);
        }
        let mut new_state = state.clone();
        refresh_from_stack(&mut new_state, &m, &stack);
        // A job left running (an interrupted provider) may have ended since.
        if let (Some(job_id), Some(job_state)) = (&m.last_job_id, &m.last_job_state) {
            if !JobLifecycleState::from(job_state.as_str()).is_terminal() {
                if let Ok(job) = rm.get_job(job_id).await {
                    new_state.set_attr(
                        "last_job_state",
                        Value::string(job.lifecycle_state.as_str()),
                    );
                }
            }
        }
        match read_outputs(rm, &id).await {
            Ok(outputs) => outputs.write(&mut new_state),
            Err(e) => tracing::warn!(stack = %id, error = %e, "failed to read the stack's outputs"),
        }
        Ok(ReadOutcome::Present {
            state: new_state,
            private: Vec::new(),
        })
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let id = id.trim();
        if !is_stack_ocid(id) {
            return Err(Diagnostic::error(
                "Invalid import id",
                format!("{id:?} is not a stack OCID. Expected {IMPORT_FORMAT}."),
            )
            .into());
        }
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        let rm = &clients.resource_manager;
        let stack = match rm.get_stack(id).await {
            Ok(reply) if !is_deleted(&reply.value) => reply.value,
            Ok(_) => {
                return Err(Diagnostic::error(
                    "Cannot import a deleted stack",
                    format!("Stack {id} is deleted."),
                )
                .into());
            }
            Err(e) if e.is_not_found() => {
                return Err(Diagnostic::error(
                    "Stack not found",
                    format!(
                        "{e}. Check the OCID, the region of the provider, and that the \
                         credentials may read stacks in its compartment."
                    ),
                )
                .into());
            }
            Err(e) => return Err(oci_error("Failed to read the stack", &e).into()),
        };
        let ty = schema().block.value_type();
        let mut state = Value::null_object(&ty);
        state.set_attr("id", Value::string(&stack.id));
        state.set_attr("operation", Value::string("apply"));
        state.set_attr("destroy_on_delete", Value::Bool(true));
        state.set_attr("log_tail", Value::string(""));
        refresh_from_stack(&mut state, &Model::default(), &stack);
        let latest = rm
            .list_jobs(&ListJobsRequest {
                stack_id: Some(stack.id.clone()),
                sort_by: Some(ListSortBy::TimeCreated),
                sort_order: Some(galley_oci::model::SortOrder::Desc),
                limit: Some(1),
                ..Default::default()
            })
            .await
            .map_err(|e| Diagnostics::from(oci_error("Failed to list the stack's jobs", &e)))?;
        if let Some(job) = latest.value.first() {
            state.set_attr("last_job_id", Value::string(&job.id));
            state.set_attr(
                "last_job_state",
                Value::string(job.lifecycle_state.as_str()),
            );
        }
        Outputs::default().write(&mut state);
        match read_outputs(rm, &stack.id).await {
            Ok(outputs) => outputs.write(&mut state),
            Err(e) => return Err(oci_error("Failed to read the stack's outputs", &e).into()),
        }
        Ok(state)
    }
}

fn is_stack_ocid(id: &str) -> bool {
    id.starts_with("ocid1.ormstack.")
        && id.split('.').count() >= 4
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

fn is_deleted(stack: &Stack) -> bool {
    matches!(
        stack.lifecycle_state,
        StackLifecycleState::Deleted | StackLifecycleState::Deleting
    )
}

/// Copies what the stack says into `state`, keeping the state's spelling where it means the
/// same (variables Resource Manager would not receive, working directory notation).
fn refresh_from_stack(state: &mut Value, m: &Model, stack: &Stack) {
    state.set_attr("compartment_id", Value::string(&stack.compartment_id));
    if let Some(name) = &stack.display_name {
        state.set_attr("display_name", Value::string(name));
    }
    let description = stack.description.as_deref().filter(|d| !d.is_empty());
    if description != m.description.as_deref().filter(|d| !d.is_empty()) {
        state.set_attr("description", string_or_null(description));
    }
    let remote_wd = stack
        .config_source
        .as_ref()
        .and_then(|c| normalize_working_directory(c.working_directory.as_deref()));
    if remote_wd != m.working_directory() {
        state.set_attr("working_directory", string_or_null(remote_wd.as_deref()));
    }
    let remote_vars = stack.variables.clone().unwrap_or_default();
    if remote_vars != m.sent_variables() {
        let value = if remote_vars.is_empty() && m.variables.is_none() {
            Value::Null
        } else {
            strings_value(&remote_vars)
        };
        state.set_attr("variables", value);
    }
    if let Some(version) = &stack.terraform_version {
        state.set_attr("terraform_version", Value::string(version));
    }
    let remote_provider = stack
        .custom_terraform_provider
        .as_ref()
        .and_then(CustomProvider::from_remote);
    state.set_attr(
        "custom_terraform_provider",
        remote_provider
            .as_ref()
            .map(CustomProvider::to_value)
            .unwrap_or(Value::Null),
    );
    let tag = stack
        .freeform_tags
        .as_ref()
        .and_then(|t| t.get(SOURCE_TAG))
        .map(String::as_str);
    state.set_attr("source_sha256", string_or_null(tag));
}

/// The stack's outputs, split by sensitivity and encoded as strings.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outputs {
    plain: BTreeMap<String, String>,
    sensitive: BTreeMap<String, String>,
}

impl Outputs {
    /// From a Terraform state file: `{"outputs": {"name": {"value": ..., "sensitive": ...}}}`.
    fn from_state(bytes: &[u8]) -> Result<Self, String> {
        let state: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("the state is not JSON: {e}"))?;
        let mut out = Outputs::default();
        let Some(outputs) = state.get("outputs").and_then(|o| o.as_object()) else {
            return Ok(out);
        };
        for (name, output) in outputs {
            let value = match output.get("value") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => continue,
            };
            let sensitive = output
                .get("sensitive")
                .and_then(|s| s.as_bool())
                .unwrap_or(false);
            if sensitive {
                out.sensitive.insert(name.clone(), value);
            } else {
                out.plain.insert(name.clone(), value);
            }
        }
        Ok(out)
    }

    fn write(&self, state: &mut Value) {
        state.set_attr("outputs", strings_value(&self.plain));
        state.set_attr("sensitive_outputs", strings_value(&self.sensitive));
    }
}

/// Whether the stack's Terraform state holds any resource (no state: nothing deployed).
async fn has_deployed_resources(
    rm: &ResourceManagerClient,
    stack_id: &str,
) -> Result<bool, OciError> {
    match rm.get_stack_tf_state(stack_id).await {
        Ok(reply) => Ok(state_has_resources(&reply.value)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// True unless the state file is readable and lists no resource.
fn state_has_resources(state: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(state) {
        Ok(s) => s
            .get("resources")
            .and_then(|r| r.as_array())
            .is_some_and(|r| !r.is_empty()),
        // Unreadable: destroy, to be safe.
        Err(_) => true,
    }
}

/// Reads the stack's outputs; a stack without state (nothing applied yet) has none.
async fn read_outputs(rm: &ResourceManagerClient, stack_id: &str) -> Result<Outputs, OciError> {
    match rm.get_stack_tf_state(stack_id).await {
        Ok(reply) => Outputs::from_state(&reply.value).map_err(|reason| OciError::Decode {
            operation: "GetStackTfState",
            reason,
            opc_request_id: reply.opc_request_id.clone(),
        }),
        Err(e) if e.is_not_found() => Ok(Outputs::default()),
        Err(e) => Err(e),
    }
}

fn plan_summary_value(summary: Option<PlanSummary>) -> Value {
    match summary {
        Some(s) => Value::object([
            ("add", Value::number(s.add)),
            ("change", Value::number(s.change)),
            ("destroy", Value::number(s.destroy)),
        ]),
        None => Value::Null,
    }
}

/// Fills the job attributes still unknown with "nothing known" values, so a state returned
/// after a failure is complete.
fn settle_job_attributes(state: &mut Value) {
    for name in JOB_ATTRIBUTES {
        if is_unknown(state, name) {
            let empty = match *name {
                "outputs" | "sensitive_outputs" => Value::Map(BTreeMap::new()),
                "log_tail" => Value::string(""),
                _ => Value::Null,
            };
            state.set_attr(name, empty);
        }
    }
}

/// Reads the configuration directory and zips it; the digest must be the planned one.
fn package(planned: &Model) -> Result<packaging::Package, Diagnostic> {
    let dir = planned.terraform_dir.as_deref().unwrap_or_default();
    let tree = scan_config(dir, planned.working_directory().as_deref())?;
    let package = packaging::zip::build(&tree).map_err(|e| {
        Diagnostic::error("Failed to package the configuration", e.to_string()).at("terraform_dir")
    })?;
    if planned.source_sha256.as_deref() != Some(package.digest.as_str()) {
        return Err(Diagnostic::error(
            "Configuration changed after plan",
            format!(
                "The files of {dir} changed between plan and apply, so the plan no longer \
                 describes what would be deployed. Run terraform plan (or apply) again."
            ),
        )
        .at("terraform_dir"));
    }
    Ok(package)
}

fn source_tags(
    existing: Option<&BTreeMap<String, String>>,
    digest: &str,
) -> BTreeMap<String, String> {
    let mut tags = existing.cloned().unwrap_or_default();
    tags.insert(SOURCE_TAG.to_owned(), digest.to_owned());
    tags
}

async fn create(ctx: &Ctx, planned_state: &Value) -> Applied {
    let planned = Model::from_value(planned_state);
    let fail = |d: Diagnostics| Applied::recorded(Value::Null, d);
    let package = match package(&planned) {
        Ok(p) => p,
        Err(d) => return fail(d.into()),
    };
    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => return fail(e.diagnostic().into()),
    };
    let rm = &clients.resource_manager;
    let details = CreateStackDetails {
        display_name: planned.display_name.clone(),
        description: planned.description.clone(),
        custom_terraform_provider: planned
            .custom_terraform_provider
            .as_ref()
            .map(CustomProvider::to_remote),
        variables: Some(planned.sent_variables()),
        terraform_version: planned.terraform_version.clone(),
        freeform_tags: Some(source_tags(None, &package.digest)),
        ..CreateStackDetails::new(
            planned.compartment_id.clone().unwrap_or_default(),
            CreateConfigSourceDetails::zip(&package.bytes, planned.working_directory()),
        )
    };
    drop(package);
    tracing::info!(compartment = ?planned.compartment_id, "creating the Resource Manager stack");
    // Not cancellable: an interrupted create could leave a stack nobody knows about.
    let stack = match rm.create_stack(&details).await {
        Ok(reply) => reply.value,
        Err(e) => return fail(oci_error("Failed to create the stack", &e).into()),
    };
    drop(details);
    tracing::info!(stack = %stack.id, "created the stack");

    let mut state = planned_state.clone();
    state.set_attr("id", Value::string(&stack.id));
    state.set_attr(
        "display_name",
        string_or_null(
            stack
                .display_name
                .as_deref()
                .or(planned.display_name.as_deref()),
        ),
    );
    let mut diagnostics = run_jobs(
        ctx,
        &clients,
        &stack.id,
        &planned,
        planned_state,
        &mut state,
    )
    .await;
    settle_job_attributes(&mut state);
    if diagnostics.has_errors() {
        diagnostics.push(Diagnostic::warning(
            "The stack was kept",
            format!(
                "Stack {} was created and is recorded in state, so nothing is orphaned. \
                 Terraform marks a resource whose create failed as tainted: the next apply \
                 destroys the stack (a DESTROY job cleans up what the failed job deployed) and \
                 creates it again. To run the jobs again on this stack instead, run \
                 `terraform untaint` on the resource first.",
                stack.id
            ),
        ));
    }
    Applied::recorded(state, diagnostics)
}

async fn update(ctx: &Ctx, prior_state: &Value, planned_state: &Value) -> Applied {
    let prior = Model::from_value(prior_state);
    let planned = Model::from_value(planned_state);
    let keep_prior = |d: Diagnostics| Applied::recorded(prior_state.clone(), d);
    let Some(stack_id) = prior.id.clone() else {
        return keep_prior(
            Diagnostic::error(
                "Stack id missing from state",
                "This is a provider bug; please report it.",
            )
            .into(),
        );
    };
    let jobs_needed = is_unknown(planned_state, "last_job_state");
    let source_changed = prior.source_sha256 != planned.source_sha256;
    let wd_changed = prior.working_directory() != planned.working_directory();
    let mut details = UpdateStackDetails::default();
    if prior.sent_variables() != planned.sent_variables() {
        details.variables = Some(planned.sent_variables());
    }
    if prior.terraform_version != planned.terraform_version {
        details.terraform_version = planned.terraform_version.clone();
    }
    if prior.custom_terraform_provider != planned.custom_terraform_provider {
        // Resource Manager has no way to remove it but an empty value.
        details.custom_terraform_provider = Some(
            planned
                .custom_terraform_provider
                .as_ref()
                .map(CustomProvider::to_remote)
                .unwrap_or_default(),
        );
    }
    if prior.display_name != planned.display_name {
        details.display_name = planned.display_name.clone();
    }
    if prior.description != planned.description {
        details.description = Some(planned.description.clone().unwrap_or_default());
    }
    let stack_changes = source_changed || wd_changed || details != UpdateStackDetails::default();
    if !stack_changes && !jobs_needed {
        // Local settings only (terraform_dir spelling, timeouts, destroy_on_delete).
        return Applied::done(planned_state.clone());
    }

    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => return keep_prior(e.diagnostic().into()),
    };
    let rm = &clients.resource_manager;
    let mut state = planned_state.clone();
    if stack_changes {
        if source_changed || wd_changed {
            let package = match package(&planned) {
                Ok(p) => p,
                Err(d) => return keep_prior(d.into()),
            };
            // Tags are replaced as a whole: keep the ones set elsewhere.
            let current = match rm.get_stack(&stack_id).await {
                Ok(reply) => reply.value,
                Err(e) => return keep_prior(oci_error("Failed to read the stack", &e).into()),
            };
            details.freeform_tags =
                Some(source_tags(current.freeform_tags.as_ref(), &package.digest));
            details.config_source = Some(UpdateConfigSourceDetails::zip(
                &package.bytes,
                planned.working_directory(),
            ));
        }
        tracing::info!(stack = %stack_id, "updating the stack");
        match rm.update_stack(&stack_id, &details, None).await {
            Ok(reply) => {
                if let Some(name) = &reply.value.display_name {
                    state.set_attr("display_name", Value::string(name));
                }
            }
            Err(e) => return keep_prior(oci_error("Failed to update the stack", &e).into()),
        }
    }
    let diagnostics = if jobs_needed {
        run_jobs(
            ctx,
            &clients,
            &stack_id,
            &planned,
            planned_state,
            &mut state,
        )
        .await
    } else {
        Diagnostics::new()
    };
    settle_job_attributes(&mut state);
    Applied::recorded(state, diagnostics)
}

/// Which job a follow was for, for messages.
#[derive(Clone, Copy)]
struct JobKind {
    operation: &'static str,
    timeout: TimeoutField,
}

const PLAN_JOB: JobKind = JobKind {
    operation: "PLAN",
    timeout: PLAN_TIMEOUT,
};
const APPLY_JOB: JobKind = JobKind {
    operation: "APPLY",
    timeout: APPLY_TIMEOUT,
};
const DESTROY_JOB: JobKind = JobKind {
    operation: "DESTROY",
    timeout: DESTROY_TIMEOUT,
};

/// Starts a job of `kind` and follows it, recording it in `state`.
async fn run_job(
    ctx: &Ctx,
    rm: &ResourceManagerClient,
    stack_id: &str,
    kind: JobKind,
    operation: CreateJobOperationDetails,
    timeouts_from: &Value,
    state: &mut Value,
) -> Result<Followed, Diagnostic> {
    if ctx.stop.is_cancelled() {
        return Err(Diagnostic::error(
            "Interrupted",
            format!(
                "Terraform was interrupted before the {} job of stack {stack_id} started; the \
                 stack is kept in state and the next apply runs the jobs.",
                kind.operation
            ),
        ));
    }
    let details = CreateJobDetails {
        display_name: Some(format!("galley_session {}", kind.operation.to_lowercase())),
        ..CreateJobDetails::new(stack_id, operation)
    };
    let job = match rm.create_job(&details).await {
        Ok(reply) => reply.value,
        Err(e) => {
            return Err(oci_error(
                &format!("Failed to start the {} job", kind.operation),
                &e,
            ));
        }
    };
    tracing::info!(stack = %stack_id, job = %job.id, operation = kind.operation, "job started");
    record_job(state, &job);
    let timeout = timeouts::get(timeouts_from, &kind.timeout);
    let followed = rmjob::follow(rm, job, &FollowPolicy::default(), timeout, &ctx.stop).await;
    record_job(state, &followed.job);
    let tail: Vec<&str> = followed.lines.lines().collect();
    let tail = &tail[tail.len().saturating_sub(TAIL_LINES)..];
    state.set_attr("log_tail", Value::string(tail.join("\n")));
    tracing::info!(job = %followed.job.id, state = %followed.job.lifecycle_state, stats = ?followed.stats, "job followed");
    if followed.succeeded() {
        Ok(followed)
    } else {
        Err(job_failure(stack_id, kind, &followed))
    }
}

fn record_job(state: &mut Value, job: &Job) {
    state.set_attr("last_job_id", Value::string(&job.id));
    state.set_attr(
        "last_job_state",
        Value::string(job.lifecycle_state.as_str()),
    );
}

/// The PLAN job, then (for `apply`) the APPLY job of that plan, then the outputs.
async fn run_jobs(
    ctx: &Ctx,
    clients: &OciClients,
    stack_id: &str,
    planned: &Model,
    timeouts_from: &Value,
    state: &mut Value,
) -> Diagnostics {
    let rm = &clients.resource_manager;
    let mut diagnostics = Diagnostics::new();
    let plan = run_job(
        ctx,
        rm,
        stack_id,
        PLAN_JOB,
        CreateJobOperationDetails::plan(None),
        timeouts_from,
        state,
    )
    .await;
    let plan = match plan {
        Ok(followed) => {
            let summary = tf_log::plan_summary(followed.lines.lines());
            state.set_attr("plan_summary", plan_summary_value(summary));
            followed
        }
        Err(d) => {
            diagnostics.push(d);
            return diagnostics;
        }
    };
    if !planned.plan_only() {
        let applied = run_job(
            ctx,
            rm,
            stack_id,
            APPLY_JOB,
            CreateJobOperationDetails::apply_plan(plan.job.id.clone(), None),
            timeouts_from,
            state,
        )
        .await;
        if let Err(d) = applied {
            diagnostics.push(d);
        }
    }
    // A failed apply may still have changed the state (and its outputs).
    match read_outputs(rm, stack_id).await {
        Ok(outputs) => outputs.write(state),
        Err(e) => diagnostics.push(Diagnostic::warning(
            "Failed to read the stack's outputs",
            format!("{e}. The next refresh reads them again."),
        )),
    }
    diagnostics
}

/// The error a user sees for a job that did not succeed: what ended it, Terraform's errors
/// with their locations, the last log lines, the request id, and what happens next.
fn job_failure(stack_id: &str, kind: JobKind, f: &Followed) -> Diagnostic {
    let job = &f.job;
    let request = f.opc_request_id.as_deref().unwrap_or("none");
    let lines: Vec<&str> = f.lines.lines().collect();
    let last = &lines[lines.len().saturating_sub(15)..];
    let mut detail = match &f.ending {
        Ending::Finished => match &job.failure_details {
            Some(fd) => format!(
                "{} job {} of stack {stack_id} ended {}: {}: {}",
                kind.operation, job.id, job.lifecycle_state, fd.code, fd.message
            ),
            None => format!(
                "{} job {} of stack {stack_id} ended {}.",
                kind.operation, job.id, job.lifecycle_state
            ),
        },
        Ending::Interrupted => format!(
            "Terraform was interrupted while the {} job {} of stack {stack_id} was running: the \
             job was cancelled and is now {}.",
            kind.operation, job.id, job.lifecycle_state
        ),
        Ending::TimedOut(d) => format!(
            "The {} job {} of stack {stack_id} did not finish within {} (timeouts.{}): it was \
             cancelled and is now {}.",
            kind.operation,
            job.id,
            timeouts::format_duration(*d),
            kind.timeout.name,
            job.lifecycle_state
        ),
        Ending::Unreachable(e) => format!(
            "Lost track of the {} job {} of stack {stack_id}: {e}. The job may still be running; \
             the next refresh reads its state.",
            kind.operation, job.id
        ),
    };
    let errors = tf_log::errors(lines.iter().copied());
    if !errors.is_empty() {
        detail.push_str("\n\nTerraform errors:\n");
        for e in &errors {
            detail.push_str(&format!("  {e}\n"));
        }
    }
    if !last.is_empty() {
        detail.push_str("\nLast log lines:\n");
        for l in last {
            detail.push_str(&format!("  {l}\n"));
        }
    }
    detail.push_str(&format!("\nopc-request-id: {request}\n"));
    let next = if kind.operation == "DESTROY" {
        "The stack stays in state; run terraform destroy again once the cause is fixed. When \
         the stack's own configuration is what fails, apply the fixed configuration first \
         (`terraform untaint` it if it is tainted), or set destroy_on_delete = false to delete \
         the stack and leave what it deployed."
    } else {
        "The stack stays in state with this job recorded; fix the cause and apply again to run \
         the jobs again."
    };
    detail.push_str(next);
    let summary = match &f.ending {
        Ending::Finished => format!("Resource Manager {} job failed", kind.operation),
        Ending::Interrupted => format!(
            "Interrupted: the Resource Manager {} job was cancelled",
            kind.operation
        ),
        Ending::TimedOut(_) => format!("Resource Manager {} job timed out", kind.operation),
        Ending::Unreachable(_) => format!("Lost track of the {} job", kind.operation),
    };
    Diagnostic::error(summary, detail)
}

async fn delete(ctx: &Ctx, prior_state: &Value) -> Applied {
    let m = Model::from_value(prior_state);
    let gone = Applied::gone();
    let keep = |state: Value, d: Diagnostics| Applied::recorded(state, d);
    let Some(stack_id) = m.id.clone() else {
        return gone;
    };
    let clients = match oci_clients::clients(&ctx.config).await {
        Ok(c) => c,
        Err(e) => return keep(prior_state.clone(), e.diagnostic().into()),
    };
    let rm = &clients.resource_manager;
    match rm.get_stack(&stack_id).await {
        Ok(reply) if is_deleted(&reply.value) => return gone,
        Ok(_) => {}
        Err(e) if e.is_not_found() => return gone,
        Err(e) => {
            return keep(
                prior_state.clone(),
                oci_error("Failed to read the stack", &e).into(),
            );
        }
    }
    let deployed = match has_deployed_resources(rm, &stack_id).await {
        Ok(d) => d,
        Err(e) => {
            return keep(
                prior_state.clone(),
                oci_error("Failed to read the stack's state", &e).into(),
            );
        }
    };
    // A stack that never deployed anything (its first plan failed, say) needs no DESTROY job,
    // which would fail anyway when its configuration is what is broken.
    if m.destroy_on_delete != Some(false) && deployed {
        let mut state = prior_state.clone();
        let destroyed = run_job(
            ctx,
            rm,
            &stack_id,
            DESTROY_JOB,
            CreateJobOperationDetails::destroy(None),
            prior_state,
            &mut state,
        )
        .await;
        if let Err(d) = destroyed {
            return keep(state, d.into());
        }
    }
    tracing::info!(stack = %stack_id, "deleting the stack");
    match rm.delete_stack(&stack_id, None).await {
        Ok(_) => gone,
        Err(e) if e.is_not_found() => gone,
        Err(e) => keep(
            prior_state.clone(),
            oci_error("Failed to delete the stack", &e).into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packaging::testdir;
    use crate::provider_config::ProviderConfig;

    fn ctx() -> Ctx {
        Ctx::new(std::sync::Arc::new(ProviderConfig::default()))
    }

    fn config(dir: &str, extra: &[(&str, Value)]) -> Value {
        let ty = schema().block.value_type();
        let mut v = Value::null_object(&ty);
        v.set_attr("terraform_dir", Value::string(dir));
        v.set_attr("compartment_id", Value::string("ocid1.compartment.oc1..c"));
        for (k, val) in extra {
            v.set_attr(k, val.clone());
        }
        v
    }

    async fn plan(prior: &Value, config: &Value) -> Result<Planned, Diagnostics> {
        let proposed = crate::attrs::proposed_new_state(&schema().block, prior, config);
        GalleySession
            .plan(
                &ctx(),
                PlanRequest {
                    prior_state: prior,
                    proposed_new_state: &proposed,
                    config,
                    prior_private: &[],
                },
            )
            .await
    }

    fn stack_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(
            dir.path(),
            &[
                ("main.tf", "resource \"terraform_data\" \"x\" {}\n"),
                ("terraform.tfstate", "{}"),
            ],
        );
        dir
    }

    /// The state an apply of `planned` would leave when every job succeeded.
    fn applied(planned: &Value) -> Value {
        let mut s = planned.clone();
        s.set_attr("id", Value::string("ocid1.ormstack.oc1..s"));
        s.set_attr("display_name", Value::string("ormstack1"));
        s.set_attr("last_job_id", Value::string("ocid1.ormjob.oc1..j"));
        s.set_attr("last_job_state", Value::string("SUCCEEDED"));
        s.set_attr(
            "plan_summary",
            plan_summary_value(Some(PlanSummary::default())),
        );
        Outputs::default().write(&mut s);
        s.set_attr("log_tail", Value::string("Apply complete!"));
        s
    }

    #[tokio::test]
    async fn create_plan_knows_the_digest_and_defaults() {
        let dir = stack_dir();
        let d = dir.path().display().to_string();
        let p = plan(&Value::Null, &config(&d, &[])).await.unwrap();
        let s = &p.planned_state;
        let expected = Tree::scan(dir.path()).unwrap().digest().unwrap();
        assert_eq!(str_of(s, "source_sha256"), Some(expected));
        assert_eq!(str_of(s, "terraform_version").as_deref(), Some("1.5.x"));
        assert_eq!(str_of(s, "operation").as_deref(), Some("apply"));
        assert_eq!(s.get_attr("destroy_on_delete"), Some(&Value::Bool(true)));
        for name in [
            "id",
            "display_name",
            "last_job_state",
            "outputs",
            "log_tail",
        ] {
            assert!(!s.get_attr(name).unwrap().is_known(), "{name}");
        }
    }

    #[tokio::test]
    async fn an_unchanged_configuration_plans_no_change_and_a_changed_file_does() {
        let dir = stack_dir();
        let d = dir.path().display().to_string();
        let cfg = config(&d, &[]);
        let first = plan(&Value::Null, &cfg).await.unwrap().planned_state;
        let prior = applied(&first);
        let again = plan(&prior, &cfg).await.unwrap();
        assert_eq!(
            again.planned_state, prior,
            "nothing changed: the plan is the prior state"
        );
        assert!(again.requires_replace.is_empty());

        testdir::write(
            dir.path(),
            &[("main.tf", "resource \"terraform_data\" \"y\" {}\n")],
        );
        let changed = plan(&prior, &cfg).await.unwrap().planned_state;
        assert_ne!(
            str_of(&changed, "source_sha256"),
            str_of(&prior, "source_sha256")
        );
        assert!(!changed.get_attr("last_job_state").unwrap().is_known());
        assert_eq!(str_of(&changed, "id"), str_of(&prior, "id"));
    }

    #[tokio::test]
    async fn a_failed_last_job_plans_the_jobs_again_in_place() {
        let dir = stack_dir();
        let d = dir.path().display().to_string();
        let cfg = config(&d, &[]);
        let mut prior = applied(&plan(&Value::Null, &cfg).await.unwrap().planned_state);
        prior.set_attr("last_job_state", Value::string("FAILED"));
        let p = plan(&prior, &cfg).await.unwrap();
        assert!(p.requires_replace.is_empty());
        assert!(
            !p.planned_state
                .get_attr("last_job_state")
                .unwrap()
                .is_known()
        );
        assert_eq!(str_of(&p.planned_state, "id"), str_of(&prior, "id"));
    }

    #[tokio::test]
    async fn injected_variables_warn_and_do_not_count_as_changes() {
        let dir = stack_dir();
        let d = dir.path().display().to_string();
        let vars = |extra: &[(&str, &str)]| {
            Value::Map(
                [("greeting", "hi")]
                    .iter()
                    .chain(extra)
                    .map(|(k, v)| (k.to_string(), Value::string(*v)))
                    .collect(),
            )
        };
        let cfg = config(&d, &[("variables", vars(&[("region", "x")]))]);
        let warnings = GalleySession.validate(&cfg);
        assert_eq!(warnings.0.len(), 1);
        assert_eq!(
            warnings.0[0].path,
            vec![
                PathStep::Attr("variables".into()),
                PathStep::Key("region".into())
            ]
        );
        let m = Model::from_value(&cfg);
        assert_eq!(
            m.sent_variables(),
            BTreeMap::from([("greeting".to_string(), "hi".to_string())])
        );
        let prior = applied(&plan(&Value::Null, &cfg).await.unwrap().planned_state);
        let cfg2 = config(&d, &[("variables", vars(&[("region", "y")]))]);
        let p = plan(&prior, &cfg2).await.unwrap().planned_state;
        assert!(
            p.get_attr("last_job_state").unwrap().is_known(),
            "an injected variable changing runs no job"
        );
    }

    #[tokio::test]
    async fn a_directory_without_terraform_files_is_refused_at_plan() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("README.md", "x"), ("stack/main.tf", "")]);
        let d = dir.path().display().to_string();
        let Err(err) = plan(&Value::Null, &config(&d, &[])).await else {
            panic!("a directory without .tf files must be refused")
        };
        assert!(err.0[0].detail.contains("Terraform config file is missing"));
        assert_eq!(err.0[0].path, vec![PathStep::Attr("terraform_dir".into())]);
        let ok = plan(
            &Value::Null,
            &config(&d, &[("working_directory", Value::string("./stack/"))]),
        )
        .await;
        assert!(ok.is_ok());
    }

    #[tokio::test]
    async fn a_compartment_change_replaces_the_stack() {
        let dir = stack_dir();
        let d = dir.path().display().to_string();
        let prior = applied(
            &plan(&Value::Null, &config(&d, &[]))
                .await
                .unwrap()
                .planned_state,
        );
        let cfg = config(
            &d,
            &[(
                "compartment_id",
                Value::string("ocid1.compartment.oc1..other"),
            )],
        );
        let p = plan(&prior, &cfg).await.unwrap();
        assert_eq!(
            p.requires_replace,
            vec![vec![PathStep::Attr("compartment_id".into())]]
        );
    }

    #[test]
    fn outputs_split_by_sensitivity_and_encode_non_strings_as_json() {
        let state = br#"{"version":4,"outputs":{
            "name":{"value":"hello","type":"string"},
            "count":{"value":3,"type":"number"},
            "list":{"value":["a","b"],"type":["list","string"]},
            "secret":{"value":"s3cr3t","type":"string","sensitive":true}}}"#;
        let o = Outputs::from_state(state).unwrap();
        assert_eq!(o.plain["name"], "hello");
        assert_eq!(o.plain["count"], "3");
        assert_eq!(o.plain["list"], r#"["a","b"]"#);
        assert_eq!(o.sensitive["secret"], "s3cr3t");
        assert!(!o.plain.contains_key("secret"));
        assert_eq!(Outputs::from_state(b"{}").unwrap(), Outputs::default());
        assert!(Outputs::from_state(b"not json").is_err());
    }

    #[test]
    fn refresh_reports_variable_and_source_drift_and_keeps_equivalent_spellings() {
        let mut state = Value::null_object(&schema().block.value_type());
        state.set_attr(
            "variables",
            Value::Map(BTreeMap::from([
                ("greeting".to_string(), Value::string("hi")),
                ("region".to_string(), Value::string("x")),
            ])),
        );
        state.set_attr("working_directory", Value::string("./stack"));
        state.set_attr("source_sha256", Value::string("aaa"));
        let m = Model::from_value(&state);
        let mut stack = Stack {
            id: "ocid1.ormstack.oc1..s".into(),
            compartment_id: "ocid1.compartment.oc1..c".into(),
            variables: Some(BTreeMap::from([("greeting".into(), "hi".into())])),
            config_source: Some(galley_oci::resource_manager::ConfigSource {
                working_directory: Some("stack".into()),
                ..Default::default()
            }),
            freeform_tags: Some(BTreeMap::from([(SOURCE_TAG.into(), "aaa".into())])),
            ..Stack::default()
        };
        let mut same = state.clone();
        refresh_from_stack(&mut same, &m, &stack);
        assert_eq!(same.get_attr("variables"), state.get_attr("variables"));
        assert_eq!(
            str_of(&same, "working_directory").as_deref(),
            Some("./stack")
        );
        assert_eq!(str_of(&same, "source_sha256").as_deref(), Some("aaa"));

        stack.variables = Some(BTreeMap::from([("greeting".into(), "drifted".into())]));
        stack.freeform_tags = Some(BTreeMap::from([(SOURCE_TAG.into(), "bbb".into())]));
        let mut drifted = state.clone();
        refresh_from_stack(&mut drifted, &m, &stack);
        assert_eq!(
            map_of(&drifted, "variables"),
            Some(BTreeMap::from([("greeting".into(), "drifted".into())]))
        );
        assert_eq!(str_of(&drifted, "source_sha256").as_deref(), Some("bbb"));
    }

    #[test]
    fn only_states_with_resources_need_a_destroy_job() {
        assert!(!state_has_resources(br#"{"version":4,"resources":[]}"#));
        assert!(!state_has_resources(
            br#"{"version":4,"outputs":{"x":{"value":1}}}"#
        ));
        assert!(state_has_resources(
            br#"{"version":4,"resources":[{"type":"terraform_data","name":"x"}]}"#
        ));
        assert!(
            state_has_resources(b"not json"),
            "unreadable: destroy to be safe"
        );
    }

    #[test]
    fn stack_ocids_are_checked_before_import() {
        assert!(is_stack_ocid("ocid1.ormstack.oc1..aaaabbbb"));
        assert!(is_stack_ocid("ocid1.ormstack.oc1.iad.aaaabbbb"));
        assert!(!is_stack_ocid("ocid1.ormjob.oc1..aaaabbbb"));
        assert!(!is_stack_ocid("my-stack"));
        assert!(!is_stack_ocid("ocid1.ormstack.oc1..AAA/../x"));
    }

    #[tokio::test]
    async fn a_malformed_import_id_shows_the_expected_format() {
        let err = GalleySession.import(&ctx(), "stack-1").await.unwrap_err();
        assert!(
            err.0[0].detail.contains("ocid1.ormstack."),
            "{}",
            err.0[0].detail
        );
        assert!(
            err.0[0]
                .detail
                .contains("terraform import galley_session.NAME")
        );
    }

    #[test]
    fn failure_diagnostics_carry_code_errors_lines_and_request_id() {
        let mut lines = crate::remote::tf_log::LineTail::new(100);
        for l in [
            "Running: terraform plan",
            "╷",
            "│ Error: Reference to undeclared input variable",
            "│ ",
            "│   on main.tf line 3, in output \"x\":",
            "│    3:   value = var.missing",
            "╵",
            "Job failed.",
        ] {
            lines.push(l);
        }
        let f = Followed {
            job: Job {
                id: "ocid1.ormjob.oc1..j".into(),
                lifecycle_state: JobLifecycleState::Failed,
                failure_details: Some(galley_oci::resource_manager::FailureDetails {
                    code: "TERRAFORM_EXECUTION_ERROR".into(),
                    message: "Error: Reference to undeclared input variable".into(),
                }),
                ..Job::default()
            },
            opc_request_id: Some("REQ123".into()),
            ending: Ending::Finished,
            lines,
            stats: Default::default(),
            seen_finished_at: None,
        };
        let d = job_failure("ocid1.ormstack.oc1..s", PLAN_JOB, &f);
        assert_eq!(d.summary, "Resource Manager PLAN job failed");
        for needle in [
            "TERRAFORM_EXECUTION_ERROR",
            "Error: Reference to undeclared input variable (on main.tf line 3, in output \"x\":)",
            "Job failed.",
            "opc-request-id: REQ123",
            "ocid1.ormstack.oc1..s",
        ] {
            assert!(
                d.detail.contains(needle),
                "{needle} missing from:\n{}",
                d.detail
            );
        }
    }
}
