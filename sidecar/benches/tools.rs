//! Benchmark of the sidecar's design tools, and of the process itself, against a minimal Python
//! FastMCP server doing the same work (`baseline_server.py`) in the same run:
//!
//! - latency of design tools (no Terraform) on a 50-component session, through a real client:
//!   the Python MCP SDK over stdio, timed inside Python (`bench_client.py`), with the directory
//!   store (target p99 < 5 ms) and with the bucket store on galley-local's Object Storage over
//!   loopback (target p99 < 10 ms); the view tools (`export_diagram`: layout, SVG and Mermaid;
//!   `export_summary`) on the same session, target p99 < 20 ms;
//! - start to ready: process start to the `initialize` answer on stdio (and to the "ready" log
//!   line over HTTP); target < 100 ms;
//! - idle RSS after start, and RSS after timed raw JSON-RPC calls on the session (which also show
//!   the servers' own share of the latency, without the Python client); target idle < 25 MB with
//!   either store.
//!
//! `cargo bench -p galley-sidecar --bench tools` (needs `bash tests/setup.sh` for the Python SDK
//! and FastMCP, and a build of galley-local: `cargo build --release -p galley-local`).
//! `GALLEY_BENCH_ITERATIONS` sets the timed calls per tool (default 1000). Prints a report and
//! one JSON line; exits with 1 when a target is missed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use galley_oci::object_storage::CreateBucketDetails;
use galley_oci::setup::{self, SetupInputs};
use galley_sidecar::catalog;
use galley_tests::local::{COMPARTMENT, LocalOci, NAMESPACE};
use serde_json::{Value, json};

const COMPONENTS: usize = 50;
const P99_TARGET_MS: f64 = 5.0;
const VIEW_P99_TARGET_MS: f64 = 20.0;
/// Tools held to the view target instead of the design one.
const VIEW_TOOLS: &[&str] = &["export_diagram", "export_summary"];
const BUCKET_P99_TARGET_MS: f64 = 10.0;
const BUCKET: &str = "galley-bench";
const READY_TARGET_MS: f64 = 100.0;
const IDLE_RSS_TARGET_MB: f64 = 25.0;
const START_RUNS: usize = 20;
const BASELINE_START_RUNS: usize = 5;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let p = crate_dir().join("../.tools/venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `bash tests/setup.sh` at the workspace root first",
        p.display()
    );
    p
}

fn sidecar() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_galley-sidecar"))
}

/// A 50-component architecture without errors: two VCNs, each with gateways, a route table, a
/// security list, a public and a private subnet, a load balancer in front of twelve instances,
/// two databases and a functions application; plus regional services. In the second VCN the
/// load balancer sits in the private subnet and a database in the public one, so validation has
/// warnings to report (and both servers must report the same ones).
fn architecture() -> Value {
    let mut comps: Vec<Value> = Vec::new();
    let mut conns: Vec<Value> = Vec::new();
    let mut add = |id: &str, t: &str, config: Value| {
        comps.push(json!({"id": id, "service_type": t, "display_name": id, "config": config}));
    };
    let mut link: Vec<(String, String)> = Vec::new();
    for v in 0..2 {
        let vcn = format!("vcn-{v}");
        add(&vcn, "vcn", json!({"cidr": format!("10.{v}.0.0/16")}));
        for (t, id) in [
            ("internet_gateway", format!("igw-{v}")),
            ("nat_gateway", format!("nat-{v}")),
            ("route_table", format!("rt-{v}")),
            ("security_list", format!("sl-{v}")),
        ] {
            add(&id, t, json!({}));
            link.push((id, vcn.clone()));
        }
        for (kind, public) in [("pub", true), ("priv", false)] {
            let id = format!("{kind}-{v}");
            let n = if public { 1 } else { 2 };
            add(
                &id,
                "subnet",
                json!({"cidr": format!("10.{v}.{n}.0/24"), "public": public}),
            );
            link.push((id.clone(), vcn.clone()));
            link.push((id, format!("rt-{v}")));
        }
        let lb = format!("lb-{v}");
        add(&lb, "loadbalancer", json!({}));
        let lb_subnet = if v == 0 { "pub" } else { "priv" };
        link.push((lb.clone(), format!("{lb_subnet}-{v}")));
        for i in 0..12 {
            let id = format!("web-{v}-{i}");
            add(&id, "compute", json!({"ocpus": 1}));
            link.push((id.clone(), format!("priv-{v}")));
            link.push((lb.clone(), id));
        }
        for i in 0..2 {
            let id = format!("db-{v}-{i}");
            add(&id, "adb", json!({}));
            let subnet = if v == 1 && i == 1 { "pub" } else { "priv" };
            link.push((id, format!("{subnet}-{v}")));
        }
        let f = format!("fn-{v}");
        add(&f, "functions", json!({}));
        link.push((f, format!("priv-{v}")));
    }
    for (id, t) in [
        ("assets", "objectstorage"),
        ("backups", "objectstorage"),
        ("carts", "nosql"),
        ("events", "streaming"),
    ] {
        add(id, t, json!({}));
    }
    for (a, b) in link {
        conns.push(json!({"source_id": a, "target_id": b, "connection_type": "network"}));
    }
    assert_eq!(comps.len(), COMPONENTS);
    json!({"components": comps, "connections": conns})
}

