//! Sessions that outlive their sidecar: HTTP sidecars with `GALLEY_STATE_BUCKET` on galley-local
//! (its Object Storage holds the sessions, its Resource Manager runs the jobs), driven by the
//! Python MCP SDK, checked with clients of their own (Resource Manager stacks and jobs, the
//! bucket's objects).
//!
//! - A sidecar killed (SIGKILL, its Terraform with it, as when a container dies) during an
//!   apply; a new one on an empty data directory finds the session, its design, its stack files
//!   and its stack; its plan takes the dead sidecar's lease over once it ends, ends the job the
//!   dead run left, and reuses the stack.
//! - Two sidecars on one bucket: a racing edit is refused with a message to re-read, no edit is
//!   lost, one heavy operation runs at a time and the other is refused naming the holder.
//! - The runner's state lost with the stack alive, with either store: the next plan adopts the
//!   stack by its session tag, and the engine still has one stack.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use galley_oci::object_storage::ObjectStorageClient;
use galley_oci::resource_manager::JobLifecycleState;
use galley_tests::local::{LocalOci, NAMESPACE};
use serde_json::Value;

use crate::local_engine::{Rm, provider_dir, sidecar_env};
use crate::store::{new_bucket, object_storage};
use crate::util::{self, HttpSidecar};

const BUCKET: &str = "galley-state";
/// Short, so a dead sidecar's lease ends within the test.
const LEASE_SECS: &str = "3";

/// The environment of a sidecar keeping its sessions in `BUCKET` on `local`.
fn bucket_env(local: &LocalOci, providers: &Path) -> Vec<(String, String)> {
    let mut env = sidecar_env(local, providers, "terraform");
    env.push(("GALLEY_STATE_BUCKET".into(), BUCKET.into()));
    env.push(("GALLEY_STATE_LEASE_SECS".into(), LEASE_SECS.into()));
    env
}

fn start(env: &[(String, String)]) -> HttpSidecar {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    HttpSidecar::start(&env)
}

/// Runs a client script against `args`; its last line as JSON.
fn client(script: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(util::python());
    cmd.arg(util::crate_dir().join("tests/clients").join(script))
        .args(args);
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(400));
    assert!(ok, "{script} {args:?} failed:\n{out}\n{err}");
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad summary {line:?}: {e}\n{err}"))
}

fn fixture() -> String {
    util::fixture("full-architecture.json")
        .display()
        .to_string()
}

/// The bucket, read with a client of its own.
struct Bucket {
    rt: tokio::runtime::Runtime,
    client: ObjectStorageClient,
}

impl Bucket {
    fn create(local: &LocalOci) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(object_storage(local));
        rt.block_on(new_bucket(&client, BUCKET));
        Bucket { rt, client }
    }

    fn get(&self, name: &str) -> Option<Vec<u8>> {
        match self
            .rt
            .block_on(self.client.get_object(NAMESPACE, BUCKET, name))
        {
            Ok(r) => Some(r.value.body.to_vec()),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("GetObject {name}: {e}"),
        }
    }

    fn json(&self, name: &str) -> Option<Value> {
        self.get(name)
            .map(|b| serde_json::from_slice(&b).expect("JSON"))
    }

    fn delete(&self, name: &str) {
        self.rt
            .block_on(self.client.delete_object(NAMESPACE, BUCKET, name, None))
            .unwrap_or_else(|e| panic!("DeleteObject {name}: {e}"));
    }
}

/// The stack id the runner's state (`terraform show` shape aside: the raw state) holds.
fn state_stack_id(state: &Value) -> Option<String> {
    state["resources"]
        .as_array()?
        .iter()
        .find(|r| r["type"] == "galley_session")?["instances"][0]["attributes"]["id"]
        .as_str()
        .map(str::to_string)
}

