//! How `esb_resources` reports what goes wrong: each [`EsbError`] of the engine as a diagnostic
//! pointed at the attribute to fix, the problems of a resources file at the attribute it came
//! from, and the usage errors of its inputs and import id.

use super::IMPORT_FORMAT;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::esb::{ChangeProblem, EsbError, EsbSpec, Service, SpecError};

/// An engine error under `summary`, at the attribute that would fix it: the keys for a
/// rejected signature, `force_destroy` for a non-empty bucket, else the endpoint of the
/// service it came from; the file when no service is involved.
pub(super) fn error(summary: &str, e: &EsbError) -> Diagnostic {
    let attribute = match e.service() {
        Some(_) if e.is_auth() => "secret_key",
        Some(_) if matches!(e, EsbError::BucketNotEmpty { .. }) => "force_destroy",
        Some(service) => service.endpoint_attribute(),
        None => "resources_file",
    };
    Diagnostic::error(summary, e.to_string()).at(attribute)
}

pub(super) fn exactly_one() -> Diagnostic {
    Diagnostic::error(
        "Exactly one of resources_file and resources_yaml must be set",
        "Set resources_file to the path of a resources.yml, or resources_yaml to its content \
         (for example with file() or a heredoc), but not both.",
    )
    .at("resources_file")
}

pub(super) fn unreadable_file(path: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(
        "Cannot read the resources file",
        format!(
            "resources_file = {path:?} could not be read: {e}. Check the path (relative paths \
             are relative to the directory Terraform runs in; use \
             \"${{path.module}}/resources.yml\")."
        ),
    )
    .at("resources_file")
}

/// A warning for each entry the file declares that is accepted but not provisioned.
pub(super) fn spec_warnings(spec: &EsbSpec, attribute: &str) -> Diagnostics {
    spec.warnings
        .iter()
        .map(|w| {
            Diagnostic::warning(
                "Entry in the resources file is not provisioned",
                w.to_string(),
            )
            .at(attribute)
        })
        .collect()
}

/// One error per problem of an invalid file, each naming the file, the item and the field.
pub(super) fn spec_error(err: &SpecError, attribute: &str) -> Diagnostics {
    err.problems
        .iter()
        .map(|p| Diagnostic::error("Invalid resources file", p.to_string()).at(attribute))
        .collect()
}

/// The endpoints `spec` needs and that are set neither in the configuration nor in the
/// environment, naming the attribute and its variable.
pub(super) fn missing_endpoints(spec: &EsbSpec, missing: &[Service]) -> Diagnostics {
    missing
        .iter()
        .map(|&service| {
            let (declares, server) = match service {
                Service::DynamoDb => ("tables", "DynamoDB-compatible"),
                Service::S3 => ("buckets", "S3-compatible"),
            };
            Diagnostic::error(
                format!("No {service} endpoint"),
                format!(
                    "{} declares {declares}, but neither {} nor {} is set. Set one to the URL \
                     of the {server} server.",
                    spec.source,
                    service.endpoint_attribute(),
                    service.endpoint_env(),
                ),
            )
            .at(service.endpoint_attribute())
        })
        .collect()
}

/// A change DynamoDB cannot make in place, refused at plan time.
pub(super) fn needs_recreate(problem: &ChangeProblem, attribute: &str) -> Diagnostic {
    Diagnostic::error(
        "Table change needs the table to be re-created",
        problem.to_string(),
    )
    .at(attribute)
}

pub(super) fn changed_after_plan(name: &str, attribute: &str) -> Diagnostic {
    Diagnostic::error(
        "Resources file changed after plan",
        format!(
            "{name} changed between plan and apply, so the plan no longer describes what would \
             be done. Run terraform plan (or apply) again."
        ),
    )
    .at(attribute)
}

/// Terraform plans again with every input known before it applies, so this cannot happen.
pub(super) fn unknown_at_apply() -> Diagnostic {
    Diagnostic::error(
        "Resources file still unknown at apply",
        "This is a provider bug; please report it.",
    )
}

/// A malformed import id (or one naming a file that cannot be read), with the format.
pub(super) fn import_usage(why: &str) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        "Invalid import id",
        format!(
            "{why}. Expected {IMPORT_FORMAT}, for example \
             resources.yml,dynamodb=http://127.0.0.1:8000,s3=http://127.0.0.1:9000 (endpoints \
             default to DYNAMODB_ENDPOINT and S3_ENDPOINT)."
        ),
    ))
}
