//! Helpers for driving the engine in-process: a data directory, an [`AppState`], signed
//! requests through the router (no socket), configuration zips, and polling.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use galley_local::{AppState, Config, TrustStore, app};
use galley_oci::signing::{Credentials, KeyId, Payload, PrivateKey, sign_headers};
use serde_json::Value;
use tower::ServiceExt;

pub const TENANCY: &str = "ocid1.tenancy.oc1..testtenancy";
pub const USER: &str = "ocid1.user.oc1..testuser";
pub const COMPARTMENT: &str = "ocid1.compartment.oc1..testcompartment";
/// What clients put in `host`; the engine checks only that the signature covers it.
pub const HOST: &str = "127.0.0.1:9";

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn trusted_key() -> PrivateKey {
    load_key("trusted-key.pem")
}

pub fn untrusted_key() -> PrivateKey {
    load_key("untrusted-key.pem")
}

fn load_key(name: &str) -> PrivateKey {
    let pem = std::fs::read_to_string(fixture(name)).expect("fixture key");
    PrivateKey::from_pem(&pem, None).expect("fixture key parses")
}

pub fn key_id_of(key: &PrivateKey) -> KeyId {
    KeyId::api_key(
        TENANCY,
        USER,
        &key.public_key().fingerprint().expect("fingerprint"),
    )
}

/// The terraform the tests run (installed by tests/setup.sh).
pub fn terraform() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/terraform");
    assert!(
        path.exists(),
        "{} is missing: run tests/setup.sh",
        path.display()
    );
    path
}

/// An engine over a temporary data directory, signed with the trusted fixture key.
pub struct Engine {
    pub state: AppState,
    pub router: Router,
    pub credentials: Credentials,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

pub fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir);
    c.terraform = terraform();
    c.cancel_grace = Duration::from_secs(5);
    c
}

pub fn trust() -> TrustStore {
    let key = trusted_key();
    let mut t = TrustStore::new();
    t.trust(key_id_of(&key), key.public_key());
    t
}

impl Engine {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut Config)) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut c = config(&dir);
        adjust(&mut c);
        let mut e = Self::open(c);
        e._tmp = Some(tmp);
        e
    }

    /// Opens an engine on an existing configuration (restarts keep the directory).
    pub fn open(config: Config) -> Self {
        let dir = config.data_dir.clone();
        let state = AppState::open(config, trust()).expect("engine opens");
        let key = trusted_key();
        Self {
            router: app(state.clone()),
            state,
            credentials: Credentials::new(key_id_of(&key), key),
            dir,
            _tmp: None,
        }
    }

    /// Keeps the temporary directory alive beyond this engine (for a restart).
    pub fn take_tmp(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request signed as OCI SDKs sign it.
    pub fn signed(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        extra: &[(&str, &str)],
    ) -> Request<Body> {
        sign_with(&self.credentials, method, path, body, extra, false)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).expect("json"));
        self.send(self.signed(method, path, bytes.as_deref(), &[]))
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn create_stack(&self, fixture_dir: &str, variables: Value) -> Value {
        let r = self
            .post(
                "/20180917/stacks",
                serde_json::json!({
                    "compartmentId": COMPARTMENT,
                    "displayName": fixture_dir,
                    "configSource": {
                        "configSourceType": "ZIP_UPLOAD",
                        "zipFileBase64Encoded": zip_b64(&fixture(&format!("tf/{fixture_dir}"))),
                    },
                    "variables": variables,
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    pub async fn create_job(&self, stack_id: &str, details: Value) -> Value {
        let r = self
            .post(
                "/20180917/jobs",
                serde_json::json!({"stackId": stack_id, "jobOperationDetails": details}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    /// Polls the job until `done` accepts its state.
    pub async fn wait_job(&self, id: &str, done: impl Fn(&str) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job = self.get(&format!("/20180917/jobs/{id}")).await.json();
            let state = job["lifecycleState"].as_str().unwrap_or("").to_owned();
            if done(&state) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} stuck in {state}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_job_finished(&self, id: &str) -> Value {
        self.wait_job(id, |s| matches!(s, "SUCCEEDED" | "FAILED" | "CANCELED"))
            .await
    }

    pub async fn logs_text(&self, job_id: &str) -> String {
        self.get(&format!("/20180917/jobs/{job_id}/logs/content"))
            .await
            .text()
    }
}

/// Signs a request; `unsigned_body` signs like PutObject (generic headers only).
pub fn sign_with(
    credentials: &Credentials,
    method: Method,
    path: &str,
    body: Option<&[u8]>,
    extra: &[(&str, &str)],
    unsigned_body: bool,
) -> Request<Body> {
    let uri: Uri = format!("http://{HOST}{path}").parse().expect("uri");
    let mut headers = HeaderMap::new();
    for (k, v) in extra {
        headers.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    let bytes = body.unwrap_or_default();
    let payload = if unsigned_body {
        headers.insert("content-length", HeaderValue::from(bytes.len()));
        Payload::Unsigned
    } else {
        Payload::Bytes(bytes)
    };
    sign_headers(credentials, &method, &uri, &mut headers, payload).expect("sign");
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::from(bytes.to_vec()))
        .expect("request");
    *req.headers_mut() = headers;
    req
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts OCI's error shape and returns the code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(v["message"].is_string(), "no message in {v}");
        v["code"].as_str().expect("code").to_owned()
    }
}

/// A zip of every file under `dir`, base64.
pub fn zip_b64(dir: &Path) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(zip_dir(dir))
}

pub fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            w.write_all(&std::fs::read(&path).expect("read"))
                .expect("zip write");
        }
    }
    w.finish().expect("zip").into_inner()
}
