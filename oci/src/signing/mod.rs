//! OCI request signing: draft-cavage HTTP signatures with rsa-sha256 (RSASSA-PKCS1-v1_5,
//! base64), used by the client to sign and by the local engine to verify.
//!
//! Owns the signed-header rules, the signing string, RSA key handling and the authorization
//! header format. It does not decide where keys come from: auth methods implement
//! [`KeyProvider`].
//!
//! - Signing string: [`headers_to_sign`], [`signing_string`], [`body_sha256_b64`].
//! - Client: [`Signer`], [`sign_headers`], [`KeyId`], [`Credentials`], [`KeyProvider`].
//! - Engine: [`verify_request`], or [`verify_signed_headers`] then [`BodyCheck`] as the body
//!   streams, or the steps [`parse_authorization`], [`check_signed_headers`], [`check_date`],
//!   [`check_body`], [`verify`].

mod error;
mod key;
mod pem;
mod signer;
mod string;
mod verify;

pub use error::{KeyError, ProviderError, SigningError};
pub use key::{PrivateKey, PublicKey};
pub use signer::{
    Credentials, DEFAULT_CONTENT_TYPE, KeyId, KeyProvider, Payload, ProviderFuture,
    SESSION_TOKEN_PREFIX, Signer, StaticKeyProvider, X_CONTENT_SHA256, authorization_header,
    sign_headers, sign_headers_with,
};
pub use string::{
    BODY_HEADERS, EMPTY_BODY_SHA256, GENERIC_HEADERS, REQUEST_TARGET, body_sha256_b64,
    header_map_lookup, headers_to_sign, host_header_value, method_signs_body, path_and_query,
    request_target, signing_string,
};
pub use verify::{
    BodyCheck, MAX_CLOCK_SKEW, SignatureParams, check_body, check_date, check_signed_headers,
    parse_authorization, parse_http_date, verify, verify_request, verify_signed_headers,
};
