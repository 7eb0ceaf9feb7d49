//! `galley_session` with real Terraform against galley-local, whose Resource Manager jobs run
//! real Terraform too: create, an empty second plan, a changed file, drift, out-of-band
//! deletion, import, destroy; a failing job; transient faults; an interrupted apply; the job
//! events of Terraform's log, read with the contract's parser as the sidecar reads them.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use galley_contract::job_event::{FollowEnd, JobEvent, JobEventKind};
use galley_contract::log_line;
use galley_contract::tf_output::TerraformError;
use galley_oci::resource_manager::{JobLifecycleState, JobOperation, UpdateStackDetails};
use galley_provider::packaging::Tree;
use galley_tests::local::{COMPARTMENT, LocalOci};
use galley_tests::terraform::{Install, TfVersion, Workdir};
use serde_json::json;

use crate::oci_util::{Oci, PROVIDER, attr, copy_fixture_dir, workdir};

const ADDRESS: &str = "galley_session.app";

fn session_config(extra: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "galley_session" "app" {{
  provider      = galley
  terraform_dir = "${{path.module}}/stack"
  display_name  = "galley-acceptance"
  variables = {{
    greeting = "hello"
    region   = "ignored"
  }}
{extra}
}}

output "greeting" {{
  value = lookup(galley_session.app.outputs, "greeting", "")
}}
"#
    )
}

/// The entries of a stack's uploaded configuration zip.
fn zip_entries(oci: &Oci, stack_id: &str) -> Vec<String> {
    let zip = oci
        .block(oci.rm.get_stack_tf_config(stack_id))
        .unwrap()
        .value;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().to_owned())
        .collect();
    names.sort();
    names
}

fn zip_file(oci: &Oci, stack_id: &str, name: &str) -> String {
    let zip = oci
        .block(oci.rm.get_stack_tf_config(stack_id))
        .unwrap()
        .value;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// Terraform wraps diagnostics to the terminal width: compare text with whitespace squashed.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn digest(dir: &Path) -> String {
    Tree::scan(dir).unwrap().digest().unwrap()
}

fn stack_dir(wd: &Workdir) -> std::path::PathBuf {
    wd.path().join("stack")
}

