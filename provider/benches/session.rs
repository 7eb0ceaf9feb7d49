//! The two costs of `galley_session`, each against a named baseline measured in the same run:
//!
//! 1. Packaging: zipping and base64-encoding a generated 2,000-file, 50 MB configuration
//!    (mostly text, a tenth incompressible) with `packaging::zip` versus Python's `zipfile`
//!    (ZIP_DEFLATED) plus `base64`, the original design. Target: at least 3 times faster.
//! 2. Following jobs: the job follower (`remote::job::follow`) versus fixed 5-second GetJob
//!    polling, on simulated Resource Manager jobs (a paused clock, so hundreds of jobs of up
//!    to ten minutes take a moment) whose durations spread from 5 s to 10 min, whose log gets
//!    a line every 1-4 s and whose closing line comes 0.05-3 s before the status changes.
//!    Targets: median delay from SUCCEEDED to seen under 1 s; a 2-minute job costs no more
//!    GetJob calls than fixed 5 s polling (24). A live check follows a few real jobs on
//!    galley-local when its binary and Terraform are there.
//!
//! Run: `cargo bench -p terraform-provider-galley --bench session` (after `tests/setup.sh` and
//! `cargo build -p galley-local` for the live part). Exits non-zero when a target is missed.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant as StdInstant, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use galley_oci::client::OciError;
use galley_oci::model::Reply;
use galley_oci::resource_manager::{Job, JobLifecycleState, JobLogTail, LogEntry};
use galley_provider::packaging::{Tree, zip};
use galley_provider::remote::job::{FollowPolicy, JobApi, follow};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const FILES: usize = 2000;
const TOTAL_BYTES: usize = 50 * 1024 * 1024;
const PACKAGING_RUNS: usize = 5;
const SIM_JOBS: usize = 300;

/// xorshift64*: deterministic data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORDS: &[&str] = &[
    "resource",
    "variable",
    "output",
    "module",
    "locals",
    "data",
    "provider",
    "count",
    "for_each",
    "depends_on",
    "lifecycle",
    "ignore_changes",
    "tags",
    "name",
    "cidr_block",
    "compartment_id",
    "display_name",
    "shape",
    "subnet_id",
    "vcn_id",
    "route_table",
    "security_list",
    "ingress",
    "egress",
    "protocol",
    "source",
    "destination",
    "true",
    "false",
    "null",
    "var.region",
    "local.prefix",
    "each.value",
    "= {",
    "}",
    "\"10.0.0.0/16\"",
    "[",
    "]",
    "#",
    "description",
    "type",
    "string",
    "number",
    "default",
    "sensitive",
];

/// Writes the benchmark tree: `FILES` files in 40 folders, sizes spread around the mean,
/// totalling `TOTAL_BYTES`; one file in ten is random bytes (an image, a binary).
fn generate_tree(root: &Path) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let weights: Vec<f64> = (0..FILES).map(|_| 0.2 + rng.unit() * 1.6).collect();
    let sum: f64 = weights.iter().sum();
    for (i, w) in weights.iter().enumerate() {
        let size = (w / sum * TOTAL_BYTES as f64) as usize;
        let dir = root.join(format!("modules/m{:02}", i % 40));
        std::fs::create_dir_all(&dir).unwrap();
        let content: Vec<u8> = if i % 10 == 0 {
            (0..size).map(|_| rng.next() as u8).collect()
        } else {
            let mut text = String::with_capacity(size + 64);
            while text.len() < size {
                let words = 3 + rng.below(8);
                text.push_str(&"  ".repeat(rng.below(3) as usize));
                for _ in 0..words {
                    text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
                    text.push(' ');
                }
                let _ = writeln!(text, "{}", rng.below(10_000));
            }
            text.truncate(size);
            text.into_bytes()
        };
        let ext = if i % 10 == 0 { "bin" } else { "tf" };
        std::fs::write(dir.join(format!("f{i:04}.{ext}")), content).unwrap();
    }
}

const PYTHON_BASELINE: &str = r#"
import base64, io, json, os, statistics, sys, time, zipfile

def package(root):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in (".terraform", ".git"))
            for name in sorted(filenames):
                if ".tfstate" in name:
                    continue
                path = os.path.join(dirpath, name)
                zf.write(path, os.path.relpath(path, root))
    data = buf.getvalue()
    return len(data), base64.b64encode(data)

root, runs = sys.argv[1], int(sys.argv[2])
package(root)  # warm-up: page cache
times = []
for _ in range(runs):
    start = time.perf_counter()
    size, encoded = package(root)
    times.append(time.perf_counter() - start)
