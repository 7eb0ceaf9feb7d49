//! One signed HTTP call to a DynamoDB- or S3-compatible server: SigV4 signing, per-attempt
//! timeouts, retries with capped exponential backoff and jitter, and turning error answers into
//! [`EsbError`] with the server's code and message. Knows the two error body formats (JSON for
//! DynamoDB, XML for S3) but no operation.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::Method;

use galley_oci::echo::{echo, echo_message};

use super::connection::{Connection, Timeouts};
use super::error::{EsbError, Service};

/// Backoff before the second attempt; doubled each time up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// A server's `Retry-After` is honoured up to this.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(20);

/// Codes that mean "the credentials are wrong", across DynamoDB and S3 implementations.
const AUTH_CODES: &[&str] = &[
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AccessDenied",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
    "Forbidden",
];

/// Codes worth another attempt even when the HTTP status alone would not say so.
const RETRY_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestTimeout",
];

/// A request before signing.
pub(crate) struct Call<'a> {
    /// What is being done, for messages: "create table orders".
    pub action: &'a str,
    pub method: Method,
    /// Path and query, starting with `/`, already percent-encoded.
    pub path_and_query: String,
    /// Headers to send and sign.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// A successful (2xx) answer.
pub(crate) struct Reply {
    pub body: Vec<u8>,
}

pub(crate) struct Transport {
    http: reqwest::Client,
    service: Service,
    endpoint: String,
    region: String,
    identity: Identity,
    timeouts: Timeouts,
}

