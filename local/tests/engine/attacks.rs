//! Attacks on the engine, in-process: bodies of unauthenticated requests, uploads that lie about
//! their content or size, and configuration zips built to exhaust the disk or escape the work
//! directory. Each test also checks that nothing half-written is left behind.
//! (Socket-level attacks, slow and idle connections under a file-descriptor limit, are in
//! `tests/attacks.rs` against the binary.)

use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, StatusCode};
use galley_local::config::ExtractLimits;
use serde_json::json;

use crate::util::{COMPARTMENT, Engine, sign_with, untrusted_key};

const NS: &str = "galleylocal";

/// A body that hands out `chunks` chunks of `chunk` bytes, then either ends, fails, or never
/// ends, and counts what the engine pulled from it.
struct Probe {
    chunk: usize,
    chunks: usize,
    then: Then,
    pulled: Arc<AtomicUsize>,
}

#[derive(Clone, Copy)]
enum Then {
    End,
    Fail,
    Hang,
}

impl http_body::Body for Probe {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        if self.chunks > 0 {
            self.chunks -= 1;
            self.pulled.fetch_add(self.chunk, Ordering::SeqCst);
            return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![
                b'x';
                self.chunk
            ])))));
        }
        match self.then {
            Then::End => Poll::Ready(None),
            Then::Fail => Poll::Ready(Some(Err(std::io::Error::other("client went away")))),
            // Never woken: a client that stopped sending.
            Then::Hang => Poll::Pending,
        }
    }
}

fn probe(chunk: usize, chunks: usize, then: Then) -> (Body, Arc<AtomicUsize>) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let body = Body::new(Probe {
        chunk,
        chunks,
        then,
        pulled: Arc::clone(&pulled),
    });
    (body, pulled)
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer (the engine is waiting for the body)"))
}

