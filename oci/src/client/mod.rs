//! The transport every service call goes through: builds the URL, signs with the current
//! credentials, sends with a per-attempt timeout, captures `opc-request-id`, turns error
//! answers into [`OciError`], and retries per [`RetryPolicy`] while reusing one
//! `opc-retry-token` for all attempts of a create.
//!
//! Service modules describe calls as [`Request`]s and decode [`Response`]s; they never touch
//! reqwest, signing or retries themselves.

mod error;
pub mod retry;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, ETAG, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::signing::{KeyProvider, Payload, sign_headers};

pub use error::{OciError, ServiceError};
pub use retry::{RetryPolicy, Safety, TransportFailure};

/// Header a create carries so that retries return the first result instead of creating again.
pub const OPC_RETRY_TOKEN: &str = "opc-retry-token";
/// Header naming a request in OCI's logs; the client sends one and the service echoes it.
pub const OPC_REQUEST_ID: &str = "opc-request-id";
/// Header with the token of the next page of a list.
pub const OPC_NEXT_PAGE: &str = "opc-next-page";

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default connection timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters kept as they are in a path segment or query value: RFC 3986 unreserved.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (an OCID, a bucket or object name). `.` and `..` are
/// encoded too so they stay names rather than becoming path steps.
pub fn encode_path_segment(segment: &str) -> String {
    match segment {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        other => utf8_percent_encode(other, ENCODE).to_string(),
    }
}

fn encode_query_part(part: &str) -> String {
    utf8_percent_encode(part, ENCODE).to_string()
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the OCI HTTP client: {0}")]
pub struct BuildError(String);

/// Configures a [`Client`].
pub struct ClientBuilder {
    provider: Arc<dyn KeyProvider>,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    cancel: Option<CancellationToken>,
}

impl ClientBuilder {
    pub fn new(provider: Arc<dyn KeyProvider>) -> Self {
        Self {
            provider,
            retry: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: format!("galley-oci/{}", env!("CARGO_PKG_VERSION")),
            http: None,
            cancel: None,
        }
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Timeout of one attempt, from sending to the end of the body.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses an existing reqwest client (its timeouts then apply as well).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Every call and every wait of the client ends with [`OciError::Cancelled`] once `token`
    /// is cancelled.
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    pub fn build(self) -> Result<Client, BuildError> {
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| BuildError(e.to_string()))?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                provider: self.provider,
                user_agent: self.user_agent,
            }),
            retry: self.retry,
            timeout: self.timeout,
            cancel: self.cancel,
        })
    }
}

struct Inner {
    http: reqwest::Client,
    provider: Arc<dyn KeyProvider>,
    user_agent: String,
}

/// A signing, retrying OCI HTTP client. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    retry: RetryPolicy,
    timeout: Duration,
    cancel: Option<CancellationToken>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("cancellable", &self.cancel.is_some())
            .finish_non_exhaustive()
    }
}

/// A request body. `Debug` shows only its size: bodies carry stack variables and scripts.
#[derive(Clone, Default)]
pub enum Body {
    #[default]
    Empty,
    /// JSON, signed (length, type and SHA-256).
    Json(Bytes),
    /// Bytes outside the signature: Object Storage PutObject.
    Unsigned(Bytes),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Json(b) => write!(f, "Json({} bytes)", b.len()),
            Body::Unsigned(b) => write!(f, "Unsigned({} bytes)", b.len()),
        }
    }
}

/// One logical call: what to send and how to treat retries.
#[derive(Clone, Debug)]
pub struct Request {
    operation: &'static str,
    method: Method,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, String)>,
    body: Body,
    retry_token: Option<String>,
    safety: Safety,
}