impl Transport {
    /// A transport for `service`; fails when its endpoint is unset or invalid.
    pub(crate) fn new(conn: &Connection, service: Service) -> Result<Transport, EsbError> {
        let endpoint = conn.endpoint(service, &format!("connect to {service}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(conn.timeouts.connect)
            .timeout(conn.timeouts.request)
            // Local servers answer plain HTTP on loopback; never pick up a proxy for them.
            .no_proxy()
            .build()
            .map_err(|e| EsbError::InvalidEndpoint {
                service,
                value: endpoint.clone(),
                reason: format!("failed to build the HTTP client: {e}"),
            })?;
        let identity: Identity = Credentials::new(
            conn.access_key.clone(),
            conn.secret_key.clone(),
            None,
            None,
            "esb_resources",
        )
        .into();
        Ok(Transport {
            http,
            service,
            endpoint,
            region: conn.region.clone(),
            identity,
            timeouts: conn.timeouts,
        })
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn service(&self) -> Service {
        self.service
    }

    /// Sends `call`, retrying what is retryable; non-2xx answers become errors.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Reply, EsbError> {
        let attempts = self.timeouts.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.attempt(call).await?;
            let (retryable, retry_after, error) = match outcome {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Failed {
                    retryable,
                    retry_after,
                    error,
                } => (retryable, retry_after, error),
            };
            if !retryable || attempt >= attempts {
                return Err(match error {
                    AttemptError::Answer(error) => error,
                    AttemptError::Network(detail) => EsbError::Unreachable {
                        service: self.service,
                        endpoint: self.endpoint.clone(),
                        action: call.action.to_owned(),
                        attempts: attempt,
                        detail,
                    },
                });
            }
            let delay = backoff(attempt, retry_after);
            tracing::debug!(
                service = %self.service,
                action = call.action,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying after a transient failure"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Attempt, EsbError> {
        let request = self.signed(call)?;
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(err) => {
                return Ok(Attempt::Failed {
                    retryable: err.is_connect() || err.is_timeout() || err.is_request(),
                    retry_after: None,
                    error: AttemptError::Network(error_chain(&err)),
                });
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(err) => {
                return Ok(Attempt::Failed {
                    retryable: true,
                    retry_after: None,
                    error: AttemptError::Network(error_chain(&err)),
                });
            }
        };
        if (200..300).contains(&status) {
            return Ok(Attempt::Done(Reply { body }));
        }
        let (code, message) = self.error_details(status, &body);
        let retryable = status == 429
            || (status >= 500 && status != 501)
            || RETRY_CODES.contains(&code.as_str());
        let error = if AUTH_CODES.contains(&code.as_str()) || status == 401 {
            EsbError::Auth {
                service: self.service,
                endpoint: self.endpoint.clone(),
                action: call.action.to_owned(),
                code,
                message,
            }
        } else {
            EsbError::Service {
                service: self.service,
                endpoint: self.endpoint.clone(),
                action: call.action.to_owned(),
                status,
                code,
                message,
            }
        };
        Ok(Attempt::Failed {
            retryable,
            retry_after,
            error: AttemptError::Answer(error),
        })
    }

    /// Builds and signs the request; signed anew for every attempt so the date stays fresh.
    fn signed(&self, call: &Call<'_>) -> Result<reqwest::Request, EsbError> {
        let signing_error = |detail: String| EsbError::Signing {
            service: self.service,
            action: call.action.to_owned(),
            detail,
        };
        let url = format!("{}{}", self.endpoint, call.path_and_query);

        let mut settings = SigningSettings::default();
        if self.service == Service::S3 {
            // S3 signs the payload hash header and the path exactly as sent; SeaweedFS checks
            // all three of these.
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(self.service.signing_name())
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| signing_error(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            call.method.as_str(),
            url.clone(),
            call.headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(&call.body),
        )
        .map_err(|e| signing_error(e.to_string()))?;
        // aws-sigv4 logs its parameters at TRACE, access key id included; signing runs with no
        // subscriber so that no log level ever carries key material.
        let signed = tracing::dispatcher::with_default(&tracing::Dispatch::none(), || {
            sign(signable, &params)
        });
        let (instructions, _signature) = signed
            .map_err(|e| signing_error(e.to_string()))?
            .into_parts();

        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(&url);
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        let mut request = builder
            .body(call.body.clone())
            .map_err(|e| signing_error(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        reqwest::Request::try_from(request.map(reqwest::Body::from))
            .map_err(|e| signing_error(e.to_string()))
    }

    /// The error code and message of an error answer, from the body when it has one.
    fn error_details(&self, status: u16, body: &[u8]) -> (String, String) {
        let parsed = match self.service {
            Service::DynamoDb => dynamodb_error(body),
            Service::S3 => s3_error(body),
        };
        match parsed {
            // Servers quote requests back (a table name in a validation error): keep it short.
            Some((code, message)) => (echo(&code).to_string(), echo_message(&message).to_string()),
            None => {
                // HEAD answers and some servers' errors carry no body: name the status.
                let code = match status {
                    400 => "BadRequest",
                    401 => "Unauthorized",
                    403 => "Forbidden",
                    404 => "NotFound",
                    409 => "Conflict",
                    501 => "NotImplemented",
                    503 => "ServiceUnavailable",
                    _ => "HttpError",
                };
                let text = String::from_utf8_lossy(body);
                let message = if text.trim().is_empty() {
                    format!("HTTP {status} with no details")
                } else {
                    text.chars().take(300).collect()
                };
                (code.to_owned(), message)
            }
        }
    }
}

enum Attempt {
    Done(Reply),
    Failed {
        retryable: bool,
        retry_after: Option<Duration>,
        error: AttemptError,
    },
}

enum AttemptError {
    Answer(EsbError),
    Network(String),
}

/// `{"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": ...}`.
fn dynamodb_error(body: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let kind = value.get("__type")?.as_str()?;
    let code = kind.rsplit('#').next().unwrap_or(kind).to_owned();
    let message = value
        .get("message")
        .or_else(|| value.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_owned();
    Some((code, message))
}

/// `<Error><Code>NoSuchBucket</Code><Message>...</Message></Error>`.
fn s3_error(body: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "Code")]
        code: Option<String>,
        #[serde(rename = "Message")]
        message: Option<String>,
    }
    let text = std::str::from_utf8(body).ok()?;
    let parsed: ErrorBody = quick_xml::de::from_str(text).ok()?;
    Some((parsed.code?, parsed.message.unwrap_or_default()))
}

/// The delay before attempt `attempt + 1`: full jitter over an exponential ceiling, or the
/// server's `Retry-After` when that is longer.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let jittered = ceiling.mul_f64(0.5 + 0.5 * unit_random());
    match retry_after {
        Some(wanted) => jittered.max(wanted.min(RETRY_AFTER_CAP)),
        None => jittered,
    }
}

/// A number in [0, 1) that differs between calls; enough for jitter without a RNG crate.
fn unit_random() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The error and its causes on one line (reqwest's top-level message alone hides the reason).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes a query value or path segment (RFC 3986 unreserved characters stay).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let delay = backoff(attempt, None);
            assert!(delay <= BACKOFF_CAP, "{attempt}: {delay:?}");
        }
        assert!(backoff(1, None) <= BACKOFF_BASE);
        assert!(backoff(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert!(backoff(1, Some(Duration::from_secs(3600))) <= RETRY_AFTER_CAP);
    }

    #[test]
    fn error_bodies_are_read() {
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#;
        assert_eq!(
            dynamodb_error(body),
            Some((
                "ResourceNotFoundException".into(),
                "Requested resource not found".into()
            ))
        );
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message><Resource>/b</Resource></Error>"#;
        assert_eq!(
            s3_error(body),
            Some((
                "SignatureDoesNotMatch".into(),
                "The request signature we calculated does not match.".into()
            ))
        );
        assert_eq!(s3_error(b""), None);
    }

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("tmp/x y+z"), "tmp%2Fx%20y%2Bz");
    }
}
