//! Fault injection: statuses with Retry-After, delays, and dropped connections on a real socket.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::util::Engine;

async fn arm(e: &Engine, fault: serde_json::Value) {
    let req = Request::post("/_galley/faults")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&fault).unwrap()))
        .unwrap();
    let r = e.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

#[tokio::test]
async fn a_429_with_retry_after_for_the_next_n_requests_only() {
    let e = Engine::new();
    arm(&e, json!({"route": "GET /20180917/stacks", "kind": "status", "status": 429, "count": 2, "retry_after_secs": 3})).await;
    for _ in 0..2 {
        let r = e.get("/20180917/stacks").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.error_code(), "TooManyRequests");
        assert_eq!(r.header("retry-after"), Some("3"));
        assert!(r.header("opc-request-id").is_some());
    }
    assert_eq!(e.get("/20180917/stacks").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_500_matches_by_glob_and_others_pass() {
    let e = Engine::new();
    arm(
        &e,
        json!({"route": "GET /20180917/jobs/*", "kind": "status"}),
    )
    .await;
    let listed = e
        .send(Request::get("/_galley/faults").body(Body::empty()).unwrap())
        .await
        .json();
    assert_eq!(listed[0]["count"], 1);
    assert_eq!(e.get("/20180917/stacks").await.status, StatusCode::OK);
    let r = e.get("/20180917/jobs/ocid1.ormjob.oc1..x").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.error_code(), "InternalServerError");
    assert_eq!(
        e.get("/20180917/jobs/ocid1.ormjob.oc1..x").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_delay_then_the_normal_answer() {
    let e = Engine::new();
    arm(
        &e,
        json!({"route": "* /n", "kind": "delay", "delay_ms": 300}),
    )
    .await;
    let started = Instant::now();
    let r = e.get("/n").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    e.get("/n").await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn faults_are_cleared_and_validated() {
    let e = Engine::new();
    arm(
        &e,
        json!({"route": "GET /n", "kind": "status", "status": 503}),
    )
    .await;
    let r = e
        .send(
            Request::delete("/_galley/faults")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(e.get("/n").await.status, StatusCode::OK);
    let r = e
        .send(
            Request::post("/_galley/faults")
                .body(Body::from(r#"{"route":"nope","kind":"drop"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = e
        .send(Request::get("/_galley/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.json(), json!({"status": "ok"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_closes_the_connection_without_an_answer() {
    let e = Engine::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(galley_local::serve(listener, e.router.clone(), async {
        let _ = stopped.await;
    }));

    let health =
        format!("GET /_galley/health HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let raw = |request: String| {
        tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    assert!(
        raw(health.clone())
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );

    arm(&e, json!({"route": "GET /n", "kind": "drop"})).await;
    let dropped = raw(format!("GET /n HTTP/1.1\r\nhost: {addr}\r\n\r\n"))
        .await
        .unwrap();
    assert_eq!(dropped, "", "no bytes before the connection closes");
    // The next request is answered (401: unsigned).
    let answered = raw(format!(
        "GET /n HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    ))
    .await
    .unwrap();
    assert!(answered.starts_with("HTTP/1.1 401"), "{answered}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
