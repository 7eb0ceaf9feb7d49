//! Attacks on the HTTP listener of the running binary: slow and idle connections under a low
//! open-file limit while `/health` must keep answering, a flood of `initialize` calls and of
//! streams on one session with the memory they cost, and malformed or oversized messages, which
//! must get JSON-RPC errors while the server keeps serving.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{self, HttpSidecar};

fn initialize(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// POSTs `body` to `/mcp`; (status, session id header, body as JSON or text).
async fn post(
    c: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
    session: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut req = c
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body);
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    (status, sid, resp.text().await.unwrap_or_default())
}

/// A JSON-RPC error body: (code, id, message).
fn jsonrpc_error(body: &str) -> (i64, Value, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    (
        v["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no error code: {v}")),
        v.get("id").cloned().unwrap_or(Value::Null),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// A session: initialize, then the initialized notification.
async fn new_session(c: &reqwest::Client, url: &str, id: u64) -> String {
    let (status, sid, body) = post(c, url, initialize(id).to_string(), None).await;
    assert_eq!(status, 200, "{body}");
    let sid = sid.expect("session id");
    let (status, _, body) = post(
        c,
        url,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        Some(&sid),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    sid
}

async fn health_ok(base: &str) -> Result<Duration, String> {
    let start = Instant::now();
    // A fresh connection each time, as a load balancer's probe does.
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| e.to_string())?;
    let r = c
        .get(format!("{base}/health"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("status {}", r.status()));
    }
    Ok(start.elapsed())
}

/// One slow-loris connection: a request's headers, a line every `every`, never finished.
/// Reconnects when the server closes it, until `until`.
async fn slow_loris(addr: String, until: Instant, every: Duration) -> (usize, usize) {
    let (mut opened, mut closed_by_server) = (0, 0);
    while Instant::now() < until {
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        opened += 1;
        if s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .is_err()
        {
            continue;
        }
        let mut buf = [0u8; 64];
        loop {
            if Instant::now() >= until {
                return (opened, closed_by_server);
            }
            tokio::select! {
                r = s.read(&mut buf) => {
                    if matches!(r, Ok(0) | Err(_)) {
                        closed_by_server += 1;
                        break;
                    }
                }
                _ = tokio::time::sleep(every) => {
                    if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        closed_by_server += 1;
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (opened, closed_by_server)
}

/// An idle connection: connects and sends nothing; reconnects when closed.
async fn idler(addr: String, until: Instant) -> usize {
    let mut opened = 0;
    while Instant::now() < until {
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        opened += 1;
        let mut buf = [0u8; 64];
        let left = until.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(left, s.read(&mut buf)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    opened
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_idle_connections_under_a_low_descriptor_limit_do_not_silence_health() {
    const NOFILE: u64 = 64;
    let server = HttpSidecar::start_with(
        &[
            ("GALLEY_HTTP_HEADER_TIMEOUT_SECS", "2"),
            ("GALLEY_HTTP_IDLE_TIMEOUT_SECS", "2"),
        ],
        Some(NOFILE),
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    let pid = server.pid();
    let attack = Duration::from_secs(10);
    let until = Instant::now() + attack;
    // Five times more attackers than descriptors, each holding a connection open as long as
    // the server lets it, and coming back when closed.
    let mut attackers = Vec::new();
    for i in 0..320 {
        let addr = addr.clone();
        if i % 2 == 0 {
            attackers.push(tokio::spawn(async move {
                slow_loris(addr, until, Duration::from_millis(300)).await
            }));
        } else {
            attackers.push(tokio::spawn(async move { (idler(addr, until).await, 0) }));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut probes = Vec::new();
    let mut max_fds = 0;
    while Instant::now() + Duration::from_millis(500) < until {
        probes.push(health_ok(&server.base).await);
        max_fds = max_fds.max(util::open_fds(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut opened = 0;
    let mut closed = 0;
    for a in attackers {
        let (o, c) = a.await.expect("attacker");
        opened += o;
        closed += c;
    }
    let failures: Vec<_> = probes.iter().filter_map(|p| p.as_ref().err()).collect();
    // About 45 probes fit in the window on an idle machine; a loaded CI machine makes fewer, and
    // ten still cover the whole attack.
    assert!(probes.len() >= 10, "{} probes", probes.len());
    assert!(
        failures.is_empty(),
        "/health failed {} of {} times under the attack: {failures:?}",
        failures.len(),
        probes.len()
    );
    let slowest = probes.iter().filter_map(|p| p.as_ref().ok()).max().unwrap();
    assert!(
        *slowest < Duration::from_secs(2),
        "slowest /health {slowest:?}"
    );
    // The descriptors do run short (that is the attack): what matters is that the listener
    // sheds waiting connections instead of stalling on them.
    eprintln!(
        "{} health probes, slowest {slowest:?}; up to {max_fds} of {NOFILE} descriptors open; {opened} attacking connections opened, {closed} closed by the server",
        probes.len()
    );
    assert!(
        opened > 320 && closed > 100,
        "the server closes slow and idle connections ({opened} opened, {closed} seen closed)"
    );
    // The process is still serving, and its descriptors are back once the attackers left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    health_ok(&server.base).await.expect("health after");
    assert!(
        util::open_fds(pid) < 24,
        "{} descriptors left",
        util::open_fds(pid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_initialize_calls_keeps_sessions_and_memory_bounded() {
    let server = HttpSidecar::start(&[("GALLEY_HTTP_MAX_SESSIONS", "50")]);
    let url = server.mcp_url();
    let c = client();
    let first = new_session(&c, &url, 1).await;
    let before = util::rss_kib(server.pid());
    let mut tasks = Vec::new();
    let n = 2_000u64;
    for worker in 0..20u64 {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for i in 0..n / 20 {
                let (status, sid, _) = post(
                    &c,
                    &url,
                    initialize(10 + worker * 1000 + i).to_string(),
                    None,
                )
                .await;
                if status == 200 && sid.is_some() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.expect("worker");
    }
    // Idle sessions make room: every initialize succeeded.
    assert_eq!(ok, n);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = util::rss_kib(server.pid());
    let grown_mib = after.saturating_sub(before) as f64 / 1024.0;
    eprintln!("RSS {before} KiB -> {after} KiB after {n} initialize calls");
    assert!(grown_mib < 40.0, "RSS grew by {grown_mib:.1} MiB");
    // The first session was the least recently used: it was closed to make room.
    let (status, _, body) = post(
        &c,
        &url,
        json!({"jsonrpc": "2.0", "id": 77, "method": "tools/list"}).to_string(),
        Some(&first),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (code, id, message) = jsonrpc_error(&body);
    assert_eq!((code, id), (-32001, json!(77)), "{message}");
    assert!(message.contains("initialize"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_that_all_hold_a_stream_refuse_initialize_with_a_jsonrpc_error() {
    let server = HttpSidecar::start(&[("GALLEY_HTTP_MAX_SESSIONS", "2")]);
    let url = server.mcp_url();
    let c = client();
    let mut streams = Vec::new();
    for i in 0..2 {
        let sid = new_session(&c, &url, i).await;
        let stream = c
            .get(&url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .expect("stream");
        assert_eq!(stream.status(), 200);
        streams.push(stream);
    }
    let (status, _, body) = post(&c, &url, initialize(9).to_string(), None).await;
    assert_eq!(status, 503, "{body}");
    let (code, id, message) = jsonrpc_error(&body);
    assert_eq!((code, id), (-32000, json!(9)));
    assert!(message.contains("GALLEY_HTTP_MAX_SESSIONS"), "{message}");
    drop(streams);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = post(&c, &url, initialize(10).to_string(), None).await;
    assert_eq!(
        status, 200,
        "a session without a stream makes room again: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_session_cannot_hold_more_than_its_streams() {
    let server = HttpSidecar::start(&[("GALLEY_HTTP_MAX_STREAMS_PER_SESSION", "8")]);
    let url = server.mcp_url();
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let sid = new_session(&c, &url, 1).await;
    let before = util::rss_kib(server.pid());
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..300 {
        let r = c
            .get(&url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .expect("get");
        match r.status().as_u16() {
            200 => held.push(r),
            429 => {
                let (code, _, message) = jsonrpc_error(&r.text().await.unwrap());
                assert_eq!(code, -32000);
                assert!(
                    message.contains("GALLEY_HTTP_MAX_STREAMS_PER_SESSION"),
                    "{message}"
                );
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(held.len(), 8);
    assert_eq!(refused, 292);
    let after = util::rss_kib(server.pid());
    eprintln!("RSS {before} KiB -> {after} KiB after 300 streams on one session");
    assert!(
        after.saturating_sub(before) < 20 * 1024,
        "{before} -> {after} KiB"
    );
    // A notification (a cancellation, say) always gets through, and freed streams are reusable.
    let (status, _, body) = post(
        &c,
        &url,
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
            .to_string(),
        Some(&sid),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = post(
        &c,
        &url,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).to_string(),
        Some(&sid),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("create_session"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_and_oversized_http_messages_get_jsonrpc_errors_and_the_server_keeps_serving() {
    let server = HttpSidecar::start(&[("GALLEY_HTTP_REQUEST_TIMEOUT_SECS", "2")]);
    let url = server.mcp_url();
    let c = client();
    let before = util::rss_kib(server.pid());

    // More than 16 MiB, the id in its first bytes.
    let mut huge = br#"{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"save_architecture","arguments":{"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 17 << 20));
    huge.extend_from_slice(b"\"}}}");
    let (status, _, body) = post(&c, &url, huge, None).await;
    assert_eq!(status, 413, "{body}");
    let (code, id, message) = jsonrpc_error(&body);
    assert_eq!((code, id), (-32600, json!(41)));
    assert!(
        message.contains("GALLEY_MAX_MESSAGE_BYTES") && message.contains("4 MiB"),
        "{message}"
    );

    let (status, _, body) = post(&c, &url, r#"{"jsonrpc":"2.0","id":42,"method":"#, None).await;
    assert_eq!(status, 400);
    assert_eq!(jsonrpc_error(&body).0, -32700, "{body}");
    let (status, _, body) = post(&c, &url, "[1, 2]", None).await;
    assert_eq!((status, jsonrpc_error(&body).0), (400, -32600), "{body}");
    let (status, _, body) = post(
        &c,
        &url,
        r#"{"jsonrpc":"1.0","id":43,"method":"ping"}"#,
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(jsonrpc_error(&body).1, json!(43), "{body}");
    let (status, _, body) = post(
        &c,
        &url,
        json!({"jsonrpc": "2.0", "id": 44, "method": "tools/list"}).to_string(),
        Some("no-such-session"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(jsonrpc_error(&body).0, -32001, "{body}");
    assert_eq!(jsonrpc_error(&body).1, json!(44));

    let r = c
        .post(&url)
        .header("content-type", "text/plain")
        .header("accept", "application/json, text/event-stream")
        .body(initialize(45).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 415);
    assert_eq!(jsonrpc_error(&r.text().await.unwrap()).0, -32600);
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(initialize(46).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 406);
    let (code, id, _) = jsonrpc_error(&r.text().await.unwrap());
    assert_eq!((code, id), (-32600, json!(46)));

    // A body that never finishes: the request timeout answers it.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(6), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("GALLEY_HTTP_REQUEST_TIMEOUT_SECS"),
        "{answer}"
    );

    // Still serving, and the 17 MiB were never held.
    let (status, _, body) = post(&c, &url, initialize(47).to_string(), None).await;
    assert_eq!(status, 200, "{body}");
    health_ok(&server.base).await.expect("health");
    let after = util::rss_kib(server.pid());
    assert!(
        after.saturating_sub(before) < 12 * 1024,
        "RSS {before} -> {after} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_do_not_hold_up_a_shutdown() {
    let mut server = HttpSidecar::start(&[]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("write");
    let _idle = TcpStream::connect(&addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SAFETY: signals only the child this test started.
    unsafe {
        libc::kill(server.pid() as i32, libc::SIGTERM);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM with a half-sent request open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}
