//! The typed model of `galley_session`: one field per attribute and block, read from
//! Terraform's value with one `from_value` and written back with one `to_value` (exactly what
//! was read, unknowns included, so a plan starting from Terraform's proposal changes only what
//! it means to), and what the engine's results change in it.

use std::collections::BTreeMap;

use galley_contract::tf_output::PlanSummary;

use super::diagnostics::diagnostic_for;
use super::{APPLY_TIMEOUT, DESTROY_TIMEOUT, DRIFT_TIMEOUT, NOT_CHECKED, PLAN_TIMEOUT};
use crate::attrs::{Attr, AttrValue, i64_of, str_of};
use crate::cty::Value;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::session::reviewed::Wanted;
use crate::session::source::normalize_working_directory;
use crate::session::stack::sent_variables;
use crate::session::{
    CustomProvider, Described, DriftReport, JobRun, JobTimeouts, JobsReport, Outputs, SessionError,
    StackSpec, StackView,
};
use crate::timeouts;

impl AttrValue for CustomProvider {
    fn read(v: &Value) -> Option<Self> {
        Some(Self {
            region: str_of(v, "region")?,
            namespace: str_of(v, "namespace")?,
            bucket_name: str_of(v, "bucket_name")?,
        })
    }

    fn write(&self) -> Value {
        Value::object([
            ("region", Value::string(&self.region)),
            ("namespace", Value::string(&self.namespace)),
            ("bucket_name", Value::string(&self.bucket_name)),
        ])
    }
}

impl AttrValue for PlanSummary {
    fn read(v: &Value) -> Option<Self> {
        let count = |name| i64_of(v, name).and_then(|n| u64::try_from(n).ok());
        Some(Self {
            add: count("add")?,
            change: count("change")?,
            destroy: count("destroy")?,
        })
    }

    fn write(&self) -> Value {
        Value::object([
            ("add", Value::number(self.add)),
            ("change", Value::number(self.change)),
            ("destroy", Value::number(self.destroy)),
        ])
    }
}

/// The `timeouts` block, kept as configured; `crate::timeouts` reads it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TimeoutsBlock(Value);

impl AttrValue for TimeoutsBlock {
    fn read(v: &Value) -> Option<Self> {
        Some(Self(v.clone()))
    }

    fn write(&self) -> Value {
        self.0.clone()
    }
}

/// The resource's values, typed: one field per attribute and block of the schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Model {
    pub(super) id: Attr<String>,
    pub(super) compartment_id: Attr<String>,
    pub(super) display_name: Attr<String>,
    pub(super) description: Attr<String>,
    pub(super) terraform_dir: Attr<String>,
    pub(super) working_directory: Attr<String>,
    pub(super) variables: Attr<BTreeMap<String, String>>,
    pub(super) freeform_tags: Attr<BTreeMap<String, String>>,
    pub(super) terraform_version: Attr<String>,
    pub(super) operation: Attr<String>,
    pub(super) destroy_on_delete: Attr<bool>,
    pub(super) source_sha256: Attr<String>,
    pub(super) last_job_id: Attr<String>,
    pub(super) last_job_state: Attr<String>,
    pub(super) plan_summary: Attr<PlanSummary>,
    pub(super) outputs: Attr<BTreeMap<String, String>>,
    pub(super) sensitive_outputs: Attr<BTreeMap<String, String>>,
    pub(super) log_tail: Attr<String>,
    pub(super) custom_terraform_provider: Attr<CustomProvider>,
    pub(super) timeouts: Attr<TimeoutsBlock>,
    pub(super) plan_job_id: Attr<String>,
    pub(super) detect_drift: Attr<bool>,
    pub(super) drift_status: Attr<String>,
    pub(super) drifted_resources: Attr<Vec<String>>,
}