print(json.dumps({"median_s": statistics.median(times), "zip_bytes": size}))
"#;

fn python() -> Option<String> {
    let venv = galley_tests::tools::workspace_root().join(".tools/venv/bin/python");
    if venv.exists() {
        return Some(venv.display().to_string());
    }
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3".to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Zips and encodes the tree `runs` times at `level`: (median seconds, zip bytes).
fn rust_packaging(root: &Path, level: u32, runs: usize) -> (f64, usize) {
    let once = || {
        let tree = Tree::scan(root).unwrap();
        let package = zip::build_with_level(&tree, level).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&package.bytes);
        std::hint::black_box(encoded.len());
        package.bytes.len()
    };
    once();
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let start = StdInstant::now();
        size = once();
        times.push(start.elapsed().as_secs_f64());
    }
    (median(times), size)
}

struct Report {
    failed: Vec<String>,
}

impl Report {
    fn say(&mut self, line: String) {
        println!("{line}");
    }

    fn check(&mut self, ok: bool, what: String) {
        let line = format!("{} {what}", if ok { "PASS" } else { "FAIL" });
        if !ok {
            self.failed.push(what);
        }
        self.say(line);
    }
}

fn packaging_bench(report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    generate_tree(dir.path());
    let tree = Tree::scan(dir.path()).unwrap();
    report.say(format!(
        "packaging: {} files, {:.1} MB, {} core(s)",
        tree.files.len(),
        tree.total_size() as f64 / 1048576.0,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    let (ours, our_size) = rust_packaging(dir.path(), zip::LEVEL, PACKAGING_RUNS);
    let (ours6, our6_size) = rust_packaging(dir.path(), 6, PACKAGING_RUNS);
    report.say(format!(
        "  galley zip (level {}) + base64: {:.3} s, zip {:.1} MB",
        zip::LEVEL,
        ours,
        our_size as f64 / 1048576.0
    ));
    report.say(format!(
        "  galley zip (level 6) + base64: {:.3} s, zip {:.1} MB",
        ours6,
        our6_size as f64 / 1048576.0
    ));
    let Some(python) = python() else {
        report.check(
            false,
            "packaging: no python to measure the baseline with".into(),
        );
        return;
    };
    let script = dir
        .path()
        .join("..")
        .join(format!("galley-bench-baseline-{}.py", std::process::id()));
    std::fs::write(&script, PYTHON_BASELINE).unwrap();
    let out = Command::new(&python)
        .arg(&script)
        .arg(dir.path())
        .arg(PACKAGING_RUNS.to_string())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&script);
    assert!(
        out.status.success(),
        "python baseline failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let baseline: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs = baseline["median_s"].as_f64().unwrap();
    let their_size = baseline["zip_bytes"].as_u64().unwrap();
    report.say(format!(
        "  python zipfile (ZIP_DEFLATED) + base64: {:.3} s, zip {:.1} MB",
        theirs,
        their_size as f64 / 1048576.0
    ));
    let ratio = theirs / ours;
    report.check(
        ratio >= 3.0,
        format!(
            "packaging {ratio:.1}x faster than python (target 3x; at level 6: {:.1}x)",
            theirs / ours6
        ),
    );
}

/// A simulated job on the paused clock.
struct SimJob {
    start: Instant,
    end: Instant,
    /// Log line times, the closing line last.
    lines: Vec<(Instant, &'static str)>,
    delivered: Mutex<usize>,
    get_job_calls: Mutex<u32>,
    log_calls: Mutex<u32>,
}

impl SimJob {
    fn new(rng: &mut Rng, duration: Duration) -> Self {
        let start = Instant::now();
        let end = start + duration;
        let gap = Duration::from_secs_f64(0.05 + rng.unit() * 2.95);
        let closing = end.checked_sub(gap).unwrap_or(start).max(start);
        let mut lines = Vec::new();
        let mut t = start + Duration::from_secs_f64(0.5);
        while t < closing {
            lines.push((t, "terraform_data.x: Still creating..."));
            t += Duration::from_secs_f64(1.0 + rng.unit() * 3.0);
        }
        lines.push((
            closing,
            "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.",
        ));
        Self {
            start,
            end,
            lines,
            delivered: Mutex::new(0),
            get_job_calls: Mutex::new(0),
            log_calls: Mutex::new(0),
        }
    }

    fn job(&self) -> Job {
        Job {
            id: "ocid1.ormjob.oc1..sim".into(),
            lifecycle_state: if Instant::now() >= self.end {
                JobLifecycleState::Succeeded
            } else if Instant::now() > self.start {
                JobLifecycleState::InProgress
            } else {
                JobLifecycleState::Accepted
            },
            ..Job::default()
        }
    }
}

#[async_trait]
impl JobApi for SimJob {
    async fn get_job(&self, _id: &str) -> Result<Reply<Job>, OciError> {
        *self.get_job_calls.lock().unwrap() += 1;
        Ok(Reply {
            value: self.job(),
            etag: None,
            opc_request_id: None,
            next_page: None,
        })
    }

    async fn next_logs(&self, _tail: &mut JobLogTail) -> Result<Vec<LogEntry>, OciError> {
        *self.log_calls.lock().unwrap() += 1;
        let now = Instant::now();
        let mut delivered = self.delivered.lock().unwrap();
        let fresh: Vec<LogEntry> = self.lines[*delivered..]
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, m)| LogEntry {
                message: (*m).to_owned(),
                ..LogEntry::default()
            })
            .collect();
        *delivered += fresh.len();
        Ok(fresh)
    }

    async fn cancel_job(&self, _id: &str) -> Result<(), OciError> {
        Ok(())
    }
}

/// Fixed-interval GetJob polling, the baseline: (seen at, GetJob calls).
async fn fixed_polling(api: &SimJob, every: Duration) -> (Instant, u32) {
    loop {
        tokio::time::sleep(every).await;
        let job = api.get_job("sim").await.unwrap().value;
        if job.lifecycle_state.is_terminal() {
            return (Instant::now(), *api.get_job_calls.lock().unwrap());
        }
    }
}

struct SimResult {
    delay: f64,
    get_job: u32,
    logs: u32,
    duration: f64,
}

async fn sim_follow(rng: &mut Rng, duration: Duration) -> SimResult {
    let api = SimJob::new(rng, duration);
    let f = follow(
        &api,
        api.job(),
        &FollowPolicy::default(),
        Duration::from_secs(3600),
        &CancellationToken::new(),
    )
    .await;
    assert!(f.succeeded());
    let seen = f.seen_finished_at.unwrap();
    SimResult {
        delay: (seen - api.end).as_secs_f64(),
        get_job: *api.get_job_calls.lock().unwrap(),
        logs: *api.log_calls.lock().unwrap(),
        duration: duration.as_secs_f64(),
    }
}

async fn sim_fixed(rng: &mut Rng, duration: Duration) -> SimResult {
    let api = SimJob::new(rng, duration);
    let (seen, calls) = fixed_polling(&api, Duration::from_secs(5)).await;
    SimResult {
        delay: (seen - api.end).as_secs_f64(),
        get_job: calls,
        logs: 0,
        duration: duration.as_secs_f64(),
    }
}

fn follow_sim_bench(report: &mut Report) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        // Log-uniform durations from 5 s to 10 min; the same jobs for both followers.
        let durations: Vec<Duration> = {
            let mut rng = Rng(42);
            (0..SIM_JOBS)
                .map(|_| Duration::from_secs_f64(5.0 * (120f64).powf(rng.unit())))
                .collect()
        };
        let mut ours = Vec::new();
        let mut fixed = Vec::new();
        let mut rng_a = Rng(7);
        let mut rng_b = Rng(7);
        for d in &durations {
            ours.push(sim_follow(&mut rng_a, *d).await);
            fixed.push(sim_fixed(&mut rng_b, *d).await);
        }
        let per_minute = |v: &[SimResult], f: fn(&SimResult) -> u32| {
            v.iter().map(|r| f(r) as f64).sum::<f64>()
                / v.iter().map(|r| r.duration).sum::<f64>()
                * 60.0
        };
        report.say(format!(
            "following: {SIM_JOBS} simulated jobs of 5 s to 10 min (paused clock)"
        ));
        let our_median = median(ours.iter().map(|r| r.delay).collect());
        report.say(format!(
            "  galley follower: delay median {:.2} s, p90 {:.2} s; GetJob {:.1}/min, GetJobLogs {:.1}/min",
            our_median,
            percentile(ours.iter().map(|r| r.delay).collect(), 0.9),
            per_minute(&ours, |r| r.get_job),
            per_minute(&ours, |r| r.logs),
        ));
        report.say(format!(
            "  fixed 5 s polling: delay median {:.2} s, p90 {:.2} s; GetJob {:.1}/min",
            median(fixed.iter().map(|r| r.delay).collect()),
            percentile(fixed.iter().map(|r| r.delay).collect(), 0.9),
            per_minute(&fixed, |r| r.get_job),
        ));
        report.check(
            our_median < 1.0,
            format!("median delay {our_median:.2} s (target under 1 s)"),
        );
        let mut rng = Rng(99);
        let two_min = sim_follow(&mut rng, Duration::from_secs(120)).await;
        let mut rng = Rng(99);
        let two_min_fixed = sim_fixed(&mut rng, Duration::from_secs(120)).await;
        report.check(
            two_min.get_job <= two_min_fixed.get_job,
            format!(
                "a 2-minute job: {} GetJob calls (fixed 5 s polling: {}), plus {} GetJobLogs; seen {:.2} s after it ended",
                two_min.get_job, two_min_fixed.get_job, two_min.logs, two_min.delay
            ),
        );
    });
}

