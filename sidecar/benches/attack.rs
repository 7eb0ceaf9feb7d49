//! What the connection attacks cost the sidecar, for this build and, when
//! `GALLEY_BENCH_BASELINE_BIN` names one, an earlier build of the binary measured in the same
//! run on the same machine:
//!
//! - slow-loris: `GALLEY_BENCH_SLOW` (default 2,000) connections that send a request's headers
//!   a line a second and never finish (reconnecting when closed) for 15 s, against a server
//!   whose open-file limit is 1,024: the server's peak RSS and descriptors, and how many
//!   `/health` probes (a fresh connection every 250 ms, 3 s timeout) were answered;
//! - mass `initialize`: 2,000 `initialize` calls over HTTP (20 at a time): RSS after;
//! - one session: 10,000 `tools/list` requests on one MCP session (8 at a time): answered, time
//!   and RSS after; then 1,000 event streams (GET) opened on it and held: accepted and RSS.
//!
//! `cargo bench -p galley-sidecar --bench attack`. Prints a table and one JSON line.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const NOFILE: u64 = 1024;
const ATTACK: Duration = Duration::from_secs(15);
/// Longest any one request may take; a server that stops answering costs the bench this, not
/// forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a phase keeps sending requests.
const PHASE: Duration = Duration::from_secs(90);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(bin: &PathBuf) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(bin);
        cmd.args(["--http", "127.0.0.1:0"])
            .env("GALLEY_DATA_DIR", data.path())
            .env_remove("GALLEY_URL_TOKEN")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: NOFILE,
                    rlim_max: NOFILE,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn sidecar");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut sent = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !sent && line.contains("ready: serving MCP") {
                    let v: Value = serde_json::from_str(&line).unwrap_or_default();
                    let _ = tx.send(v["fields"]["addr"].as_str().unwrap_or_default().to_string());
                    sent = true;
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(20)).expect("ready");
        Server {
            child,
            base: format!("http://{addr}"),
            _data: data,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn slow(addr: String, until: Instant) {
    while Instant::now() < until {
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .is_err()
        {
            continue;
        }
        let mut buf = [0u8; 64];
        loop {
            if Instant::now() >= until {
                return;
            }
            tokio::select! {
                r = s.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { break },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if s.write_all(b"X-Slow: 1\r\n").await.is_err() { break }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn probe(base: &str) -> Option<Duration> {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .ok()?;
    let start = Instant::now();
    let r = c.get(format!("{base}/health")).send().await.ok()?;
    (r.status() == 200).then(|| start.elapsed())
}

/// The slow-loris attack: (peak RSS MB, peak fds, probes answered, probes, max probe ms).
async fn slow_loris(bin: &PathBuf, n: usize) -> Value {
    let server = Server::start(bin);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mb(server.pid());
    let until = Instant::now() + ATTACK;
    let attackers: Vec<_> = (0..n)
        .map(|_| tokio::spawn(slow(server.addr(), until)))
        .collect();
    // The probes run on a thread of their own, so what they measure is the server, not the
    // scheduling of this process's own attacking tasks.
    let base = server.base.clone();
    let pid = server.pid();
    let prober = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (mut peak_rss, mut peak_fds, mut ok, mut total, mut worst) =
                (0f64, 0usize, 0, 0, 0u128);
            tokio::time::sleep(Duration::from_secs(1)).await;
            while Instant::now() < until {
                total += 1;
                if let Some(d) = probe(&base).await {
                    ok += 1;
                    worst = worst.max(d.as_millis());
                }
                peak_rss = peak_rss.max(rss_mb(pid));
                peak_fds = peak_fds.max(fds(pid));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (peak_rss, peak_fds, ok, total, worst)
        })
    });
    for a in attackers {
        let _ = a.await;
    }
    let (peak_rss, peak_fds, ok, total, worst) = prober.join().expect("prober");
    json!({"idle_rss_mb": idle, "peak_rss_mb": peak_rss, "peak_fds": peak_fds,
           "health_ok": ok, "health_probes": total, "health_worst_ms": worst})
}

fn initialize(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    .to_string()
}

async fn post(
    c: &reqwest::Client,
    url: &str,
    body: String,
    sid: Option<&str>,
) -> (u16, Option<String>) {
    let mut req = c
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body);
    if let Some(s) = sid {
        req = req.header("mcp-session-id", s);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let sid = r
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let _ = r.bytes().await;
            (status, sid)
        }
        Err(_) => (0, None),
    }
}