impl Model {
    pub(super) fn from_value(v: &Value) -> Self {
        Model {
            id: Attr::of(v, "id"),
            compartment_id: Attr::of(v, "compartment_id"),
            display_name: Attr::of(v, "display_name"),
            description: Attr::of(v, "description"),
            terraform_dir: Attr::of(v, "terraform_dir"),
            working_directory: Attr::of(v, "working_directory"),
            variables: Attr::of(v, "variables"),
            freeform_tags: Attr::of(v, "freeform_tags"),
            terraform_version: Attr::of(v, "terraform_version"),
            operation: Attr::of(v, "operation"),
            destroy_on_delete: Attr::of(v, "destroy_on_delete"),
            source_sha256: Attr::of(v, "source_sha256"),
            last_job_id: Attr::of(v, "last_job_id"),
            last_job_state: Attr::of(v, "last_job_state"),
            plan_summary: Attr::of(v, "plan_summary"),
            outputs: Attr::of(v, "outputs"),
            sensitive_outputs: Attr::of(v, "sensitive_outputs"),
            log_tail: Attr::of(v, "log_tail"),
            custom_terraform_provider: Attr::of(v, "custom_terraform_provider"),
            timeouts: Attr::of(v, "timeouts"),
            plan_job_id: Attr::of(v, "plan_job_id"),
            detect_drift: Attr::of(v, "detect_drift"),
            drift_status: Attr::of(v, "drift_status"),
            drifted_resources: Attr::of(v, "drifted_resources"),
        }
    }

    pub(super) fn to_value(&self) -> Value {
        Value::object([
            ("id", self.id.to_value()),
            ("compartment_id", self.compartment_id.to_value()),
            ("display_name", self.display_name.to_value()),
            ("description", self.description.to_value()),
            ("terraform_dir", self.terraform_dir.to_value()),
            ("working_directory", self.working_directory.to_value()),
            ("variables", self.variables.to_value()),
            ("freeform_tags", self.freeform_tags.to_value()),
            ("terraform_version", self.terraform_version.to_value()),
            ("operation", self.operation.to_value()),
            ("destroy_on_delete", self.destroy_on_delete.to_value()),
            ("source_sha256", self.source_sha256.to_value()),
            ("last_job_id", self.last_job_id.to_value()),
            ("last_job_state", self.last_job_state.to_value()),
            ("plan_summary", self.plan_summary.to_value()),
            ("outputs", self.outputs.to_value()),
            ("sensitive_outputs", self.sensitive_outputs.to_value()),
            ("log_tail", self.log_tail.to_value()),
            (
                "custom_terraform_provider",
                self.custom_terraform_provider.to_value(),
            ),
            ("timeouts", self.timeouts.to_value()),
            ("plan_job_id", self.plan_job_id.to_value()),
            ("detect_drift", self.detect_drift.to_value()),
            ("drift_status", self.drift_status.to_value()),
            ("drifted_resources", self.drifted_resources.to_value()),
        ])
    }

    /// The state of a stack imported by OCID: what the stack says, its latest job, its outputs.
    pub(super) fn imported(d: &Described) -> Self {
        let mut m = Model {
            id: Attr::Known(d.stack.id.clone()),
            operation: Attr::Known("apply".into()),
            destroy_on_delete: Attr::Known(true),
            log_tail: Attr::Known(String::new()),
            ..Model::default()
        };
        if !d.stack.freeform_tags.is_empty() {
            m.freeform_tags = Attr::Known(BTreeMap::new());
        }
        m.refresh(&d.stack);
        if let Some((job_id, state)) = &d.last_job {
            m.last_job_id = Attr::Known(job_id.clone());
            m.last_job_state = Attr::Known(state.as_str().to_owned());
        }
        m.set_outputs(&d.outputs);
        m
    }

