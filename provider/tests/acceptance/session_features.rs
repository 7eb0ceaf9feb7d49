//! `galley_session`'s newer features with real Terraform against galley-local: applying a
//! reviewed plan job and nothing else, refusing one that no longer plans what would be
//! deployed; drift of the stack's resources shown in the outer plan and re-converged by an
//! apply; `terraform query` listing the engine's stacks and the configuration it generates
//! importing them with an empty plan; import by identity.

use galley_oci::resource_manager::{
    CreateJobDetails, CreateJobOperationDetails, JobOperation, ListJobsRequest,
};
use galley_tests::local::{COMPARTMENT, LocalOci, LocalOptions};
use galley_tests::servers::Moto;
use galley_tests::terraform::{Install, TfVersion, Workdir};
use galley_tests::tools::aws_probe;

use crate::oci_util::{Oci, PROVIDER, attr, copy_fixture_dir, workdir};
use crate::util::provider_bin;

const ADDRESS: &str = "galley_session.app";

fn config(dir: &str, extra: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "galley_session" "app" {{
  provider      = galley
  terraform_dir = "${{path.module}}/{dir}"
  display_name  = "{dir}"
  variables = {{
    greeting = "hello"
  }}
{extra}
}}
"#
    )
}

/// Terraform wraps diagnostics to the terminal width: compare text with whitespace squashed.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `session/app` stack in `dir`, the same bytes in every working directory (its destroy
/// marker is a relative path inside the job's directory), so two copies have one digest.
fn app_stack(wd: &Workdir, dir: &str) {
    copy_fixture_dir(
        "session/app",
        &wd.path().join(dir),
        &[("MARKER", "destroyed.marker")],
    );
}

#[test]
fn a_reviewed_plan_job_is_applied_and_nothing_else() {
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    app_stack(&wd, "stack");

    // Review: the stack and a PLAN job only.
    wd.write("main.tf", &config("stack", "  operation = \"plan\""));
    wd.apply();
    let id = attr(&wd, ADDRESS, "id");
    let reviewed = attr(&wd, ADDRESS, "last_job_id");
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["last_job_state"], "SUCCEEDED");
    assert_eq!(values["plan_summary"]["add"], 2);
    assert_eq!(oci.jobs(&id).len(), 1);

    // Apply exactly the reviewed job.
    wd.write(
        "main.tf",
        &config("stack", &format!("  plan_job_id = \"{reviewed}\"")),
    );
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    wd.apply();
    let jobs = oci.jobs(&id);
    assert_eq!(jobs.len(), 2, "one PLAN and one APPLY job: {jobs:?}");
    let plans: Vec<_> = jobs
        .iter()
        .filter(|j| j.operation == JobOperation::Plan)
        .collect();
    assert_eq!(plans.len(), 1, "no other PLAN job ran");
    assert_eq!(plans[0].id, reviewed);
    let apply = jobs
        .iter()
        .find(|j| j.operation == JobOperation::Apply)
        .unwrap();
    let details = apply.job_operation_details.as_ref().unwrap();
    assert_eq!(
        details.execution_plan_job_id.as_deref(),
        Some(reviewed.as_str())
    );
    assert_eq!(
        details.execution_plan_strategy.as_ref().map(|s| s.as_str()),
        Some("FROM_PLAN_JOB_ID")
    );
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["last_job_id"], apply.id.as_str());
    assert_eq!(values["outputs"]["greeting"], "hello");
    assert_eq!(
        values["plan_summary"]["add"], 2,
        "the reviewed plan's summary"
    );
    wd.assert_empty_plan();

    // A file changed after the review is refused at plan time, before any job starts.
    wd.write(
        "stack/extra.tf",
        "resource \"terraform_data\" \"extra\" {}\n",
    );
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 1, "{}", plan.combined());
    let text = squash(&plan.combined());
    for needle in [
        "The plan job cannot be applied",
        &format!("plan_job_id = \"{reviewed}\""),
        "the configuration changed: the job planned source_sha256",
        "was created after it and may have changed the stack's state",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert_eq!(oci.jobs(&id).len(), 2, "no job started");

    // Reviewed again: the new plan job applies, and a state change after it makes it stale.
    wd.write("main.tf", &config("stack", "  operation = \"plan\""));
    wd.apply();
    let second = attr(&wd, ADDRESS, "last_job_id");
    oci.block(oci.rm.create_job(&CreateJobDetails::new(
        &id,
        CreateJobOperationDetails::apply_auto_approved(None),
    )))
    .unwrap();
    wait_for_idle(&oci, &id);
    wd.write(
        "main.tf",
        &config("stack", &format!("  plan_job_id = \"{second}\"")),
    );
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 1, "{}", plan.combined());
    assert!(
        squash(&plan.combined()).contains("its saved plan is stale"),
        "{}",
        plan.combined()
    );
}

