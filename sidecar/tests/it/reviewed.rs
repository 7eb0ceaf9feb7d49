//! Applying exactly the reviewed plan, and drift, on the local OCI engine through the sidecar's
//! MCP stdio interface: run_terraform_plan runs a Resource Manager PLAN job and its token binds
//! that job; run_terraform_apply runs one APPLY job whose executionPlanJobId is that job, with no
//! other PLAN job in between; a file changed after the review is refused before any job starts;
//! detect_drift reports IN_SYNC after the apply and DRIFTED once a resource of the stack is
//! deleted out of band; a plan that would replace the stack is refused. The stack is a DynamoDB
//! table of moto managed by the Galley provider (the jobs' Terraform finds it in a filesystem
//! mirror), a resource whose refresh sees drift. Runs with Terraform 1.15 and 1.0; and with 1.11,
//! a second sidecar on the same bucket applies the job the first one planned.

use std::path::Path;

use galley_tests::local::{LocalOci, LocalOptions};
use galley_tests::servers::Moto;
use galley_tests::tools::aws_probe;
use serde_json::{Value, json};

use crate::local_engine::{Rm, provider_dir, sidecar_env};
use crate::util::{self, StdioSidecar};

/// The jobs' CLI configuration: the Galley provider of this workspace from a filesystem mirror
/// in `mirror` (the jobs run `terraform init`, which dev_overrides would fail).
fn jobs_use_this_provider(mirror: &Path, providers: &Path) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let dir = mirror
        .join("registry.terraform.io/galley-dev/galley")
        .join(version)
        .join("linux_amd64");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::os::unix::fs::symlink(
        providers.join("terraform-provider-galley"),
        dir.join(format!("terraform-provider-galley_v{version}")),
    )
    .expect("link the provider");
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"galley-dev/galley\"]\n  }}\n  direct {{\n    exclude = [\"galley-dev/galley\"]\n  }}\n}}\n",
        mirror.display()
    )
}

/// The stack: one DynamoDB table of the server at `var.endpoint`.
const STACK: &str = r#"terraform {
  required_providers {
    galley = { source = "galley-dev/galley" }
  }
}

variable "endpoint" {
  type = string
}

provider "galley" {}

resource "esb_resources" "tables" {
  provider          = galley
  resources_yaml    = <<-EOT
    DynamoDB:
      - TableName: events
        KeySchema: [{AttributeName: id, KeyType: HASH}]
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
  EOT
  dynamodb_endpoint = var.endpoint
  s3_endpoint       = var.endpoint
  region            = "us-east-1"
  access_key        = "esb"
  secret_key        = "esbsecret"
}
"#;

fn call_ok(s: &mut StdioSidecar, tool: &str, args: Value) -> Value {
    let (err, out, text) = s.call(tool, args);
    assert!(!err, "{tool}: {text}\n{out}");
    out
}

#[test]
fn apply_runs_the_reviewed_plan_job_and_drift_is_detected() {
    reviewed_plan_and_drift("terraform");
}

#[test]
fn apply_runs_the_reviewed_plan_job_with_terraform_1_0() {
    reviewed_plan_and_drift("terraform-1.0");
}

