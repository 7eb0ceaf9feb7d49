//! `galley_stack`: an OCI Resource Manager stack read by its OCID (its name, compartment,
//! variables, the outputs of its Terraform state and its newest job), through the same engine
//! as `galley_session` (`crate::session::describe`). This file holds the schema, the typed
//! model and the read.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::attrs::Attr;
use crate::cty::{Type, Value};
use crate::data_source::{DataRead, DataSource};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::oci_clients::{self, SetupDiagnostic as _};
use crate::resource::Ctx;
use crate::resources::galley_session;
use crate::schema::{Attribute, Block, Presence, Schema};
use crate::session::{self, Described, SessionError};

pub struct GalleyStack;

const TYPE_NAME: &str = "galley_stack";

/// What a stack OCID looks like, for the error about one that does not.
const STACK_ID_FORMAT: &str = "the OCID of a Resource Manager stack, \
    ocid1.ormstack.<realm>.<region>.<unique id>, such as ocid1.ormstack.oc1.iad.aaaaaaaaexample \
    (`galley_session.NAME.id` of a stack that Galley manages)";

fn schema() -> Schema {
    let s = Type::String;
    let strings = || Type::Map(Box::new(Type::String));
    Schema {
        version: 0,
        block: Block {
            description: "An OCI Resource Manager stack read by its OCID: its name, compartment \
                and variables, the outputs of its Terraform state and its newest job. Any stack \
                can be read, for example one that a `galley_session` of another configuration \
                manages. A stack that does not exist or is deleted is an error."
                .into(),
            attributes: vec![
                Attribute::new(
                    "stack_id",
                    s.clone(),
                    Presence::Required,
                    "OCID of the stack, such as `ocid1.ormstack.oc1.iad.aaaaaaaaexample`.",
                ),
                Attribute::new(
                    "display_name",
                    s.clone(),
                    Presence::Computed,
                    "Display name of the stack.",
                ),
                Attribute::new(
                    "compartment_id",
                    s.clone(),
                    Presence::Computed,
                    "Compartment of the stack.",
                ),
                Attribute::new(
                    "variables",
                    strings(),
                    Presence::Computed,
                    "Terraform variables of the stack (those Resource Manager sets on every job, \
                     such as `region`, are not stored on the stack).",
                ),
                Attribute::new(
                    "outputs",
                    strings(),
                    Presence::Computed,
                    "The stack's Terraform outputs, read from its state: strings as they are, \
                     other values JSON-encoded. Sensitive outputs are in `sensitive_outputs`. \
                     Empty while nothing was applied.",
                ),
                Attribute::new(
                    "sensitive_outputs",
                    strings(),
                    Presence::Computed,
                    "The stack's sensitive outputs, encoded like `outputs`.",
                )
                .sensitive(),
                Attribute::new(
                    "lifecycle_state",
                    s.clone(),
                    Presence::Computed,
                    "State of the stack: `ACTIVE`, `CREATING` or `FAILED`.",
                ),
                Attribute::new(
                    "last_job_id",
                    s.clone(),
                    Presence::Computed,
                    "OCID of the stack's newest job; null when it has none.",
                ),
                Attribute::new(
                    "last_job_state",
                    s,
                    Presence::Computed,
                    "State of the stack's newest job: `SUCCEEDED`, `FAILED`, `IN_PROGRESS`...; \
                     null when it has none.",
                ),
            ],
            ..Default::default()
        },
    }
}

/// The data source's values, typed: one field per attribute.
#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    stack_id: Attr<String>,
    display_name: Attr<String>,
    compartment_id: Attr<String>,
    variables: Attr<BTreeMap<String, String>>,
    outputs: Attr<BTreeMap<String, String>>,
    sensitive_outputs: Attr<BTreeMap<String, String>>,
    lifecycle_state: Attr<String>,
    last_job_id: Attr<String>,
    last_job_state: Attr<String>,
}

impl Model {
    fn from_value(v: &Value) -> Self {
        Model {
            stack_id: Attr::of(v, "stack_id"),
            display_name: Attr::of(v, "display_name"),
            compartment_id: Attr::of(v, "compartment_id"),
            variables: Attr::of(v, "variables"),
            outputs: Attr::of(v, "outputs"),
            sensitive_outputs: Attr::of(v, "sensitive_outputs"),
            lifecycle_state: Attr::of(v, "lifecycle_state"),
            last_job_id: Attr::of(v, "last_job_id"),
            last_job_state: Attr::of(v, "last_job_state"),
        }
    }

    fn to_value(&self) -> Value {
        Value::object([
            ("stack_id", self.stack_id.to_value()),
            ("display_name", self.display_name.to_value()),
            ("compartment_id", self.compartment_id.to_value()),
            ("variables", self.variables.to_value()),
            ("outputs", self.outputs.to_value()),
            ("sensitive_outputs", self.sensitive_outputs.to_value()),
            ("lifecycle_state", self.lifecycle_state.to_value()),
            ("last_job_id", self.last_job_id.to_value()),
            ("last_job_state", self.last_job_state.to_value()),
        ])
    }

