//! Attacks on the built `galley-local` over real sockets: half-sent requests and idle
//! connections under a low file-descriptor limit while health checks keep being answered,
//! the header-read and idle timeouts, and large unsigned uploads that must cost no memory
//! (measured from /proc). The engine is started as a separate process so that its limits and
//! memory are its own.
//!
//! Needs the tools of `tests/setup.sh` (the harness generates keys with the venv's Python).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use galley_oci::client::Client;
use galley_oci::object_storage::{CreateBucketDetails, ObjectStorageClient, PutObjectOptions};
use galley_oci::signing::{KeyId, StaticKeyProvider};
use sha2::{Digest, Sha256};
use support::attack::{closed_within, health, idle_connections, slow_connections, unsigned_put};
use support::{Fixture, NAMESPACE, Start, TENANCY, USER};

/// The open-file limit the engine runs under: its connection budget is this minus 64.
const NOFILE: u64 = 128;

#[test]
fn slow_and_idle_connections_under_a_low_fd_limit_do_not_stop_the_engine() {
    let f = Fixture::new();
    let engine = f.start_with(&Start {
        log: "galley_local=info",
        // Long timeouts: what keeps the engine answering here is shedding, not expiry.
        args: &[
            "--header-read-timeout-secs",
            "120",
            "--idle-timeout-secs",
            "120",
        ],
        nofile: Some(NOFILE),
        ..Start::default()
    });
    let (first, _) = health(&engine.addr, Duration::from_secs(5));
    assert_eq!(first, Ok(200));

    // Three times the engine's whole file budget in half-sent requests, and idle keep-alive
    // connections on top.
    let slow = slow_connections(&engine.addr, 3 * NOFILE as usize);
    let idle = idle_connections(&engine.addr, 40);
    let more_slow = slow_connections(&engine.addr, NOFILE as usize);
    assert!(
        slow.len() + more_slow.len() > NOFILE as usize,
        "the attack opened only {} connections",
        slow.len() + more_slow.len()
    );

    // Fresh health checks keep being answered, promptly, throughout.
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let (status, took) = health(&engine.addr, Duration::from_secs(5));
        assert_eq!(
            status,
            Ok(200),
            "health check {i} under attack\n{}",
            f.log()
        );
        slowest = slowest.max(took);
        if i % 5 == 4 {
            // The attacker keeps coming.
            drop(slow_connections(&engine.addr, 50));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
    assert!(engine.open_fds() <= NOFILE as usize);
    let log = f.log();
    assert!(!log.contains("panicked"), "{log}");
    drop((slow, idle, more_slow));
    engine.stop();
}

#[test]
fn half_sent_requests_and_idle_connections_are_closed_by_their_timeouts() {
    let f = Fixture::new();
    let engine = f.start_with(&Start {
        log: "galley_local=info",
        args: &[
            "--header-read-timeout-secs",
            "1",
            "--idle-timeout-secs",
            "3",
        ],
        ..Start::default()
    });
    let mut silent = std::net::TcpStream::connect(&engine.addr).unwrap();
    let mut half = slow_connections(&engine.addr, 1).pop().unwrap();
    let mut idle = idle_connections(&engine.addr, 1).pop().unwrap();
    let started = Instant::now();

    // Nothing sent, or half a request: closed after the header-read timeout.
    for (what, s) in [("silent", &mut silent), ("half a request", &mut half)] {
        let closed = closed_within(s, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{what}: still open after 5 s"));
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{what}: closed after {closed:?}, before the timeout"
        );
    }
    // An idle keep-alive connection outlives the header-read timeout, then is closed.
    let closed = closed_within(&mut idle, Duration::from_secs(6)).expect("idle: still open");
    let lived = started.elapsed();
    assert!(
        lived >= Duration::from_millis(2500) && closed <= Duration::from_secs(6),
        "idle connection closed after {lived:?}"
    );
    let (status, _) = health(&engine.addr, Duration::from_secs(5));
    assert_eq!(status, Ok(200));
    engine.stop();
}

#[test]
fn unsigned_50_mb_uploads_are_refused_without_memory_growth() {
    let f = Fixture::new();
    let engine = f.start_with_log("galley_local=info");
    std::thread::sleep(Duration::from_millis(300));
    let before = engine.peak_rss_kib();

    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let addr = engine.addr.clone();
            std::thread::spawn(move || unsigned_put(&addr, 50 << 20))
        })
        .collect();
    for a in attackers {
        assert_eq!(a.join().unwrap(), Ok(401));
    }
    let after = engine.peak_rss_kib();
    assert!(
        after.saturating_sub(before) < 8 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(health(&engine.addr, Duration::from_secs(5)).0, Ok(200));
    engine.stop();
}

#[test]
fn a_signed_50_mb_object_streams_through_disk_not_memory() {
    let f = Fixture::new();
    let engine = f.start_with_log("galley_local=info");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = StaticKeyProvider::new(
        KeyId::api_key(TENANCY, USER, f.fingerprint()),
        f.trusted_key(),
    );
    let client = Client::builder(Arc::new(provider)).build().unwrap();
    let os = ObjectStorageClient::new(client, &engine.endpoint);
    let content: Vec<u8> = (0..50u32 << 20).map(|i| (i % 253) as u8).collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = engine.peak_rss_kib();
    runtime.block_on(async {
        os.create_bucket(
            NAMESPACE,
            &CreateBucketDetails::new("big", "ocid1.compartment.oc1..x"),
        )
        .await
        .unwrap();
        os.put_object(
            NAMESPACE,
            "big",
            "blob.bin",
            content.clone().into(),
            &PutObjectOptions::default(),
        )
        .await
        .unwrap();
        let back = os.get_object(NAMESPACE, "big", "blob.bin").await.unwrap();
        assert_eq!(Sha256::digest(&back.body), Sha256::digest(&content));
    });
    let after = engine.peak_rss_kib();
    assert!(
        after.saturating_sub(before) < 16 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB for a 50 MiB object"
    );
    engine.stop();
}
