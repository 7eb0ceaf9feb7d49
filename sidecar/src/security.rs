//! HTTP request checks in front of the MCP endpoint: the `Host` and `Origin` allow-lists
//! (against DNS rebinding and cross-site calls from a browser) and the URL token. Every refusal is
//! a JSON body that says what was missing or wrong, never what the token is. This module decides
//! only whether a request may pass; it does not know MCP.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Origins allowed when `GALLEY_ALLOWED_ORIGINS` is not set: the local machine on any port.
pub const DEFAULT_ORIGINS: &[&str] = &[
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://[::1]:*",
    "https://[::1]:*",
];

/// Hosts allowed when `GALLEY_ALLOWED_HOSTS` is not set.
pub const DEFAULT_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]", "::1"];

/// What the checks compare against.
#[derive(Clone)]
pub struct Policy {
    /// SHA-256 of the token; comparing digests keeps the comparison constant-time whatever the
    /// lengths.
    token_digest: Option<[u8; 32]>,
    origins: Vec<OriginPattern>,
    /// `None`: any Host (the sidecar sits behind a gateway that sets its own).
    hosts: Option<Vec<String>>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("token", &self.token_digest.map(|_| "<set>"))
            .field("origins", &self.origins)
            .field("hosts", &self.hosts)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct OriginPattern {
    scheme: String,
    host: String,
    /// `None` matches any port.
    port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("allowed origin {0:?} is not valid: write scheme://host[:port], with :* for any port")]
    BadOrigin(String),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Splits `scheme://host[:port]` (port `*` allowed when `wildcard`).
fn split_origin(s: &str, wildcard: bool) -> Option<(String, String, Option<Option<u16>>)> {
    let (scheme, rest) = s.split_once("://")?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
        let (h, after) = stripped.split_once(']')?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        None => None,
        Some("*") if wildcard => Some(None),
        Some(p) => Some(Some(p.parse::<u16>().ok()?)),
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
}

impl OriginPattern {
    fn parse(s: &str) -> Result<Self, PolicyError> {
        let (scheme, host, port) =
            split_origin(s.trim(), true).ok_or_else(|| PolicyError::BadOrigin(s.to_string()))?;
        let port = match port {
            Some(p) => p,
            None => {
                Some(default_port(&scheme).ok_or_else(|| PolicyError::BadOrigin(s.to_string()))?)
            }
        };
        Ok(OriginPattern { scheme, host, port })
    }

    fn matches(&self, origin: &str) -> bool {
        let Some((scheme, host, port)) = split_origin(origin, false) else {
            return false;
        };
        let port = port.flatten().or_else(|| default_port(&scheme));
        scheme == self.scheme && host == self.host && (self.port.is_none() || self.port == port)
    }
}

impl Policy {
    /// `token`: the required token, if any. `origins` / `hosts`: allow-lists; `None` takes the
    /// defaults; a hosts list containing `*` disables the Host check.
    pub fn new(
        token: Option<&str>,
        origins: Option<&[String]>,
        hosts: Option<&[String]>,
    ) -> Result<Self, PolicyError> {
        let origins = match origins {
            Some(list) => list
                .iter()
                .map(|o| OriginPattern::parse(o))
                .collect::<Result<_, _>>()?,
            None => DEFAULT_ORIGINS
                .iter()
                .map(|o| OriginPattern::parse(o))
                .collect::<Result<_, _>>()?,
        };
        let hosts = match hosts {
            Some(list) if list.iter().any(|h| h == "*") => None,
            Some(list) => Some(list.iter().map(|h| h.to_ascii_lowercase()).collect()),
            None => Some(DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect()),
        };
        Ok(Policy {
            token_digest: token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            origins,
            hosts,
        })
    }

    pub fn requires_token(&self) -> bool {
        self.token_digest.is_some()
    }

    /// The hosts list for the SDK's own Host check (`None`: disabled).
    pub fn hosts(&self) -> Option<&[String]> {
        self.hosts.as_deref()
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        // Strip the port: `[::1]:8000`, `127.0.0.1:8000`, `localhost`.
        let name = if host.starts_with('[') {
            host.split_once(']')
                .map(|(h, _)| format!("{h}]"))
                .unwrap_or(host.clone())
        } else {
            host.rsplit_once(':')
                .map(|(h, _)| h.to_string())
                .unwrap_or(host.clone())
        };
        hosts.iter().any(|h| *h == name || *h == host)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|p| p.matches(origin))
    }