    /// The model with everything `d` read about the stack `stack_id` names.
    fn described(stack_id: String, d: Described) -> Self {
        let (last_job_id, last_job_state) = match d.last_job {
            Some((id, state)) => (Some(id), Some(state.as_str().to_owned())),
            None => (None, None),
        };
        Model {
            stack_id: Attr::Known(stack_id),
            display_name: Attr::from_option(d.stack.display_name),
            compartment_id: Attr::Known(d.stack.compartment_id),
            variables: Attr::Known(d.stack.variables),
            outputs: Attr::Known(d.outputs.plain),
            sensitive_outputs: Attr::Known(d.outputs.sensitive),
            lifecycle_state: Attr::Known(d.stack.lifecycle_state.as_str().to_owned()),
            last_job_id: Attr::from_option(last_job_id),
            last_job_state: Attr::from_option(last_job_state),
        }
    }
}

/// The error for a `stack_id` that is not a stack OCID, showing the expected form.
fn check_stack_id(id: &str) -> Result<(), Diagnostic> {
    if session::is_stack_ocid(id) {
        return Ok(());
    }
    Err(Diagnostic::error(
        "Invalid stack_id",
        format!("{id:?} is not a stack OCID. Expected {STACK_ID_FORMAT}."),
    )
    .at("stack_id"))
}

fn read_error(e: &SessionError) -> Diagnostic {
    let d = match e {
        SessionError::StackDeleted { stack_id } => Diagnostic::error(
            "Stack is deleted",
            format!(
                "Stack {stack_id} is deleted. Point stack_id at a stack that exists, or remove \
                 this data source."
            ),
        ),
        other => galley_session::diagnostic(other),
    };
    d.at("stack_id")
}

#[async_trait]
impl DataSource for GalleyStack {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match Model::from_value(config).stack_id.as_deref() {
            Some(id) => check_stack_id(id).err().into_iter().collect(),
            None => Diagnostics::new(),
        }
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<DataRead, Diagnostics> {
        let config = Model::from_value(config);
        let id = config.stack_id.as_deref().unwrap_or_default().to_owned();
        check_stack_id(&id)?;
        let clients = oci_clients::clients(&ctx.config)
            .await
            .map_err(|e| Diagnostics::from(e.diagnostic()))?;
        let described = session::describe(&clients.resource_manager, &id)
            .await
            .map_err(|e| Diagnostics::from(read_error(&e)))?;
        Ok(DataRead::new(Model::described(id, described).to_value()))
    }
}

#[cfg(test)]
mod tests {
    use galley_oci::resource_manager::{JobLifecycleState, StackLifecycleState};

    use super::*;
    use crate::diagnostics::PathStep;
    use crate::session::{Outputs, StackView};

    #[test]
    fn a_malformed_stack_id_shows_the_expected_form_at_the_attribute() {
        let config = Value::object([("stack_id", Value::string("my-stack"))]);
        let diags = GalleyStack.validate(&config);
        assert_eq!(diags.0.len(), 1);
        assert_eq!(diags.0[0].path, vec![PathStep::Attr("stack_id".into())]);
        assert!(
            diags.0[0]
                .detail
                .contains("ocid1.ormstack.<realm>.<region>.<unique id>"),
            "{}",
            diags.0[0].detail
        );
        let unknown = Value::object([("stack_id", Value::unknown())]);
        assert!(
            GalleyStack.validate(&unknown).0.is_empty(),
            "checked once known"
        );
        let good = Value::object([("stack_id", Value::string("ocid1.ormstack.oc1..s"))]);
        assert!(GalleyStack.validate(&good).0.is_empty());
    }

    #[test]
    fn the_value_is_of_the_schema_s_type_and_wholly_known() {
        let d = Described {
            stack: StackView {
                id: "ocid1.ormstack.oc1..s".into(),
                compartment_id: "ocid1.compartment.oc1..c".into(),
                display_name: Some("app".into()),
                variables: BTreeMap::from([("greeting".into(), "hi".into())]),
                lifecycle_state: StackLifecycleState::Active,
                ..StackView::default()
            },
            last_job: Some(("ocid1.ormjob.oc1..j".into(), JobLifecycleState::Succeeded)),
            outputs: Outputs {
                plain: BTreeMap::from([("greeting".into(), "hi".into())]),
                sensitive: BTreeMap::from([("token".into(), "s3cr3t".into())]),
            },
        };
        let v = Model::described("ocid1.ormstack.oc1..s".into(), d).to_value();
        v.conforms_to(&schema().block.value_type()).unwrap();
        assert!(v.is_wholly_known());
        let m = Model::from_value(&v);
        assert_eq!(m.lifecycle_state.as_deref(), Some("ACTIVE"));
        assert_eq!(m.last_job_state.as_deref(), Some("SUCCEEDED"));
        assert_eq!(
            m.sensitive_outputs.known().map(|o| o["token"].as_str()),
            Some("s3cr3t")
        );
        assert!(
            schema()
                .block
                .attribute("sensitive_outputs")
                .unwrap()
                .sensitive
        );

        let none = Described {
            stack: StackView::default(),
            last_job: None,
            outputs: Outputs::default(),
        };
        let v = Model::described("ocid1.ormstack.oc1..s".into(), none).to_value();
        v.conforms_to(&schema().block.value_type()).unwrap();
        assert_eq!(v.get_attr("last_job_id"), Some(&Value::Null));
    }

    #[test]
    fn a_deleted_stack_is_an_error_at_stack_id_that_says_what_to_do() {
        let d = read_error(&SessionError::StackDeleted {
            stack_id: "ocid1.ormstack.oc1..s".into(),
        });
        assert_eq!(d.summary, "Stack is deleted");
        assert_eq!(d.path, vec![PathStep::Attr("stack_id".into())]);
        assert!(d.detail.contains("Point stack_id at"), "{}", d.detail);
    }
}
