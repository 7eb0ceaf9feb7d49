//! The client side: who signs (key id and key, supplied by a [`KeyProvider`]) and how a
//! request's headers are completed and signed.
//!
//! Auth methods (config file, session token, resource and instance principals) live elsewhere
//! and plug in as [`KeyProvider`]s; this module knows nothing about where keys come from.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, DATE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::error::{ProviderError, SigningError};
use super::key::PrivateKey;
use super::string::{
    body_sha256_b64, header_map_lookup, headers_to_sign, host_header_value, path_and_query,
    signing_string,
};

/// Prefix of key ids that carry a session token instead of naming an API key.
pub const SESSION_TOKEN_PREFIX: &str = "ST$";

/// Name of the body hash header.
pub const X_CONTENT_SHA256: &str = "x-content-sha256";

/// Content type the SDKs send when the caller set none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// The `keyId` of a signature. `Debug` hides it (see its implementation).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// `<tenancy>/<user>/<fingerprint>`: an API signing key uploaded for a user.
    pub fn api_key(tenancy: &str, user: &str, fingerprint: &str) -> Self {
        Self(format!("{tenancy}/{user}/{fingerprint}"))
    }

    /// `ST$<token>`: a session token (security token file, resource or instance principal).
    /// Surrounding whitespace, such as a token file's final newline, is dropped.
    pub fn session_token(token: &str) -> Self {
        Self(format!("{SESSION_TOKEN_PREFIX}{}", token.trim()))
    }

    /// Any key id as written, such as `<tenancy>/fed-x509-sha256/<fingerprint>`.
    pub fn from_raw(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The key id as it appears in the authorization header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token of a session-token key id.
    pub fn session_token_value(&self) -> Option<&str> {
        self.0.strip_prefix(SESSION_TOKEN_PREFIX)
    }

    /// `(tenancy, user, fingerprint)` of an API key id.
    pub fn api_key_parts(&self) -> Option<(&str, &str, &str)> {
        if self.session_token_value().is_some() {
            return None;
        }
        let mut parts = self.0.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(t), Some(u), Some(f)) if !t.is_empty() && !u.is_empty() && !f.is_empty() => {
                Some((t, u, f))
            }
            _ => None,
        }
    }
}

impl fmt::Debug for KeyId {
    /// Never the key id itself: a session token is a bearer secret, and an API key id names the
    /// tenancy, user and key fingerprint, which logs must not carry either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.session_token_value().is_some() {
            f.write_str("KeyId(\"ST$<redacted>\")")
        } else {
            f.write_str("KeyId(<redacted>)")
        }
    }
}

/// What a request is signed with at one moment: the key id and its private key.
#[derive(Clone, Debug)]
pub struct Credentials {
    key_id: KeyId,
    key: Arc<PrivateKey>,
}

impl Credentials {
    pub fn new(key_id: KeyId, key: PrivateKey) -> Self {
        Self::from_shared(key_id, Arc::new(key))
    }

    /// For providers that hand the same key to many requests.
    pub fn from_shared(key_id: KeyId, key: Arc<PrivateKey>) -> Self {
        Self { key_id, key }
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
}

/// Boxed future returned by [`KeyProvider`] methods (boxed so providers can be trait objects).
pub type ProviderFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// Supplies the current key id and key, and renews them on demand.
///
/// `credentials` is called for every request and should be cheap; a provider whose material
/// expires (session tokens) renews it there shortly before expiry. `refresh` forces renewal and
/// is called after the service answered 401, since the material may have been rotated.
pub trait KeyProvider: Send + Sync {
    /// The key id and key to sign the next request with.
    fn credentials(&self) -> ProviderFuture<'_, Credentials>;

    /// Drops cached material and obtains it again.
    fn refresh(&self) -> ProviderFuture<'_, ()>;
}

/// A fixed key id and key (an API key already loaded, or tests).
#[derive(Clone, Debug)]
pub struct StaticKeyProvider {
    credentials: Credentials,
}

impl StaticKeyProvider {
    pub fn new(key_id: KeyId, key: PrivateKey) -> Self {
        Self {
            credentials: Credentials::new(key_id, key),
        }
    }
}

impl KeyProvider for StaticKeyProvider {
    fn credentials(&self) -> ProviderFuture<'_, Credentials> {
        let credentials = self.credentials.clone();
        Box::pin(async move { Ok(credentials) })
    }

    fn refresh(&self) -> ProviderFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// How the request body takes part in the signature.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// The whole body. POST, PUT and PATCH sign its length, type and SHA-256; other methods
    /// ignore it.
    Bytes(&'a [u8]),
    /// The body is not signed: Object Storage PutObject and UploadPart, whose bodies may be
    /// streamed. Only `date (request-target) host` are signed; the caller sets content-length.
    Unsigned,
}

impl Payload<'_> {
    /// True for [`Payload::Unsigned`], the `body_excluded` flag of
    /// [`headers_to_sign`](super::headers_to_sign).
    pub fn is_unsigned(&self) -> bool {
        matches!(self, Payload::Unsigned)
    }
}

/// Completes and signs a request's headers with the header set OCI uses for `method`.
///
/// Adds `date` (now, unless present), `host` (from `uri`, unless present) and, when the body is
/// signed, `content-length` and `x-content-sha256` (computed) and `content-type`
/// (`application/json` unless present); then sets `authorization`.
pub fn sign_headers(
    credentials: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    payload: Payload<'_>,
) -> Result<(), SigningError> {
    let names = headers_to_sign(method, payload.is_unsigned());
    sign_headers_with(credentials, method, uri, headers, payload, names)
}