/// Waits until no job of the stack is running.
fn wait_for_idle(oci: &Oci, stack_id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let jobs = oci
            .block(oci.rm.list_all_jobs(&ListJobsRequest {
                stack_id: Some(stack_id.into()),
                ..Default::default()
            }))
            .unwrap();
        if jobs.iter().all(|j| j.lifecycle_state.is_terminal()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "jobs still running");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The jobs' CLI configuration: the galley provider under test, from a filesystem mirror in
/// `mirror` (dev_overrides would make the jobs' `terraform init` fail), for stacks that use it.
fn jobs_use_this_provider(mirror: &std::path::Path) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let dir = mirror
        .join(galley_tests::terraform::PROVIDER_SOURCE)
        .join(version)
        .join("linux_amd64");
    std::fs::create_dir_all(&dir).unwrap();
    // A link, not a copy: the debug binary is large.
    std::os::unix::fs::symlink(
        provider_bin(),
        dir.join(format!("terraform-provider-galley_v{version}")),
    )
    .unwrap();
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"galley-dev/galley\"]\n  }}\n  direct {{\n    exclude = [\"galley-dev/galley\"]\n  }}\n}}\n",
        mirror.display()
    )
}

#[test]
fn drift_of_the_stack_s_resources_shows_in_the_plan_and_apply_reconverges_it() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let mirror = tempfile::tempdir().unwrap();
    let local = LocalOci::start_with(LocalOptions {
        job_cli_config: Some(jobs_use_this_provider(mirror.path())),
        ..Default::default()
    });
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir("session/esb", &wd.path().join("stack"), &[]);
    wd.write(
        "main.tf",
        &format!(
            r#"{PROVIDER}
resource "galley_session" "app" {{
  provider      = galley
  terraform_dir = "${{path.module}}/stack"
  variables     = {{ endpoint = "{endpoint}" }}
  detect_drift  = true
}}
"#
        ),
    );
    wd.apply();
    let tables = || aws_probe("tables", &endpoint, &[]);
    assert!(tables().get("events").is_some(), "{}", tables());
    assert_eq!(attr(&wd, ADDRESS, "drift_status"), "NOT_CHECKED");
    wd.assert_empty_plan();
    wd.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(attr(&wd, ADDRESS, "drift_status"), "IN_SYNC");

    // Out of band: the table goes.
    aws_probe("delete-table", &endpoint, &["events"]);
    wd.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["drift_status"], "DRIFTED");
    assert_eq!(
        values["drifted_resources"],
        serde_json::json!(["esb_resources.tables"])
    );
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    let text = squash(&plan.combined());
    assert!(text.contains("1 to change"), "{text}");
    assert!(text.contains("The stack has drifted"), "{text}");
    assert!(text.contains("esb_resources.tables"), "{text}");

    // Apply re-converges: the jobs run again and the table is back.
    wd.apply();
    assert!(tables().get("events").is_some(), "{}", tables());
    wd.assert_empty_plan();
    wd.ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(attr(&wd, ADDRESS, "drift_status"), "IN_SYNC");
}

