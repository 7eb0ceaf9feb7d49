//! Provider speed and memory against hashicorp/null 2.1.2 (a Go provider), measured in the
//! same run on the same machine:
//! - time from process start to the handshake line (median of many starts);
//! - resident memory right after the handshake;
//! - `terraform plan -refresh=false` of 100 `esb_resources` versus 100 `null_resource`.
//!
//! Run: `cargo bench -p terraform-provider-galley --bench provider` (after `tests/setup.sh`).
//! Targets: start-up at most 1/4 of null's, memory at most 1/2, the plan no slower.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use galley_tests::terraform::{Install, TfVersion, Workdir};
use galley_tests::tools;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const STARTS: usize = 41;
const PLANS: usize = 5;

fn client_cert_pem() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

/// Starts `bin` as Terraform would and returns (time to handshake line, RSS in KiB after it).
fn one_start(bin: &Path, cert: &str) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .env("PLUGIN_CLIENT_CERT", cert)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start provider");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("handshake line");
    let elapsed = started.elapsed();
    assert!(
        line.starts_with("1|5|"),
        "{}: unexpected handshake {line:?}",
        bin.display()
    );
    let rss = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    (elapsed, rss)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn starts(bin: &Path, cert: &str) -> (Duration, u64) {
    let _ = one_start(bin, cert); // warm the page cache
    let runs: Vec<_> = (0..STARTS).map(|_| one_start(bin, cert)).collect();
    (
        median(runs.iter().map(|r| r.0).collect()),
        median(runs.iter().map(|r| r.1).collect()),
    )
}

fn null_mirror(dir: &Path) -> PathBuf {
    let target = dir.join("registry.terraform.io/hashicorp/null/2.1.2/linux_amd64");
    std::fs::create_dir_all(&target).unwrap();
    let dest = target.join("terraform-provider-null_v2.1.2_x4");
    std::fs::copy(tools::require("terraform-provider-null"), &dest).unwrap();
    dir.to_path_buf()
}

fn time_plans(wd: &Workdir) -> Duration {
    wd.ok(&["plan", "-refresh=false", "-no-color"]); // warm-up
    median(
        (0..PLANS)
            .map(|_| {
                let t = Instant::now();
                wd.ok(&["plan", "-refresh=false", "-no-color"]);
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    // `cargo bench` passes flags such as --bench; this harness takes none.
    let galley = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-galley"));
    let null = tools::require("terraform-provider-null");
    let cert = client_cert_pem();

    let (g_start, g_rss) = starts(&galley, &cert);
    let (n_start, n_rss) = starts(&null, &cert);

    let mut galley_wd = Workdir::new(TfVersion::Latest, &galley, Install::PluginDir);
    galley_wd.env("DYNAMODB_ENDPOINT", "http://127.0.0.1:9");
    galley_wd.write(
        "main.tf",
        r#"
terraform {
  required_providers {
    galley = { source = "galley-dev/galley" }
  }
}
resource "esb_resources" "r" {
  count          = 100
  provider       = galley
  resources_yaml = "DynamoDB: [{TableName: table-${count.index}, KeySchema: [{AttributeName: id, KeyType: HASH}], AttributeDefinitions: [{AttributeName: id, AttributeType: S}]}]"
}
"#,
    );
    galley_wd.init();

    let null_wd = Workdir::new(TfVersion::Latest, &galley, Install::DevOverrides);
    let mirror = null_mirror(&null_wd.path().join(".null-mirror"));
    null_wd.write(
        "main.tf",
        r#"
terraform {
  required_providers {
    null = { source = "hashicorp/null", version = "2.1.2" }
  }
}
resource "null_resource" "r" {
  count = 100
}
"#,
    );
    null_wd.ok(&[
        "init",
        "-no-color",
        &format!("-plugin-dir={}", mirror.display()),
    ]);

    let g_plan = time_plans(&galley_wd);
    let n_plan = time_plans(&null_wd);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("provider benchmark (medians; baseline hashicorp/null 2.1.2, same run)");
    println!("| measure | galley | null | ratio galley/null | target |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| start to handshake | {:.1} ms | {:.1} ms | {:.2} | <= 0.25 |",
        ms(g_start),
        ms(n_start),
        ms(g_start) / ms(n_start)
    );
    println!(
        "| RSS after handshake | {:.1} MB | {:.1} MB | {:.2} | <= 0.50 |",
        g_rss as f64 / 1024.0,
        n_rss as f64 / 1024.0,
        g_rss as f64 / n_rss as f64
    );
    println!(
        "| plan -refresh=false, 100 resources | {:.0} ms | {:.0} ms | {:.2} | <= 1.00 |",
        ms(g_plan),
        ms(n_plan),
        ms(g_plan) / ms(n_plan)
    );
}