/// Service type to placement, for the baseline's VCN rule.
fn placements() -> Value {
    let map: serde_json::Map<String, Value> = catalog::service_types()
        .iter()
        .map(|s| {
            (
                s.service_type.to_string(),
                serde_json::to_value(s.placement).unwrap_or_default(),
            )
        })
        .collect();
    Value::Object(map)
}

/// A server on stdio spoken to with raw JSON-RPC lines.
struct Stdio_ {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Stdio_ {
    fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Stdio_ {
            child,
            stdin,
            stdout,
            next: 1,
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{line}").expect("write");
        self.stdin.flush().expect("flush");
        loop {
            let mut l = String::new();
            let n = self.stdout.read_line(&mut l).expect("read");
            assert!(n > 0, "the server closed stdout");
            let v: Value = serde_json::from_str(&l).expect("a JSON-RPC line");
            if v["id"] == id {
                return v;
            }
        }
    }

    fn initialize(&mut self) -> Value {
        let r = self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "1"}}),
        );
        writeln!(
            self.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .expect("write");
        r
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert_ne!(r["result"]["isError"], true, "{tool}: {r}");
        r["result"]["structuredContent"].clone()
    }

    fn rss_kb(&self, field: &str) -> u64 {
        rss_kb(self.child.id(), field)
    }
}

impl Drop for Stdio_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `/proc/PID/status` field in kB (`VmRSS`, `VmHWM`).
fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn sidecar_cmd(data: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(sidecar());
    cmd.args(args)
        .env("GALLEY_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .env_remove("GALLEY_URL_TOKEN");
    cmd
}

fn baseline_cmd(data: &Path, work: &Path) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(crate_dir().join("benches/baseline_server.py"))
        .arg(data)
        .arg(crate_dir().join("rules"))
        .arg(work.join("placement.json"))
        .arg(work.join("schemas.json"));
    cmd
}

/// The engine's environment plus the bucket store's settings, with its own cache directory.
fn bucket_cmd(data: &Path, local: &LocalOci, args: &[&str]) -> Command {
    let mut cmd = sidecar_cmd(data, args);
    for (k, v) in local.env() {
        cmd.env(k, v);
    }
    cmd.env("GALLEY_STATE_BUCKET", BUCKET)
        .env("GALLEY_STATE_NAMESPACE", NAMESPACE);
    cmd
}

/// Creates the bucket on the engine with the OCI set-up the sidecar uses.
fn create_bucket(local: &LocalOci) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let env: std::collections::HashMap<String, String> = local.env().into_iter().collect();
    let lookup = move |k: &str| env.get(k).cloned();
    rt.block_on(async {
        let os = setup::build_clients(&SetupInputs::from_env(&lookup), &lookup, "galley-bench")
            .await
            .expect("OCI set-up")
            .object_storage;
        os.create_bucket(NAMESPACE, &CreateBucketDetails::new(BUCKET, COMPARTMENT))
            .await
            .expect("create the bucket");
    });
}

/// Milliseconds from spawn to the answer to `initialize`.
fn start_to_initialize(mut make: impl FnMut() -> Command) -> f64 {
    let t0 = Instant::now();
    let mut s = Stdio_::spawn(&mut make());
    let r = s.initialize();
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    assert!(r["result"]["protocolVersion"].is_string(), "{r}");
    ms
}