async fn make_bucket(e: &Engine, name: &str) {
    let r = e
        .post(
            &format!("/n/{NS}/b"),
            json!({"name": name, "compartmentId": COMPARTMENT}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Every file under `dir` (relative paths), to prove nothing was left behind.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

fn disk_usage(dir: &Path) -> u64 {
    files_under(dir)
        .iter()
        .filter_map(|f| std::fs::symlink_metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test]
async fn an_unauthenticated_request_is_refused_before_its_body_is_read() {
    let e = Engine::new();
    make_bucket(&e, "b").await;
    // Unsigned: a JSON create and an object upload, with bodies that never end.
    for (method, path) in [
        (Method::POST, "/20180917/stacks"),
        (Method::PUT, "/n/galleylocal/b/b/o/big.bin"),
    ] {
        let (body, pulled) = probe(64 * 1024, 4, Then::Hang);
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("host", "127.0.0.1:9")
            .header("content-length", "52428800")
            .body(body)
            .unwrap();
        let r = within(path, e.send(req)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text());
        assert_eq!(r.error_code(), "NotAuthenticated");
        assert_eq!(pulled.load(Ordering::SeqCst), 0, "{path}: body was read");
    }
    // Signed, but by a key the engine does not trust.
    let other = galley_oci::signing::Credentials::new(
        crate::util::key_id_of(&untrusted_key()),
        untrusted_key(),
    );
    let mut req = sign_with(
        &other,
        Method::PUT,
        "/n/galleylocal/b/b/o/big.bin",
        Some(b""),
        &[],
        true,
    );
    let (body, pulled) = probe(64 * 1024, 4, Then::Hang);
    *req.body_mut() = body;
    let r = within("untrusted key", e.send(req)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    assert!(files_under(&e.dir.join("objectstorage/galleylocal/b/objects")).is_empty());
}

#[tokio::test]
async fn a_signed_upload_whose_body_is_not_what_was_signed_leaves_nothing() {
    let e = Engine::new();
    make_bucket(&e, "b").await;
    // The client chose to sign the body (x-content-sha256): it is checked as it streams.
    let signed = sign_with(
        &e.credentials,
        Method::PUT,
        "/n/galleylocal/b/b/o/report.txt",
        Some(b"the signed content"),
        &[],
        false,
    );
    let r = e.send(signed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let mut tampered = sign_with(
        &e.credentials,
        Method::PUT,
        "/n/galleylocal/b/b/o/report.txt",
        Some(b"the signed content"),
        &[],
        false,
    );
    *tampered.body_mut() = Body::from(&b"THE SIGNED CONTENT"[..]);
    let r = e.send(tampered).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert!(r.text().contains("x-content-sha256"), "{}", r.text());
    // The first version is intact, and the refused upload left no file.
    let r = e.get("/n/galleylocal/b/b/o/report.txt").await;
    assert_eq!(r.body, Bytes::from_static(b"the signed content"));
    let objects = files_under(&e.dir.join("objectstorage/galleylocal/b/objects"));
    assert_eq!(objects.len(), 2, "data and metadata only: {objects:?}");

    // A signed JSON body that differs from its hash is refused too (before the handler).
    let mut req = e.signed(
        Method::POST,
        "/n/galleylocal/b",
        Some(br#"{"name":"c","compartmentId":"x"}"#),
        &[],
    );
    *req.body_mut() = Body::from(&br#"{"name":"d","compartmentId":"x"}"#[..]);
    let r = e.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(
        e.get("/n/galleylocal/b/d").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_upload_over_the_body_limit_or_cut_short_leaves_nothing() {
    let e = Engine::with(|c| c.max_body_bytes = 100_000);
    make_bucket(&e, "b").await;
    let objects = e.dir.join("objectstorage/galleylocal/b/objects");
    let path = "/n/galleylocal/b/b/o/big.bin";

    // Declared too large: refused from the header, nothing read.
    let mut req = sign_with(&e.credentials, Method::PUT, path, Some(b""), &[], true);
    req.headers_mut()
        .insert("content-length", HeaderValue::from(200_000));
    let (body, pulled) = probe(10_000, 20, Then::Hang);
    *req.body_mut() = body;
    let r = within("declared too large", e.send(req)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert_eq!(r.error_code(), "RequestEntityTooLarge");
    assert!(r.text().contains("--max-body-mib"), "{}", r.text());
    assert_eq!(pulled.load(Ordering::SeqCst), 0);

    // No length declared: refused as soon as the limit is passed.
    let mut req = sign_with(&e.credentials, Method::PUT, path, Some(b""), &[], true);
    req.headers_mut().remove("content-length");
    let (body, pulled) = probe(10_000, 1000, Then::End);
    *req.body_mut() = body;
    let r = within("streamed too large", e.send(req)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(pulled.load(Ordering::SeqCst) <= 110_000);
    assert_eq!(files_under(&objects), Vec::<String>::new());

    // A client that goes away halfway.
    let mut req = sign_with(&e.credentials, Method::PUT, path, Some(b""), &[], true);
    req.headers_mut().remove("content-length");
    let (body, _) = probe(10_000, 3, Then::Fail);
    *req.body_mut() = body;
    let r = within("cut short", e.send(req)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(files_under(&objects), Vec::<String>::new());
    assert_eq!(e.get(path).await.status, StatusCode::NOT_FOUND);

    // A request that is dropped mid-upload (its connection closed, its timeout hit).
    let mut req = sign_with(&e.credentials, Method::PUT, path, Some(b""), &[], true);
    req.headers_mut().remove("content-length");
    let (body, pulled) = probe(10_000, 3, Then::Hang);
    *req.body_mut() = body;
    let abandoned = tokio::time::timeout(Duration::from_millis(500), e.send(req)).await;
    assert!(abandoned.is_err(), "the upload should still be waiting");
    assert_eq!(pulled.load(Ordering::SeqCst), 30_000);
    assert_eq!(files_under(&objects), Vec::<String>::new());
}

#[tokio::test]
async fn a_large_object_streams_through_disk_both_ways() {
    use sha2::{Digest, Sha256};
    let e = Engine::new();
    make_bucket(&e, "b").await;
    let content: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let req = sign_with(
        &e.credentials,
        Method::PUT,
        "/n/galleylocal/b/b/o/large.bin",
        Some(&content),
        &[],
        true,
    );
    let r = e.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = e.get("/n/galleylocal/b/b/o/large.bin").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), Some("8388608"));
    assert_eq!(Sha256::digest(&r.body), Sha256::digest(&content));
}

/// A zip of `files` (name, content); `mode` marks unix permissions when set.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        w.start_file(*name, options).unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Rewrites every size a zip declares for its entries to `declared` (local headers and the
/// central directory); CRCs stay right, so only a reader that counts bytes notices.
fn lie_about_sizes(mut zip: Vec<u8>, declared: u32) -> Vec<u8> {
    let mut i = 0;
    while i + 30 <= zip.len() {
        match u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) {
            0x0403_4b50 => {
                zip[i + 22..i + 26].copy_from_slice(&declared.to_le_bytes());
                i += 30;
            }
            0x0201_4b50 => {
                zip[i + 24..i + 28].copy_from_slice(&declared.to_le_bytes());
                i += 46;
            }
            _ => i += 1,
        }
    }
    zip
}

async fn stack_of(e: &Engine, zip: &[u8]) -> crate::util::Reply {
    use base64::Engine as _;
    e.post(
        "/20180917/stacks",
        json!({
            "compartmentId": COMPARTMENT,
            "configSource": {
                "configSourceType": "ZIP_UPLOAD",
                "zipFileBase64Encoded": base64::engine::general_purpose::STANDARD.encode(zip),
            },
        }),
    )
    .await
}

/// Creates a stack of `zip`, runs a PLAN job and returns the finished job.
async fn plan_of(e: &Engine, zip: &[u8]) -> serde_json::Value {
    let r = stack_of(e, zip).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let stack = r.json();
    let job = e
        .create_job(stack["id"].as_str().unwrap(), json!({"operation": "PLAN"}))
        .await;
    e.wait_job_finished(job["id"].as_str().unwrap()).await
}

fn assert_unzip_failure(job: &serde_json::Value, wanted: &[&str]) {
    assert_eq!(job["lifecycleState"], "FAILED", "{job}");
    assert_eq!(
        job["failureDetails"]["code"], "TERRAFORM_CONFIG_UNZIP_FAILED",
        "{job}"
    );
    let message = job["failureDetails"]["message"].as_str().unwrap();
    for w in wanted {
        assert!(message.contains(w), "{w:?} not in {message}");
    }
}

/// The work directory of the job: removed after a failed extraction.
fn work_dir(e: &Engine, job: &serde_json::Value) -> std::path::PathBuf {
    e.dir
        .join("stacks")
        .join(job["stackId"].as_str().unwrap())
        .join("work")
        .join(job["id"].as_str().unwrap())
}

#[tokio::test]
async fn a_zip_bomb_fails_its_job_with_the_unzip_code_and_bounded_disk_use() {
    let limits = ExtractLimits {
        max_bytes: 1024 * 1024,
        max_files: 50,
    };
    let e = Engine::with(|c| c.extract = limits);
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let bomb = zip_of(&[("main.tf", b"# x\n"), ("data/zeros.bin", &zeros)]);
    assert!(bomb.len() < 64 * 1024, "the bomb is {} bytes", bomb.len());

    // Honest about its size: refused before anything is written.
    let job = plan_of(&e, &bomb).await;
    assert_unzip_failure(
        &job,
        &["more than 1048576 bytes", "--max-config-extracted-mib"],
    );
    assert!(!work_dir(&e, &job).exists(), "half an extraction was left");

    // Declaring 100 bytes per entry: the bytes actually inflated are counted.
    let liar = lie_about_sizes(bomb, 100);
    let job = plan_of(&e, &liar).await;
    assert_unzip_failure(&job, &["more than 1048576 bytes"]);
    assert!(!work_dir(&e, &job).exists(), "half an extraction was left");
    // Two stored zips and records; never the 8 MiB.
    let used = disk_usage(&e.dir);
    assert!(used < 512 * 1024, "the data directory holds {used} bytes");

    // Too many entries.
    let many: Vec<(String, Vec<u8>)> = (0..60)
        .map(|i| (format!("f{i}.tf"), b"# x\n".to_vec()))
        .collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    let job = plan_of(&e, &zip_of(&many)).await;
    assert_unzip_failure(&job, &["more than 50 entries", "--max-config-files"]);
    assert!(!work_dir(&e, &job).exists());
}

#[tokio::test]
async fn zip_entries_that_escape_or_link_are_refused() {
    let e = Engine::new();
    // `..` and absolute paths: the stack itself is refused.
    for name in ["../evil.tf", "/etc/evil.tf", "a/../../evil.tf"] {
        let r = stack_of(&e, &zip_of(&[("main.tf", b"# x\n"), (name, b"x")])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.text());
        assert!(
            r.text().contains("outside the work directory"),
            "{}",
            r.text()
        );
    }

    // A symbolic link entry (to a file outside): the job fails and nothing is extracted.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("secret.txt");
    std::fs::write(&target, "SECRET").unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("main.tf", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"# x\n").unwrap();
    w.add_symlink(
        "secret.tf",
        target.to_str().unwrap(),
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let linked = w.finish().unwrap().into_inner();
    let job = plan_of(&e, &linked).await;
    assert_unzip_failure(&job, &["secret.tf", "symbolic link"]);
    assert!(!work_dir(&e, &job).exists());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "SECRET");
}

/// The request head of `req` as it goes on the wire.
fn wire_head(req: &Request<Body>) -> String {
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method(), req.uri());
    for (name, value) in req.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("\r\n");
    head
}

/// With every connection busy (an upload whose body stalls), a new one is answered 503 in
/// OCI's shape; the stalled upload is closed at the request timeout and leaves no file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_new_one_gets_503_and_a_stalled_upload_times_out() {
    use std::io::Read as _;
    let e = Engine::new();
    make_bucket(&e, "b").await;
    let limits = galley_local::connections::ConnectionLimits {
        max_connections: 1,
        request_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(galley_local::serve_with(
        listener,
        e.router.clone(),
        limits,
        async {
            let _ = stopped.await;
        },
    ));

    let mut upload = sign_with(
        &e.credentials,
        Method::PUT,
        "/n/galleylocal/b/b/o/stalled.bin",
        Some(b""),
        &[],
        true,
    );
    upload
        .headers_mut()
        .insert("content-length", HeaderValue::from(1000));
    let head = wire_head(&upload);
    let started = std::time::Instant::now();
    let stalled = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&[b'x'; 100]).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let refused = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"GET /_galley/health HTTP/1.1\r\nhost: x\r\n\r\n");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: 1"), "{refused}");
    assert!(refused.contains("opc-request-id: "), "{refused}");
    let body = refused.split("\r\n\r\n").nth(1).unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["code"], "ServiceUnavailable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("--max-connections")
    );

    // The stalled upload is cut at the request timeout, unanswered, with nothing left behind.
    let out = stalled.await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
        "closed after {took:?}"
    );
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        files_under(&e.dir.join("objectstorage/galleylocal/b/objects")),
        Vec::<String>::new()
    );
    // With the connection gone, the next one is served.
    let ok = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /_galley/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
