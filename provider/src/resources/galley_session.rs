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

use self::diagnostics::{injected_variable_warnings, source_diagnostic};
use self::model::Model;
use crate::attrs::Attr;
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
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
        diags.extend(timeouts::validate(config, &TIMEOUTS));
        diags.extend(injected_variable_warnings(config));
        diags
    }

    async fn plan(&self, _ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
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

        let source_known =
            !config.terraform_dir.is_unknown() && !config.working_directory.is_unknown();
        let digest = match (planned.terraform_dir.as_deref(), source_known) {
            (Some(dir), true) => {
                let wd = planned.working_directory();
                let digest =
                    source::digest(dir, wd.as_deref()).map_err(|e| source_diagnostic(&e))?;
                Some(digest)
            }
            _ => None,
        };
        planned.source_sha256 = digest.clone().map_or_else(Attr::unknown, Attr::Known);

        let mut requires_replace = Vec::new();
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
                digest.is_none()
                    || p.source_sha256.known() != digest.as_ref()
                    || p.working_directory() != planned.working_directory()
                    || config.variables.is_unknown()
                    || p.sent_variables() != planned.sent_variables()
                    || p.terraform_version.known() != planned.terraform_version.known()
                    || config.custom_terraform_provider.is_unknown()
                    || p.custom_terraform_provider.known()
                        != planned.custom_terraform_provider.known()
                    || p.operation.known() != planned.operation.known()
                    || p.last_job_state.as_deref() != Some("SUCCEEDED")
            }
        };
        if jobs_needed {
            planned.forget_job_results();
        }
        Ok(Planned {
            planned_state: planned.to_value(),
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
        Ok(ReadOutcome::Present {
            state: m.to_value(),
            private: Vec::new(),
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
    let change = StackUpdate::between(&prior.spec(), &planned.spec());
    if change.is_none() && !jobs_needed {
        // Local settings only (terraform_dir spelling, timeouts, destroy_on_delete).
        return Applied::done(planned_state.clone());
    }

    let clients = match clients(ctx).await {
        Ok(c) => c,
        Err(d) => return keep_prior(d),
    };
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
        let report = jobs(ctx, &clients, &planned)
            .plan_and_apply(&stack_id, planned.plan_only())
            .await;
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
