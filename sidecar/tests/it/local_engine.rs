//! The sidecar deploying for real: galley-local (the local OCI engine, whose Resource Manager
//! jobs run real Terraform) started with a generated API key it trusts, the Galley provider
//! built from this workspace, and the sidecar given the OCI config file and endpoint the
//! provider reads. Real clients (the Python MCP SDK in legacy and 2026-07-28 modes over stdio and
//! HTTP, the MCP Inspector CLI) drive whole sessions; an independent galley-oci client checks
//! the engine's side. Cancelling an apply must interrupt Terraform and cancel the job.
//!
//! Needs `cargo build -p terraform-provider-galley -p galley-local` before
//! `cargo test -p galley-sidecar` (a workspace test run builds both); the panic says so.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use galley_oci::resource_manager::{
    JobLifecycleState, ListStacksRequest, ResourceManagerClient, StackLifecycleState,
};
use galley_oci::setup::{self, SetupInputs};
use galley_tests::local::LocalOci;
use serde_json::Value;

use crate::util::{self, HttpSidecar};

/// The provider binary, copied into `dir` so a concurrent rebuild cannot swap it mid-test.
pub(crate) fn provider_dir(dir: &Path) -> PathBuf {
    let name = "terraform-provider-galley";
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("GALLEY_PROVIDER_BIN") {
        candidates.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        // <target>/<profile>/deps/<test binary>: the provider sits in <target>/<profile>.
        candidates.extend(exe.ancestors().skip(1).take(3).map(|d| d.join(name)));
    }
    let found = candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} was not found next to this test: run `cargo build -p \
                 terraform-provider-galley` (a workspace test run builds it) or set \
                 GALLEY_PROVIDER_BIN"
            )
        });
    let to = dir.join(name);
    std::fs::copy(&found, &to).expect("copy the provider");
    dir.to_path_buf()
}

/// What a sidecar needs to deploy on `local` with Terraform `terraform`.
pub(crate) fn sidecar_env(
    local: &LocalOci,
    providers: &Path,
    terraform: &str,
) -> Vec<(String, String)> {
    let mut env = local.env();
    env.push((
        "GALLEY_TERRAFORM".into(),
        util::tool(terraform).display().to_string(),
    ));
    env.push((
        "GALLEY_PROVIDER_DIR".into(),
        providers.display().to_string(),
    ));
    env
}

/// Runs a client script; returns its JSON summary line.
pub(crate) fn client(
    script: &str,
    mode: &str,
    target: &[&str],
    env: &[(String, String)],
    extra: &[&str],
) -> Value {
    let mut cmd = Command::new(util::python());
    cmd.arg(util::crate_dir().join("tests/clients").join(script))
        .arg(mode)
        .args(target)
        .arg("--fixture")
        .arg(util::fixture("full-architecture.json"))
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(300));
    assert!(ok, "{script} ({mode} {target:?}) failed:\n{out}\n{err}");
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad summary {line:?}: {e}\n{err}"))
}

/// An independent view of the engine: a signed galley-oci client with the same key.
pub(crate) struct Rm {
    rt: tokio::runtime::Runtime,
    rm: ResourceManagerClient,
}

impl Rm {
    pub(crate) fn new(local: &LocalOci) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // The set-up the sidecar and the provider share, from the environment they get.
        let env: HashMap<String, String> = local.env().into_iter().collect();
        let lookup = move |k: &str| env.get(k).cloned();
        let rm = rt
            .block_on(setup::build_clients(
                &SetupInputs::from_env(&lookup),
                &lookup,
                "galley-sidecar-tests",
            ))
            .expect("OCI set-up")
            .resource_manager;
        Rm { rt, rm }
    }

    pub(crate) fn job_state(&self, id: &str) -> JobLifecycleState {
        self.rt
            .block_on(self.rm.get_job(id))
            .unwrap_or_else(|e| panic!("GetJob {id}: {e}"))
            .value
            .lifecycle_state
    }

    /// The job as the engine records it.
    pub(crate) fn job(&self, id: &str) -> galley_oci::resource_manager::Job {
        self.rt
            .block_on(self.rm.get_job(id))
            .unwrap_or_else(|e| panic!("GetJob {id}: {e}"))
            .value
    }

    /// The jobs of a stack: (id, operation).
    pub(crate) fn jobs(&self, stack: &str) -> Vec<(String, String)> {
        let mut jobs: Vec<(String, String)> = self
            .rt
            .block_on(
                self.rm
                    .list_all_jobs(&galley_oci::resource_manager::ListJobsRequest {
                        stack_id: Some(stack.into()),
                        ..Default::default()
                    }),
            )
            .expect("ListJobs")
            .into_iter()
            .map(|j| (j.id, j.operation.to_string()))
            .collect();
        jobs.sort();
        jobs
    }

    /// The stacks of the engine's compartment that are not deleted: (id, free-form tags).
    pub(crate) fn stacks(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.rt
            .block_on(self.rm.list_all_stacks(&ListStacksRequest {
                compartment_id: Some(galley_tests::local::COMPARTMENT.into()),
                ..ListStacksRequest::default()
            }))
            .expect("ListStacks")
            .into_iter()
            .filter(|s| s.lifecycle_state != StackLifecycleState::Deleted)
            .map(|s| (s.id, s.freeform_tags.unwrap_or_default()))
            .collect()
    }

    /// The stack's state, or `None` when the engine no longer knows it.
    pub(crate) fn stack(&self, id: &str) -> Option<(StackLifecycleState, Option<String>)> {
        match self.rt.block_on(self.rm.get_stack(id)) {
            Ok(r) => Some((r.value.lifecycle_state, r.value.display_name)),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("GetStack {id}: {e}"),
        }
    }
}