impl Request {
    /// `url` is the full URL without query, path segments already encoded (see
    /// [`encode_path_segment`]). `operation` names the call in errors and logs.
    pub fn new(operation: &'static str, method: Method, url: impl Into<String>) -> Self {
        let safety = if method == Method::POST || method == Method::PATCH {
            Safety::Unsafe
        } else {
            Safety::Idempotent
        };
        Self {
            operation,
            method,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            retry_token: None,
            safety,
        }
    }

    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// Appends a query parameter (encoded here).
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Appends a query parameter when `value` is set.
    pub fn query_opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    /// Sets a header (checked when sent).
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets a header when `value` is set.
    pub fn header_opt(self, name: HeaderName, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.header(name, v),
            None => self,
        }
    }

    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, OciError> {
        let bytes = serde_json::to_vec(body).map_err(|e| OciError::InvalidRequest {
            operation: self.operation,
            reason: format!("the request body could not be encoded: {e}"),
        })?;
        self.body = Body::Json(Bytes::from(bytes));
        Ok(self)
    }

    /// A body outside the signature (Object Storage PutObject).
    pub fn unsigned_body(mut self, body: Bytes) -> Self {
        self.body = Body::Unsigned(body);
        self
    }

    /// Gives the request a fresh `opc-retry-token`, kept for all its attempts, and lets it be
    /// retried like an idempotent call.
    pub fn with_retry_token(self) -> Self {
        self.retry_token(retry::new_retry_token())
    }

    /// Uses `token` as the `opc-retry-token` (to make a create idempotent across calls too).
    pub fn retry_token(mut self, token: impl Into<String>) -> Self {
        self.retry_token = Some(token.into());
        self.safety = Safety::RetryToken;
        self
    }

    /// The retry token, once set.
    pub fn retry_token_value(&self) -> Option<&str> {
        self.retry_token.as_deref()
    }

    /// Overrides the retry safety derived from the method.
    pub fn safety(mut self, safety: Safety) -> Self {
        self.safety = safety;
        self
    }

    fn full_url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_query_part(k), encode_query_part(v)))
            .collect();
        format!("{}?{}", self.url, query.join("&"))
    }
}

/// A successful (2xx) answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub operation: &'static str,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The service's `opc-request-id`, else the one the client sent.
    pub opc_request_id: Option<String>,
}

impl Response {
    /// Decodes the JSON body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, OciError> {
        serde_json::from_slice(&self.body).map_err(|e| OciError::Decode {
            operation: self.operation,
            reason: e.to_string(),
            opc_request_id: self.opc_request_id.clone(),
        })
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> Option<String> {
        self.header(ETAG.as_str()).map(str::to_owned)
    }

    pub fn next_page(&self) -> Option<String> {
        self.header(OPC_NEXT_PAGE)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
    }
}

/// How one attempt ended.
enum Attempt {
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Failed {
        failure: TransportFailure,
        reason: String,
    },
}

impl Client {
    pub fn builder(provider: Arc<dyn KeyProvider>) -> ClientBuilder {
        ClientBuilder::new(provider)
    }

    /// A clone whose calls end when `token` is cancelled.
    pub fn with_cancellation(&self, token: CancellationToken) -> Self {
        Self {
            cancel: Some(token),
            ..self.clone()
        }
    }

