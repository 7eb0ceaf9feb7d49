//! What a failed call tells its caller: the service's status, code, message and
//! `opc-request-id` (what Oracle support asks for), or why no answer came.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::signing::SigningError;

/// An error answer from a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// The operation, named as in the API reference (`CreateStack`).
    pub operation: &'static str,
    pub status: u16,
    /// The service's error code (`NotAuthorizedOrNotFound`, `IncorrectState`...); the HTTP
    /// reason phrase when the body had none.
    pub code: String,
    pub message: String,
    pub opc_request_id: Option<String>,
    /// How many attempts were made, retries included.
    pub attempts: u32,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed to {}: {} {}",
            self.operation, self.status, self.code
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        write!(
            f,
            " (opc-request-id {})",
            self.opc_request_id.as_deref().unwrap_or("none")
        )?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ServiceError {
    /// Builds the error from a non-2xx answer. The body is OCI's `{"code","message"}` JSON
    /// when the service wrote one; anything else becomes the message (shortened).
    pub fn from_parts(
        operation: &'static str,
        status: u16,
        body: &[u8],
        opc_request_id: Option<String>,
    ) -> Self {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let code = parsed
            .code
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| reason.replace(' ', ""));
        let message = match parsed.message {
            Some(m) => m,
            None => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.starts_with('{') {
                    String::new()
                } else {
                    text.chars().take(300).collect()
                }
            }
        };
        Self {
            operation,
            status,
            code,
            message,
            opc_request_id,
            attempts: 1,
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The service answered with an error.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// No answer: connection refused or reset, DNS, TLS...
    #[error("failed to {operation}: could not reach {url}: {reason} ({attempts} attempts)")]
    Transport {
        operation: &'static str,
        url: String,
        reason: String,
        attempts: u32,
    },
    /// An attempt took longer than the per-request timeout (and retries were exhausted).
    #[error("failed to {operation}: no answer from {url} within {timeout:?} ({attempts} attempts)")]
    Timeout {
        operation: &'static str,
        url: String,
        timeout: Duration,
        attempts: u32,
    },
    /// The caller's cancellation token fired.
    #[error("failed to {operation}: cancelled")]
    Cancelled { operation: &'static str },
    /// The request could not be signed (credentials unavailable, expired token...).
    #[error("failed to {operation}: could not sign the request: {source}")]
    Signing {
        operation: &'static str,
        #[source]
        source: SigningError,
    },
    /// A 2xx answer whose body is not what the API documents.
    #[error(
        "failed to {operation}: the answer could not be decoded: {reason} (opc-request-id {})",
        opc_request_id.as_deref().unwrap_or("none")
    )]
    Decode {
        operation: &'static str,
        reason: String,
        opc_request_id: Option<String>,
    },
    /// The request itself is invalid (bad URL, argument out of range).
    #[error("failed to {operation}: {reason}")]
    InvalidRequest {
        operation: &'static str,
        reason: String,
    },
}

impl OciError {
    /// The service error, when the service answered.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            OciError::Service(e) => Some(e),
            _ => None,
        }
    }

    /// HTTP status of a service answer.
    pub fn status(&self) -> Option<u16> {
        self.service().map(|e| e.status)
    }

    /// The service's error code.
    pub fn code(&self) -> Option<&str> {
        self.service().map(|e| e.code.as_str())
    }

    /// The `opc-request-id` of the (last) answer, when there was one.
    pub fn opc_request_id(&self) -> Option<&str> {
        match self {
            OciError::Service(e) => e.opc_request_id.as_deref(),
            OciError::Decode { opc_request_id, .. } => opc_request_id.as_deref(),
            _ => None,
        }
    }

    /// 404: the resource does not exist or the caller may not see it (OCI does not say which).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409 of any code.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 412: an `if-match` or `if-none-match` precondition failed.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// 401 or 403: credentials or policies.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, OciError::Cancelled { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_operation_status_code_message_and_request_id() {
        let e = ServiceError::from_parts(
            "CreateStack",
            409,
            br#"{"code":"Conflict","message":"stack is busy"}"#,
            Some("req-1".into()),
        );
        assert_eq!(
            e.to_string(),
            "failed to CreateStack: 409 Conflict: stack is busy (opc-request-id req-1)"
        );
    }

    #[test]
    fn non_json_bodies_keep_a_short_message_and_the_reason_as_code() {
        let e = ServiceError::from_parts("GetStack", 502, b"<html>bad gateway</html>", None);
        assert_eq!(e.code, "BadGateway");
        assert_eq!(e.message, "<html>bad gateway</html>");
        assert!(e.to_string().ends_with("(opc-request-id none)"));
        let long = vec![b'x'; 1000];
        assert_eq!(
            ServiceError::from_parts("GetStack", 500, &long, None)
                .message
                .len(),
            300
        );
    }
}