/// Milliseconds from spawn to the HTTP transport's "ready" log line.
fn start_to_http_ready(data: &Path) -> f64 {
    let t0 = Instant::now();
    let mut child = sidecar_cmd(data, &["--http", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut ms = f64::NAN;
    for line in stderr.lines().map_while(Result::ok) {
        if line.contains("ready: serving MCP") {
            ms = t0.elapsed().as_secs_f64() * 1000.0;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    ms
}

/// The arguments of the i-th raw call of a tool.
type RawArgs<'a> = Box<dyn Fn(usize) -> Value + 'a>;

/// Times `n` calls of `tool` over raw JSON-RPC: p50 and p99 in ms.
fn time_raw(s: &mut Stdio_, tool: &str, args: &dyn Fn(usize) -> Value, n: usize) -> Value {
    for i in 0..50 {
        s.call(tool, args(i));
    }
    let mut ms: Vec<f64> = (0..n)
        .map(|i| {
            let a = args(i);
            let t0 = Instant::now();
            s.call(tool, a);
            t0.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
    json!({"p50_ms": pct(50.0), "p99_ms": pct(99.0)})
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let iterations: usize = std::env::var("GALLEY_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let arch = architecture();
    std::fs::write(work.path().join("placement.json"), placements().to_string())
        .expect("write placement");

    // The sidecar's output schemas, which the baseline declares too.
    {
        let mut s = Stdio_::spawn(&mut sidecar_cmd(&data, &["--stdio"]));
        s.initialize();
        let list = s.request("tools/list", json!({}));
        let schemas: serde_json::Map<String, Value> = list["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap_or_default().to_string(),
                    t["outputSchema"].clone(),
                )
            })
            .collect();
        std::fs::write(
            work.path().join("schemas.json"),
            Value::Object(schemas).to_string(),
        )
        .expect("write schemas");
    }

    // Start to ready.
    let stdio_ready: Vec<f64> = (0..START_RUNS)
        .map(|_| start_to_initialize(|| sidecar_cmd(&data, &["--stdio"])))
        .collect();
    let http_ready: Vec<f64> = (0..START_RUNS)
        .map(|_| start_to_http_ready(&data))
        .collect();
    let baseline_ready: Vec<f64> = (0..BASELINE_START_RUNS)
        .map(|_| start_to_initialize(|| baseline_cmd(&data, work.path())))
        .collect();

    // Memory: idle after start, then after a loaded session and the raw calls below. Raw
    // JSON-RPC timing (no Python client) shows the servers' own share of the latency.
    let mut s = Stdio_::spawn(&mut sidecar_cmd(&data, &["--stdio"]));
    s.initialize();
    std::thread::sleep(Duration::from_secs(1));
    let idle_kb = s.rss_kb("VmRSS");
    let sid = s.call("create_session", json!({}))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut args = arch.clone();
    args["session_id"] = json!(sid);
    s.call("save_architecture", args);
    let compute = "web-0-0";
    let raw_calls: Vec<(&str, RawArgs)> = vec![
        ("get_session", Box::new(|_| json!({"session_id": sid}))),
        (
            "validate_architecture",
            Box::new(|_| json!({"session_id": sid})),
        ),
        ("list_available_services", Box::new(|_| json!({}))),
        (
            "configure_component",
            Box::new(
                |i| json!({"session_id": sid, "component_id": compute, "config": {"ocpus": i % 4 + 1}}),
            ),
        ),
        ("export_iac", Box::new(|_| json!({"session_id": sid}))),
        ("export_diagram", Box::new(|_| json!({"session_id": sid}))),
        ("export_summary", Box::new(|_| json!({"session_id": sid}))),
    ];
    let mut raw = serde_json::Map::new();
    for (tool, args) in &raw_calls {
        raw.insert(
            format!("sidecar.{tool}"),
            time_raw(&mut s, tool, args, iterations),
        );
    }
    let loaded_kb = s.rss_kb("VmRSS");
    let peak_kb = s.rss_kb("VmHWM");
    drop(s);
    let mut b = Stdio_::spawn(&mut baseline_cmd(&data, work.path()));
    b.initialize();
    std::thread::sleep(Duration::from_secs(1));
    let baseline_idle_kb = b.rss_kb("VmRSS");
    for (tool, args) in &raw_calls[..2] {
        raw.insert(
            format!("baseline.{tool}"),
            time_raw(&mut b, tool, args, iterations),
        );
    }
    drop(b);
    drop(raw_calls);

    // The bucket store on the local engine: idle memory, and the raw calls that reach the bucket.
    let local = LocalOci::start();
    create_bucket(&local);
    let bucket_data = work.path().join("bucket-cache");
    let mut s = Stdio_::spawn(&mut bucket_cmd(&bucket_data, &local, &["--stdio"]));
    s.initialize();
    std::thread::sleep(Duration::from_secs(1));
    let bucket_idle_kb = s.rss_kb("VmRSS");
    let bsid = s.call("create_session", json!({}))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut args = arch.clone();
    args["session_id"] = json!(bsid);
    s.call("save_architecture", args);
    let bucket_calls: Vec<(&str, RawArgs)> = vec![
        ("get_session", Box::new(|_| json!({"session_id": bsid}))),
        (
            "configure_component",
            Box::new(
                |i| json!({"session_id": bsid, "component_id": compute, "config": {"ocpus": i % 4 + 1}}),
            ),
        ),
    ];
    for (tool, args) in &bucket_calls {
        raw.insert(
            format!("bucket.{tool}"),
            time_raw(&mut s, tool, args, iterations),
        );
    }
    let bucket_loaded_kb = s.rss_kb("VmRSS");
    drop(s);
    drop(bucket_calls);

    // Latency through the Python SDK.
    let server = |cmd: &Command| {
        let env: serde_json::Map<String, Value> = cmd
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    json!(v?.to_string_lossy()),
                ))
            })
            .collect();
        json!({
            "command": cmd.get_program().to_string_lossy(),
            "args": cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "env": env,
        })
    };
    let spec = json!({
        "sidecar": server(&sidecar_cmd(&data, &["--stdio"])),
        "bucket": server(&bucket_cmd(&bucket_data, &local, &["--stdio"])),
        "baseline": server(&baseline_cmd(&data, work.path())),
        "arch": arch,
        "iterations": iterations,
        "warmup": 50,
    });
    let spec_path = work.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");
    let out = Command::new(python())
        .arg(crate_dir().join("benches/bench_client.py"))
        .arg(&spec_path)
        .stderr(Stdio::inherit())
        .output()
        .expect("run the Python client");
    assert!(out.status.success(), "the Python client failed");
    let latency: Value = serde_json::from_slice(
        out.stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_default(),
    )
    .expect("the client's JSON line");

    // Report.
    let mb = |kb: u64| kb as f64 / 1024.0;
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "galley-sidecar design tools, {} components, {} calls per tool (Python MCP SDK {} over stdio, timed in Python)",
        latency["components"], iterations, latency["protocol_version"]
    );
    println!(
        "{:<26} {:>9} {:>9} {:>9} {:>9}",
        "tool", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let mut worst_p99: f64 = 0.0;
    let mut worst_view_p99: f64 = 0.0;
    for (tool, st) in latency["sidecar"].as_object().into_iter().flatten() {
        if VIEW_TOOLS.contains(&tool.as_str()) {
            worst_view_p99 = worst_view_p99.max(f(&st["p99_ms"]));
        } else {
            worst_p99 = worst_p99.max(f(&st["p99_ms"]));
        }
        println!(
            "{:<26} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            tool,
            f(&st["p50_ms"]),
            f(&st["p90_ms"]),
            f(&st["p99_ms"]),
            f(&st["max_ms"])
        );
    }
    println!("with the bucket store (galley-local Object Storage on loopback):");
    let mut worst_bucket_p99: f64 = 0.0;
    for (tool, st) in latency["bucket"].as_object().into_iter().flatten() {
        worst_bucket_p99 = worst_bucket_p99.max(f(&st["p99_ms"]));
        let ours = &latency["sidecar"][tool];
        println!(
            "{:<26} {:>9.3} {:>9.3} {:>9.3} {:>9.3}   bucket/directory: p50 {:.1}x, p99 {:.1}x",
            tool,
            f(&st["p50_ms"]),
            f(&st["p90_ms"]),
            f(&st["p99_ms"]),
            f(&st["max_ms"]),
            f(&st["p50_ms"]) / f(&ours["p50_ms"]),
            f(&st["p99_ms"]) / f(&ours["p99_ms"]),
        );
    }
    println!("baseline (Python FastMCP, same session file, same client):");
    let mut ratios = serde_json::Map::new();
    for (tool, st) in latency["baseline"].as_object().into_iter().flatten() {
        let ours = &latency["sidecar"][tool];
        let r50 = f(&st["p50_ms"]) / f(&ours["p50_ms"]);
        let r99 = f(&st["p99_ms"]) / f(&ours["p99_ms"]);
        ratios.insert(tool.clone(), json!({"p50": r50, "p99": r99}));
        println!(
            "{:<26} {:>9.3} {:>9.3} {:>9.3} {:>9.3}   baseline/sidecar: p50 {r50:.1}x, p99 {r99:.1}x",
            tool,
            f(&st["p50_ms"]),
            f(&st["p90_ms"]),
            f(&st["p99_ms"]),
            f(&st["max_ms"])
        );
    }
    println!(
        "export_diagram's SVG: {} bytes",
        latency["diagram_svg_bytes"]
    );
    println!(
        "validation results agree: {} ({} findings)",
        latency["equivalent"], latency["findings"]
    );
    println!("raw JSON-RPC over stdio from Rust (server and pipe only, no Python client):");
    for (k, v) in &raw {
        println!(
            "{k:<36} p50 {:>7.3} ms   p99 {:>7.3} ms",
            f(&v["p50_ms"]),
            f(&v["p99_ms"])
        );
    }
    let (sr, hr, br) = (
        median(stdio_ready.clone()),
        median(http_ready.clone()),
        median(baseline_ready.clone()),
    );
    println!(
        "start to ready: stdio initialize answer median {sr:.1} ms (max {:.1}), HTTP ready line median {hr:.1} ms (max {:.1}); baseline {br:.0} ms ({:.0}x)",
        max(&stdio_ready),
        max(&http_ready),
        br / sr
    );
    println!(
        "RSS: idle {:.1} MB, after {} raw calls on the session {:.1} MB (peak {:.1} MB); baseline idle {:.1} MB ({:.1}x)",
        mb(idle_kb),
        2 * iterations,
        mb(loaded_kb),
        mb(peak_kb),
        mb(baseline_idle_kb),
        baseline_idle_kb as f64 / idle_kb.max(1) as f64
    );
    println!(
        "RSS with the bucket store: idle {:.1} MB, after {} raw calls {:.1} MB",
        mb(bucket_idle_kb),
        2 * iterations,
        mb(bucket_loaded_kb)
    );
    let checks = [
        ("p99 < 5 ms", worst_p99 < P99_TARGET_MS),
        (
            "export_diagram and export_summary p99 < 20 ms",
            worst_view_p99 < VIEW_P99_TARGET_MS && worst_view_p99 > 0.0,
        ),
        (
            "p99 < 10 ms with the bucket store",
            worst_bucket_p99 < BUCKET_P99_TARGET_MS,
        ),
        (
            "idle RSS < 25 MB with the bucket store",
            mb(bucket_idle_kb) < IDLE_RSS_TARGET_MB,
        ),
        (
            "same validation result with the bucket store",
            latency["bucket_equivalent"] == true,
        ),
        (
            "start to ready < 100 ms",
            max(&stdio_ready) < READY_TARGET_MS && max(&http_ready) < READY_TARGET_MS,
        ),
        ("idle RSS < 25 MB", mb(idle_kb) < IDLE_RSS_TARGET_MB),
        (
            "same validation result as the baseline",
            latency["equivalent"] == true,
        ),
    ];
    for (name, ok) in checks {
        println!("{}: {name}", if ok { "PASS" } else { "FAIL" });
    }
    println!(
        "{}",
        json!({
            "latency": latency,
            "ratios": ratios,
            "raw": raw,
            "ready_ms": {"stdio_median": sr, "stdio_max": max(&stdio_ready), "http_median": hr,
                         "http_max": max(&http_ready), "baseline_median": br},
            "rss_mb": {"idle": mb(idle_kb), "loaded": mb(loaded_kb), "peak": mb(peak_kb),
                       "baseline_idle": mb(baseline_idle_kb), "bucket_idle": mb(bucket_idle_kb),
                       "bucket_loaded": mb(bucket_loaded_kb)},
        })
    );
    let failed = checks.iter().any(|(_, ok)| !ok);
    // exit() skips destructors: stop the engine and remove the work directory first.
    drop(local);
    drop(work);
    if failed {
        std::process::exit(1);
    }
}