/// The whole scenario with the runner's Terraform `terraform` (a launcher of `.tools/bin`).
fn reviewed_plan_and_drift(terraform: &str) {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let providers = tempfile::tempdir().expect("tempdir");
    let mirror = tempfile::tempdir().expect("tempdir");
    let providers = provider_dir(providers.path());
    let local = LocalOci::start_with(LocalOptions {
        job_cli_config: Some(jobs_use_this_provider(mirror.path(), &providers)),
        ..Default::default()
    });
    let rm = Rm::new(&local);
    let env = sidecar_env(&local, &providers, terraform);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut s = StdioSidecar::start(&env);
    s.wait = std::time::Duration::from_secs(240);

    let sid = call_ok(&mut s, "create_session", json!({}))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(util::fixture("full-architecture.json")).expect("fixture"),
    )
    .expect("json");
    call_ok(
        &mut s,
        "save_architecture",
        json!({"session_id": sid, "components": fixture["components"], "connections": fixture["connections"]}),
    );
    call_ok(&mut s, "export_iac", json!({"session_id": sid}));
    for (file, content) in [
        ("main.tf", STACK),
        (
            "components.tf",
            "# none: the local engine has no OCI provider\n",
        ),
        ("outputs.tf", "# none\n"),
    ] {
        call_ok(
            &mut s,
            "update_terraform_file",
            json!({"session_id": sid, "file_path": file, "new_content": content}),
        );
    }
    let (err, _, text) = s.call("detect_drift", json!({"session_id": sid}));
    assert!(
        err && text.contains("no Resource Manager stack yet"),
        "{text}"
    );

    let vars = json!({"endpoint": endpoint});
    let plan = call_ok(
        &mut s,
        "run_terraform_plan",
        json!({"session_id": sid, "variables": vars}),
    );
    assert_eq!(plan["success"], true, "{plan}");
    assert_eq!(plan["plan_summary"]["add"], 1, "{plan}");
    let reviewed = plan["plan_job_id"]
        .as_str()
        .expect("plan_job_id")
        .to_string();
    assert_eq!(plan["job_id"], reviewed.as_str(), "{plan}");
    let stack = plan["stack_id"].as_str().expect("stack").to_string();
    assert_eq!(rm.job(&reviewed).operation.to_string(), "PLAN");
    let token = plan["plan_token"].as_str().expect("token").to_string();
    let before = rm.jobs(&stack);
    assert!(aws_probe("tables", &endpoint, &[]).get("events").is_none());

    let applied = call_ok(
        &mut s,
        "run_terraform_apply",
        json!({"session_id": sid, "plan_token": token}),
    );
    assert_eq!(applied["success"], true, "{applied}");
    assert_eq!(applied["plan_job_id"], reviewed.as_str(), "{applied}");
    let apply_job = applied["job_id"].as_str().expect("job").to_string();
    let job = rm.job(&apply_job);
    assert_eq!(job.operation.to_string(), "APPLY");
    let details = job.job_operation_details.expect("jobOperationDetails");
    assert_eq!(
        details.execution_plan_job_id.as_deref(),
        Some(reviewed.as_str())
    );
    assert_eq!(
        details
            .execution_plan_strategy
            .map(|s| s.as_str().to_string()),
        Some("FROM_PLAN_JOB_ID".to_string())
    );
    // Exactly one job more: the APPLY job; no PLAN job ran between the review and it.
    let after = rm.jobs(&stack);
    let new: Vec<&(String, String)> = after.iter().filter(|j| !before.contains(j)).collect();
    assert_eq!(
        new,
        [&(apply_job.clone(), "APPLY".to_string())],
        "{after:?}"
    );
    assert!(aws_probe("tables", &endpoint, &[]).get("events").is_some());

    // Drift: in sync after the apply; a table deleted out of band modifies the resource
    // holding it (it is still there, with one table less).
    let drift = call_ok(&mut s, "detect_drift", json!({"session_id": sid}));
    assert_eq!(drift["drift_status"], "IN_SYNC", "{drift}");
    assert_eq!(drift["stack_id"], stack.as_str());
    assert_eq!(drift["drifted_resources"], json!([]));
    aws_probe("delete-table", &endpoint, &["events"]);
    let drift = call_ok(&mut s, "detect_drift", json!({"session_id": sid}));
    assert_eq!(drift["drift_status"], "DRIFTED", "{drift}");
    assert_eq!(
        drift["drifted_resources"],
        json!([{"address": "esb_resources.tables", "status": "MODIFIED"}]),
        "{drift}"
    );
    // A file changed after the review: refused before any job starts.
    let plan = call_ok(
        &mut s,
        "run_terraform_plan",
        json!({"session_id": sid, "variables": vars}),
    );
    let token = plan["plan_token"].as_str().expect("token").to_string();
    let jobs = rm.jobs(&stack);
    let stack_dir = s.data.path().join("sessions").join(&sid).join("terraform");
    std::fs::write(stack_dir.join("extra.tf"), "# edited after the review\n").expect("write");
    let (err, _, text) = s.call(
        "run_terraform_apply",
        json!({"session_id": sid, "plan_token": token}),
    );
    assert!(err && text.contains("changed after the plan"), "{text}");
    assert_eq!(rm.jobs(&stack), jobs, "no job may start");
    std::fs::remove_file(stack_dir.join("extra.tf")).expect("rm");

    // A plan that would replace the stack (another compartment) is refused, and no job runs.
    let jobs = rm.jobs(&stack);
    let (err, refused, text) = s.call(
        "run_terraform_plan",
        json!({"session_id": sid, "variables": {"endpoint": endpoint, "compartment_ocid": "ocid1.compartment.oc1..elsewhere"}}),
    );
    assert!(
        err && text.contains("The stack would be replaced"),
        "{text}"
    );
    assert!(refused["plan_token"].is_null(), "{refused}");
    assert_eq!(rm.jobs(&stack), jobs, "no job may start");

    // The stack's last job is now a PLAN job: Resource Manager detects no drift on it.
    let (err, _, text) = s.call("detect_drift", json!({"session_id": sid}));
    assert!(
        err && text.contains("is PLAN job") && text.contains("run_terraform_apply"),
        "{text}"
    );
}

