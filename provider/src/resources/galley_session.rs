//! `galley_session`: a Terraform configuration deployed as an OCI Resource Manager stack, with
//! its plan and apply jobs run and followed from Terraform.
//!
//! This file owns the Terraform side: the schema, the typed model (read from Terraform's values
//! with one `from_value`, written back with one `to_value`), plan (the configuration's digest
//! known at plan time; jobs planned when the configuration, its variables or the last job call
//! for them), and the glue of apply, refresh and import over `crate::session`, which does the
//! work: packaging, the stack, the jobs, failures and outputs. Engine errors become diagnostics
//! here, with the attribute at fault and what to do next. State is written even when a job
//! fails, so nothing is orphaned.

mod diagnostics;
mod model;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use galley_contract::env::WORK_COMPARTMENT_ID;
use galley_oci::resource_manager::JobLifecycleState;

use self::diagnostics::{drift_warning, injected_variable_warnings, source_diagnostic};
use self::model::Model;
use crate::attrs::Attr;
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::identity::{ForImport, IdentityAttribute, IdentitySchema};
use crate::oci_clients::{self, OciClients, SetupDiagnostic as _};
use crate::resource::{Applied, ApplyRequest, Ctx, PlanRequest, Planned, ReadOutcome, Resource};
use crate::schema::{Attribute, Block, NestedBlock, Nesting, Presence, Schema};
use crate::session::{self, JobKind, Jobs, StackUpdate, StackView, custom_provider, source, stack};
use crate::timeouts::{self, TimeoutField};

pub(crate) use self::diagnostics::diagnostic;

pub struct GalleySession;

const TYPE_NAME: &str = "galley_session";

pub const DEFAULT_TERRAFORM_VERSION: &str = "1.5.x";

const OPERATIONS: &[&str] = &["apply", "plan"];

const PLAN_TIMEOUT: TimeoutField = TimeoutField {
    name: JobKind::Plan.timeout_name(),
    default: JobKind::Plan.default_timeout(),
    limits: "How long the PLAN job may run.",
};
const APPLY_TIMEOUT: TimeoutField = TimeoutField {
    name: JobKind::Apply.timeout_name(),
    default: JobKind::Apply.default_timeout(),
    limits: "How long the APPLY job may run.",
};
const DESTROY_TIMEOUT: TimeoutField = TimeoutField {
    name: JobKind::Destroy.timeout_name(),
    default: JobKind::Destroy.default_timeout(),
    limits: "How long the DESTROY job may run.",
};
const DRIFT_TIMEOUT: TimeoutField = TimeoutField {
    name: "drift",
    default: std::time::Duration::from_secs(10 * 60),
    limits: "How long a drift detection (with `detect_drift`) may take during a refresh.",
};
const TIMEOUTS: [TimeoutField; 4] = [PLAN_TIMEOUT, APPLY_TIMEOUT, DESTROY_TIMEOUT, DRIFT_TIMEOUT];

