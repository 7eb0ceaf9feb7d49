//! The MCP endpoint's messages over HTTP, between the security checks and the SDK: a request
//! body is read within the request timeout and up to the message limit, and checked as one
//! JSON-RPC message (`jsonrpc::classify`); session limits are applied with clear refusals; and
//! every refusal, the SDK's plain-text ones included (415, 406, 404 for an unknown session...),
//! reaches the client as a JSON-RPC error with the request's id when it is known.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, ErrorCode, RequestId, ServerJsonRpcMessage,
};

use super::sessions::{LimitError, LimitedSessions};
use crate::jsonrpc::{self, HEAD_BYTES, Incoming};

/// Error code for "no such MCP session" (what other MCP SDKs answer with HTTP 404).
pub const SESSION_NOT_FOUND: ErrorCode = ErrorCode(-32001);
/// Error code for the server's own limits (open sessions, streams): try again later.
pub const SERVER_BUSY: ErrorCode = ErrorCode(-32000);
/// The most of an SDK refusal's text carried into the JSON-RPC error.
const MAX_SDK_TEXT: usize = 400;

/// What the checks need.
pub struct Checks {
    pub sessions: Arc<LimitedSessions>,
    pub max_message_bytes: usize,
    pub request_timeout: Duration,
}

/// A JSON-RPC error as an HTTP response.
pub fn jsonrpc_response(status: StatusCode, message: &ServerJsonRpcMessage) -> Response {
    let body = serde_json::to_vec(message).unwrap_or_default();
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn refuse(status: StatusCode, code: ErrorCode, message: String, id: Option<RequestId>) -> Response {
    jsonrpc_response(status, &jsonrpc::error(code, message, id))
}

enum BodyError {
    TooLarge(Vec<u8>),
    Failed(String),
}

/// Reads a body of at most `max` bytes; beyond that, keeps the first bytes (for the id) and
/// stops keeping.
async fn read_limited(body: &mut Body, max: usize) -> Result<Bytes, BodyError> {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Failed(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > max {
            let mut head = buf;
            head.extend_from_slice(&data[..data.len().min(HEAD_BYTES)]);
            head.truncate(HEAD_BYTES);
            return Err(BodyError::TooLarge(head));
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

fn session_header(req: &Request) -> Option<String> {
    req.headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
        })
}

fn limit_refusal(e: LimitError, id: Option<RequestId>) -> Response {
    let status = match e {
        LimitError::Sessions { .. } => StatusCode::SERVICE_UNAVAILABLE,
        LimitError::Streams { .. } => StatusCode::TOO_MANY_REQUESTS,
        LimitError::Sdk(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refuse(status, SERVER_BUSY, e.to_string(), id)
}

/// The middleware on `/mcp`.
pub async fn check(State(checks): State<Arc<Checks>>, req: Request, next: Next) -> Response {
    let session = session_header(&req);
    if req.method() != Method::POST {
        if req.method() == Method::GET
            && let Some(s) = &session
            && let Err(e) = checks.sessions.admit_stream(s)
        {
            return limit_refusal(e, None);
        }
        return as_jsonrpc(next.run(req).await, None).await;
    }
    if !is_json(&req) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::INVALID_REQUEST,
            "invalid request: send the JSON-RPC message with Content-Type: application/json".into(),
            None,
        );
    }
    let (parts, mut body) = req.into_parts();
    let limit = checks.max_message_bytes;
    let deadline = tokio::time::Instant::now() + checks.request_timeout;
    let bytes = match tokio::time::timeout_at(deadline, read_limited(&mut body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(BodyError::TooLarge(head))) => {
            tracing::warn!(limit, "refused an HTTP message over the size limit");
            // Read the rest (keeping none of it) so the client, still sending, gets the answer
            // rather than a reset connection; the request timeout still bounds it.
            let _ = tokio::time::timeout_at(deadline, async {
                while let Some(Ok(_)) = body.frame().await {}
            })
            .await;
            return jsonrpc_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &jsonrpc::too_large(limit, &head),
            );
        }
        Ok(Err(BodyError::Failed(e))) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::INVALID_REQUEST,
                format!(
                    "invalid request: the body could not be read ({})",
                    crate::echo::quoted(&e)
                ),
                None,
            );
        }
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::INVALID_REQUEST,
                format!(
                    "invalid request: the body did not arrive within {} s (GALLEY_HTTP_REQUEST_TIMEOUT_SECS)",
                    checks.request_timeout.as_secs()
                ),
                None,
            );
        }
    };
    let message = match jsonrpc::classify(&bytes) {
        Incoming::Message(m) => m,
        Incoming::Reject(err) => return jsonrpc_response(StatusCode::BAD_REQUEST, &err),
        Incoming::Ignore if bytes.iter().all(u8::is_ascii_whitespace) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::PARSE_ERROR,
                "parse error: the body is empty; send one JSON-RPC message".into(),
                None,
            );
        }
        // A notification this server does not know: accepted and ignored, as on stdio.
        Incoming::Ignore => return StatusCode::ACCEPTED.into_response(),
    };
    let id = jsonrpc::message_id(&message);
    if let ClientJsonRpcMessage::Request(r) = message.as_ref() {
        let admitted = match (&session, &r.request) {
            (None, ClientRequest::InitializeRequest(_)) => checks.sessions.admit_session().await,
            (Some(s), _) => checks.sessions.admit_stream(s),
            _ => Ok(()),
        };
        if let Err(e) = admitted {
            return limit_refusal(e, id);
        }
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    as_jsonrpc(next.run(req).await, id).await
}

/// An error response of the SDK that is not JSON, rewritten as a JSON-RPC error with the same
/// status (and headers, such as `Allow`); anything else unchanged.
async fn as_jsonrpc(resp: Response, id: Option<RequestId>) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/event-stream"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match tokio::time::timeout(Duration::from_secs(5), body.collect()).await {
        Ok(Ok(c)) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        _ => String::new(),
    };
    let text: String = text.trim().chars().take(MAX_SDK_TEXT).collect();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (
            SESSION_NOT_FOUND,
            format!(
                "{text}: the MCP session is unknown or expired; start a new one with initialize"
            ),
        ),
        s if s.is_server_error() => (ErrorCode::INTERNAL_ERROR, format!("internal error: {text}")),
        _ => (
            ErrorCode::INVALID_REQUEST,
            format!("invalid request: {text}"),
        ),
    };
    let body = serde_json::to_vec(&jsonrpc::error(code, message, id)).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