#[test]
fn session_lifecycle_create_update_drift_import_destroy() {
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    let marker = wd.path().join("destroyed.marker");
    let marker_text = marker.display().to_string();
    copy_fixture_dir("session/app", &stack_dir(&wd), &[("MARKER", &marker_text)]);
    // Working data that must never be uploaded.
    wd.write("stack/.terraform/providers/junk", "binary");
    wd.write("stack/terraform.tfstate", "{\"secret\": true}");
    wd.write("main.tf", &session_config(""));

    // The digest of the configuration is in the plan already.
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    let expected = digest(&stack_dir(&wd));
    assert!(
        plan.stdout
            .contains(&format!("source_sha256     = \"{expected}\"")),
        "the plan shows the source digest:\n{}",
        plan.stdout
    );
    assert!(
        plan.combined()
            .contains("Variable set by Resource Manager is not sent")
    );

    // Create: a stack, a PLAN job, an APPLY job of that plan, the outputs.
    let run = wd.apply();
    assert!(
        run.stdout.contains("greeting = \"hello\""),
        "{}",
        run.stdout
    );
    let id = attr(&wd, ADDRESS, "id");
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["last_job_state"], "SUCCEEDED");
    assert_eq!(values["source_sha256"], expected);
    assert_eq!(
        values["plan_summary"],
        json!({"add": 2, "change": 0, "destroy": 0})
    );
    assert_eq!(values["outputs"]["greeting"], "hello");
    assert_eq!(values["outputs"]["compartment"], COMPARTMENT);
    assert_eq!(values["outputs"]["numbers"], "[1,2]");
    assert!(values["outputs"].get("token").is_none());
    assert_eq!(values["display_name"], "galley-acceptance");
    assert!(
        values["log_tail"]
            .as_str()
            .unwrap()
            .contains("Apply complete!"),
        "{}",
        values["log_tail"]
    );
    let jobs = oci.jobs(&id);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let apply_job = jobs
        .iter()
        .find(|j| j.operation == JobOperation::Apply)
        .expect("an APPLY job");
    assert_eq!(values["last_job_id"], apply_job.id.as_str());
    let plan_job = jobs
        .iter()
        .find(|j| j.operation == JobOperation::Plan)
        .unwrap();
    assert_eq!(
        apply_job.resolved_plan_job_id.as_deref(),
        Some(plan_job.id.as_str())
    );
    // What was uploaded: relative paths, without working data, state or ignored files.
    assert_eq!(zip_entries(&oci, &id), vec!["main.tf".to_string()]);
    let stack = oci.block(oci.rm.get_stack(&id)).unwrap().value;
    let sent: Vec<_> = stack.variables.clone().unwrap().into_keys().collect();
    assert_eq!(sent, vec!["greeting".to_string()], "region is not sent");
    assert_eq!(
        stack.freeform_tags.as_ref().unwrap()["galley-source-sha256"],
        expected
    );

    // Nothing changed: the second plan is empty.
    wd.assert_empty_plan();

    // A changed file is an in-place update: same stack, new jobs.
    wd.write(
        "stack/extra.tf",
        "resource \"terraform_data\" \"extra\" {\n  input = \"more\"\n}\n",
    );
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(plan.stdout.contains("~ source_sha256"), "{}", plan.stdout);
    assert!(plan.stdout.contains("1 to change"), "{}", plan.stdout);
    wd.apply();
    assert_eq!(attr(&wd, ADDRESS, "id"), id);
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(
        values["plan_summary"],
        json!({"add": 1, "change": 0, "destroy": 0})
    );
    assert_eq!(values["source_sha256"], digest(&stack_dir(&wd)));
    assert!(zip_file(&oci, &id, "extra.tf").contains("more"));
    assert_eq!(oci.jobs(&id).len(), 4);
    wd.assert_empty_plan();

    // Drift: variables and configuration changed out of band show in the plan and are undone.
    oci.block(oci.rm.update_stack(
        &id,
        &UpdateStackDetails {
            variables: Some([("greeting".to_string(), "drifted".to_string())].into()),
            freeform_tags: Some([("galley-source-sha256".to_string(), "0".repeat(64))].into()),
            ..Default::default()
        },
        None,
    ))
    .unwrap();
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(
        plan.stdout.contains("\"drifted\" -> \"hello\""),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("~ source_sha256"), "{}", plan.stdout);
    wd.apply();
    let stack = oci.block(oci.rm.get_stack(&id)).unwrap().value;
    assert_eq!(stack.variables.unwrap()["greeting"], "hello");
    assert_eq!(
        stack.freeform_tags.unwrap()["galley-source-sha256"],
        digest(&stack_dir(&wd))
    );
    wd.assert_empty_plan();

    // Import: the stack is adopted by OCID; nothing runs again for it.
    let bad = wd.run(&["import", "-no-color", ADDRESS, "my-stack"]);
    assert_ne!(bad.status, 0);
    assert!(
        squash(&bad.combined()).contains(
            "\"my-stack\" is not a stack OCID. Expected the OCID of a Resource Manager stack"
        ),
        "{}",
        bad.combined()
    );
    wd.ok(&["state", "rm", ADDRESS]);
    wd.ok(&["import", "-no-color", ADDRESS, &id]);
    let imported = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(imported["source_sha256"], digest(&stack_dir(&wd)));
    assert_eq!(imported["last_job_state"], "SUCCEEDED");
    assert_eq!(imported["outputs"]["greeting"], "hello");
    let jobs_before = oci.jobs(&id).len();
    wd.apply();
    assert_eq!(oci.jobs(&id).len(), jobs_before, "an import runs no job");
    wd.assert_empty_plan();

    // Deleted out of band: refresh drops it and the plan creates it again.
    oci.block(oci.rm.delete_stack(&id, None)).unwrap();
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2, "{}", plan.combined());
    assert!(plan.stdout.contains("will be created"), "{}", plan.stdout);
    wd.apply();
    let recreated = attr(&wd, ADDRESS, "id");
    assert_ne!(recreated, id);

    // Destroy: a DESTROY job (the marker proves it ran), then the stack is deleted.
    assert!(!marker.exists());
    wd.destroy();
    assert!(
        marker.exists(),
        "the DESTROY job ran the destroy-time provisioner"
    );
    assert!(oci.stacks().is_empty(), "{:?}", oci.stacks());
}