    pub(super) fn spec(&self) -> StackSpec {
        StackSpec {
            compartment_id: self.compartment_id.known().cloned().unwrap_or_default(),
            display_name: self.display_name.known().cloned(),
            description: self.description.known().cloned(),
            variables: self.variables.known().cloned().unwrap_or_default(),
            freeform_tags: self.freeform_tags.known().cloned(),
            terraform_version: self.terraform_version.known().cloned(),
            custom_provider: self.custom_terraform_provider.known().cloned(),
            working_directory: self.working_directory(),
            source_sha256: self.source_sha256.known().cloned(),
        }
    }

    /// The variables sent to Resource Manager: the configured ones minus those it injects.
    pub(super) fn sent_variables(&self) -> BTreeMap<String, String> {
        self.variables
            .known()
            .map(sent_variables)
            .unwrap_or_default()
    }

    pub(super) fn plan_only(&self) -> bool {
        self.operation.as_deref() == Some("plan")
    }

    /// What a reviewed plan job must have planned for this model to apply it.
    pub(super) fn wanted(&self) -> Wanted {
        Wanted {
            source_sha256: self.source_sha256.known().cloned(),
            working_directory: self.working_directory(),
            variables: self.sent_variables(),
        }
    }

    pub(super) fn detects_drift(&self) -> bool {
        self.detect_drift.known() == Some(&true)
    }

    /// Whether Resource Manager can check this stack's drift: it detects drift of stacks
    /// whose last job applied state, so the session's last job must be a successful APPLY.
    pub(super) fn drift_checkable(&self) -> bool {
        !self.plan_only() && self.last_job_state.as_deref() == Some("SUCCEEDED")
    }

    pub(super) fn drift_timeout(&self) -> std::time::Duration {
        let resource = Value::object([("timeouts", self.timeouts.to_value())]);
        timeouts::get(&resource, &DRIFT_TIMEOUT)
    }

    /// Records a drift detection's result (`None`: no result).
    pub(super) fn record_drift(&mut self, report: Option<&DriftReport>) {
        match report {
            Some(r) => {
                self.drift_status = Attr::Known(r.status.as_str().to_owned());
                self.drifted_resources = Attr::Known(r.addresses());
            }
            None => {
                self.drift_status = Attr::Known(NOT_CHECKED.to_owned());
                self.drifted_resources = Attr::Known(Vec::new());
            }
        }
    }

    pub(super) fn working_directory(&self) -> Option<String> {
        normalize_working_directory(self.working_directory.as_deref())
    }

    pub(super) fn job_timeouts(&self) -> JobTimeouts {
        // `crate::timeouts` reads the block from the resource's value.
        let resource = Value::object([("timeouts", self.timeouts.to_value())]);
        JobTimeouts {
            plan: timeouts::get(&resource, &PLAN_TIMEOUT),
            apply: timeouts::get(&resource, &APPLY_TIMEOUT),
            destroy: timeouts::get(&resource, &DESTROY_TIMEOUT),
        }
    }

    /// Takes what the stack says, keeping this model's spelling where it means the same
    /// (variables Resource Manager would not receive, working directory notation).
    pub(super) fn refresh(&mut self, stack: &StackView) {
        self.compartment_id = Attr::Known(stack.compartment_id.clone());
        if let Some(name) = &stack.display_name {
            self.display_name = Attr::Known(name.clone());
        }
        let description = self.description.as_deref().filter(|d| !d.is_empty());
        if stack.description.as_deref() != description {
            self.description = Attr::from_option(stack.description.clone());
        }
        if stack.working_directory != self.working_directory() {
            self.working_directory = Attr::from_option(stack.working_directory.clone());
        }
        if stack.variables != self.sent_variables() {
            self.variables = if stack.variables.is_empty() && self.variables.known().is_none() {
                Attr::Null
            } else {
                Attr::Known(stack.variables.clone())
            };
        }
        // Tags are tracked only when configured (others may tag the stack too); an import
        // takes what the stack has.
        if self.freeform_tags.known().is_some() {
            self.freeform_tags = Attr::Known(stack.freeform_tags.clone());
        }
        if let Some(version) = &stack.terraform_version {
            self.terraform_version = Attr::Known(version.clone());
        }
        self.custom_terraform_provider = Attr::from_option(stack.custom_provider.clone());
        self.source_sha256 = Attr::from_option(stack.source_sha256.clone());
    }