pub(crate) fn assert_deployed_and_destroyed(seen: &Value, rm: &Rm, marker: &Path) {
    assert_eq!(seen["ok"], true, "{seen}");
    // The DESTROY job ran the stack's destroy provisioner, and the stack is gone.
    assert_eq!(
        std::fs::read_to_string(marker).unwrap_or_default().trim(),
        "destroyed"
    );
    let stack = seen["stack_id"].as_str().expect("stack id");
    assert!(
        rm.stack(stack)
            .is_none_or(|(state, _)| state == StackLifecycleState::Deleted),
        "the stack was deleted"
    );
}

#[test]
fn python_sdk_deploys_and_destroys_over_stdio_in_legacy_and_2026_modes() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let env0 = sidecar_env(&local, &provider_dir(providers.path()), "terraform");
    let bin = util::sidecar_bin();
    let bin = bin.to_str().expect("utf-8");
    for mode in ["legacy", "2026-07-28"] {
        let data = tempfile::tempdir().expect("tempdir");
        let marker = data.path().join("destroyed.marker");
        let mut env = env0.clone();
        env.push(("GALLEY_DATA_DIR".into(), data.path().display().to_string()));
        let seen = client(
            "deploy_session.py",
            mode,
            &["stdio", bin, "--stdio"],
            &env,
            &["--marker", marker.to_str().expect("utf-8")],
        );
        assert_deployed_and_destroyed(&seen, &rm, &marker);
        assert!(seen["progress"].as_u64().is_some_and(|n| n > 10), "{seen}");
        // The session file records the stack and the last job.
        let sid = seen["session_id"].as_str().expect("sid");
        let session: Value = serde_json::from_str(
            &std::fs::read_to_string(data.path().join("sessions").join(sid).join("session.json"))
                .expect("session.json"),
        )
        .expect("json");
        assert_eq!(session["status"], "destroyed");
        assert_eq!(session["rm_stack_id"], seen["stack_id"]);
        assert_eq!(session["last_job_id"], seen["destroy_job"]);
    }
}

#[test]
fn python_sdk_deploys_and_destroys_over_http_with_the_url_token() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let env = sidecar_env(&local, &provider_dir(providers.path()), "terraform");
    let mut server_env: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    server_env.push(("GALLEY_URL_TOKEN", "deploy-t0ken"));
    let server = HttpSidecar::start(&server_env);
    let url = format!("{}?token=deploy-t0ken", server.mcp_url());
    for mode in ["legacy", "2026-07-28"] {
        let marks = tempfile::tempdir().expect("tempdir");
        let marker = marks.path().join("destroyed.marker");
        let seen = client(
            "deploy_session.py",
            mode,
            &["http", &url],
            &[],
            &["--marker", marker.to_str().expect("utf-8")],
        );
        assert_deployed_and_destroyed(&seen, &rm, &marker);
    }
}

/// The inspector's JSON output; `ok`: whether it must exit successfully (it does not when a
/// tool call returns an error result).
fn inspector(args: &[&str], env: &[(String, String)], ok: bool) -> Value {
    let mut cmd = Command::new(util::tool("mcp-inspector"));
    cmd.arg("--cli");
    for (k, v) in env {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    cmd.arg(util::sidecar_bin()).arg("--stdio").args(args);
    let (exited_ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(180));
    assert!(exited_ok || !ok, "inspector {args:?} failed:\n{out}\n{err}");
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("inspector output is not JSON ({e}):\n{out}\n{err}"))
}