/// Direct children of `pid`, from `/proc`.
fn children(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

#[test]
fn a_sidecar_killed_during_an_apply_leaves_its_session_whole_for_the_next_one() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let bucket = Bucket::create(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let env = bucket_env(&local, &provider_dir(providers.path()));
    let mut first = start(&env);

    // A session planned and applying: the APPLY job runs a one-minute provisioner.
    let mut py = Command::new(util::python())
        .arg(util::crate_dir().join("tests/clients/cancel_apply.py"))
        .args([
            "2026-07-28",
            "http",
            &first.mcp_url(),
            "--fixture",
            &fixture(),
        ])
        .arg("--server-stops")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
        .recv_timeout(Duration::from_secs(240))
        .ok()
        .and_then(|l| serde_json::from_str(&l).ok())
        .expect("the client saw the APPLY job running");
    let sid = running["session_id"].as_str().expect("sid").to_string();
    let job = running["apply_job"].as_str().expect("job").to_string();
    let record = format!("sessions/{sid}.json");
    let before = bucket.json(&record).expect("the session is in the bucket");

    // The container dies: the sidecar and the Terraform it runs, at once.
    let dead_pid = first.pid();
    let runs = children(dead_pid);
    assert!(!runs.is_empty(), "an apply runs terraform");
    // SAFETY: kill(2) on the sidecar this test started and on the process groups of its
    // Terraform runs (each leads its own).
    unsafe {
        libc::kill(dead_pid as libc::pid_t, libc::SIGKILL);
        for pid in &runs {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = first.child.wait();
    let _ = py.kill();
    let _ = py.wait();
    assert_eq!(
        rm.job_state(&job),
        JobLifecycleState::InProgress,
        "the job outlived its sidecar"
    );
    let stack = before["session"]["rm_stack_id"]
        .as_str()
        .expect("the plan recorded the stack")
        .to_string();

    // A new sidecar, on an empty data directory, the same bucket.
    let second = start(&env);
    assert!(
        std::fs::read_dir(second._data.path().join("sessions"))
            .map(|d| d.count() == 0)
            .unwrap_or(true),
        "nothing local to start from"
    );
    let seen = client(
        "resume_session.py",
        &["2026-07-28", &second.mcp_url(), &sid, "--quick-main"],
    );
    assert_eq!(seen["ok"], true, "{seen}");
    // The session as it was: its design, its stack, and (read before any change) its files.
    let session = &seen["session"];
    assert_eq!(session["id"], sid.as_str());
    assert_eq!(session["rm_stack_id"], stack.as_str());
    assert_eq!(
        session["architecture"], before["session"]["architecture"],
        "the design"
    );
    let after_restart = bucket.json(&record).expect("still there");
    assert_eq!(
        after_restart["stack"]["variables.tf"], before["stack"]["variables.tf"],
        "the stack files (read back through the bucket)"
    );
    // Its plan waited for the dead sidecar's lease (refusals name it), ended the job its run
    // left, and reused the stack.
    for refusal in seen["busy"].as_array().expect("busy") {
        let text = refusal.as_str().unwrap_or_default();
        assert!(
            text.contains(&format!("pid {dead_pid} ")) && text.contains("apply"),
            "{text}"
        );
    }
    assert!(
        matches!(
            rm.job_state(&job),
            JobLifecycleState::Canceled | JobLifecycleState::Failed
        ),
        "the interrupted job ended: {:?}",
        rm.job_state(&job)
    );
    assert_eq!(seen["plan"]["stack_id"], stack.as_str(), "{seen}");
    assert_eq!(seen["apply"]["stack_id"], stack.as_str(), "{seen}");
    assert_eq!(seen["apply"]["job_state"], "SUCCEEDED");
    let stacks = rm.stacks();
    assert_eq!(stacks.len(), 1, "exactly one stack: {stacks:?}");
    assert_eq!(stacks[0].0, stack);
    assert_eq!(stacks[0].1.get("galley-session"), Some(&sid));
    // Nothing left behind: no lease, no state lock; the state, in the bucket, holds the stack.
    let runner = format!("sessions/{sid}/runner");
    assert!(bucket.get(&format!("{runner}/lease.json")).is_none());
    assert!(bucket.get(&format!("{runner}/terraform.tflock")).is_none());
    let state = bucket
        .json(&format!("{runner}/terraform.tfstate"))
        .expect("the runner's state is in the bucket");
    assert_eq!(state_stack_id(&state).as_deref(), Some(stack.as_str()));
}

#[test]
fn two_sidecars_on_one_bucket_lose_no_edit_and_run_one_heavy_operation_at_a_time() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let _bucket = Bucket::create(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let env = bucket_env(&local, &provider_dir(providers.path()));
    let a = start(&env);
    let b = start(&env);
    let seen = client(
        "two_sidecars.py",
        &[
            "2026-07-28",
            &a.mcp_url(),
            &b.mcp_url(),
            "--fixture",
            &fixture(),
            "--engine",
            &local.endpoint(),
        ],
    );
    assert_eq!(seen["ok"], true, "{seen}");
    let busy = seen["busy_refusal"].as_str().expect("refusal");
    assert!(
        busy.contains(&format!("pid {} ", a.pid())) && busy.contains("running a plan"),
        "names the holder: {busy}"
    );
    assert!(busy.contains("lease of the session ends at"), "{busy}");
    let stacks = rm.stacks();
    assert_eq!(stacks.len(), 1, "{stacks:?}");
    assert_eq!(stacks[0].0, seen["stack_id"].as_str().unwrap());
}

#[test]
fn a_lost_runner_state_adopts_the_session_s_stack_by_its_tag() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let bucket = Bucket::create(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let providers = provider_dir(providers.path());
    for with_bucket in [false, true] {
        let env = if with_bucket {
            bucket_env(&local, &providers)
        } else {
            sidecar_env(&local, &providers, "terraform")
        };
        let sidecar = start(&env);
        let planned = client(
            "plan_session.py",
            &["2026-07-28", &sidecar.mcp_url(), "--fixture", &fixture()],
        );
        let sid = planned["session_id"].as_str().expect("sid");
        let stack = planned["stack_id"].as_str().expect("stack").to_string();
        // The link is lost; the stack lives on.
        if with_bucket {
            let name = format!("sessions/{sid}/runner/terraform.tfstate");
            assert!(bucket.get(&name).is_some(), "the state was in the bucket");
            bucket.delete(&name);
        } else {
            let file = sidecar
                ._data
                .path()
                .join("sessions")
                .join(sid)
                .join("runner/terraform.tfstate");
            std::fs::remove_file(&file).expect("the state was in the data directory");
        }
        let seen = client(
            "resume_session.py",
            &["2026-07-28", &sidecar.mcp_url(), sid],
        );
        assert_eq!(seen["plan"]["stack_id"], stack.as_str(), "{seen}");
        assert_eq!(seen["apply"]["stack_id"], stack.as_str(), "{seen}");
        let ours: Vec<_> = rm
            .stacks()
            .into_iter()
            .filter(|(_, tags)| tags.get("galley-session").map(String::as_str) == Some(sid))
            .collect();
        assert_eq!(ours.len(), 1, "one stack for the session: {ours:?}");
        assert_eq!(ours[0].0, stack);
        if with_bucket {
            let state = bucket
                .json(&format!("sessions/{sid}/runner/terraform.tfstate"))
                .expect("the state is back");
            assert_eq!(state_stack_id(&state).as_deref(), Some(stack.as_str()));
        }
    }
}
