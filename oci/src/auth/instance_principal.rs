//! Instance principal, how a Compute instance authenticates: the instance metadata service
//! hands out a leaf certificate (whose subject names the tenancy), its key and an intermediate
//! certificate; the client makes a fresh RSA-2048 session key and exchanges the certificate for
//! a session token at the federation endpoint (`POST <auth>/v1/x509`), then signs requests with
//! `ST$<token>` and the session key, renewing before the token expires.
//!
//! Both base URLs can be overridden so tests (and a local engine) can serve them on loopback.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;

use super::AuthError;
use super::jwt::SessionToken;
use crate::endpoints::{Region, Service};
use crate::signing::{
    Credentials, KeyId, KeyProvider, Payload, PrivateKey, ProviderError, ProviderFuture,
    REQUEST_TARGET, sign_headers_with,
};

/// The instance metadata service, version 2.
pub const DEFAULT_METADATA_BASE_URL: &str = "http://169.254.169.254/opc/v2";

/// The header value the metadata service v2 requires.
pub const METADATA_AUTHORIZATION: &str = "Bearer Oracle";

/// What the federation request signs: the body headers without `host`, as the auth service
/// expects.
pub const FEDERATION_SIGNED_HEADERS: &[&str] = &[
    "date",
    REQUEST_TARGET,
    "content-length",
    "content-type",
    "x-content-sha256",
];

/// Size of the session key.
pub const SESSION_KEY_BITS: usize = 2048;

const PROVIDER: &str = "instance-principal";

/// Where to find the metadata and federation services.
#[derive(Clone, Debug)]
pub struct InstancePrincipalConfig {
    /// Default [`DEFAULT_METADATA_BASE_URL`].
    pub metadata_base_url: String,
    /// Default `https://auth.<region>.<domain>`, from the instance's region.
    pub federation_base_url: Option<String>,
    /// Per-call timeout for both services.
    pub timeout: Duration,
    /// Attempts per federation call (transport errors, 429 and 5xx are retried).
    pub federation_attempts: u32,
}

impl Default for InstancePrincipalConfig {
    fn default() -> Self {
        Self {
            metadata_base_url: DEFAULT_METADATA_BASE_URL.to_owned(),
            federation_base_url: None,
            timeout: Duration::from_secs(10),
            federation_attempts: 3,
        }
    }
}

/// The certificates and key read from the metadata service.
struct InstanceIdentity {
    leaf_pem: String,
    leaf_fingerprint: String,
    tenancy: String,
    leaf_key: PrivateKey,
    intermediate_pem: Option<String>,
}

struct State {
    token: SessionToken,
    session_key: Arc<PrivateKey>,
    obtained_at: SystemTime,
}

/// Instance principal credentials, renewed before expiry.
pub struct InstancePrincipalProvider {
    config: InstancePrincipalConfig,
    http: reqwest::Client,
    region: Region,
    tenancy: String,
    federation_url: String,
    state: tokio::sync::Mutex<State>,
}

impl fmt::Debug for InstancePrincipalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstancePrincipalProvider")
            .field("region", &self.region.name())
            .field("tenancy", &self.tenancy)
            .field("federation_url", &self.federation_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegionInfo {
    realm_key: Option<String>,
    realm_domain_component: Option<String>,
    region_identifier: Option<String>,
    region_key: Option<String>,
}

#[derive(Deserialize)]
struct TokenReply {
    token: String,
}

#[derive(Deserialize, Default)]
struct ErrorReply {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl InstancePrincipalProvider {
    /// Reads the region and certificates and obtains a first token, so a broken setup fails
    /// here rather than on the first service call.
    pub async fn new(config: InstancePrincipalConfig) -> Result<Self, AuthError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| AuthError::Metadata {
                url: config.metadata_base_url.clone(),
                reason: format!("failed to build the HTTP client: {e}"),
            })?;
        let metadata = Metadata {
            http: &http,
            base: config.metadata_base_url.trim_end_matches('/'),
        };
        let region = metadata.region().await?;
        let identity = metadata.identity().await?;
        let federation_url = format!(
            "{}/v1/x509",
            config
                .federation_base_url
                .clone()
                .unwrap_or_else(|| Service::Auth.default_root(&region))
                .trim_end_matches('/')
        );
        let tenancy = identity.tenancy.clone();
        let federation = Federation {
            http: &http,
            url: &federation_url,
            attempts: config.federation_attempts,
        };
        let state = federation.exchange(identity).await?;
        let provider = Self {
            config,
            http,
            region,
            tenancy,
            federation_url,
            state: tokio::sync::Mutex::new(state),
        };
        tracing::debug!(region = %provider.region, tenancy = %provider.tenancy, "instance principal ready");
        Ok(provider)
    }

    /// The instance's region (from the metadata service).
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The tenancy from the leaf certificate's subject.
    pub fn tenancy_id(&self) -> &str {
        &self.tenancy
    }

    /// The federation URL tokens come from.
    pub fn federation_url(&self) -> &str {
        &self.federation_url
    }

    fn metadata(&self) -> Metadata<'_> {
        Metadata {
            http: &self.http,
            base: self.config.metadata_base_url.trim_end_matches('/'),
        }
    }

    /// Fresh certificates, a fresh session key, and a token for them.
    async fn renew(&self) -> Result<State, AuthError> {
        let identity = self.metadata().identity().await?;
        if identity.tenancy != self.tenancy {
            return Err(AuthError::Certificate {
                reason: format!(
                    "the tenancy in the renewed leaf certificate ({}) differs from the original ({})",
                    identity.tenancy, self.tenancy
                ),
            });
        }
        Federation {
            http: &self.http,
            url: &self.federation_url,
            attempts: self.config.federation_attempts,
        }
        .exchange(identity)
        .await
    }
}