#[test]
fn a_failing_job_reports_terraform_errors_and_keeps_the_stack() {
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir("session/broken", &stack_dir(&wd), &[]);
    wd.write("main.tf", &session_config(""));

    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.status, 0);
    let text = squash(&run.combined());
    for needle in [
        "Resource Manager PLAN job failed",
        "TERRAFORM_EXECUTION_ERROR",
        "Error: Reference to undeclared input variable",
        "on main.tf line 6",
        "opc-request-id:",
        "The stack was kept",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let failed = attr(&wd, ADDRESS, "id");
    let values = wd.resource_values(ADDRESS).unwrap();
    assert_eq!(values["last_job_state"], "FAILED");
    assert_eq!(oci.stacks().len(), 1);

    // Fixed: the stack whose create failed is replaced (Terraform tainted it).
    wd.write(
        "stack/main.tf",
        "output \"fixed\" {\n  value = \"yes\"\n}\n",
    );
    wd.apply();
    let stacks = oci.stacks();
    assert_eq!(stacks.len(), 1, "exactly one stack: {stacks:?}");
    let id = attr(&wd, ADDRESS, "id");
    assert_ne!(id, failed);
    assert_eq!(stacks[0].id, id);
    assert_eq!(
        wd.resource_values(ADDRESS).unwrap()["outputs"]["fixed"],
        "yes"
    );

    // A failing update is not tainted: the next apply continues in place on the same stack.
    wd.write(
        "stack/main.tf",
        "output \"fixed\" {\n  value = var.nope\n}\n",
    );
    let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(run.status, 0, "{}", run.combined());
    assert!(
        squash(&run.combined()).contains("on main.tf line 2"),
        "{}",
        run.combined()
    );
    assert_eq!(attr(&wd, ADDRESS, "last_job_state"), "FAILED");
    wd.write(
        "stack/main.tf",
        "output \"fixed\" {\n  value = \"again\"\n}\n",
    );
    let (code, plan) = wd.plan_exit_code(&[]);
    assert_eq!(code, 2);
    assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
    wd.apply();
    assert_eq!(attr(&wd, ADDRESS, "id"), id);
    assert_eq!(attr(&wd, ADDRESS, "last_job_state"), "SUCCEEDED");
    wd.assert_empty_plan();
    wd.destroy();
    assert!(oci.stacks().is_empty());
}

#[test]
fn transient_faults_are_retried_and_create_exactly_one_stack() {
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    let wd = workdir(&local, TfVersion::Latest, Install::DevOverrides);
    copy_fixture_dir(
        "session/app",
        &stack_dir(&wd),
        &[("MARKER", &wd.path().join("m").display().to_string())],
    );
    wd.write("main.tf", &session_config(""));
    for fault in [
        json!({"route": "POST /20180917/stacks", "kind": "status", "status": 429, "retry_after_secs": 1}),
        json!({"route": "POST /20180917/stacks", "kind": "status", "status": 500}),
        json!({"route": "POST /20180917/jobs", "kind": "status", "status": 503}),
        json!({"route": "GET /20180917/jobs/*", "kind": "status", "status": 500, "count": 2}),
        json!({"route": "GET /20180917/jobs/*/logs", "kind": "status", "status": 429, "retry_after_secs": 1}),
    ] {
        local.arm_fault(&fault);
    }
    wd.apply();
    let stacks = oci.stacks();
    assert_eq!(stacks.len(), 1, "exactly one stack: {stacks:?}");
    assert_eq!(attr(&wd, ADDRESS, "id"), stacks[0].id);
    assert_eq!(attr(&wd, ADDRESS, "last_job_state"), "SUCCEEDED");
    assert_eq!(
        oci.jobs(&stacks[0].id).len(),
        2,
        "one PLAN and one APPLY job"
    );
    assert_eq!(local.faults(), json!([]), "every fault was hit");
    wd.destroy();
}