    pub(super) fn set_outputs(&mut self, outputs: &Outputs) {
        self.outputs = Attr::Known(outputs.plain.clone());
        self.sensitive_outputs = Attr::Known(outputs.sensitive.clone());
    }

    pub(super) fn record(&mut self, run: &JobRun) {
        self.last_job_id = Attr::Known(run.job_id.clone());
        self.last_job_state = Attr::Known(run.state.as_str().to_owned());
        self.log_tail = Attr::Known(run.log_tail.clone());
    }

    /// Records what the jobs left and returns what to tell the user about them.
    pub(super) fn record_jobs(&mut self, report: JobsReport) -> Diagnostics {
        if let Some(run) = &report.last_job {
            self.record(run);
        }
        if let Some(summary) = report.plan_summary {
            self.plan_summary = Attr::from_option(summary);
        }
        if let Some(outputs) = &report.outputs {
            self.set_outputs(outputs);
        }
        let mut diagnostics = Diagnostics::new();
        if let Some(e) = &report.failure {
            let mut d = diagnostic_for(e, self.custom_terraform_provider.known());
            if let Some(outputs) = &report.outputs {
                d.detail.push_str(&outputs_note(outputs));
            }
            diagnostics.push(d);
        }
        if let Some(e) = &report.outputs_error {
            let cause = match e {
                SessionError::Oci { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            diagnostics.push(Diagnostic::warning(
                "Failed to read the stack's outputs",
                format!("{cause}. The next refresh reads them again."),
            ));
        }
        diagnostics
    }

    /// The attributes the jobs produce, unknown until they ran.
    pub(super) fn forget_job_results(&mut self) {
        self.last_job_id = Attr::unknown();
        self.last_job_state = Attr::unknown();
        self.plan_summary = Attr::unknown();
        self.outputs = Attr::unknown();
        self.sensitive_outputs = Attr::unknown();
        self.log_tail = Attr::unknown();
    }

    /// Fills the job attributes still unknown with "nothing known" values, so a state returned
    /// after a failure is complete.
    pub(super) fn settle_job_results(&mut self) {
        let settle = |a: &mut Attr<String>, empty: Attr<String>| {
            if a.is_unknown() {
                *a = empty;
            }
        };
        settle(&mut self.last_job_id, Attr::Null);
        settle(&mut self.last_job_state, Attr::Null);
        settle(&mut self.log_tail, Attr::Known(String::new()));
        if self.plan_summary.is_unknown() {
            self.plan_summary = Attr::Null;
        }
        for outputs in [&mut self.outputs, &mut self.sensitive_outputs] {
            if outputs.is_unknown() {
                *outputs = Attr::Known(BTreeMap::new());
            }
        }
        // The jobs changed the stack: what a drift check said before no longer holds.
        if self.drift_status.is_unknown() || self.drifted_resources.is_unknown() {
            self.record_drift(None);
        }
    }
}

/// The outputs a stack has after a failed job (a failed apply may have created some), for
/// its diagnostic: values of plain outputs, names only of sensitive ones.
fn outputs_note(outputs: &Outputs) -> String {
    if outputs.plain.is_empty() && outputs.sensitive.is_empty() {
        return "\nThe stack has no outputs.".to_owned();
    }
    let mut note = "\nOutputs of the stack now (also in the outputs attribute):\n".to_owned();
    for (name, value) in &outputs.plain {
        note.push_str(&format!("  {name} = {value}\n"));
    }
    for name in outputs.sensitive.keys() {
        note.push_str(&format!("  {name} = (sensitive)\n"));
    }
    note
}
