//! Benchmark of `run_terraform_plan` on galley-local, against the original design's way of
//! running a plan measured in the same run: the official OCI Python SDK creating a PLAN job on
//! the same stack and polling GetJob every 5 seconds until it ends (`sdk_plan_job.py`).
//!
//! For each: wall time, the job's own duration (its timeCreated to timeFinished, as the engine
//! records them) and the time beyond the job (wall minus job). For the sidecar also the
//! Terraform runs of each plan (the `$ terraform` lines of its run log). The sidecar is driven
//! over stdio JSON-RPC; every timed plan follows a change of the stack's files, so a PLAN job
//! really runs. A first plan (the stack's creation) is not timed.
//!
//! `cargo bench -p galley-sidecar --bench plan` (needs `bash tests/setup.sh` for Terraform and
//! the Python SDK, and `cargo build --release -p galley-local -p terraform-provider-galley`).
//! `GALLEY_BENCH_PLANS` sets the timed plans of each side (default 5);
//! `GALLEY_BENCH_SIDECAR_LOG=<file>` keeps the sidecar's log (each Terraform run's duration is
//! in its `terraform exited` lines). Targets: at most 3
//! Terraform runs per plan and a median of at most 300 ms beyond the job. Prints a report and
//! one JSON line; exits with 1 when a target is missed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use galley_tests::local::LocalOci;
use serde_json::{Value, json};