/// [`sign_headers`] with an explicit list of signed header names, for the few calls OCI signs
/// differently (the instance-principal token request signs no `host`).
///
/// Body headers are computed when `names` lists `x-content-sha256` and `payload` has bytes;
/// with [`Payload::Unsigned`] any body header named must already be in `headers`.
pub fn sign_headers_with(
    credentials: &Credentials,
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    payload: Payload<'_>,
    names: &[&str],
) -> Result<(), SigningError> {
    if !headers.contains_key(DATE) {
        let now = httpdate::fmt_http_date(SystemTime::now());
        headers.insert(DATE, header_value(&now, "date")?);
    }
    if !headers.contains_key(HOST) {
        let host = host_header_value(uri).ok_or(SigningError::MissingHost)?;
        headers.insert(HOST, header_value(&host, "host")?);
    }
    if let Payload::Bytes(body) = payload
        && names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(X_CONTENT_SHA256))
    {
        headers.insert(
            HeaderName::from_static(X_CONTENT_SHA256),
            header_value(&body_sha256_b64(body), X_CONTENT_SHA256)?,
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
        }
    }

    let to_sign = signing_string(
        method,
        path_and_query(uri),
        header_map_lookup(headers),
        names,
    )?;
    let signature = credentials.key().sign_sha256(to_sign.as_bytes())?;
    let value = authorization_header(credentials.key_id(), names, &STANDARD.encode(signature))?;
    headers.insert(AUTHORIZATION, header_value(&value, "authorization")?);
    Ok(())
}

/// The `authorization` header value, in the parameter order of OCI's Go and Java SDKs:
/// `Signature version="1",headers="...",keyId="...",algorithm="rsa-sha256",signature="..."`.
pub fn authorization_header(
    key_id: &KeyId,
    names: &[&str],
    signature_b64: &str,
) -> Result<String, SigningError> {
    // The value is quoted without escaping, as every OCI SDK does, so it must need none.
    if key_id
        .as_str()
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(SigningError::InvalidKeyId);
    }
    let names = names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(format!(
        "Signature version=\"1\",headers=\"{names}\",keyId=\"{}\",algorithm=\"rsa-sha256\",signature=\"{signature_b64}\"",
        key_id.as_str()
    ))
}

fn header_value(value: &str, name: &'static str) -> Result<HeaderValue, SigningError> {
    HeaderValue::from_str(value).map_err(|_| SigningError::InvalidHeaderValue { name })
}

/// Signs requests with whatever credentials its [`KeyProvider`] currently supplies.
#[derive(Clone)]
pub struct Signer {
    provider: Arc<dyn KeyProvider>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(provider: Arc<dyn KeyProvider>) -> Self {
        Self { provider }
    }

    /// A signer with a fixed key id and key.
    pub fn with_static_key(key_id: KeyId, key: PrivateKey) -> Self {
        Self::new(Arc::new(StaticKeyProvider::new(key_id, key)))
    }

    /// The provider, for callers that need the current key id (for example to log a tenancy).
    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// Signs `request`, covering its body when the method has one (POST, PUT, PATCH).
    pub async fn sign<B: AsRef<[u8]>>(
        &self,
        request: &mut http::Request<B>,
    ) -> Result<(), SigningError> {
        let credentials = self.provider.credentials().await?;
        // Take the headers out so the body can be borrowed while they are completed.
        let mut headers = std::mem::take(request.headers_mut());
        let result = sign_headers(
            &credentials,
            request.method(),
            request.uri(),
            &mut headers,
            Payload::Bytes(request.body().as_ref()),
        );
        *request.headers_mut() = headers;
        result
    }

    /// Signs `request` without its body: Object Storage PutObject and UploadPart.
    pub async fn sign_body_unsigned<B>(
        &self,
        request: &mut http::Request<B>,
    ) -> Result<(), SigningError> {
        let credentials = self.provider.credentials().await?;
        let mut headers = std::mem::take(request.headers_mut());
        let result = sign_headers(
            &credentials,
            request.method(),
            request.uri(),
            &mut headers,
            Payload::Unsigned,
        );
        *request.headers_mut() = headers;
        result
    }

    /// Signs a request given as parts, for HTTP clients without an `http::Request`.
    pub async fn sign_parts(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &mut HeaderMap,
        payload: Payload<'_>,
    ) -> Result<(), SigningError> {
        let credentials = self.provider.credentials().await?;
        sign_headers(&credentials, method, uri, headers, payload)
    }

    /// Asks the provider to renew its material; call after a 401 and sign again.
    pub async fn refresh(&self) -> Result<(), SigningError> {
        Ok(self.provider.refresh().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_forms() {
        let api = KeyId::api_key("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "aa:bb");
        assert_eq!(api.as_str(), "ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb");
        assert_eq!(
            api.api_key_parts(),
            Some(("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "aa:bb"))
        );
        let st = KeyId::session_token("eyJhbGciOi.payload.sig\n");
        assert_eq!(st.as_str(), "ST$eyJhbGciOi.payload.sig");
        assert_eq!(st.session_token_value(), Some("eyJhbGciOi.payload.sig"));
        assert_eq!(st.api_key_parts(), None);
        assert!(!format!("{st:?}").contains("payload"));
    }

    #[test]
    fn authorization_header_format_and_quote_rejection() {
        let id = KeyId::from_raw("t/u/f");
        assert_eq!(
            authorization_header(&id, &["date", "(request-target)", "host"], "c2ln").unwrap(),
            r#"Signature version="1",headers="date (request-target) host",keyId="t/u/f",algorithm="rsa-sha256",signature="c2ln""#
        );
        let bad = KeyId::from_raw("t/u\"/f");
        assert!(matches!(
            authorization_header(&bad, &["date"], "c2ln"),
            Err(SigningError::InvalidKeyId)
        ));
    }
}