async fn mass_initialize(bin: &PathBuf, n: u64) -> Value {
    let server = Server::start(bin);
    let url = format!("{}/mcp", server.base);
    let c = client();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mb(server.pid());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..20 {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for i in 0..n / 20 {
                if start.elapsed() > PHASE {
                    break;
                }
                if post(&c, &url, initialize(w * 100_000 + i), None).await.0 == 200 {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap_or(0);
    }
    let secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    json!({"idle_rss_mb": idle, "rss_mb": rss_mb(server.pid()), "ok": ok, "seconds": secs})
}

async fn one_session(bin: &PathBuf, streams: usize, requests: u64) -> Value {
    let server = Server::start(bin);
    let url = format!("{}/mcp", server.base);
    let c = client();
    // Event streams stay open: no overall timeout on them.
    let streaming = reqwest::Client::builder()
        .connect_timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client");
    let (_, sid) = post(&c, &url, initialize(1), None).await;
    let sid = sid.expect("session");
    post(
        &c,
        &url,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        Some(&sid),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mb(server.pid());
    // Requests 8 at a time, within the per-session stream limit of this build.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (c, url, sid) = (c.clone(), url.clone(), sid.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for i in 0..requests / 8 {
                if start.elapsed() > PHASE {
                    break;
                }
                let body =
                    json!({"jsonrpc": "2.0", "id": w * 1_000_000 + i + 10, "method": "tools/list"});
                if post(&c, &url, body.to_string(), Some(&sid)).await.0 == 200 {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await.unwrap_or(0);
    }
    let requests_seconds = start.elapsed().as_secs_f64();
    let after_requests = rss_mb(server.pid());
    let opening: Vec<_> = (0..streams)
        .map(|_| {
            let req = streaming
                .get(&url)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", &sid)
                .header("mcp-protocol-version", "2025-11-25");
            tokio::spawn(async move { tokio::time::timeout(REQUEST_TIMEOUT, req.send()).await })
        })
        .collect();
    let mut held = Vec::new();
    let mut accepted = 0;
    for o in opening {
        if let Ok(Ok(Ok(r))) = o.await {
            if r.status() == 200 {
                accepted += 1;
            }
            held.push(r);
        }
    }
    let with_streams = rss_mb(server.pid());
    drop(held);
    json!({"idle_rss_mb": idle, "requests_answered": answered, "requests_seconds": requests_seconds,
           "rss_after_requests_mb": after_requests, "streams_accepted": accepted,
           "rss_with_streams_mb": with_streams})
}

fn main() {
    let current = PathBuf::from(env!("CARGO_BIN_EXE_galley-sidecar"));
    let baseline = std::env::var_os("GALLEY_BENCH_BASELINE_BIN").map(PathBuf::from);
    let slow_n: usize = std::env::var("GALLEY_BENCH_SLOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut results = serde_json::Map::new();
    let mut builds = vec![("this build", current)];
    if let Some(b) = baseline {
        builds.insert(0, ("baseline", b));
    }
    for (name, bin) in &builds {
        eprintln!("measuring {name} ({})", bin.display());
        let r = rt.block_on(async {
            let slow = slow_loris(bin, slow_n).await;
            eprintln!("  slow connections: {slow}");
            let init = mass_initialize(bin, 2_000).await;
            eprintln!("  mass initialize: {init}");
            let one = one_session(bin, 1_000, 10_000).await;
            eprintln!("  one session: {one}");
            json!({"slow_loris": slow, "mass_initialize": init, "one_session": one})
        });
        results.insert(name.to_string(), r);
    }
    println!(
        "| | {} |",
        builds.iter().map(|b| b.0).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}", "---|".repeat(builds.len()));
    let row = |label: &str, f: &dyn Fn(&Value) -> String| {
        let cells: Vec<String> = builds.iter().map(|(n, _)| f(&results[*n])).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("idle RSS", &|v| {
        format!(
            "{:.1} MB",
            v["slow_loris"]["idle_rss_mb"].as_f64().unwrap_or(0.0)
        )
    });
    row(&format!("{slow_n} slow connections: peak RSS"), &|v| {
        format!(
            "{:.1} MB",
            v["slow_loris"]["peak_rss_mb"].as_f64().unwrap_or(0.0)
        )
    });
    row(
        &format!("{slow_n} slow connections: peak descriptors (limit {NOFILE})"),
        &|v| v["slow_loris"]["peak_fds"].to_string(),
    );
    row(
        &format!("{slow_n} slow connections: /health answered"),
        &|v| {
            format!(
                "{} of {} (slowest {} ms)",
                v["slow_loris"]["health_ok"],
                v["slow_loris"]["health_probes"],
                v["slow_loris"]["health_worst_ms"]
            )
        },
    );
    row("RSS after 2,000 initialize", &|v| {
        format!(
            "{:.1} MB",
            v["mass_initialize"]["rss_mb"].as_f64().unwrap_or(0.0)
        )
    });
    row("10,000 requests on one session: answered", &|v| {
        format!(
            "{} in {:.1} s",
            v["one_session"]["requests_answered"],
            v["one_session"]["requests_seconds"].as_f64().unwrap_or(0.0)
        )
    });
    row("10,000 requests on one session: RSS after", &|v| {
        format!(
            "{:.1} MB",
            v["one_session"]["rss_after_requests_mb"]
                .as_f64()
                .unwrap_or(0.0)
        )
    });
    row("then 1,000 streams on it: accepted", &|v| {
        v["one_session"]["streams_accepted"].to_string()
    });
    row("then 1,000 streams on it: RSS", &|v| {
        format!(
            "{:.1} MB",
            v["one_session"]["rss_with_streams_mb"]
                .as_f64()
                .unwrap_or(0.0)
        )
    });
    println!("{}", Value::Object(results));
}