/// One exchange of a certificate for a token at the federation endpoint.
struct Federation<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
    attempts: u32,
}

impl Federation<'_> {
    async fn exchange(&self, identity: InstanceIdentity) -> Result<State, AuthError> {
        // Key generation is CPU-bound for a noticeable time; keep it off the async workers.
        let session_key = tokio::task::spawn_blocking(|| PrivateKey::generate(SESSION_KEY_BITS))
            .await
            .map_err(|e| AuthError::Certificate {
                reason: format!("the session key task failed: {e}"),
            })?
            .map_err(|e| AuthError::key("generated session key", e))?;
        let public_der = session_key
            .public_key()
            .to_der()
            .map_err(|e| AuthError::key("generated session key", e))?;
        let mut body = serde_json::json!({
            "certificate": strip_pem_armor(&identity.leaf_pem),
            "publicKey": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &public_der),
            "fingerprintAlgorithm": "SHA256",
        });
        if let Some(intermediate) = &identity.intermediate_pem {
            body["intermediateCertificates"] = serde_json::json!([strip_pem_armor(intermediate)]);
        }
        let body = body.to_string().into_bytes();
        let credentials = Credentials::new(
            KeyId::from_raw(format!(
                "{}/fed-x509-sha256/{}",
                identity.tenancy, identity.leaf_fingerprint
            )),
            identity.leaf_key,
        );
        let url = self.url;
        let uri: Uri = url.parse().map_err(|_| AuthError::FederationTransport {
            url: url.to_owned(),
            reason: "it is not a valid URL".into(),
        })?;

        let attempts = self.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.once(&uri, &credentials, &body).await;
            let retryable = match &result {
                Ok(_) => false,
                Err(AuthError::Federation { status, .. }) => *status == 429 || *status >= 500,
                Err(AuthError::FederationTransport { .. }) => true,
                Err(_) => false,
            };
            if !retryable || attempt >= attempts {
                let token = result?;
                return Ok(State {
                    token,
                    session_key: Arc::new(session_key),
                    obtained_at: SystemTime::now(),
                });
            }
            if let Err(e) = &result {
                tracing::warn!(error = %e, attempt, "instance principal federation failed; retrying");
            }
            tokio::time::sleep(Duration::from_millis(500 << attempt.min(6))).await;
        }
    }

    async fn once(
        &self,
        uri: &Uri,
        credentials: &Credentials,
        body: &[u8],
    ) -> Result<SessionToken, AuthError> {
        let url = self.url;
        let transport = |reason: String| AuthError::FederationTransport {
            url: url.to_owned(),
            reason,
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        sign_headers_with(
            credentials,
            &Method::POST,
            uri,
            &mut headers,
            Payload::Bytes(body),
            FEDERATION_SIGNED_HEADERS,
        )
        .map_err(|e| transport(format!("failed to sign the request: {e}")))?;
        let response = self
            .http
            .post(url)
            .headers(headers)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| transport(error_chain(&e)))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("opc-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(error_chain(&e)))?;
        if !status.is_success() {
            let reply: ErrorReply = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(AuthError::Federation {
                url: url.to_owned(),
                status: status.as_u16(),
                code: if reply.code.is_empty() {
                    status.canonical_reason().unwrap_or("Error").to_owned()
                } else {
                    reply.code
                },
                message: reply.message,
                opc_request_id: request_id,
            });
        }
        let reply: TokenReply = serde_json::from_slice(&bytes).map_err(|e| {
            transport(format!(
                "the reply is not {{\"token\": ...}} (opc-request-id {request_id}): {e}"
            ))
        })?;
        SessionToken::parse(&reply.token)
    }
}

impl KeyProvider for InstancePrincipalProvider {
    fn credentials(&self) -> ProviderFuture<'_, Credentials> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            let now = SystemTime::now();
            if state.token.needs_refresh(now, state.obtained_at) {
                match self.renew().await {
                    Ok(fresh) => {
                        tracing::debug!("instance principal token renewed");
                        *state = fresh;
                    }
                    // Keep using a token that has not expired yet; the next request retries.
                    Err(e) if !state.token.is_expired(now) => {
                        tracing::warn!(error = %e, "failed to renew the instance principal token");
                    }
                    Err(e) => return Err(ProviderError::new(PROVIDER, e)),
                }
            }
            Ok(Credentials::from_shared(
                KeyId::session_token(state.token.as_str()),
                Arc::clone(&state.session_key),
            ))
        })
    }

    fn refresh(&self) -> ProviderFuture<'_, ()> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            *state = self
                .renew()
                .await
                .map_err(|e| ProviderError::new(PROVIDER, e))?;
            Ok(())
        })
    }
}