/// The whole `tools/call` result; `ok`: whether the call must succeed.
fn inspector_result(
    tool: &str,
    args: &[(&str, &str)],
    env: &[(String, String)],
    ok: bool,
) -> Value {
    let mut a: Vec<String> = vec![
        "--method".into(),
        "tools/call".into(),
        "--tool-name".into(),
        tool.into(),
    ];
    for (k, v) in args {
        a.push("--tool-arg".into());
        a.push(format!("{k}={v}"));
    }
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    inspector(&refs, env, ok)
}

fn inspector_call(tool: &str, args: &[(&str, &str)], env: &[(String, String)]) -> Value {
    let r = inspector_result(tool, args, env, true);
    assert_ne!(r["isError"], true, "{tool}: {r}");
    r["structuredContent"].clone()
}

#[test]
fn inspector_cli_plans_on_the_engine_and_reads_the_job_after_a_restart() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let mut env = sidecar_env(&local, &provider_dir(providers.path()), "terraform");
    env.push(("GALLEY_DATA_DIR".into(), data.path().display().to_string()));
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(util::fixture("full-architecture.json")).expect("fixture"),
    )
    .expect("json");
    let components = fixture["components"].to_string();
    let connections = fixture["connections"].to_string();

    // Every call below is a new sidecar process: the session lives on disk.
    let sid = inspector_call("create_session", &[], &env)["id"]
        .as_str()
        .expect("id")
        .to_string();
    let sid = sid.as_str();
    inspector_call(
        "save_architecture",
        &[
            ("session_id", sid),
            ("components", &components),
            ("connections", &connections),
        ],
        &env,
    );
    let exported = inspector_call("export_iac", &[("session_id", sid)], &env);
    assert!(
        exported["resources"]
            .as_array()
            .is_some_and(|r| r.len() >= 20)
    );
    for (file, content) in [
        (
            "main.tf",
            "resource \"terraform_data\" \"app\" {\n  input = var.region\n}\n",
        ),
        (
            "components.tf",
            "# none: the local engine has no OCI provider\n",
        ),
        (
            "outputs.tf",
            "output \"region\" {\n  value = terraform_data.app.output\n}\n",
        ),
    ] {
        inspector_call(
            "update_terraform_file",
            &[
                ("session_id", sid),
                ("file_path", file),
                ("new_content", content),
            ],
            &env,
        );
    }
    let plan = inspector_call("run_terraform_plan", &[("session_id", sid)], &env);
    assert_eq!(plan["success"], true, "{plan}");
    assert_eq!(plan["plan_summary"]["add"], 1, "{plan}");
    assert!(
        plan["plan_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("pt-"))
    );
    let job = plan["job_id"].as_str().expect("job id");
    let stack = plan["stack_id"].as_str().expect("stack id");

    // The engine agrees: the PLAN job succeeded on a stack named after the session.
    assert_eq!(rm.job_state(job), JobLifecycleState::Succeeded);
    let (state, name) = rm.stack(stack).expect("the stack exists");
    assert_eq!(state, StackLifecycleState::Active);
    assert_eq!(name.as_deref(), Some(format!("galley {sid}").as_str()));

    // Another process reads the job from Resource Manager.
    let status = inspector_call("get_rm_job_status", &[("job_id", job)], &env);
    assert_eq!(status["state"], "SUCCEEDED");
    assert_eq!(status["operation"], "PLAN");
    assert_eq!(status["session_id"], sid);
    assert_eq!(status["stack_id"], stack);

    // A stack error: the provider's job events give its file and line, and the job's end.
    inspector_call(
        "update_terraform_file",
        &[
            ("session_id", sid),
            ("file_path", "outputs.tf"),
            (
                "new_content",
                "output \"region\" {\n  value = var.nope\n}\n",
            ),
        ],
        &env,
    );
    let failed = inspector_result("run_terraform_plan", &[("session_id", sid)], &env, false);
    assert_eq!(failed["isError"], true, "{failed}");
    let failed = &failed["structuredContent"];
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["job_state"], "FAILED", "{failed}");
    let job = failed["job_id"].as_str().expect("job id");
    let errors = failed["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["origin"] == "stack"
            && e["summary"] == "Reference to undeclared input variable"
            && e["file"] == "outputs.tf"
            && e["line"] == 2),
        "{failed}"
    );
    let runner: Vec<&str> = errors
        .iter()
        .filter(|e| e["origin"] == "runner")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        runner.iter().any(|d| d.starts_with(&format!(
            "PLAN job {job} ended FAILED: TERRAFORM_EXECUTION_ERROR: "
        ))),
        "{failed}"
    );
}

