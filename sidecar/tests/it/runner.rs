//! The Terraform runner against the real `terraform` CLI. Without a provider build in the
//! override directory Terraform must fail at loading `galley-dev/galley` from that directory
//! (proving the CLI configuration and root module are read, and no registry is asked), and the
//! failure must come back as a structured outcome with the streamed log.

use std::collections::BTreeMap;

use galley_sidecar::oci::{OciSettings, ResourceManager};
use galley_sidecar::runner::{Origin, RunEvent, RunRequest, Runner, TerraformRunner};
use tokio_util::sync::CancellationToken;

use crate::util;

#[tokio::test]
async fn plan_uses_the_dev_override_and_reports_terraform_errors() {
    let session = tempfile::tempdir().expect("tempdir");
    let provider_dir = tempfile::tempdir().expect("tempdir");
    let stack = session.path().join("terraform");
    std::fs::create_dir_all(&stack).expect("mkdir");
    std::fs::write(stack.join("main.tf"), "variable \"region\" {}\n").expect("write");
    let runner = TerraformRunner::new(
        util::tool("terraform"),
        provider_dir.path().to_path_buf(),
        ResourceManager::new(OciSettings::default()),
    );
    let req = RunRequest {
        session_id: "s-aaaaaaaaaaaa".into(),
        stack_dir: stack,
        work_dir: session.path().join("runner"),
        variables: BTreeMap::from([
            ("compartment_ocid".into(), "ocid1.compartment.oc1..x".into()),
            ("shape".into(), "VM".into()),
        ]),
        plan_file: None,
        plan_job_id: None,
        remote_state: None,
        recover: false,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = runner
        .plan(req, tx, CancellationToken::new())
        .await
        .expect("terraform ran");
    let mut logs = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let RunEvent::Log(l) = ev {
            logs.push(l);
        }
    }
    assert!(!outcome.success);
    assert!(outcome.plan_file.is_none());
    let all = logs.join("\n");
    assert!(
        all.contains("development overrides"),
        "the dev override was used:\n{all}"
    );
    // The run log keeps everything Terraform printed, details included.
    let log = std::fs::read_to_string(session.path().join("runner/plan.log")).expect("run log");
    assert!(
        log.contains(&provider_dir.path().display().to_string()),
        "{log}"
    );
    assert!(
        outcome
            .errors
            .iter()
            .any(|e| e.summary.contains("Failed to load plugin schemas")
                || e.detail.contains("terraform-provider-galley")),
        "{:?}",
        outcome.errors
    );
    assert!(outcome.errors.iter().all(|e| e.origin == Origin::Runner));
    assert!(!outcome.log_tail.is_empty());
    // Stack variables go to the Resource Manager stack; compartment_ocid to the root module.
    let vars = std::fs::read_to_string(session.path().join("runner/galley.auto.tfvars.json"))
        .expect("tfvars");
    let v: serde_json::Value = serde_json::from_str(&vars).expect("json");
    assert_eq!(v["compartment_ocid"], "ocid1.compartment.oc1..x");
    assert_eq!(v["stack_variables"], serde_json::json!({"shape": "VM"}));
}
