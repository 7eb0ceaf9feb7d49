//! galley-local speed and memory, and the crate's OCI client against the official Python SDK,
//! measured in the same run on the same engine:
//! - resident memory of the release `galley-local` when idle, right after start and after the
//!   runs below;
//! - 1,000 sequential signed GetJob calls with `galley_oci` (median and p99 per call, total);
//! - the same 1,000 calls with the OCI Python SDK (`getjob_sdk.py`, timed inside Python);
//! - one RSA-2048 PKCS#1 v1.5 signature with the same key in each (every request signs once),
//!   which bounds what any client can gain.
//!
//! Run: `cargo bench -p galley-local --bench engine` (after `tests/setup.sh`: terraform and the
//! venv). Targets: the Rust client at least 10x faster in total, a GetJob median under 2 ms,
//! idle RSS under 20 MB.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use galley_oci::client::Client;
use galley_oci::resource_manager::{
    CreateConfigSourceDetails, CreateJobDetails, CreateJobOperationDetails, CreateStackDetails,
    JobLifecycleState, ResourceManagerClient,
};
use galley_oci::signing::{KeyId, PrivateKey, StaticKeyProvider};
use support::{Fixture, TENANCY, USER};

const CALLS: usize = 1000;
const WARMUP: usize = 20;

/// Per-call timings of one client.
struct Run {
    total: Duration,
    median: Duration,
    p99: Duration,
    /// Median of one signature with the client's key.
    sign: Duration,
}

impl Run {
    fn from_calls(total: Duration, mut calls: Vec<Duration>, sign: Duration) -> Self {
        calls.sort();
        Self {
            total,
            median: calls[calls.len() / 2],
            p99: calls[(calls.len() * 99 / 100).min(calls.len() - 1)],
            sign,
        }
    }
}

fn config_zip() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("main.tf", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(
        br#"
resource "terraform_data" "bench" {
  input = "bench"
}
output "bench" {
  value = terraform_data.bench.output
}
"#,
    )
    .unwrap();
    zip.finish().unwrap().into_inner()
}

/// A stack and a finished PLAN job to read.
async fn plan_job(rm: &ResourceManagerClient, f: &Fixture) -> String {
    let details = CreateStackDetails::new(
        "ocid1.compartment.oc1..bench",
        CreateConfigSourceDetails::zip(&config_zip(), None),
    );
    let stack = rm.create_stack(&details).await.unwrap();
    let job = rm
        .create_job(&CreateJobDetails::new(
            &stack.id,
            CreateJobOperationDetails::plan(None),
        ))
        .await
        .unwrap();
    // Wait for terraform to finish so it does not share the CPU with the timed calls.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = rm.get_job(&job.id).await.unwrap();
        if job.lifecycle_state.is_terminal() {
            assert_eq!(
                job.lifecycle_state,
                JobLifecycleState::Succeeded,
                "{job:?}\n{}",
                f.log()
            );
            return job.id.clone();
        }
        assert!(Instant::now() < deadline, "the plan job did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn rust_run(rm: &ResourceManagerClient, key: &PrivateKey, job_id: &str) -> Run {
    for _ in 0..WARMUP {
        rm.get_job(job_id).await.unwrap();
    }
    let mut calls = Vec::with_capacity(CALLS);
    let started = Instant::now();
    for _ in 0..CALLS {
        let t = Instant::now();
        let job = rm.get_job(job_id).await.unwrap();
        calls.push(t.elapsed());
        assert_eq!(job.id, job_id);
    }
    let total = started.elapsed();
    let signs = (0..200)
        .map(|_| {
            let t = Instant::now();
            key.sign_sha256(b"date: Thu, 05 Jan 2014 21:31:40 GMT")
                .unwrap();
            t.elapsed()
        })
        .collect();
    Run::from_calls(total, calls, median(signs))
}

fn python_run(f: &Fixture, endpoint: &str, job_id: &str) -> (Run, String) {
    let script = support::manifest().join("benches/getjob_sdk.py");
    let out = Command::new(support::python())
        .arg(&script)
        .arg(endpoint)
        .arg(TENANCY)
        .arg(USER)
        .arg(f.fingerprint())
        .arg(f.trusted_key_file())
        .arg(job_id)
        .arg(CALLS.to_string())
        .arg(WARMUP.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ms = |key: &str| Duration::from_secs_f64(v[key].as_f64().unwrap() / 1000.0);
    let run = Run {
        total: Duration::from_secs_f64(v["total_s"].as_f64().unwrap()),
        median: ms("median_ms"),
        p99: ms("p99_ms"),
        sign: ms("sign_median_ms"),
    };
    (run, v["sdk_version"].as_str().unwrap_or("?").to_owned())
}

fn main() {
    // `cargo bench` passes flags such as --bench; this harness takes none.
    let f = Fixture::new();
    // Per-request debug logs would be disk writes inside the timed calls.
    let engine = f.start_with_log("galley_local=info");
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = engine.rss_kib();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = f.trusted_key();
    let provider =
        StaticKeyProvider::new(KeyId::api_key(TENANCY, USER, f.fingerprint()), key.clone());
    let client = Client::builder(Arc::new(provider)).build().unwrap();
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", engine.endpoint));

    let job_id = runtime.block_on(plan_job(&rm, &f));
    let rust = runtime.block_on(rust_run(&rm, &key, &job_id));
    let (python, sdk_version) = python_run(&f, &engine.endpoint, &job_id);
    std::thread::sleep(Duration::from_millis(500));
    let rss_end = engine.rss_kib();
    engine.stop();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!(
        "galley-local benchmark ({CALLS} sequential signed GetJob calls per client after {WARMUP} \
         warm-up calls; baseline OCI Python SDK {sdk_version}, same engine, same run)"
    );
    println!("| measure | galley_oci (Rust) | OCI Python SDK | ratio Python/Rust | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| GetJob median | {:.3} ms | {:.3} ms | {:.1} | Rust < 2 ms |",
        ms(rust.median),
        ms(python.median),
        ms(python.median) / ms(rust.median)
    );
    println!(
        "| GetJob p99 | {:.3} ms | {:.3} ms | {:.1} | |",
        ms(rust.p99),
        ms(python.p99),
        ms(python.p99) / ms(rust.p99)
    );
    println!(
        "| {CALLS} GetJob calls, total | {:.0} ms | {:.0} ms | {:.1} | >= 10 |",
        ms(rust.total),
        ms(python.total),
        ms(python.total) / ms(rust.total)
    );
    println!(
        "| one RSA-2048 signature (median of 200) | {:.3} ms | {:.3} ms | {:.1} | |",
        ms(rust.sign),
        ms(python.sign),
        ms(python.sign) / ms(rust.sign)
    );
    println!(
        "| galley-local RSS, idle after start | {:.1} MB | | | < 20 MB |",
        mb(rss_start)
    );
    println!(
        "| galley-local RSS, idle after the runs | {:.1} MB | | | < 20 MB |",
        mb(rss_end)
    );
}