#[test]
fn terraform_query_lists_the_stacks_and_the_generated_configuration_imports_them() {
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    // Two stacks made by galley_session.
    let made = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    app_stack(&made, "one");
    app_stack(&made, "two");
    made.write(
        "main.tf",
        &format!(
            "{}\n{}",
            config("one", ""),
            config("two", "")
                .replace(PROVIDER, "")
                .replace("\"app\"", "\"two\"")
        ),
    );
    made.apply();
    let stacks = oci.stacks();
    assert_eq!(stacks.len(), 2);
    let jobs_before: usize = stacks.iter().map(|s| oci.jobs(&s.id).len()).sum();

    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    wd.write("main.tf", PROVIDER);
    wd.write(
        "stacks.tfquery.hcl",
        &format!(
            "list \"galley_session\" \"all\" {{\n  provider = galley\n  config {{\n    compartment_id = \"{COMPARTMENT}\"\n  }}\n}}\n"
        ),
    );
    let query = wd.ok(&["query", "-no-color"]);
    for s in &stacks {
        assert!(
            query.stdout.contains(&s.id),
            "{} missing from:\n{}",
            s.id,
            query.stdout
        );
    }
    wd.ok(&["query", "-no-color", "-generate-config-out=generated.tf"]);
    let generated = std::fs::read_to_string(wd.path().join("generated.tf")).unwrap();
    assert_eq!(
        generated.matches("resource \"galley_session\"").count(),
        2,
        "{generated}"
    );
    assert_eq!(generated.matches("import {").count(), 2, "{generated}");
    for s in &stacks {
        assert!(generated.contains(&s.id), "{generated}");
    }
    assert!(generated.contains("greeting = \"hello\""), "{generated}");
    // Terraform writes unset arguments as null: the stack keeps its configuration.
    let null_dirs = generated
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l == "terraform_dir = null")
        .count();
    assert_eq!(null_dirs, 2, "{generated}");
    assert!(!generated.contains("last_job_id"), "{generated}");
    assert!(
        !generated.contains("operation"),
        "a default is not repeated: {generated}"
    );

    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(
        plan.stdout
            .contains("2 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    wd.apply();
    wd.assert_empty_plan();
    let jobs_after: usize = stacks.iter().map(|s| oci.jobs(&s.id).len()).sum();
    assert_eq!(jobs_after, jobs_before, "importing runs no job");

    // Import by identity, into a configuration with the stack's directory.
    let by_identity = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    app_stack(&by_identity, "one");
    let one = stacks
        .iter()
        .find(|s| s.display_name.as_deref() == Some("one"))
        .unwrap();
    by_identity.write(
        "main.tf",
        &format!(
            "{}\nimport {{\n  to = galley_session.app\n  identity = {{\n    id = \"{}\"\n  }}\n}}\n",
            config("one", ""),
            one.id
        ),
    );
    let (code, plan) = by_identity.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    // Setting terraform_dir on the imported stack is a local change only: no job is planned.
    assert!(
        plan.stdout
            .contains("1 to import, 0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("(known after apply)"),
        "{}",
        plan.stdout
    );
    by_identity.apply();
    by_identity.assert_empty_plan();
    assert_eq!(attr(&by_identity, ADDRESS, "id"), one.id);
    assert_eq!(
        oci.jobs(&one.id).len(),
        2,
        "the import by identity ran no job"
    );
}

#[test]
fn a_failed_apply_reports_the_outputs_the_stack_has() {
    let local = LocalOci::start();
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir("session/failing_apply", &wd.path().join("stack"), &[]);
    wd.write("main.tf", &config("stack", ""));
    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.status, 0);
    let text = squash(&run.combined());
    assert!(text.contains("Resource Manager APPLY job failed"), "{text}");
    assert!(
        text.contains("Outputs of the stack now (also in the outputs attribute): made = made before the failure"),
        "{text}"
    );
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["last_job_state"], "FAILED");
    assert_eq!(values["outputs"]["made"], "made before the failure");
}