    fn token_matches(&self, presented: &str) -> bool {
        match &self.token_digest {
            None => true,
            Some(want) => {
                let got: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
                bool::from(want.ct_eq(&got))
            }
        }
    }
}

/// The token a request carries: `?token=` (what the API Gateway forwards) or a bearer header.
fn presented_token(req: &Request) -> Option<String> {
    if let Some(q) = req.uri().query() {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("token=") {
                return Some(percent_decode(v));
            }
        }
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim().to_string())
}

/// Percent-decoding of a query value (`+` is kept as is: tokens are not form data).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON refusal: `{"error": code, "message": ...}`.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message": message });
    let mut resp = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"galley-sidecar\""),
        );
    }
    resp
}

/// The middleware: Host, then Origin (403), then token (401).
pub async fn guard(State(policy): State<Arc<Policy>>, req: Request<Body>, next: Next) -> Response {
    if !policy.host_allowed(req.headers()) {
        tracing::warn!(host = ?req.headers().get(header::HOST), "refused request for a foreign Host");
        return refusal(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "the Host header names a host this server does not serve (DNS rebinding protection); use http://127.0.0.1 or localhost, or set GALLEY_ALLOWED_HOSTS",
        );
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !policy.origin_allowed(origin) {
            tracing::warn!(origin, "refused request from a foreign Origin");
            return refusal(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                &format!(
                    "requests from Origin {} are not allowed; add it to GALLEY_ALLOWED_ORIGINS to allow it",
                    crate::echo::quoted(origin)
                ),
            );
        }
    }
    if policy.requires_token() {
        match presented_token(&req) {
            None => {
                return refusal(
                    StatusCode::UNAUTHORIZED,
                    "missing_token",
                    "this server requires a token: pass it as the `token` query parameter (?token=...) or as `Authorization: Bearer <token>`",
                );
            }
            Some(t) if !policy.token_matches(&t) => {
                tracing::warn!("refused request with a wrong token");
                return refusal(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the token does not match this server's GALLEY_URL_TOKEN",
                );
            }
            Some(_) => {}
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns() {
        let p = Policy::new(None, None, None).unwrap();
        assert!(p.origin_allowed("http://localhost:6274"));
        assert!(p.origin_allowed("http://127.0.0.1"));
        assert!(p.origin_allowed("https://[::1]:9"));
        assert!(!p.origin_allowed("http://evil.example.com"));
        assert!(!p.origin_allowed("http://localhost.evil.example.com:80"));
        assert!(!p.origin_allowed("null"));
        let only = Policy::new(None, Some(&["https://app.example.com".to_string()]), None).unwrap();
        assert!(only.origin_allowed("https://app.example.com"));
        assert!(only.origin_allowed("https://app.example.com:443"));
        assert!(!only.origin_allowed("https://app.example.com:8443"));
        assert!(!only.origin_allowed("http://app.example.com"));
        assert!(Policy::new(None, Some(&["app.example.com".to_string()]), None).is_err());
    }

    #[test]
    fn token_compare_and_decoding() {
        let p = Policy::new(Some("s3cr+t/x"), None, None).unwrap();
        assert!(p.token_matches("s3cr+t/x"));
        assert!(!p.token_matches("s3cr+t/"));
        assert!(!p.token_matches(""));
        assert_eq!(percent_decode("s3cr%2Bt%2Fx"), "s3cr+t/x");
        assert_eq!(percent_decode("a%zz"), "a%zz");
    }

    #[test]
    fn hosts() {
        let p = Policy::new(None, None, None).unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8000"));
        assert!(p.host_allowed(&h));
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8000"));
        assert!(p.host_allowed(&h));
        h.insert(header::HOST, HeaderValue::from_static("evil.example.com"));
        assert!(!p.host_allowed(&h));
        let any = Policy::new(None, None, Some(&["*".to_string()])).unwrap();
        assert!(any.host_allowed(&h));
    }
}