/// The run log of the session's last apply.
fn apply_log(data: &Path, sid: &str) -> String {
    std::fs::read_to_string(data.join("sessions").join(sid).join("runner/apply.log"))
        .expect("the apply's run log")
}

fn assert_cancelled(seen: &Value, rm: &Rm, data: &Path) {
    assert_eq!(seen["ok"], true, "{seen}");
    let job = seen["apply_job"].as_str().expect("job");
    // Independently of the sidecar: the engine cancelled the job.
    assert_eq!(rm.job_state(job), JobLifecycleState::Canceled);
    assert!(
        seen["canceled_after_s"].as_f64().is_some_and(|s| s < 30.0),
        "the job stopped long before its minute: {seen}"
    );
    let log = apply_log(data, seen["session_id"].as_str().expect("sid"));
    // Terraform got SIGINT (its own words), the provider cancelled the job.
    for expected in [
        "sending SIGINT to terraform",
        "Interrupt received",
        "cancelling the Resource Manager job",
        "Interrupted: the Resource Manager APPLY job was cancelled",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} missing from the run log:\n{log}"
        );
    }
}

#[test]
fn cancelling_an_apply_interrupts_terraform_and_cancels_the_job() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    // A real Go binary receives the SIGINT (the newest build runs inside Python here).
    let env0 = sidecar_env(&local, &provider_dir(providers.path()), "terraform-1.0");
    let bin = util::sidecar_bin();
    let bin = bin.to_str().expect("utf-8");

    // stdio: the SDK sends notifications/cancelled.
    for mode in ["legacy", "2026-07-28"] {
        let data = tempfile::tempdir().expect("tempdir");
        let mut env = env0.clone();
        env.push(("GALLEY_DATA_DIR".into(), data.path().display().to_string()));
        let seen = client(
            "cancel_apply.py",
            mode,
            &["stdio", bin, "--stdio"],
            &env,
            &[],
        );
        assert_cancelled(&seen, &rm, data.path());
    }

    // HTTP: at 2026-07-28 the SDK closes the request's stream; before, it posts the
    // notification.
    let mut server_env: Vec<(&str, &str)> =
        env0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    server_env.push(("GALLEY_URL_TOKEN", "cancel-t0ken"));
    let server = HttpSidecar::start(&server_env);
    let url = format!("{}?token=cancel-t0ken", server.mcp_url());
    for mode in ["2026-07-28", "legacy"] {
        let seen = client("cancel_apply.py", mode, &["http", &url], &[], &[]);
        assert_eq!(
            seen["protocol_version"],
            if mode == "legacy" {
                "2025-11-25"
            } else {
                "2026-07-28"
            }
        );
        assert_cancelled(&seen, &rm, server._data.path());
    }
}

#[test]
fn stopping_the_sidecar_during_an_apply_cancels_the_job_before_exiting() {
    use std::io::BufRead;

    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    // A real Go binary receives the SIGINT, as in the test above.
    let env = sidecar_env(&local, &provider_dir(providers.path()), "terraform-1.0");
    let server_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server = HttpSidecar::start(&server_env);
    let mut py = Command::new(util::python())
        .arg(util::crate_dir().join("tests/clients/cancel_apply.py"))
        .args(["2026-07-28", "http", &server.mcp_url(), "--fixture"])
        .arg(util::fixture("full-architecture.json"))
        .arg("--server-stops")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the client");
    let stdout = py.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let running: Value = rx
        .recv_timeout(Duration::from_secs(180))
        .ok()
        .and_then(|l| serde_json::from_str(&l).ok())
        .expect("the client saw the APPLY job running");
    let job = running["apply_job"].as_str().expect("job").to_string();

    // SIGTERM, as a supervisor stops it: the run is interrupted, the job cancelled, then exit.
    let stopped_at = std::time::Instant::now();
    // SAFETY: kill(2) on the sidecar this test started.
    unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(60),
            "the sidecar did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the sidecar exited with {status}");
    assert_eq!(
        rm.job_state(&job),
        JobLifecycleState::Canceled,
        "the job was cancelled before the sidecar exited"
    );
    let log = apply_log(
        server._data.path(),
        running["session_id"].as_str().expect("sid"),
    );
    assert!(log.contains("Interrupt received"), "{log}");
    let _ = py.kill();
    let _ = py.wait();
}
