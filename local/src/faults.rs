//! Fault injection for tests, and the engine's admin endpoints (unsigned, loopback only):
//!
//! - `POST /_galley/faults` with `{"route": "GET /20180917/jobs/*", "kind": "status",
//!   "status": 429, "count": 2}` makes the next `count` requests matching `route` fail.
//!   `kind` is `status` (answer `status`, default 500, in OCI's error shape; 429 carries
//!   `retry-after: retry_after_secs`, default 1), `drop` (close the connection without an
//!   answer) or `delay` (wait `delay_ms`, then handle the request normally). `count` defaults
//!   to 1. Answers `201` with the fault and its `id`.
//! - `GET /_galley/faults` lists armed faults with their remaining counts; `DELETE` clears them.
//! - `GET /_galley/health` answers `{"status": "ok"}`.
//!
//! A route is `METHOD PATH`: `METHOD` may be `*`; in `PATH`, `*` matches within one segment and
//! a `**` segment matches any number of segments. The query string is ignored. Faults are
//! checked before signature verification, as a throttling front end would.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::api::{self, ApiError, ApiResult};
use crate::app::AppState;

/// Path prefix of the admin endpoints.
pub const ADMIN_PREFIX: &str = "/_galley/";

/// What an armed fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    Status,
    Drop,
    Delay,
}

/// A fault as posted and listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultSpec {
    #[serde(default)]
    pub id: u64,
    pub route: String,
    pub kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

fn one() -> u32 {
    1
}

/// Marker extension on a response: the connection must be closed without sending it.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// The armed faults.
#[derive(Default)]
pub struct Faults {
    armed: Mutex<Vec<FaultSpec>>,
    next_id: Mutex<u64>,
}

impl Faults {
    /// Arms `spec` after validating it; returns it with its id.
    pub fn add(&self, mut spec: FaultSpec) -> ApiResult<FaultSpec> {
        let (method, path) = spec
            .route
            .split_once(' ')
            .ok_or_else(|| ApiError::invalid("route must be \"METHOD /path\""))?;
        if method.is_empty() || !path.starts_with('/') {
            return Err(ApiError::invalid("route must be \"METHOD /path\""));
        }
        if spec.count == 0 {
            return Err(ApiError::invalid("count must be at least 1"));
        }
        if spec.kind == FaultKind::Status {
            let status = spec.status.unwrap_or(500);
            if !(400..=599).contains(&status) {
                return Err(ApiError::invalid("status must be between 400 and 599"));
            }
            spec.status = Some(status);
        }
        let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        spec.id = *next;
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(spec.clone());
        Ok(spec)
    }

    pub fn list(&self) -> Vec<FaultSpec> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Consumes one use of the first fault matching the request, if any.
    pub fn take(&self, method: &str, path: &str) -> Option<FaultSpec> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let index = armed
            .iter()
            .position(|f| route_matches(&f.route, method, path))?;
        let fault = armed[index].clone();
        armed[index].count -= 1;
        if armed[index].count == 0 {
            armed.remove(index);
        }
        Some(fault)
    }
}

/// True when `route` (`METHOD /glob`) matches the request.
pub fn route_matches(route: &str, method: &str, path: &str) -> bool {
    let Some((m, pattern)) = route.split_once(' ') else {
        return false;
    };
    if m != "*" && !m.eq_ignore_ascii_case(method) {
        return false;
    }
    let pattern: Vec<&str> = pattern.trim().split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((p, rest)) => match path.split_first() {
            Some((s, path_rest)) => glob_segment(p, s) && segments_match(rest, path_rest),
            None => false,
        },
    }
}

fn glob_segment(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((prefix, rest)) => {
            let Some(tail) = s.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob_segment(rest, &tail[i..]))
        }
    }
}

