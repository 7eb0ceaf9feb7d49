//! galley-local under attack: resident memory, open file descriptors and whether a fresh
//! health check is still answered, for
//! - the connection attack: N connections that each send half a request and then nothing, once
//!   with the default file-descriptor limit and once with the engine limited to 256;
//! - the body attack: parallel unsigned 50 MiB PUTs (peak RSS, `VmHWM`, over the attack).
//!
//! Run: `cargo bench -p galley-local --bench attacks` (after `tests/setup.sh`). To compare with
//! another build, for example the last one before these defences, set
//! `GALLEY_LOCAL_BASELINE=/path/to/that/galley-local`: both are measured in the same run and
//! the table gets a column for each.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::attack::{health, slow_connections, unsigned_put};
use support::{Fixture, Start};

/// Half-sent requests of the connection attack.
const SLOW_CONNECTIONS: usize = 2000;
/// The open-file limit of the second connection attack, which sends three times as many
/// half-sent requests (beyond what an engine that stops accepting has room for in its listen
/// backlog, each connection attempt would only time out).
const LOW_NOFILE: u64 = 256;
/// Parallel unsigned uploads of the body attack, and their size.
const PUTS: usize = 8;
const PUT_BYTES: usize = 50 << 20;

/// What one attack did to one build.
struct Under {
    rss_kib: u64,
    fds: usize,
    /// Fresh health checks answered 200 within 2 s, out of 5.
    answered: usize,
    /// Slowest answered health check.
    slowest: Duration,
}

fn checks(addr: &str) -> (usize, Duration) {
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let (status, took) = health(addr, Duration::from_secs(2));
        if status == Ok(200) {
            answered += 1;
            slowest = slowest.max(took);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (answered, slowest)
}

fn connection_attack(binary: Option<&Path>, nofile: Option<u64>, n: usize) -> (u64, Under) {
    let f = Fixture::new();
    let engine = f.start_with(&Start {
        log: "galley_local=warn",
        nofile,
        binary,
        ..Start::default()
    });
    std::thread::sleep(Duration::from_millis(500));
    let idle = engine.rss_kib();
    let slow = slow_connections(&engine.addr, n);
    std::thread::sleep(Duration::from_millis(500));
    let (answered, slowest) = checks(&engine.addr);
    let under = Under {
        rss_kib: engine.rss_kib(),
        fds: engine.open_fds(),
        answered,
        slowest,
    };
    drop(slow);
    engine.stop();
    (idle, under)
}

/// Peak RSS before and after the body attack, and how many uploads were answered 401.
fn body_attack(binary: Option<&Path>) -> (u64, u64, usize) {
    let f = Fixture::new();
    let engine = f.start_with(&Start {
        log: "galley_local=warn",
        binary,
        ..Start::default()
    });
    std::thread::sleep(Duration::from_millis(500));
    let before = engine.peak_rss_kib();
    let attackers: Vec<_> = (0..PUTS)
        .map(|_| {
            let addr = engine.addr.clone();
            std::thread::spawn(move || unsigned_put(&addr, PUT_BYTES))
        })
        .collect();
    let refused = attackers
        .into_iter()
        .map(|a| a.join().unwrap())
        .filter(|r| *r == Ok(401))
        .count();
    std::thread::sleep(Duration::from_millis(200));
    let after = engine.peak_rss_kib();
    engine.stop();
    (before, after, refused)
}

struct Column {
    name: String,
    idle_kib: u64,
    default_limit: Under,
    low_limit: Under,
    body: (u64, u64, usize),
}

fn measure(name: &str, binary: Option<&Path>) -> Column {
    let (idle_kib, default_limit) = connection_attack(binary, None, SLOW_CONNECTIONS);
    let (_, low_limit) = connection_attack(binary, Some(LOW_NOFILE), 3 * LOW_NOFILE as usize);
    Column {
        name: name.to_owned(),
        idle_kib,
        default_limit,
        low_limit,
        body: body_attack(binary),
    }
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

fn answered(u: &Under) -> String {
    if u.answered == 0 {
        "0/5 (no answer within 2 s)".to_owned()
    } else {
        format!(
            "{}/5, slowest {:.0} ms",
            u.answered,
            u.slowest.as_secs_f64() * 1000.0
        )
    }
}

fn main() {
    // `cargo bench` passes flags such as --bench; this harness takes none.
    let baseline = std::env::var_os("GALLEY_LOCAL_BASELINE").map(PathBuf::from);
    let mut columns = Vec::new();
    if let Some(b) = &baseline {
        columns.push(measure("baseline", Some(b)));
    }
    columns.push(measure("this build", None));

    println!(
        "galley-local under attack ({SLOW_CONNECTIONS} half-sent requests, {} under a {LOW_NOFILE} \
         file limit; {PUTS} parallel unsigned {} MiB PUTs){}",
        3 * LOW_NOFILE,
        PUT_BYTES >> 20,
        baseline
            .as_ref()
            .map(|b| format!("; baseline {}", b.display()))
            .unwrap_or_default()
    );
    let header: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    println!("| measure | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(columns.len()));
    let row = |label: &str, cell: &dyn Fn(&Column) -> String| {
        let cells: Vec<String> = columns.iter().map(cell).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("RSS, idle", &|c| mb(c.idle_kib));
    row("connection attack: RSS", &|c| mb(c.default_limit.rss_kib));
    row("connection attack: open fds", &|c| {
        c.default_limit.fds.to_string()
    });
    row("connection attack: health checks answered", &|c| {
        answered(&c.default_limit)
    });
    row(&format!("connection attack, {LOW_NOFILE} fds: RSS"), &|c| {
        mb(c.low_limit.rss_kib)
    });
    row(
        &format!("connection attack, {LOW_NOFILE} fds: open fds"),
        &|c| c.low_limit.fds.to_string(),
    );
    row(
        &format!("connection attack, {LOW_NOFILE} fds: health checks answered"),
        &|c| answered(&c.low_limit),
    );
    row("body attack: peak RSS before", &|c| mb(c.body.0));
    row("body attack: peak RSS after", &|c| mb(c.body.1));
    row("body attack: uploads answered 401", &|c| {
        format!("{}/{PUTS}", c.body.2)
    });
}