    /// A clone with another retry policy.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Self {
        Self {
            retry: policy,
            ..self.clone()
        }
    }

    /// A clone with another per-attempt timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The credentials source.
    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.inner.provider
    }

    /// Waits `delay`, or less when cancelled.
    pub async fn sleep(&self, operation: &'static str, delay: Duration) -> Result<(), OciError> {
        match &self.cancel {
            Some(token) => tokio::select! {
                biased;
                _ = token.cancelled() => Err(OciError::Cancelled { operation }),
                _ = tokio::time::sleep(delay) => Ok(()),
            },
            None => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }

    /// Sends `request`, retrying per the policy, and returns the 2xx answer or the error.
    pub async fn send(&self, request: Request) -> Result<Response, OciError> {
        let operation = request.operation;
        let url = request.full_url();
        let uri: Uri = url.parse().map_err(|_| OciError::InvalidRequest {
            operation,
            reason: format!("{url:?} is not a valid URL"),
        })?;
        let headers = self.base_headers(&request)?;
        let client_request_id = retry::new_retry_token().to_ascii_uppercase();
        let started = Instant::now();
        let mut attempts: u32 = 0;
        let mut retries: u32 = 0;
        let mut refreshed = false;

        loop {
            if self.cancel.as_ref().is_some_and(|t| t.is_cancelled()) {
                return Err(OciError::Cancelled { operation });
            }
            attempts += 1;
            let credentials =
                self.inner
                    .provider
                    .credentials()
                    .await
                    .map_err(|e| OciError::Signing {
                        operation,
                        source: e.into(),
                    })?;
            let session = credentials.key_id().session_token_value().is_some();
            let mut headers = headers.clone();
            insert(&mut headers, OPC_REQUEST_ID, &client_request_id, operation)?;
            let payload = match &request.body {
                Body::Empty => Payload::Bytes(&[]),
                Body::Json(bytes) => Payload::Bytes(bytes),
                Body::Unsigned(_) => Payload::Unsigned,
            };
            sign_headers(&credentials, &request.method, &uri, &mut headers, payload)
                .map_err(|source| OciError::Signing { operation, source })?;

            tracing::debug!(operation, attempt = attempts, method = %request.method, url = %url, "OCI request");
            let outcome = self.attempt(&request, &url, headers).await?;

            let (retry_after, error) = match outcome {
                Attempt::Answer {
                    status,
                    headers,
                    body,
                } => {
                    let opc_request_id = headers
                        .get(OPC_REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                        .or_else(|| Some(client_request_id.clone()));
                    if status.is_success() {
                        tracing::debug!(operation, status = status.as_u16(), opc_request_id = ?opc_request_id, "OCI answer");
                        return Ok(Response {
                            operation,
                            status,
                            headers,
                            body,
                            opc_request_id,
                        });
                    }
                    let mut error =
                        ServiceError::from_parts(operation, status.as_u16(), &body, opc_request_id);
                    error.attempts = attempts;
                    if status == StatusCode::UNAUTHORIZED && session && !refreshed {
                        // Session tokens can be rotated or revoked before their `exp`.
                        refreshed = true;
                        match self.inner.provider.refresh().await {
                            Ok(()) => {
                                tracing::debug!(
                                    operation,
                                    "401 with a session token; credentials refreshed, resending"
                                );
                                continue;
                            }
                            Err(e) => {
                                tracing::warn!(operation, error = %e, "failed to refresh credentials after a 401");
                                return Err(error.into());
                            }
                        }
                    }
                    if !retry::should_retry_status(error.status, &error.code, request.safety) {
                        return Err(error.into());
                    }
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    (retry_after, OciError::Service(error))
                }
                Attempt::Failed { failure, reason } => {
                    let error = match failure {
                        TransportFailure::Timeout => OciError::Timeout {
                            operation,
                            url: url.clone(),
                            timeout: self.timeout,
                            attempts,
                        },
                        _ => OciError::Transport {
                            operation,
                            url: url.clone(),
                            reason,
                            attempts,
                        },
                    };
                    if !retry::should_retry_transport(failure, request.safety) {
                        return Err(error);
                    }
                    (None, error)
                }
            };

            retries += 1;
            if attempts >= self.retry.max_attempts {
                return Err(error);
            }
            let delay = self.retry.delay(retries, retry_after);
            if started.elapsed() + delay > self.retry.max_elapsed {
                return Err(error);
            }
            tracing::warn!(
                operation,
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "OCI call failed; retrying"
            );
            self.sleep(operation, delay).await?;
        }
    }

    fn base_headers(&self, request: &Request) -> Result<HeaderMap, OciError> {
        let operation = request.operation;
        let mut headers = HeaderMap::new();
        insert(
            &mut headers,
            USER_AGENT.as_str(),
            &self.inner.user_agent,
            operation,
        )?;
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if matches!(request.body, Body::Json(_)) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (name, value) in &request.headers {
            let value = HeaderValue::from_str(value).map_err(|_| OciError::InvalidRequest {
                operation,
                reason: format!("the {name} header value is not valid in HTTP"),
            })?;
            headers.insert(name.clone(), value);
        }
        if let Some(token) = &request.retry_token {
            insert(&mut headers, OPC_RETRY_TOKEN, token, operation)?;
        }
        Ok(headers)
    }

    async fn attempt(
        &self,
        request: &Request,
        url: &str,
        headers: HeaderMap,
    ) -> Result<Attempt, OciError> {
        let operation = request.operation;
        let mut builder = self
            .inner
            .http
            .request(request.method.clone(), url)
            .headers(headers);
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(bytes) | Body::Unsigned(bytes) => builder.body(bytes.clone()),
        };
        let exchange = async move {
            let response = builder.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        let timed = tokio::time::timeout(self.timeout, exchange);
        let result = match &self.cancel {
            Some(token) => tokio::select! {
                biased;
                _ = token.cancelled() => return Err(OciError::Cancelled { operation }),
                r = timed => r,
            },
            None => timed.await,
        };
        Ok(match result {
            Err(_elapsed) => Attempt::Failed {
                failure: TransportFailure::Timeout,
                reason: format!("no answer within {:?}", self.timeout),
            },
            Ok(Err(e)) => Attempt::Failed {
                failure: if e.is_connect() {
                    TransportFailure::Connect
                } else if e.is_timeout() {
                    TransportFailure::Timeout
                } else {
                    TransportFailure::Other
                },
                reason: crate::auth::instance_principal::error_chain(&e),
            },
            Ok(Ok((status, headers, body))) => Attempt::Answer {
                status,
                headers,
                body,
            },
        })
    }
}

fn insert(
    headers: &mut HeaderMap,
    name: &'static str,
    value: &str,
    operation: &'static str,
) -> Result<(), OciError> {
    let value = HeaderValue::from_str(value).map_err(|_| OciError::InvalidRequest {
        operation,
        reason: format!("the {name} header value is not valid in HTTP"),
    })?;
    headers.insert(HeaderName::from_static(name), value);
    Ok(())
}