const LIVE_STACK: &str = r#"
variable "seconds" {
  type = number
}

resource "terraform_data" "wait" {
  triggers_replace = timestamp()
  provisioner "local-exec" {
    command = "sleep ${var.seconds}"
  }
}
"#;

/// A few real jobs on galley-local, followed by the real follower.
fn follow_live_bench(report: &mut Report) {
    use galley_oci::auth::{self, AuthSettings};
    use galley_oci::client::Client;
    use galley_oci::endpoints::{Endpoints, Service};
    use galley_oci::resource_manager::{
        CreateConfigSourceDetails, CreateJobDetails, CreateJobOperationDetails, CreateStackDetails,
        ResourceManagerClient, UpdateStackDetails,
    };

    if std::panic::catch_unwind(galley_tests::local::binary).is_err() {
        report.say("live: skipped (run `cargo build -p galley-local` for it)".into());
        return;
    }
    let local = galley_tests::local::LocalOci::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let settings = AuthSettings {
            config_file: Some(local.config_file()),
            ..AuthSettings::default()
        };
        let authenticated = auth::from_settings(&settings, &auth::process_env)
            .await
            .unwrap();
        let client = Client::builder(authenticated.provider).build().unwrap();
        let endpoints = Endpoints::new()
            .with(Service::ResourceManager, &local.endpoint())
            .unwrap();
        let rm =
            ResourceManagerClient::for_region(client, &endpoints, &authenticated.region).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), LIVE_STACK).unwrap();
        let package = zip::build(&Tree::scan(dir.path()).unwrap()).unwrap();
        let stack = rm
            .create_stack(&CreateStackDetails::new(
                galley_tests::local::COMPARTMENT,
                CreateConfigSourceDetails::zip(&package.bytes, None),
            ))
            .await
            .unwrap()
            .value;
        let mut delays = Vec::new();
        let mut lines = Vec::new();
        for seconds in ["1.3", "2.6", "3.9", "5.2", "6.5", "8.8"] {
            rm.update_stack(
                &stack.id,
                &UpdateStackDetails {
                    variables: Some([("seconds".to_string(), seconds.to_string())].into()),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
            let job = rm
                .create_job(&CreateJobDetails::new(
                    &stack.id,
                    CreateJobOperationDetails::apply_auto_approved(None),
                ))
                .await
                .unwrap()
                .value;
            let f = follow(
                &rm,
                job,
                &FollowPolicy::default(),
                Duration::from_secs(300),
                &CancellationToken::new(),
            )
            .await;
            let seen = SystemTime::now();
            assert!(f.succeeded(), "{:?}", f.ending);
            let finished = f
                .job
                .time_finished
                .as_deref()
                .and_then(galley_oci::model::parse_rfc3339)
                .expect("timeFinished");
            let delay = seen.duration_since(finished).unwrap_or_default();
            delays.push(delay.as_secs_f64());
            lines.push(format!(
                "sleep {seconds} s: seen {:.2} s after timeFinished, {} GetJob, {} GetJobLogs",
                delay.as_secs_f64(),
                f.stats.status_calls,
                f.stats.log_calls
            ));
        }
        report.say("live: jobs on galley-local (real terraform)".into());
        for l in lines {
            report.say(format!("  {l}"));
        }
        let m = median(delays);
        report.check(
            m < 1.0,
            format!("live median delay {m:.2} s (target under 1 s)"),
        );
    });
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let mut report = Report { failed: Vec::new() };
    packaging_bench(&mut report);
    follow_sim_bench(&mut report);
    follow_live_bench(&mut report);
    if !report.failed.is_empty() {
        eprintln!("targets missed: {:?}", report.failed);
        std::process::exit(1);
    }
}