/// Calls to the metadata service.
struct Metadata<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
}

impl Metadata<'_> {
    async fn get(&self, path: &str) -> Result<Option<String>, AuthError> {
        let url = format!("{}{path}", self.base);
        let failed = |reason: String| AuthError::Metadata {
            url: url.clone(),
            reason,
        };
        let response = self
            .http
            .get(&url)
            .header(AUTHORIZATION, METADATA_AUTHORIZATION)
            .send()
            .await
            .map_err(|e| {
                failed(format!(
                    "{} (instance principal works only on an OCI instance with the metadata service reachable)",
                    error_chain(&e)
                ))
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response.text().await.map_err(|e| failed(error_chain(&e)))?;
        if !status.is_success() {
            let snippet: String = text.chars().take(200).collect();
            return Err(failed(format!("{status}: {snippet}")));
        }
        Ok(Some(text))
    }

    async fn require(&self, path: &str) -> Result<String, AuthError> {
        self.get(path).await?.ok_or_else(|| AuthError::Metadata {
            url: format!("{}{path}", self.base),
            reason: "404 Not Found".into(),
        })
    }

    /// `regionInfo` gives the realm domain too; older metadata services only have `region`.
    async fn region(&self) -> Result<Region, AuthError> {
        if let Some(text) = self.get("/instance/regionInfo").await? {
            let info: RegionInfo =
                serde_json::from_str(&text).map_err(|e| AuthError::Metadata {
                    url: format!("{}/instance/regionInfo", self.base),
                    reason: format!("the reply is not the expected JSON: {e}"),
                })?;
            let name = info.region_identifier.or(info.region_key);
            if let Some(name) = name {
                let region = match (info.realm_key, info.realm_domain_component) {
                    (Some(realm), Some(domain)) => Region::with_domain(&name, &realm, &domain),
                    _ => Region::resolve(&name),
                };
                return region.ok_or_else(|| AuthError::Region {
                    reason: format!("the metadata service named region {name:?}"),
                });
            }
        }
        let name = self.require("/instance/region").await?;
        Region::resolve(name.trim()).ok_or_else(|| AuthError::Region {
            reason: format!("the metadata service named region {:?}", name.trim()),
        })
    }

    async fn identity(&self) -> Result<InstanceIdentity, AuthError> {
        let leaf_pem = self.require("/identity/cert.pem").await?;
        let key_pem = zeroize::Zeroizing::new(self.require("/identity/key.pem").await?);
        let intermediate_pem = self
            .get("/identity/intermediate.pem")
            .await?
            .filter(|p| !p.trim().is_empty());
        let leaf_key = PrivateKey::from_pem(&key_pem, None)
            .map_err(|e| AuthError::key("from the metadata service (/identity/key.pem)", e))?;
        let (der, tenancy) = parse_leaf(&leaf_pem)?;
        Ok(InstanceIdentity {
            leaf_fingerprint: sha256_fingerprint(&der),
            leaf_pem,
            tenancy,
            leaf_key,
            intermediate_pem,
        })
    }
}

/// The DER of the first certificate in `pem` and the tenancy named in its subject.
fn parse_leaf(pem: &str) -> Result<(Vec<u8>, String), AuthError> {
    let invalid = |reason: String| AuthError::Certificate { reason };
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| invalid(format!("the leaf certificate is not PEM: {e}")))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&block.contents)
        .map_err(|e| invalid(format!("the leaf certificate is not X.509: {e}")))?;
    let tenancy = tenancy_from_subject(&cert).ok_or_else(|| {
        invalid("the leaf certificate subject has no opc-tenant: or opc-identity: attribute".into())
    })?;
    Ok((block.contents, tenancy))
}

fn tenancy_from_subject(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<String> {
    cert.subject().iter_attributes().find_map(|attr| {
        let value = attr.as_str().ok()?;
        value
            .strip_prefix("opc-tenant:")
            .or_else(|| value.strip_prefix("opc-identity:"))
            .map(str::to_owned)
    })
}

/// SHA-256 of the certificate DER as lowercase colon-separated hex.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A PEM body without its BEGIN/END lines and line breaks, as the federation request wants.
pub fn strip_pem_armor(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// A reqwest error with its causes, which hold the useful part (connection refused, DNS...).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armor_and_newlines_are_stripped() {
        assert_eq!(
            strip_pem_armor(
                "-----BEGIN CERTIFICATE-----\r\nQUJD\nREVG\n-----END CERTIFICATE-----\n"
            ),
            "QUJDREVG"
        );
    }

    #[test]
    fn fingerprint_is_lowercase_colon_hex() {
        let fp = sha256_fingerprint(b"");
        assert!(fp.starts_with("e3:b0:c4:42"));
        assert_eq!(fp.len(), 32 * 3 - 1);
    }
}
