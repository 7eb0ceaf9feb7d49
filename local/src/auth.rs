//! Signature verification for every service request, with the same signing-string code the
//! clients sign with (`galley_oci::signing`).
//!
//! Exempt: the admin endpoints (`/_galley/`, loopback only) and pre-authenticated requests
//! (`/p/`), whose token is the credential. The path and query are taken from the request
//! line exactly as sent, before routing. Object Storage PutObject signs only the generic
//! headers (its body may be streamed), unless the client chose to sign the body too.
//!
//! The signature is checked from the headers alone, before any of the body is read; a signed
//! body is then checked against its signed hash and length as it is read.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use galley_oci::echo::echo;
use galley_oci::signing::{
    BodyCheck, KeyId, SigningError, X_CONTENT_SHA256, header_map_lookup, method_signs_body,
    parse_authorization, verify_signed_headers,
};

use crate::api::ApiError;
use crate::app::AppState;
use crate::faults::ADMIN_PREFIX;

/// Who signed a request: inserted as a request extension for the handlers.
#[derive(Clone, Debug)]
pub struct Principal {
    pub key_id: KeyId,
}

impl Principal {
    /// The tenancy OCID of an API-key signer.
    pub fn tenancy(&self) -> Option<&str> {
        self.key_id.api_key_parts().map(|(t, _, _)| t)
    }
}

/// Path prefix of pre-authenticated requests.
pub const PAR_PREFIX: &str = "/p/";

/// The signed hash and length of a streamed body (a PutObject whose client signed
/// `x-content-sha256`), inserted as a request extension: the handler feeds the body through it
/// as it writes, and keeps the object only if it agrees.
#[derive(Clone)]
pub struct SignedBody(pub BodyCheck);

/// Middleware: verifies the signature from the request line and headers before a byte of the
/// body is read, and answers 401 NotAuthenticated in OCI's shape when it is missing, stale,
/// tampered with or made with an untrusted key: an unsigned request costs no memory however
/// large its body.
///
/// Then, for a signed body: an object upload streams on to its handler with [`SignedBody`];
/// any other body (JSON, at most `max_body_bytes`) is read here and checked against its signed
/// hash and length before the handler sees it.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with(ADMIN_PREFIX) || path.starts_with(PAR_PREFIX) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let streamed = streams_body(&parts.method, parts.uri.path());
    let verified = {
        let lookup = header_map_lookup(&parts.headers);
        let body_excluded = streamed && !signs_body(&lookup);
        let trust = state.trust();
        verify_signed_headers(
            &parts.method,
            &path_and_query,
            &lookup,
            body_excluded,
            SystemTime::now(),
            |key_id| trust.get(key_id),
        )
        .and_then(|params| {
            let check = if method_signs_body(&parts.method) && params.signs(X_CONTENT_SHA256) {
                Some(BodyCheck::from_headers(&lookup)?)
            } else {
                None
            };
            Ok((params, check))
        })
    };
    let (params, check) = match verified {
        Ok(v) => v,
        Err(e) => return reject(&parts.method, parts.uri.path(), &e),
    };
    parts.extensions.insert(Principal {
        key_id: params.key_id,
    });
    let limit = state.config().max_body_bytes;
    let body = match check {
        None => body,
        Some(check) if streamed => {
            parts.extensions.insert(SignedBody(check));
            body
        }
        Some(mut check) => {
            let bytes = match read_limited(body, check.declared_length(), limit).await {
                Ok(b) => b,
                Err(e) => return e.into_response(),
            };
            check.update(&bytes);
            if let Err(e) = check.finish() {
                return reject(&parts.method, parts.uri.path(), &e);
            }
            Body::from(bytes)
        }
    };
    next.run(Request::from_parts(parts, body)).await
}

/// 401 NotAuthenticated for `e`, logged without the request's credentials.
fn reject(method: &Method, path: &str, e: &SigningError) -> Response {
    tracing::info!(%method, path = %echo(path), error = %e, "rejected an unauthenticated request");
    ApiError::not_authenticated(message(e)).into_response()
}

/// Reads a whole body of at most `limit` bytes; a larger declared or actual length is 413
/// without reading further.
pub async fn read_limited(
    body: Body,
    declared: Option<u64>,
    limit: u64,
) -> Result<bytes::Bytes, ApiError> {
    if declared.is_some_and(|d| d > limit) {
        return Err(too_large(limit));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit as u64))
}

/// 413 RequestEntityTooLarge for a body over `limit` bytes.
pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!(
            "the request body is larger than {limit} bytes (galley-local's --max-body-mib) or \
             could not be read"
        ),
    )
}

/// Object Storage PutObject (and UploadPart): bodies that stream to disk instead of memory.
fn streams_body(method: &Method, path: &str) -> bool {
    *method == Method::PUT && path.starts_with("/n/") && path.contains("/o/")
}

/// True when the client listed x-content-sha256 among the signed headers; PutObject bodies
/// are unsigned otherwise.
fn signs_body(lookup: &impl Fn(&str) -> Option<String>) -> bool {
    lookup("authorization")
        .and_then(|a| parse_authorization(&a).ok())
        .is_some_and(|p| p.signs(X_CONTENT_SHA256))
}

/// OCI's message, followed by the precise reason (useful when a client's signer is wrong).
pub fn message(e: &SigningError) -> String {
    format!(
        "The required information to complete authentication was not provided or was incorrect: {e}"
    )
}