#[test]
fn interrupt_during_apply_cancels_the_job_and_keeps_the_stack() {
    let local = LocalOci::start();
    let oci = Oci::new(&local);
    // A real Go binary, so SIGINT reaches Terraform's own handler.
    let wd = workdir(&local, TfVersion::V1_0, Install::PluginDir);
    copy_fixture_dir("session/slow", &stack_dir(&wd), &[]);
    wd.write("main.tf", &session_config(""));
    wd.init();
    let mut apply = wd.command(&["apply", "-auto-approve", "-no-color"]);
    apply
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // Ctrl-C in a terminal signals the whole foreground process group: reproduce that with a
    // group of its own (see the same test of esb_resources).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut apply, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    let child = apply.spawn().unwrap();
    // Wait for the APPLY job to be running terraform.
    let deadline = Instant::now() + Duration::from_secs(90);
    let (stack_id, job_id) = loop {
        assert!(Instant::now() < deadline, "the APPLY job never started");
        let running = oci.stacks().into_iter().find_map(|s| {
            oci.jobs(&s.id)
                .into_iter()
                .find(|j| {
                    j.operation == JobOperation::Apply
                        && j.lifecycle_state == JobLifecycleState::InProgress
                })
                .map(|j| (s.id.clone(), j.id))
        });
        if let Some(found) = running {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Give terraform a moment to reach the provisioner.
    std::thread::sleep(Duration::from_secs(2));
    let interrupted = Instant::now();
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let took = interrupted.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "apply must report the interruption:\n{text}"
    );
    assert!(
        took < Duration::from_secs(30),
        "Stop took {took:?}:\n{text}"
    );
    assert!(text.contains("Interrupted"), "{text}");
    // Where the job stands, and how to check on it.
    let squashed = squash(&text);
    assert!(squashed.contains(&format!("APPLY job {job_id}")), "{text}");
    assert!(
        squashed.contains(&format!("oci resource-manager job get --job-id {job_id}")),
        "{text}"
    );
    let job = oci.block(oci.rm.get_job(&job_id)).unwrap().value;
    assert_eq!(job.lifecycle_state, JobLifecycleState::Canceled);
    let values = wd.resource_values(ADDRESS).expect("the stack is in state");
    assert_eq!(values["id"], stack_id.as_str());
    assert_eq!(values["last_job_id"], job_id.as_str());
    assert_eq!(values["last_job_state"], "CANCELED");
}

/// The job events of a run's stderr (`TF_LOG_PROVIDER=INFO`), read as the sidecar reads them.
fn job_events(stderr: &str) -> Vec<JobEvent> {
    stderr
        .lines()
        .filter_map(log_line::parse_terraform_line)
        .collect()
}

/// The contract with the sidecar, end to end: a failing PLAN job's events as real Terraform
/// renders the provider's log, with the log format of current Terraform and of Terraform 1.0.
#[test]
fn job_events_reach_terraform_s_log_as_the_contract_defines_them() {
    for (version, install) in [
        (TfVersion::Latest, Install::DevOverrides),
        (TfVersion::V1_0, Install::PluginDir),
    ] {
        let local = LocalOci::start();
        let mut wd = workdir(&local, version, install);
        wd.env("TF_LOG_PROVIDER", "INFO");
        copy_fixture_dir("session/broken", &stack_dir(&wd), &[]);
        wd.write("main.tf", &session_config(""));
        wd.init();
        let run = wd.run(&["apply", "-auto-approve", "-no-color"]);
        assert_ne!(run.status, 0, "{}", run.combined());
        let events = job_events(&run.stderr);
        let context = format!("{version:?}:\n{}", run.stderr);
        let stack = attr(&wd, ADDRESS, "id");
        let job = attr(&wd, ADDRESS, "last_job_id");

        // Every event names the job, its operation and its stack.
        assert!(!events.is_empty(), "no job events in {context}");
        for e in &events {
            assert_eq!(e.job_id, job, "{context}");
            assert_eq!(e.operation.as_deref(), Some("PLAN"), "{context}");
            assert_eq!(e.stack_id.as_deref(), Some(stack.as_str()), "{context}");
        }
        assert_eq!(
            events[0].kind,
            JobEventKind::Started {
                state: "ACCEPTED".into()
            },
            "{context}"
        );
        // The job's own lines, whole: quotes and all.
        let logged: Vec<&str> = events
            .iter()
            .filter_map(|e| match &e.kind {
                JobEventKind::Log { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            logged
                .iter()
                .any(|l| l.contains("Error: Reference to undeclared input variable")),
            "{context}"
        );
        assert!(
            logged
                .iter()
                .any(|l| l.contains("on main.tf line 6, in output \"broken\":")),
            "{logged:#?}"
        );
        let errors: Vec<&TerraformError> = events
            .iter()
            .filter_map(|e| match &e.kind {
                JobEventKind::Error(e) => Some(e),
                _ => None,
            })
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.summary == "Reference to undeclared input variable"
                    && e.file.as_deref() == Some("main.tf")
                    && e.line == Some(6)),
            "{errors:#?}\n{context}"
        );
        let JobEventKind::Finished {
            state,
            ending,
            failure,
            summary,
        } = &events.last().unwrap().kind
        else {
            panic!("the last event is not job_finished: {context}");
        };
        assert_eq!(state, "FAILED");
        assert_eq!(*ending, FollowEnd::Finished);
        assert_eq!(
            failure.as_ref().map(|f| f.code.as_str()),
            Some("TERRAFORM_EXECUTION_ERROR")
        );
        assert_eq!(*summary, None);
    }
}