/// A session (and its stack) with a `terraform_data` resource, planned by `s`.
fn planned_session(s: &mut StdioSidecar) -> (String, Value) {
    let sid = call_ok(s, "create_session", json!({}))["id"]
        .as_str()
        .expect("id")
        .to_string();
    call_ok(
        s,
        "save_architecture",
        json!({"session_id": sid, "components": [{"id": "net", "service_type": "vcn", "display_name": "net"}], "connections": []}),
    );
    call_ok(s, "export_iac", json!({"session_id": sid}));
    for (file, content) in [
        (
            "main.tf",
            "variable \"greeting\" {\n  type = string\n}\n\nresource \"terraform_data\" \"app\" {\n  input = var.greeting\n}\n",
        ),
        ("components.tf", "# none: no OCI provider here\n"),
        ("outputs.tf", "# none\n"),
    ] {
        call_ok(
            s,
            "update_terraform_file",
            json!({"session_id": sid, "file_path": file, "new_content": content}),
        );
    }
    let plan = call_ok(
        s,
        "run_terraform_plan",
        json!({"session_id": sid, "variables": {"greeting": "hello"}}),
    );
    assert_eq!(plan["success"], true, "{plan}");
    (sid, plan)
}

#[test]
fn a_second_sidecar_on_the_bucket_applies_the_job_the_first_one_planned() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let providers = provider_dir(providers.path());
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(crate::store::object_storage(&local));
        rt.block_on(crate::store::new_bucket(&client, "galley-reviewed"));
    }
    let mut env = sidecar_env(&local, &providers, "terraform-1.11");
    env.push(("GALLEY_STATE_BUCKET".into(), "galley-reviewed".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let mut first = StdioSidecar::start(&env);
    first.wait = std::time::Duration::from_secs(240);
    let (sid, plan) = planned_session(&mut first);
    let reviewed = plan["plan_job_id"]
        .as_str()
        .expect("plan_job_id")
        .to_string();
    let stack = plan["stack_id"].as_str().expect("stack").to_string();
    let token = plan["plan_token"].as_str().expect("token").to_string();
    drop(first);

    // Another process with an empty cache: the pending plan, its variables and the runner's
    // state come from the bucket.
    let mut second = StdioSidecar::start(&env);
    second.wait = std::time::Duration::from_secs(240);
    let before = rm.jobs(&stack);
    let applied = call_ok(
        &mut second,
        "run_terraform_apply",
        json!({"session_id": sid, "plan_token": token}),
    );
    assert_eq!(applied["success"], true, "{applied}");
    assert_eq!(applied["plan_job_id"], reviewed.as_str(), "{applied}");
    let apply_job = applied["job_id"].as_str().expect("job").to_string();
    let details = rm
        .job(&apply_job)
        .job_operation_details
        .expect("jobOperationDetails");
    assert_eq!(
        details.execution_plan_job_id.as_deref(),
        Some(reviewed.as_str())
    );
    let after = rm.jobs(&stack);
    let new: Vec<&(String, String)> = after.iter().filter(|j| !before.contains(j)).collect();
    assert_eq!(new, [&(apply_job, "APPLY".to_string())], "{after:?}");
}