/// `drift_status` when drift was not checked (yet).
const NOT_CHECKED: &str = "NOT_CHECKED";
const DRIFTED: &str = "DRIFTED";

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
                starting at 50 ms and growing to 10 s. Terraform's interrupt (Ctrl-C) cancels \
                the running job."
                .into(),
            attributes: vec![
                Attribute::new("id", s.clone(), Presence::Computed, "The stack's OCID."),
                Attribute::new(
                    "compartment_id",
                    s.clone(),
                    Presence::OptionalComputed,
                    &format!(
                        "Compartment of the stack. Default: `{WORK_COMPARTMENT_ID}`. Changing it \
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
                    Presence::Optional,
                    "Directory of the configuration to deploy (relative paths are relative to \
                     where Terraform runs; `\"${path.module}/stack\"` is safest). It is zipped \
                     with relative paths, leaving out `.terraform/`, `.git/`, `*.tfstate*` and \
                     what a `.galleyignore` at its root lists (`.gitignore` syntax). Symbolic \
                     links are followed when they resolve inside the directory; a link to \
                     anything outside it is an error (list it in `.galleyignore` to leave it \
                     out). Required to create a stack. Left unset on an imported stack, the \
                     stack's configuration is kept as it is (Resource Manager's copy; jobs run on \
                     it when variables change): this is what `terraform query \
                     -generate-config-out` writes, since a stack cannot tell where its \
                     configuration came from. Set it later to take the configuration over from a \
                     directory.",
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
                    "freeform_tags",
                    strings(),
                    Presence::Optional,
                    "Free-form tags of the stack. The provider keeps one tag of its own beside \
                     them (`galley-source-sha256`, the digest of the uploaded configuration). \
                     When set, the stack's tags are these exactly; when not set, tags set on the \
                     stack elsewhere are left alone.",
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
                    "plan_job_id",
                    s.clone(),
                    Presence::Optional,
                    "Apply exactly this reviewed PLAN job of the stack (an OCID, typically the \
                     `last_job_id` of an apply with `operation = \"plan\"`): the apply runs one \
                     APPLY job with `executionPlanStrategy = FROM_PLAN_JOB_ID` and no new PLAN \
                     job. What the job planned is read from Resource Manager's record of it: the \
                     configuration it ran (its zip, digested as `source_sha256` is), its \
                     variables and its working directory. The plan is refused (at plan time, \
                     naming what changed, and again before the APPLY job starts) when any of \
                     them differs from what this resource would deploy now, when the job is not \
                     a SUCCEEDED PLAN job of this stack, or when an APPLY, DESTROY or import job \
                     ran on the stack after it (its saved plan is stale). Not with \
                     `operation = \"plan\"`, and not on create (the stack must exist).",
                ),
                Attribute::new(
                    "detect_drift",
                    Type::Bool,
                    Presence::Optional,
                    "Run Resource Manager's drift detection on every refresh (a refresh of the \
                     stack's resources against its state, which takes as long as a plan) and \
                     report it in `drift_status` and `drifted_resources`. A drifted stack plans \
                     an update that runs the jobs again, so an apply re-converges it. Drift is \
                     checked once the last job is a successful APPLY; a failed check is a \
                     warning and leaves `NOT_CHECKED`. Default `false`.",
                ),
                Attribute::new(
                    "drift_status",
                    s.clone(),
                    Presence::Computed,
                    "With `detect_drift`: `IN_SYNC`, `DRIFTED` or `NOT_CHECKED` (not checked \
                     yet, or since the last jobs ran, or the check failed). Null otherwise.",
                ),
                Attribute::new(
                    "drifted_resources",
                    Type::List(Box::new(Type::String)),
                    Presence::Computed,
                    "With `detect_drift`: the addresses of the stack's resources that were \
                     modified or deleted outside its Terraform (as `terraform_data.x` or \
                     `module.m.oci_core_instance.web[0]`), sorted. Null otherwise.",
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
                        description: "A bucket of Terraform provider binaries the jobs install \
                            before `terraform init` (Resource Manager's custom providers): raw \
                            executables named `linux_amd64/terraform-provider-TYPE_vX.Y.Z` (and \
                            `linux_arm64/...`) at its root, found by the stack's Terraform as \
                            `hashicorp/TYPE`. `galley-upload-providers` uploads a release's \
                            `dist/rm-bucket`. A stack created before Resource Manager allowed \
                            custom providers is first updated to allow them \
                            (`isThirdPartyProviderExperienceEnabled`). A job that finds no \
                            binary for its platform in the bucket fails with an error at this \
                            block naming the bucket and the object it expected."
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

/// The OCI clients, or the set-up failure as a diagnostic.
async fn clients(ctx: &Ctx) -> Result<Arc<OciClients>, Diagnostics> {
    oci_clients::clients(&ctx.config)
        .await
        .map_err(|e| e.diagnostic().into())
}

/// The job runner for `m`'s stack, with `m`'s timeouts and Terraform's Stop.
fn jobs<'a>(ctx: &'a Ctx, clients: &'a OciClients, m: &Model) -> Jobs<'a> {
    Jobs {
        rm: &clients.resource_manager,
        stop: &ctx.stop,
        timeouts: m.job_timeouts(),
    }
}

#[async_trait]
impl Resource for GalleySession {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let m = Model::from_value(config);
        let mut diags = Diagnostics::new();
        if let Some(op) = m.operation.as_deref() {
            if !OPERATIONS.contains(&op) {
                diags.push(
                    Diagnostic::error(
                        "Invalid operation",
                        format!("operation = {op:?} must be \"apply\" or \"plan\"."),
                    )
                    .at("operation"),
                );
            }
        }
        if let Some(wd) = m.working_directory.as_deref() {
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
        if let Some(job) = m.plan_job_id.known() {
            if !job.starts_with("ocid1.ormjob.") {
                diags.push(
                    Diagnostic::error(
                        "Invalid plan job id",
                        format!(
                            "plan_job_id = {job:?} is not a Resource Manager job OCID \
                             (ocid1.ormjob...): set it to the last_job_id of an apply with \
                             operation = \"plan\"."
                        ),
                    )
                    .at("plan_job_id"),
                );
            }
            if m.plan_only() {
                diags.push(
                    Diagnostic::error(
                        "plan_job_id needs operation = \"apply\"",
                        "plan_job_id applies a reviewed plan, while operation = \"plan\" only \
                         plans: remove operation (or set it to \"apply\") to apply the plan job, \
                         or remove plan_job_id to plan again.",
                    )
                    .at("plan_job_id"),
                );
            }
        }
        diags.extend(timeouts::validate(config, &TIMEOUTS));
        diags.extend(injected_variable_warnings(config));
        diags
    }

    async fn plan(&self, ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let config = Model::from_value(req.config);
        let prior = (!req.prior_state.is_null()).then(|| Model::from_value(req.prior_state));
        let mut proposed = req.proposed_new_state.clone();
        crate::compartment::plan_compartment(
            &mut proposed,
            req.config,
            prior
                .as_ref()
                .and_then(|p| p.compartment_id.known().cloned()),
            "the compartment the stack belongs in",
        )?;
        let mut planned = Model::from_value(&proposed);

        // Defaults of optional+computed attributes left unset.
        if config.terraform_version.is_null() {
            planned.terraform_version = Attr::Known(DEFAULT_TERRAFORM_VERSION.into());
        }
        if config.operation.is_null() {
            planned.operation = Attr::Known("apply".into());
        }
        if config.destroy_on_delete.is_null() {
            planned.destroy_on_delete = Attr::Known(true);
        }
        if config.display_name.is_null() && prior.is_none() {
            planned.display_name = Attr::unknown();
        }
        if prior.is_none() {
            refuse_on_create(&config)?;
        }

        let source_known =
            !config.terraform_dir.is_unknown() && !config.working_directory.is_unknown();
        let digest = match (planned.terraform_dir.as_deref(), source_known) {
            (Some(dir), true) => {
                let wd = planned.working_directory();
                let digest =
                    source::digest(dir, wd.as_deref()).map_err(|e| source_diagnostic(&e))?;
                Attr::Known(digest)
            }
            // No directory: the stack keeps the configuration it has.
            (None, true) => prior
                .as_ref()
                .map_or(Attr::Null, |p| p.source_sha256.clone()),
            _ => Attr::unknown(),
        };
        planned.source_sha256 = digest;

        let mut requires_replace = Vec::new();
        let mut diagnostics = Diagnostics::new();
        let jobs_needed = match &prior {
            None => {
                planned.id = Attr::unknown();
                true
            }
            Some(p) => {
                if !planned.compartment_id.is_unknown()
                    && p.compartment_id.known() != planned.compartment_id.known()
                {
                    requires_replace.push(vec![PathStep::Attr("compartment_id".into())]);
                }
                let drifted = p.detects_drift()
                    && config.detect_drift.known() == Some(&true)
                    && p.drift_status.as_deref() == Some(DRIFTED);
                if drifted {
                    diagnostics.push(drift_found(p));
                }
                planned.source_sha256.is_unknown()
                    || p.source_sha256 != planned.source_sha256
                    || p.working_directory() != planned.working_directory()
                    || config.variables.is_unknown()
                    || p.sent_variables() != planned.sent_variables()
                    || p.terraform_version.known() != planned.terraform_version.known()
                    || config.custom_terraform_provider.is_unknown()
                    || p.custom_terraform_provider.known()
                        != planned.custom_terraform_provider.known()
                    || p.operation.known() != planned.operation.known()
                    || p.last_job_state.as_deref() != Some("SUCCEEDED")
                    || config.plan_job_id.is_unknown()
                    || (planned.plan_job_id.known().is_some()
                        && p.plan_job_id.known() != planned.plan_job_id.known())
                    || drifted
            }
        };
        plan_drift(&mut planned, prior.as_ref(), jobs_needed);
        if jobs_needed {
            let summary = planned.plan_summary.clone();
            planned.forget_job_results();
            if let (Some(p), Some(job)) = (&prior, planned.plan_job_id.known()) {
                // Applying a reviewed plan: its summary is the one reviewed, or not known here.
                planned.plan_summary = if p.last_job_id.known() == Some(job) {
                    summary
                } else {
                    Attr::Null
                };
                // Unknown sources are checked at apply, before the APPLY job starts.
                if let (Some(stack_id), false) = (p.id.known(), planned.source_sha256.is_unknown())
                {
                    check_reviewed(ctx, stack_id, job, &planned).await?;
                }
            }
        }
        Ok(Planned {
            planned_state: planned.to_value(),
            requires_replace,
            planned_private: Vec::new(),
            diagnostics,
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
        let mut m = Model::from_value(state);
        let Some(id) = m.id.known().cloned() else {
            return Ok(ReadOutcome::Gone);
        };
        let clients = clients(ctx).await?;
        let rm = &clients.resource_manager;
        let stack = match stack::read(rm, &id).await {
            Ok(stack) => stack,
            Err(e) if e.is_gone() => return Ok(ReadOutcome::Gone),
            Err(e) => return Err(diagnostic(&e).into()),
        };
        m.refresh(&StackView::from(&stack));
        // A job left running (an interrupted provider) may have ended since.
        if let (Some(job_id), Some(job_state)) = (m.last_job_id.known(), m.last_job_state.known()) {
            if !JobLifecycleState::from(job_state.as_str()).is_terminal() {
                if let Ok(state) = session::jobs::job_state(rm, job_id).await {
                    m.last_job_state = Attr::Known(state.as_str().to_owned());
                }
            }
        }
        match session::state::read_outputs(rm, &id).await {
            Ok(outputs) => m.set_outputs(&outputs),
            Err(e) => tracing::warn!(stack = %id, error = %e, "failed to read the stack's outputs"),
        }
        let mut diagnostics = Diagnostics::new();
        if m.detects_drift() {
            let report = if m.drift_checkable() {
                match session::drift::detect(rm, &id, m.drift_timeout(), &ctx.stop).await {
                    Ok(report) => Some(report),
                    Err(e) => {
                        diagnostics.push(drift_warning(&e));
                        None
                    }
                }
            } else {
                None
            };
            m.record_drift(report.as_ref());
        }
        Ok(ReadOutcome::Present {
            state: m.to_value(),
            private: Vec::new(),
            diagnostics,
        })
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let id = id.trim();
        if !session::is_stack_ocid(id) {
            return Err(Diagnostic::error(
                "Invalid import id",
                format!("{id:?} is not a stack OCID. Expected {IMPORT_FORMAT}."),
            )
            .into());
        }
        let clients = clients(ctx).await?;
        imported_state(&clients, id).await
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(identity_schema())
    }

    async fn import_by_identity(&self, ctx: &Ctx, identity: &Value) -> Result<Value, Diagnostics> {
        let id = crate::attrs::str_of(identity, "id").unwrap_or_default();
        if !session::is_stack_ocid(&id) {
            return Err(Diagnostic::error(
                "Invalid identity",
                format!("identity id = {id:?} is not a stack OCID. Expected {IMPORT_FORMAT}."),
            )
            .at("id")
            .into());
        }
        self.import(ctx, &id).await
    }

    /// What a user sets, less the values that only repeat a default; `terraform_dir` stays
    /// unset (see its description): the stack's configuration is adopted as it is.
    fn generate_config(&self, state: &Value) -> Result<Value, Diagnostics> {
        let mut config = schema().block.config_from_state(state);
        let defaults = [
            ("operation", Value::string("apply")),
            ("destroy_on_delete", Value::Bool(true)),
            (
                "terraform_version",
                Value::string(DEFAULT_TERRAFORM_VERSION),
            ),
        ];
        for (name, default) in defaults {
            if config
                .get_attr(name)
                .is_some_and(|v| v.equivalent(&default))
            {
                config.set_attr(name, Value::Null);
            }
        }
        if config
            .get_attr("variables")
            .and_then(Value::as_map)
            .is_some_and(|m| m.is_empty())
        {
            config.set_attr("variables", Value::Null);
        }
        Ok(config)
    }
}

/// The identity of a session: its stack.
fn identity_schema() -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![IdentityAttribute::new(
            "id",
            Type::String,
            ForImport::Required,
            "The stack's OCID.",
        )],
    }
}

/// The state of existing stack `id`, as import and the `galley_session` list resource give it:
/// what the stack says, its latest job, its outputs.
pub(crate) async fn imported_state(clients: &OciClients, id: &str) -> Result<Value, Diagnostics> {
    match session::describe(&clients.resource_manager, id).await {
        Ok(described) => Ok(Model::imported(&described).to_value()),
        Err(session::SessionError::StackDeleted { stack_id }) => Err(Diagnostic::error(
            "Cannot import a deleted stack",
            format!("Stack {stack_id} is deleted."),
        )
        .into()),
        Err(e) => Err(diagnostic(&e).into()),
    }
}

/// The least state that names stack `id` (what a listing without resource objects gives).
pub(crate) fn listed_state(id: &str, compartment_id: &str, display_name: Option<&str>) -> Value {
    Model {
        id: Attr::Known(id.to_owned()),
        compartment_id: Attr::Known(compartment_id.to_owned()),
        display_name: Attr::from_option(display_name.map(str::to_owned)),
        ..Model::default()
    }
    .to_value()
}

/// Errors of a configuration that cannot create a stack.
fn refuse_on_create(config: &Model) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    if config.terraform_dir.is_null() {
        diags.push(
            Diagnostic::error(
                "terraform_dir is required to create a stack",
                "Set terraform_dir to the directory of the configuration to deploy. Only an \
                 imported stack may leave it unset (its configuration is then kept as it is).",
            )
            .at("terraform_dir"),
        );
    }
    if !config.plan_job_id.is_null() {
        diags.push(
            Diagnostic::error(
                "plan_job_id needs an existing stack",
                "This session has no stack yet, so it has no plan job to apply. Create it with \
                 operation = \"plan\", review the plan, then set plan_job_id to its \
                 last_job_id (and remove operation).",
            )
            .at("plan_job_id"),
        );
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}

/// The drift attributes of a plan: null without `detect_drift`; unknown when jobs run (they
/// change the stack: apply records NOT_CHECKED); else what the last refresh found.
fn plan_drift(planned: &mut Model, prior: Option<&Model>, jobs_needed: bool) {
    if !planned.detects_drift() {
        if !planned.detect_drift.is_unknown() {
            planned.drift_status = Attr::Null;
            planned.drifted_resources = Attr::Null;
            return;
        }
        planned.drift_status = Attr::unknown();
        planned.drifted_resources = Attr::unknown();
        return;
    }
    if jobs_needed {
        planned.drift_status = Attr::unknown();
        planned.drifted_resources = Attr::unknown();
    } else if !prior.is_some_and(Model::detects_drift) {
        // Just turned on: the next refresh checks.
        planned.record_drift(None);
    }
}

/// The warning of a plan that re-converges a drifted stack.
fn drift_found(prior: &Model) -> Diagnostic {
    let resources = prior
        .drifted_resources
        .known()
        .map(|r| r.join(", "))
        .unwrap_or_default();
    Diagnostic::warning(
        "The stack has drifted",
        format!(
            "Resource Manager's drift detection found resources of the stack changed outside its \
             Terraform: {resources}. Applying runs the stack's jobs again, which brings them back \
             to its configuration."
        ),
    )
    .at("drift_status")
}

/// Refuses a plan job that does not plan what `planned` would deploy.
async fn check_reviewed(
    ctx: &Ctx,
    stack_id: &str,
    plan_job_id: &str,
    planned: &Model,
) -> Result<(), Diagnostics> {
    let clients = clients(ctx).await?;
    session::reviewed::check(
        &clients.resource_manager,
        stack_id,
        plan_job_id,
        &planned.wanted(),
    )
    .await
    .map_err(|e| diagnostic(&e).into())
}

async fn create(ctx: &Ctx, planned_state: &Value) -> Applied {
    let planned = Model::from_value(planned_state);
    let fail = |d: Diagnostic| Applied::recorded(Value::Null, d.into());
    let dir = planned.terraform_dir.as_deref().unwrap_or_default();
    let wd = planned.working_directory();
    let package = match source::package(dir, wd.as_deref(), planned.source_sha256.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(source_diagnostic(&e)),
    };
    let clients = match clients(ctx).await {
        Ok(c) => c,
        Err(d) => return Applied::recorded(Value::Null, d),
    };
    let created = stack::create(&clients.resource_manager, &planned.spec(), package).await;
    let stack = match created {
        Ok(stack) => stack,
        Err(e) => return fail(diagnostic(&e)),
    };

    let mut state = planned.clone();
    state.id = Attr::Known(stack.id.clone());
    state.display_name = Attr::from_option(
        stack
            .display_name
            .clone()
            .or_else(|| planned.display_name.known().cloned()),
    );
    let rm = &clients.resource_manager;
    if let Err(e) = custom_provider::attach_after_create(rm, &planned.spec(), &stack).await {
        state.settle_job_results();
        return Applied::recorded(state.to_value(), diagnostic(&e).into());
    }
    let report = jobs(ctx, &clients, &planned)
        .plan_and_apply(&stack.id, planned.plan_only())
        .await;
    let mut diagnostics = state.record_jobs(report);
    state.settle_job_results();
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
    Applied::recorded(state.to_value(), diagnostics)
}

async fn update(ctx: &Ctx, prior_state: &Value, planned_state: &Value) -> Applied {
    let prior = Model::from_value(prior_state);
    let planned = Model::from_value(planned_state);
    let keep_prior = |d: Diagnostics| Applied::recorded(prior_state.clone(), d);
    let Some(stack_id) = prior.id.known().cloned() else {
        return keep_prior(
            Diagnostic::error(
                "Stack id missing from state",
                "This is a provider bug; please report it.",
            )
            .into(),
        );
    };
    let jobs_needed = planned.last_job_state.is_unknown();
    let reviewed = planned.plan_job_id.known().filter(|_| jobs_needed).cloned();
    let change = StackUpdate::between(&prior.spec(), &planned.spec());
    if change.is_none() && !jobs_needed {
        // Local settings only (terraform_dir spelling, timeouts, destroy_on_delete).
        return Applied::done(planned_state.clone());
    }

    let clients = match clients(ctx).await {
        Ok(c) => c,
        Err(d) => return keep_prior(d),
    };
    if let Some(plan_job_id) = &reviewed {
        // Again right before it runs: the plan job must still plan what is deployed.
        let wanted = planned.wanted();
        let checked =
            session::reviewed::check(&clients.resource_manager, &stack_id, plan_job_id, &wanted);
        if let Err(e) = checked.await {
            return keep_prior(diagnostic(&e).into());
        }
    }
    let mut state = planned.clone();
    if let Some(change) = change {
        let package = if change.new_source {
            let dir = planned.terraform_dir.as_deref().unwrap_or_default();
            let wd = planned.working_directory();
            match source::package(dir, wd.as_deref(), planned.source_sha256.as_deref()) {
                Ok(p) => Some(p),
                Err(e) => return keep_prior(source_diagnostic(&e).into()),
            }
        } else {
            None
        };
        match stack::update(&clients.resource_manager, &stack_id, change, package).await {
            Ok(stack) => {
                if let Some(name) = stack.display_name {
                    state.display_name = Attr::Known(name);
                }
            }
            Err(e) => return keep_prior(diagnostic(&e).into()),
        }
    }
    let diagnostics = if jobs_needed {
        let runner = jobs(ctx, &clients, &planned);
        let report = match &reviewed {
            Some(plan_job_id) => runner.apply_reviewed(&stack_id, plan_job_id).await,
            None => runner.plan_and_apply(&stack_id, planned.plan_only()).await,
        };
        state.record_jobs(report)
    } else {
        Diagnostics::new()
    };
    state.settle_job_results();
    Applied::recorded(state.to_value(), diagnostics)
}

async fn delete(ctx: &Ctx, prior_state: &Value) -> Applied {
    let prior = Model::from_value(prior_state);
    let Some(stack_id) = prior.id.known().cloned() else {
        return Applied::gone();
    };
    let clients = match clients(ctx).await {
        Ok(c) => c,
        Err(d) => return Applied::recorded(prior_state.clone(), d),
    };
    let destroy_first = prior.destroy_on_delete.known() != Some(&false);
    let jobs = jobs(ctx, &clients, &prior);
    match stack::delete(&jobs, &stack_id, destroy_first).await {
        Ok(()) => Applied::gone(),
        Err(e) => {
            // A DESTROY job that ran is recorded, so the state says why the stack is still there.
            let mut state = prior.clone();
            if let Some(run) = e.job_run() {
                state.record(&run);
            }
            Applied::recorded(state.to_value(), diagnostic(&e).into())
        }
    }
}
