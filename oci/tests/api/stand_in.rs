//! Loopback HTTP stand-ins for OCI endpoints: an axum server on 127.0.0.1:0 that records every
//! request and answers through a closure the test writes, plus the signature check a real
//! service makes.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::Request as AxumRequest;
use axum::response::Response as AxumResponse;
use bytes::Bytes;
use galley_oci::signing::{
    KeyId, Payload, PublicKey, SignatureParams, SigningError, header_map_lookup, verify_request,
};
use http::{HeaderMap, Method, StatusCode};

/// One request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(p, _)| p)
    }

    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, query)) = self.path_and_query.split_once('?') else {
            return Vec::new();
        };
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    pub fn query_value(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }

    /// Checks the signature as OCI does; `body_excluded` for PutObject.
    pub fn verify(
        &self,
        body_excluded: bool,
        public_key_for: impl FnOnce(&KeyId) -> Option<PublicKey>,
    ) -> Result<SignatureParams, SigningError> {
        let payload = if body_excluded {
            Payload::Unsigned
        } else {
            Payload::Bytes(&self.body)
        };
        verify_request(
            &self.method,
            &self.path_and_query,
            header_map_lookup(&self.headers),
            payload,
            SystemTime::now(),
            public_key_for,
        )
    }
}

/// Minimal percent-decoding for query values in assertions.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the stand-in answers.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// OCI's error shape.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"code": code, "message": message}),
        )
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn bytes(status: u16, content_type: &str, body: &[u8]) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.to_vec(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Canned + Send + Sync;

/// A running stand-in.
pub struct StandIn {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Serves `handler` on 127.0.0.1:0. Every answer carries an `opc-request-id` unless the
/// handler set one.
pub async fn serve(handler: impl Fn(&Recorded) -> Canned + Send + Sync + 'static) -> StandIn {
    let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let handler: Arc<Handler> = Arc::new(handler);
    let log = Arc::clone(&requests);
    let app = Router::new().fallback(move |request: AxumRequest| {
        let handler = Arc::clone(&handler);
        let log = Arc::clone(&log);
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 64 << 20)
                .await
                .unwrap_or_default();
            let recorded = Recorded {
                method: parts.method,
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map_or("/".to_owned(), |pq| pq.as_str().to_owned()),
                headers: parts.headers,
                body,
            };
            // Handlers may block (a slow server is simulated with a sleep); on a multi-thread
            // runtime that must not stall the client's own timers on the same worker.
            let canned = if tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread
            {
                tokio::task::block_in_place(|| handler(&recorded))
            } else {
                handler(&recorded)
            };
            let number = {
                let mut log = log.lock().unwrap();
                log.push(recorded);
                log.len()
            };
            let mut response =
                AxumResponse::builder().status(StatusCode::from_u16(canned.status).unwrap());
            if !canned
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("opc-request-id"))
            {
                response = response.header("opc-request-id", format!("stand-in-{number}"));
            }
            for (name, value) in &canned.headers {
                response = response.header(name.as_str(), value.as_str());
            }
            response.body(Body::from(canned.body)).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    StandIn {
        base,
        requests,
        task,
    }
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
