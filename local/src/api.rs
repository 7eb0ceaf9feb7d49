//! What every service shares on the wire: OCI's error body and status/code pairs, the
//! `opc-request-id` middleware, JSON bodies with `etag`, query parsing and list paging.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use galley_oci::echo::{echo, echo_message};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::store::StoreError;

pub const OPC_REQUEST_ID: HeaderName = HeaderName::from_static("opc-request-id");
pub const OPC_CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("opc-client-request-id");
pub const OPC_RETRY_TOKEN: HeaderName = HeaderName::from_static("opc-retry-token");
pub const OPC_NEXT_PAGE: HeaderName = HeaderName::from_static("opc-next-page");

/// An error answered in OCI's shape: `{"code": "...", "message": "..."}` with OCI's status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra response headers (`retry-after`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 404: OCI answers the same for "absent" and "not yours".
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotAuthorizedOrNotFound", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    pub fn missing(parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("{parameter} is required"),
        )
    }

    pub fn incorrect_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "IncorrectState", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn not_authenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "NotAuthenticated", message)
    }

    pub fn etag_mismatch() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "NoEtagMatch",
            "the if-match etag does not match the resource's current etag",
        )
    }

    /// 500 with a safe message; the detail goes to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "internal error in galley-local (see its log)",
        )
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            message: &'a str,
        }
        let body = serde_json::to_vec(&Body {
            code: self.code,
            message: &self.message,
        })
        .unwrap_or_default();
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

/// Parses a JSON request body, answering OCI's 400 for malformed input.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::missing("the request body"));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde quotes the offending value (an unknown enum variant, say): bounded.
        let e = e.to_string();
        ApiError::invalid(format!(
            "the request body is not valid: {}",
            echo_message(&e)
        ))
    })
}

/// Parses the query string into `T`, answering OCI's 400 for malformed input.
pub fn parse_query<T: DeserializeOwned>(uri: &Uri) -> ApiResult<T> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| {
            ApiError::invalid(format!(
                "the query string is not valid: {}",
                echo_message(&e.body_text())
            ))
        })
}

/// The etag of a JSON representation: changes whenever any field does.
pub fn etag_of(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// `200` with `value` as JSON and its `etag`.
pub fn json_with_etag<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let etag = etag_of(&body);
            let mut resp = json_bytes(status, body);
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            resp
        }
        Err(e) => ApiError::internal(format!("failed to encode a response: {e}")).into_response(),
    }
}

/// `value` as JSON without an etag (lists).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(e) => ApiError::internal(format!("failed to encode a response: {e}")).into_response(),
    }
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

/// Checks an `if-match` header against the current etag of `value`.
pub fn check_if_match<T: Serialize>(headers: &HeaderMap, value: &T) -> ApiResult<()> {
    let Some(expected) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let current = etag_of(&serde_json::to_vec(value).map_err(ApiError::internal)?);
    let expected = expected.to_str().unwrap_or("").trim().trim_matches('"');
    if expected == "*" || expected == current {
        Ok(())
    } else {
        Err(ApiError::etag_mismatch())
    }
}

/// A page of a list, with the token of the next page when there is one.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Default and largest `limit` of list calls.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// Cuts `items` into the page selected by `page` (an opaque offset token) and `limit`.
pub fn paginate<T>(
    items: Vec<T>,
    limit: Option<usize>,
    page: Option<&str>,
    default_limit: usize,
) -> ApiResult<Page<T>> {
    let limit = limit.unwrap_or(default_limit);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let offset = match page {
        None | Some("") => 0,
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| ApiError::invalid("page is not a token this service issued"))?,
    };
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = (offset + items.len() < total).then(|| (offset + items.len()).to_string());
    Ok(Page { items, next })
}

/// The list body of a page, with `opc-next-page` when more follow.
pub fn page_response<T: Serialize>(page: Page<T>) -> Response {
    let mut resp = json(StatusCode::OK, &page.items);
    if let Some(next) = page.next
        && let Ok(v) = HeaderValue::from_str(&next)
    {
        resp.headers_mut().insert(OPC_NEXT_PAGE, v);
    }
    resp
}

/// Sort order of list calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum SortOrder {
    #[serde(rename = "ASC")]
    Asc,
    #[serde(rename = "DESC")]
    Desc,
}

/// Middleware: every response carries `opc-request-id` (the client's when it sent one, as
/// OCI echoes it) and Object Storage's `opc-client-request-id` echo; requests are logged.
pub async fn request_id(req: Request, next: Next) -> Response {
    let client_id = req.headers().get(OPC_REQUEST_ID).cloned();
    let client_os_id = req.headers().get(OPC_CLIENT_REQUEST_ID).cloned();
    let id = client_id
        .clone()
        .unwrap_or_else(|| HeaderValue::from_str(&crate::ids::request_id()).expect("hex is ascii"));
    let method = req.method().clone();
    let path = echo(req.uri().path()).to_string();
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    let status = resp.status();
    tracing::debug!(
        %method, %path, status = status.as_u16(),
        request_id = %String::from_utf8_lossy(id.as_bytes()),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp.headers_mut().insert(OPC_REQUEST_ID, id);
    if let Some(v) = client_os_id {
        resp.headers_mut().insert(OPC_CLIENT_REQUEST_ID, v);
    }
    resp
}

/// Fallback for unknown paths: OCI's 404.
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no such resource or operation: {}",
        echo(uri.path())
    ))
}

/// Fallback for a known path with an unsupported method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "the method is not allowed on this resource",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_next_token_until_the_end() {
        let p = paginate((0..5).collect(), Some(2), None, 100).unwrap();
        assert_eq!(p.items, vec![0, 1]);
        let p = paginate((0..5).collect(), Some(2), p.next.as_deref(), 100).unwrap();
        assert_eq!(p.items, vec![2, 3]);
        let p = paginate((0..5).collect(), Some(2), p.next.as_deref(), 100).unwrap();
        assert_eq!(p.items, vec![4]);
        assert!(p.next.is_none());
        assert!(paginate(vec![1], Some(0), None, 100).is_err());
        assert!(paginate(vec![1], None, Some("x"), 100).is_err());
    }
}
