//! Errors of the signing module: one enum for key loading, one for signing and verifying.
//!
//! Verification failures are separate variants so an engine can answer `401 NotAuthenticated`
//! with a message that names the actual problem.

use std::time::Duration;

/// Why an RSA key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("failed to find a PEM block labelled {expected} in the key text")]
    NoPemBlock { expected: &'static str },
    #[error("failed to decode the PEM block {label}: {reason}")]
    MalformedPem { label: String, reason: String },
    #[error("failed to load the private key: it is encrypted and no pass phrase was given")]
    PassphraseRequired,
    #[error("failed to decrypt the private key: wrong pass phrase or corrupt key")]
    WrongPassphrase,
    #[error("failed to decrypt the private key: unsupported encryption {0}")]
    UnsupportedEncryption(String),
    #[error("failed to parse the {format} key: {reason}")]
    Parse {
        format: &'static str,
        reason: String,
    },
    #[error("failed to encode the public key: {0}")]
    Encode(String),
    #[error("failed to generate an RSA key: {0}")]
    Generate(String),
}

/// Why a request could not be signed or a signature could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("failed to build the signing string: header {0} is missing from the request")]
    MissingHeader(String),
    #[error("failed to sign the request: the URI has no host")]
    MissingHost,
    #[error("failed to sign the request: header {name} would not be a valid header value")]
    InvalidHeaderValue { name: &'static str },
    #[error(
        "failed to sign the request: the key id contains a quote, backslash or control character"
    )]
    InvalidKeyId,
    #[error("failed to compute the RSA signature: {0}")]
    Sign(String),

    #[error("failed to authenticate: the request has no authorization header")]
    MissingAuthorization,
    #[error("failed to parse the authorization header: {0}")]
    MalformedAuthorization(String),
    #[error("failed to authenticate: signature algorithm {0:?} is not supported (only rsa-sha256)")]
    UnsupportedAlgorithm(String),
    #[error("failed to authenticate: signature version {0:?} is not supported (only 1)")]
    UnsupportedVersion(String),
    #[error(
        "failed to authenticate: header {header} must be signed for {method} requests but is not listed in headers="
    )]
    HeaderNotSigned {
        header: &'static str,
        method: String,
    },
    #[error("failed to authenticate: the {header} header {value:?} is not an HTTP date")]
    InvalidDate { header: &'static str, value: String },
    #[error(
        "failed to authenticate: the request date is {skew:?} away from the server clock (at most {max:?} allowed)"
    )]
    ClockSkew { skew: Duration, max: Duration },
    #[error("failed to authenticate: x-content-sha256 does not match the SHA-256 of the body")]
    BodyHashMismatch,
    #[error(
        "failed to authenticate: content-length {header} does not match the body length {actual}"
    )]
    ContentLengthMismatch { header: String, actual: usize },
    #[error("failed to authenticate: the key id is not known")]
    UnknownKeyId,
    #[error("failed to authenticate: the signature does not match the request")]
    BadSignature,
}

/// A key provider could not produce the current key id and key.
#[derive(Debug, thiserror::Error)]
#[error("failed to obtain signing credentials from the {provider} auth provider: {source}")]
pub struct ProviderError {
    /// Short name of the provider, such as `config-file` or `instance-principal`.
    pub provider: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl ProviderError {
    /// Wraps any error raised by the provider called `provider`.
    pub fn new(
        provider: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            provider,
            source: source.into(),
        }
    }
}
