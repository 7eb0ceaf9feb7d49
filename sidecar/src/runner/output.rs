//! The shapes a run reports to MCP clients for what Terraform said: errors with their location
//! and origin, and the plan summary. Terraform's text is parsed by the provider
//! (`galley_contract::tf_output`), which hands the results on as job events; nothing here
//! reads a job's log.

use galley_contract::tf_output::TerraformError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Resource counts of a plan or of a finished apply or destroy: the contract's one type.
pub use galley_contract::tf_output::PlanSummary;

/// Which Terraform reported an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The Resource Manager job running the session's stack: `file` is a stack file, relative
    /// to the stack directory (what `update_terraform_file` takes).
    Stack,
    /// The sidecar's own Terraform run (the Galley provider, Resource Manager access).
    Runner,
}

/// An error Terraform reported, with its location when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diagnostic {
    pub summary: String,
    pub detail: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub origin: Origin,
}

impl Diagnostic {
    /// An error of the session's stack, as a job's `job_error` event reported it.
    pub fn from_stack(e: &TerraformError) -> Self {
        Diagnostic {
            summary: e.summary.clone(),
            detail: e.detail.clone(),
            file: e.file.clone(),
            line: e.line,
            origin: Origin::Stack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_errors_keep_their_file_and_line() {
        let d = Diagnostic::from_stack(&TerraformError {
            summary: "Unsupported argument".into(),
            detail: "An argument named \"bogus\" is not expected here.".into(),
            location: Some(
                "on components.tf line 12, in resource \"oci_core_vcn\" \"main\":".into(),
            ),
            file: Some("components.tf".into()),
            line: Some(12),
        });
        assert_eq!(d.origin, Origin::Stack);
        assert_eq!(d.file.as_deref(), Some("components.tf"));
        assert_eq!(d.line, Some(12));
        assert_eq!(d.summary, "Unsupported argument");
    }
}
