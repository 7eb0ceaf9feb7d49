//! Signature verification for every service request, with the same signing-string code the
//! clients sign with (`galley_oci::signing`).
//!
//! Exempt: the admin endpoints (`/_galley/`, loopback only) and pre-authenticated requests
//! (`/p/`), whose token is the credential. The path and query are taken from the request
//! line exactly as sent, before routing. Object Storage PutObject signs only the generic
//! headers (its body may be streamed), unless the client chose to sign the body too.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use galley_oci::signing::{
    KeyId, Payload, SigningError, X_CONTENT_SHA256, header_map_lookup, parse_authorization,
    verify_request,
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

/// Middleware: buffers the body, verifies the signature, and answers 401 NotAuthenticated in
/// OCI's shape when it is missing, stale, tampered with or made with an untrusted key.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with(ADMIN_PREFIX) || path.starts_with(PAR_PREFIX) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let limit = state.config().max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("the request body is larger than {limit} bytes or could not be read"),
            )
            .into_response();
        }
    };

    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let result = {
        let lookup = header_map_lookup(&parts.headers);
        let payload = if body_unsigned(&parts.method, parts.uri.path(), &lookup) {
            Payload::Unsigned
        } else {
            Payload::Bytes(&bytes)
        };
        let trust = state.trust();
        verify_request(
            &parts.method,
            &path_and_query,
            &lookup,
            payload,
            SystemTime::now(),
            |key_id| trust.get(key_id),
        )
    };
    match result {
        Ok(params) => {
            parts.extensions.insert(Principal {
                key_id: params.key_id,
            });
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), error = %e, "rejected an unauthenticated request");
            ApiError::not_authenticated(message(&e)).into_response()
        }
    }
}

/// PutObject (and UploadPart) bodies are unsigned unless the client listed x-content-sha256.
fn body_unsigned(method: &Method, path: &str, lookup: &impl Fn(&str) -> Option<String>) -> bool {
    if *method != Method::PUT || !path.starts_with("/n/") || !path.contains("/o/") {
        return false;
    }
    let signs_body = lookup("authorization")
        .and_then(|a| parse_authorization(&a).ok())
        .is_some_and(|p| p.signs(X_CONTENT_SHA256));
    !signs_body
}

/// OCI's message, followed by the precise reason (useful when a client's signer is wrong).
fn message(e: &SigningError) -> String {
    format!(
        "The required information to complete authentication was not provided or was incorrect: {e}"
    )
}
