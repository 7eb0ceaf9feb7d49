//! The signing string: which headers OCI signs for a request and how they are laid out.
//!
//! Pure functions over strings so the client (signing) and the engine (verifying) build the
//! exact same bytes. Nothing here touches keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};

use super::error::SigningError;

/// Pseudo-header naming the lowercase method and the path and query as sent.
pub const REQUEST_TARGET: &str = "(request-target)";

/// Headers every OCI request signs, in the order the SDKs sign them.
pub const GENERIC_HEADERS: &[&str] = &["date", REQUEST_TARGET, "host"];

/// Headers a POST, PUT or PATCH signs: the generic three plus the body's length, type and hash.
pub const BODY_HEADERS: &[&str] = &[
    "date",
    REQUEST_TARGET,
    "host",
    "content-length",
    "content-type",
    "x-content-sha256",
];

/// `x-content-sha256` of an empty body.
pub const EMPTY_BODY_SHA256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/// The headers OCI signs for `method`.
///
/// `body_excluded` is true for Object Storage PutObject and UploadPart, whose bodies may be
/// streamed and large: those sign only the generic three headers whatever the method.
pub fn headers_to_sign(method: &Method, body_excluded: bool) -> &'static [&'static str] {
    if !body_excluded && method_signs_body(method) {
        BODY_HEADERS
    } else {
        GENERIC_HEADERS
    }
}

/// True for the methods whose body is covered by the signature (POST, PUT, PATCH).
pub fn method_signs_body(method: &Method) -> bool {
    *method == Method::POST || *method == Method::PUT || *method == Method::PATCH
}

/// The value of the `(request-target)` pseudo-header: lowercase method, a space, then the path
/// and query exactly as sent (percent-encoding kept, an empty path sent as `/`).
pub fn request_target(method: &Method, path_and_query: &str) -> String {
    let path = if path_and_query.is_empty() {
        "/"
    } else {
        path_and_query
    };
    format!("{} {}", method.as_str().to_ascii_lowercase(), path)
}

/// Builds the signing string: one `name: value` line per name, lowercase names, joined by `\n`
/// with no trailing newline.
///
/// `header_lookup` receives lowercase header names and returns the value as sent; it is not
/// consulted for `(request-target)`. A name it cannot resolve is an error, never an empty line,
/// because the peer would sign something different.
pub fn signing_string(
    method: &Method,
    path_and_query: &str,
    header_lookup: impl Fn(&str) -> Option<String>,
    names: &[&str],
) -> Result<String, SigningError> {
    let mut lines = Vec::with_capacity(names.len());
    for name in names {
        let name = name.to_ascii_lowercase();
        let value = if name == REQUEST_TARGET {
            request_target(method, path_and_query)
        } else {
            header_lookup(&name)
                .ok_or_else(|| SigningError::MissingHeader(crate::echo::echo(&name).to_string()))?
        };
        lines.push(format!("{name}: {}", value.trim()));
    }
    Ok(lines.join("\n"))
}

/// Base64 of the SHA-256 of `body`: the `x-content-sha256` header value.
pub fn body_sha256_b64(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// The `host` header value for `uri`: the host, plus the port when it is not the scheme's
/// default, as HTTP clients send it.
pub fn host_header_value(uri: &Uri) -> Option<String> {
    let host = uri.host()?;
    let default_port = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    Some(match uri.port_u16() {
        Some(port) if Some(port) != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    })
}

/// The path and query of `uri` as an HTTP/1.1 client sends them.
pub fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |pq| pq.as_str())
}

/// A header lookup over an [`http::HeaderMap`], for [`signing_string`] and the verifying
/// helpers. Repeated headers are joined with `, ` as draft-cavage specifies.
pub fn header_map_lookup(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        let mut values = headers.get_all(name).iter().peekable();
        values.peek()?;
        let joined: Vec<String> = values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .collect();
        Some(joined.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_headers_only_for_methods_with_a_body() {
        assert_eq!(headers_to_sign(&Method::GET, false), GENERIC_HEADERS);
        assert_eq!(headers_to_sign(&Method::HEAD, false), GENERIC_HEADERS);
        assert_eq!(headers_to_sign(&Method::DELETE, false), GENERIC_HEADERS);
        assert_eq!(headers_to_sign(&Method::POST, false), BODY_HEADERS);
        assert_eq!(headers_to_sign(&Method::PUT, false), BODY_HEADERS);
        assert_eq!(headers_to_sign(&Method::PATCH, false), BODY_HEADERS);
        assert_eq!(headers_to_sign(&Method::PUT, true), GENERIC_HEADERS);
        assert_eq!(headers_to_sign(&Method::POST, true), GENERIC_HEADERS);
    }

    #[test]
    fn host_keeps_only_non_default_ports() {
        let host = |s: &str| host_header_value(&s.parse::<Uri>().unwrap());
        assert_eq!(
            host("https://a.example.com/x").as_deref(),
            Some("a.example.com")
        );
        assert_eq!(
            host("https://a.example.com:443/x").as_deref(),
            Some("a.example.com")
        );
        assert_eq!(
            host("http://a.example.com:80/").as_deref(),
            Some("a.example.com")
        );
        assert_eq!(
            host("http://127.0.0.1:8080/").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host("https://a.example.com:80/").as_deref(),
            Some("a.example.com:80")
        );
        assert_eq!(host("/relative"), None);
    }

    #[test]
    fn empty_body_hash_matches_the_published_constant() {
        assert_eq!(body_sha256_b64(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn missing_header_is_an_error_not_an_empty_line() {
        let err = signing_string(&Method::GET, "/", |_| None, GENERIC_HEADERS).unwrap_err();
        assert!(matches!(err, SigningError::MissingHeader(name) if name == "date"));
    }

    #[test]
    fn request_target_keeps_percent_encoding_and_lowercases_method() {
        assert_eq!(
            request_target(&Method::DELETE, "/a%20b?x=%3A"),
            "delete /a%20b?x=%3A"
        );
        assert_eq!(request_target(&Method::GET, ""), "get /");
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", " 2 ".parse().unwrap());
        let lookup = header_map_lookup(&headers);
        assert_eq!(lookup("x-a").as_deref(), Some("1, 2"));
        assert_eq!(lookup("x-b"), None);
    }
}