const MAX_RUNS: usize = 3;
const BEYOND_TARGET_MS: f64 = 300.0;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    let p = crate_dir().join("../.tools").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash tests/setup.sh` at the workspace root first",
        p.display()
    );
    p
}

/// The provider binary: `GALLEY_PROVIDER_BIN`, else next to this bench's profile directory.
fn provider_dir() -> PathBuf {
    let name = "terraform-provider-galley";
    if let Some(p) = std::env::var_os("GALLEY_PROVIDER_BIN") {
        let p = PathBuf::from(p);
        return p.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .skip(1)
        .take(3)
        .find(|d| d.join(name).is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            panic!(
                "{name} was not found: run `cargo build --release -p terraform-provider-galley` \
                 or set GALLEY_PROVIDER_BIN"
            )
        })
}

/// Milliseconds since the epoch of an OCI timestamp (`2026-12-06T07:58:21.123Z`).
fn millis(ts: &str) -> f64 {
    let n = |a: usize, b: usize| -> i64 { ts[a..b].parse().expect("a timestamp") };
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    let frac: f64 = ts[19..].trim_end_matches('Z').parse::<f64>().unwrap_or(0.0);
    secs as f64 * 1000.0 + frac * 1000.0
}

struct Sidecar {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Sidecar {
    fn start(env: &[(String, String)], data: &Path) -> Sidecar {
        let mut child = Command::new(env!("CARGO_BIN_EXE_galley-sidecar"))
            .arg("--stdio")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("GALLEY_DATA_DIR", data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(match std::env::var_os("GALLEY_BENCH_SIDECAR_LOG") {
                Some(p) => Stdio::from(std::fs::File::create(p).expect("the sidecar's log")),
                None => Stdio::null(),
            })
            .spawn()
            .expect("start the sidecar");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut s = Sidecar {
            child,
            stdin,
            stdout,
            next: 0,
        };
        s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    fn send(&mut self, v: &Value) {
        writeln!(self.stdin, "{v}").expect("write");
        self.stdin.flush().expect("flush");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).expect("read") > 0,
                "the sidecar closed stdout"
            );
            let v: Value = serde_json::from_str(&line).expect("JSON");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// Calls a tool; panics on a tool error.
    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = &r["result"];
        assert!(result["isError"] != json!(true), "{tool} failed: {r}");
        result["structuredContent"].clone()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let plans: usize = std::env::var("GALLEY_BENCH_PLANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let local = LocalOci::start();
    let mut env = local.env();
    env.push((
        "GALLEY_TERRAFORM".into(),
        tool("bin/terraform").display().to_string(),
    ));
    env.push((
        "GALLEY_PROVIDER_DIR".into(),
        provider_dir().display().to_string(),
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let mut s = Sidecar::start(&env, data.path());
    let sid = s.call("create_session", json!({}))["id"]
        .as_str()
        .expect("id")
        .to_string();
    s.call(
        "save_architecture",
        json!({"session_id": sid, "components": [{"id": "net", "service_type": "vcn", "display_name": "net"}], "connections": []}),
    );
    s.call("export_iac", json!({"session_id": sid}));
    let write = |s: &mut Sidecar, file: &str, content: &str| {
        s.call(
            "update_terraform_file",
            json!({"session_id": sid, "file_path": file, "new_content": content}),
        );
    };
    write(&mut s, "components.tf", "# none: no OCI provider here\n");
    write(&mut s, "outputs.tf", "# none\n");
    let main_tf = |i: usize| {
        format!("resource \"terraform_data\" \"app\" {{\n  input = \"revision {i}\"\n}}\n")
    };
    write(&mut s, "main.tf", &main_tf(0));
    let first = s.call("run_terraform_plan", json!({"session_id": sid}));
    assert_eq!(first["success"], true, "{first}");
    let stack = first["stack_id"].as_str().expect("stack").to_string();
    let log = data
        .path()
        .join("sessions")
        .join(&sid)
        .join("runner/plan.log");

    let (mut walls, mut beyonds, mut jobs, mut runs) = (vec![], vec![], vec![], vec![]);
    for i in 1..=plans {
        write(&mut s, "main.tf", &main_tf(i));
        let started = Instant::now();
        let plan = s.call("run_terraform_plan", json!({"session_id": sid}));
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(plan["success"], true, "{plan}");
        let job_id = plan["plan_job_id"].as_str().expect("plan_job_id");
        let job = s.call("get_rm_job_status", json!({"job_id": job_id}));
        let job_ms = millis(job["time_finished"].as_str().expect("finished"))
            - millis(job["time_created"].as_str().expect("created"));
        let count = std::fs::read_to_string(&log)
            .expect("the plan's run log")
            .lines()
            .filter(|l| l.starts_with("$ terraform"))
            .count();
        walls.push(wall);
        jobs.push(job_ms);
        beyonds.push(wall - job_ms);
        runs.push(count);
    }

    let out = Command::new(tool("venv/bin/python"))
        .arg(crate_dir().join("benches/sdk_plan_job.py"))
        .arg(local.config_file())
        .arg(local.endpoint())
        .arg(&stack)
        .arg(plans.to_string())
        .output()
        .expect("run the SDK baseline");
    assert!(
        out.status.success(),
        "the SDK baseline failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdk: Value = serde_json::from_slice(&out.stdout).expect("the baseline's JSON");
    let sdk_runs = sdk["runs"].as_array().expect("runs");
    let sdk_wall = median(
        sdk_runs
            .iter()
            .filter_map(|r| r["wall_ms"].as_f64())
            .collect(),
    );
    let sdk_job = median(
        sdk_runs
            .iter()
            .filter_map(|r| r["job_ms"].as_f64())
            .collect(),
    );
    let sdk_beyond = median(
        sdk_runs
            .iter()
            .filter_map(|r| Some(r["wall_ms"].as_f64()? - r["job_ms"].as_f64()?))
            .collect(),
    );

    let (wall, job, beyond) = (median(walls), median(jobs), median(beyonds));
    let max_runs = runs.iter().copied().max().unwrap_or(0);
    let ratio = sdk_wall / wall;
    println!("run_terraform_plan on galley-local, {plans} plans each (medians):");
    println!(
        "  sidecar  wall {wall:>7.0} ms  job {job:>5.0} ms  beyond the job {beyond:>5.0} ms  terraform runs per plan {runs:?}"
    );
    println!(
        "  OCI SDK  wall {sdk_wall:>7.0} ms  job {sdk_job:>5.0} ms  beyond the job {sdk_beyond:>5.0} ms  (CreateJob, GetJob every 5 s; SDK {})",
        sdk["sdk_version"].as_str().unwrap_or("?")
    );
    println!("  ratio    SDK wall / sidecar wall = {ratio:.1}x");
    let ok = max_runs <= MAX_RUNS && beyond <= BEYOND_TARGET_MS;
    println!(
        "{}",
        json!({
            "plans": plans,
            "sidecar": {"wall_ms": wall, "job_ms": job, "beyond_ms": beyond, "terraform_runs": runs},
            "sdk": {"wall_ms": sdk_wall, "job_ms": sdk_job, "beyond_ms": sdk_beyond},
            "ratio": ratio,
            "targets_met": ok,
        })
    );
    if !ok {
        eprintln!(
            "missed a target: at most {MAX_RUNS} terraform runs per plan (max {max_runs}), at most {BEYOND_TARGET_MS} ms beyond the job (median {beyond:.0})"
        );
        std::process::exit(1);
    }
}