/// Middleware: applies the first armed fault matching the request.
pub async fn inject(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(ADMIN_PREFIX) {
        return next.run(req).await;
    }
    let Some(fault) = state.faults().take(req.method().as_str(), req.uri().path()) else {
        return next.run(req).await;
    };
    tracing::info!(route = %fault.route, kind = ?fault.kind, "injecting a fault");
    match fault.kind {
        FaultKind::Delay => {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
            next.run(req).await
        }
        FaultKind::Drop => {
            let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            resp.extensions_mut().insert(DropConnection);
            resp
        }
        FaultKind::Status => {
            let status = fault.status.unwrap_or(500);
            status_error(status, fault.retry_after_secs).into_response()
        }
    }
}

/// The OCI error an injected status answers with.
fn status_error(status: u16, retry_after_secs: Option<u64>) -> ApiError {
    let code = match status {
        400 => "InvalidParameter",
        401 => "NotAuthenticated",
        404 => "NotAuthorizedOrNotFound",
        409 => "IncorrectState",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "InjectedFault",
    };
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let err = ApiError::new(
        status_code,
        code,
        format!("injected fault: {status} {code} (galley-local fault injection)"),
    );
    match (status, retry_after_secs) {
        (429, secs) | (503, secs @ Some(_)) => {
            let value = HeaderValue::from(secs.unwrap_or(1));
            err.with_header(header::RETRY_AFTER, value)
        }
        _ => err,
    }
}

/// The admin router, nested at [`ADMIN_PREFIX`].
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/_galley/health", get(health))
        .route(
            "/_galley/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .layer(axum::middleware::from_fn(loopback_only))
}

async fn loopback_only(req: Request, next: Next) -> Response {
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match remote {
        Some(addr) if !addr.ip().is_loopback() => ApiError::new(
            StatusCode::FORBIDDEN,
            "NotAllowed",
            "the admin endpoints answer only loopback clients",
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

async fn health() -> Response {
    api::json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

async fn list_faults(State(state): State<AppState>) -> Response {
    api::json(StatusCode::OK, &state.faults().list())
}

async fn add_fault(State(state): State<AppState>, body: axum::body::Bytes) -> ApiResult {
    let spec: FaultSpec = api::parse_json(&body)?;
    let spec = state.faults().add(spec)?;
    Ok(api::json(StatusCode::CREATED, &spec))
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_method_and_segment_globs() {
        assert!(route_matches(
            "GET /20180917/jobs/*",
            "GET",
            "/20180917/jobs/ocid1.x"
        ));
        assert!(!route_matches(
            "GET /20180917/jobs/*",
            "GET",
            "/20180917/jobs/a/logs"
        ));
        assert!(!route_matches(
            "GET /20180917/jobs/*",
            "POST",
            "/20180917/jobs/a"
        ));
        assert!(route_matches(
            "* /20180917/**",
            "DELETE",
            "/20180917/jobs/a/logs"
        ));
        assert!(route_matches(
            "get /n/*/b/*/o/**",
            "GET",
            "/n/ns/b/bk/o/a/b/c"
        ));
        assert!(route_matches(
            "GET /20180917/jobs/ocid1.*",
            "GET",
            "/20180917/jobs/ocid1.y"
        ));
        assert!(!route_matches(
            "GET /20180917/jobs/ocid2*",
            "GET",
            "/20180917/jobs/ocid1.y"
        ));
        assert!(route_matches(
            "POST /20180917/jobs",
            "POST",
            "/20180917/jobs"
        ));
    }

    #[test]
    fn faults_are_consumed_count_times() {
        let faults = Faults::default();
        faults
            .add(FaultSpec {
                id: 0,
                route: "GET /a/*".into(),
                kind: FaultKind::Status,
                status: Some(429),
                count: 2,
                delay_ms: 0,
                retry_after_secs: None,
            })
            .unwrap();
        assert!(faults.take("GET", "/a/b").is_some());
        assert!(faults.take("GET", "/b").is_none());
        assert!(faults.take("GET", "/a/c").is_some());
        assert!(faults.take("GET", "/a/b").is_none());
        assert!(faults.list().is_empty());
    }
}
