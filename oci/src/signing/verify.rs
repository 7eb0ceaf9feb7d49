//! The engine side: parsing an `authorization` header and checking a signed request.
//!
//! Each check returns its own [`SigningError`] variant so the engine can answer
//! `401 NotAuthenticated` with a message naming the actual problem. The signing string is
//! rebuilt with the same [`signing_string`] the client signs with.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use sha2::{Digest, Sha256};

use super::error::SigningError;
use super::key::PublicKey;
use super::signer::{KeyId, Payload, X_CONTENT_SHA256};
use super::string::{headers_to_sign, signing_string};
use crate::echo::echo;

/// Largest difference between the request date and the server clock OCI accepts.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The parameters of a `Signature` authorization header.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// `version`, when sent (OCI's Go and Java SDKs send `1`, the Python SDK does not).
    pub version: Option<String>,
    pub key_id: KeyId,
    /// `algorithm`, when sent; only `rsa-sha256` is accepted.
    pub algorithm: Option<String>,
    /// Lowercase signed header names in signing order (`date` when the header omits them).
    pub headers: Vec<String>,
    /// The signature as sent, base64.
    pub signature: String,
}

impl fmt::Debug for SignatureParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureParams")
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl SignatureParams {
    /// Signed header names as `&str`, for [`signing_string`].
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(String::as_str).collect()
    }

    /// True when `name` (lowercase) is among the signed headers.
    pub fn signs(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }
}

/// Parses `Signature name="value",...` with parameters in any order.
///
/// Unknown parameters are ignored (later drafts add some); duplicates, unquoted values and a
/// missing `keyId` or `signature` are errors.
pub fn parse_authorization(header: &str) -> Result<SignatureParams, SigningError> {
    let malformed = |m: &str| SigningError::MalformedAuthorization(m.to_owned());
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or_else(|| malformed("expected `Signature` followed by parameters"))?;
    if !scheme.eq_ignore_ascii_case("Signature") {
        return Err(malformed("the scheme is not `Signature`"));
    }

    let mut version = None;
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;

    let mut chars = rest.trim_start().chars().peekable();
    loop {
        let name: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_owned();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(malformed("expected a parameter name followed by `=`"));
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.next() != Some('"') {
            return Err(SigningError::MalformedAuthorization(format!(
                "the value of {} is not quoted",
                echo(&name)
            )));
        }
        let mut value = String::new();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    closed = true;
                    break;
                }
                '\\' => match chars.next() {
                    Some(escaped) => value.push(escaped),
                    None => break,
                },
                c => value.push(c),
            }
        }
        if !closed {
            return Err(SigningError::MalformedAuthorization(format!(
                "the value of {} has no closing quote",
                echo(&name)
            )));
        }
        let slot = match name.as_str() {
            "version" => Some(&mut version),
            "keyId" => Some(&mut key_id),
            "algorithm" => Some(&mut algorithm),
            "headers" => Some(&mut headers),
            "signature" => Some(&mut signature),
            _ => None,
        };
        if let Some(slot) = slot {
            if slot.is_some() {
                return Err(SigningError::MalformedAuthorization(format!(
                    "parameter {name} appears twice"
                )));
            }
            *slot = Some(value);
        }

        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        match chars.next() {
            None => break,
            Some(',') => while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {},
            Some(_) => return Err(malformed("expected `,` between parameters")),
        }
    }

    if let Some(v) = &version
        && v != "1"
    {
        return Err(SigningError::UnsupportedVersion(echo(v).to_string()));
    }
    if let Some(a) = &algorithm
        && !a.eq_ignore_ascii_case("rsa-sha256")
    {
        return Err(SigningError::UnsupportedAlgorithm(echo(a).to_string()));
    }
    let key_id = key_id.ok_or_else(|| malformed("keyId is missing"))?;
    if key_id.is_empty() {
        return Err(malformed("keyId is empty"));
    }
    let signature = signature.ok_or_else(|| malformed("signature is missing"))?;
    let headers: Vec<String> = match headers {
        // draft-cavage: without `headers`, only `date` is signed.
        None => vec!["date".to_owned()],
        Some(h) => h
            .split_ascii_whitespace()
            .map(str::to_ascii_lowercase)
            .collect(),
    };
    if headers.is_empty() {
        return Err(malformed("headers is empty"));
    }
    Ok(SignatureParams {
        version,
        key_id: KeyId::from_raw(key_id),
        algorithm,
        headers,
        signature,
    })
}

/// Checks `params.signature` over `signing_string` with `public_key`.
pub fn verify(
    params: &SignatureParams,
    signing_string: &str,
    public_key: &PublicKey,
) -> Result<(), SigningError> {
    let signature = STANDARD
        .decode(params.signature.as_bytes())
        .map_err(|_| SigningError::MalformedAuthorization("signature is not base64".into()))?;
    if public_key.verify_sha256(signing_string.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(SigningError::BadSignature)
    }
}

/// Checks that every header OCI requires for `method` is signed. `x-date` stands in for
/// `date`, as OCI allows for clients that cannot set `Date`.
pub fn check_signed_headers(
    params: &SignatureParams,
    method: &Method,
    body_excluded: bool,
) -> Result<(), SigningError> {
    for required in headers_to_sign(method, body_excluded) {
        let signed = params.signs(required) || (*required == "date" && params.signs("x-date"));
        if !signed {
            return Err(SigningError::HeaderNotSigned {
                header: required,
                method: method.as_str().to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks that the signed date (`x-date` when signed, else `date`) is within `max_skew` of
/// `now`.
pub fn check_date(
    params: &SignatureParams,
    header_lookup: impl Fn(&str) -> Option<String>,
    now: SystemTime,
    max_skew: Duration,
) -> Result<(), SigningError> {
    let header = if params.signs("x-date") {
        "x-date"
    } else {
        "date"
    };
    let value = header_lookup(header).ok_or_else(|| SigningError::MissingHeader(header.into()))?;
    let date = parse_http_date(value.trim()).ok_or_else(|| SigningError::InvalidDate {
        header,
        value: echo(&value).to_string(),
    })?;
    let skew = match now.duration_since(date) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    if skew > max_skew {
        return Err(SigningError::ClockSkew {
            skew,
            max: max_skew,
        });
    }
    Ok(())
}

/// Parses an HTTP date. An IMF-fixdate whose weekday does not match its date is accepted:
/// the weekday carries no information, and OCI's own published signing example has a wrong one.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value)
        .ok()
        .or_else(|| parse_fixdate_ignoring_weekday(value))
}

fn parse_fixdate_ignoring_weekday(value: &str) -> Option<SystemTime> {
    // "Thu, 05 Jan 2014 21:31:40 GMT"
    let (_weekday, rest) = value.split_once(", ")?;
    let mut parts = rest.split(' ');
    let (day, month, year, time, zone) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some() || zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time
        .split(':')
        .map(|p| p.parse::<i64>().ok().filter(|_| p.len() == 2));
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + m * 60 + sec).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Checks that `x-content-sha256` and `content-length` describe `body`.
pub fn check_body(
    header_lookup: impl Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<(), SigningError> {
    let mut check = BodyCheck::from_headers(&header_lookup)?;
    check.update(body);
    check.finish()
}

/// The signed description of a body (`x-content-sha256`, and `content-length` when sent),
/// checked against the body as it streams: an engine authenticates a request from its headers
/// ([`verify_signed_headers`]) before reading any of the body, then feeds the body through
/// [`BodyCheck::update`] and accepts it only if [`BodyCheck::finish`] agrees.
#[derive(Clone)]
pub struct BodyCheck {
    expected_sha256: String,
    expected_length: Option<String>,
    hasher: Sha256,
    seen: u64,
}

impl BodyCheck {
    /// Reads the signed body headers of a request.
    pub fn from_headers(
        header_lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<BodyCheck, SigningError> {
        let expected_sha256 = header_lookup(X_CONTENT_SHA256)
            .ok_or_else(|| SigningError::MissingHeader(X_CONTENT_SHA256.into()))?;
        Ok(BodyCheck {
            expected_sha256: expected_sha256.trim().to_owned(),
            expected_length: header_lookup("content-length").map(|l| l.trim().to_owned()),
            hasher: Sha256::new(),
            seen: 0,
        })
    }

    /// The signed `content-length`, when it is a number.
    pub fn declared_length(&self) -> Option<u64> {
        self.expected_length.as_deref().and_then(|l| l.parse().ok())
    }

    /// Feeds the next chunk of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.seen += chunk.len() as u64;
    }

    /// Bytes fed so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Compares what was fed with the signed hash and length.
    pub fn finish(self) -> Result<(), SigningError> {
        if STANDARD.encode(self.hasher.finalize()) != self.expected_sha256 {
            return Err(SigningError::BodyHashMismatch);
        }
        if let Some(length) = &self.expected_length
            && length.parse::<u64>().ok() != Some(self.seen)
        {
            return Err(SigningError::ContentLengthMismatch {
                header: echo(length).to_string(),
                actual: self.seen as usize,
            });
        }
        Ok(())
    }
}

/// Everything the engine checks on one request, in this order: authorization present and
/// well formed, required headers signed, date within [`MAX_CLOCK_SKEW`], body matching its
/// hash (when the body is signed), key id known, signature valid.
///
/// `header_lookup` takes lowercase names; `public_key_for` maps a key id to its public key.
/// Returns the parsed parameters so the caller knows which principal signed.
pub fn verify_request(
    method: &Method,
    path_and_query: &str,
    header_lookup: impl Fn(&str) -> Option<String>,
    payload: Payload<'_>,
    now: SystemTime,
    public_key_for: impl FnOnce(&KeyId) -> Option<PublicKey>,
) -> Result<SignatureParams, SigningError> {
    let authorization = header_lookup("authorization").ok_or(SigningError::MissingAuthorization)?;
    let params = parse_authorization(&authorization)?;
    check_signed_headers(&params, method, payload.is_unsigned())?;
    check_date(&params, &header_lookup, now, MAX_CLOCK_SKEW)?;
    if let Payload::Bytes(body) = payload
        && params.signs(X_CONTENT_SHA256)
    {
        check_body(&header_lookup, body)?;
    }
    check_signature(
        &params,
        method,
        path_and_query,
        &header_lookup,
        public_key_for,
    )?;
    Ok(params)
}

/// [`verify_request`] without the body: everything that can be checked from the request line
/// and headers alone, so an engine refuses an unsigned or forged request before reading (and
/// buffering) a byte of its body. `body_excluded` is true for Object Storage PutObject and
/// UploadPart, whose bodies OCI does not sign.
///
/// When the returned parameters sign `x-content-sha256`, the body is not yet authenticated:
/// check it with [`BodyCheck`] while it streams, and act on it only once
/// [`BodyCheck::finish`] succeeds.
pub fn verify_signed_headers(
    method: &Method,
    path_and_query: &str,
    header_lookup: impl Fn(&str) -> Option<String>,
    body_excluded: bool,
    now: SystemTime,
    public_key_for: impl FnOnce(&KeyId) -> Option<PublicKey>,
) -> Result<SignatureParams, SigningError> {
    let authorization = header_lookup("authorization").ok_or(SigningError::MissingAuthorization)?;
    let params = parse_authorization(&authorization)?;
    check_signed_headers(&params, method, body_excluded)?;
    check_date(&params, &header_lookup, now, MAX_CLOCK_SKEW)?;
    check_signature(
        &params,
        method,
        path_and_query,
        &header_lookup,
        public_key_for,
    )?;
    Ok(params)
}

/// Looks up the key and checks the signature over the signed headers.
fn check_signature(
    params: &SignatureParams,
    method: &Method,
    path_and_query: &str,
    header_lookup: &impl Fn(&str) -> Option<String>,
    public_key_for: impl FnOnce(&KeyId) -> Option<PublicKey>,
) -> Result<(), SigningError> {
    let public_key = public_key_for(&params.key_id).ok_or(SigningError::UnknownKeyId)?;
    let to_verify = signing_string(
        method,
        path_and_query,
        header_lookup,
        &params.header_names(),
    )?;
    verify(params, &to_verify, &public_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escapes_whitespace_and_unknown_parameters() {
        let p = parse_authorization(
            r#"signature  keyId = "a\"b", created="1",signature="c2ln" , headers="Date (request-target)""#,
        )
        .unwrap();
        assert_eq!(p.key_id.as_str(), "a\"b");
        assert_eq!(p.headers, vec!["date", "(request-target)"]);
        assert_eq!(p.signature, "c2ln");
        assert_eq!(p.version, None);
    }

    #[test]
    fn headers_default_to_date() {
        let p = parse_authorization(r#"Signature keyId="k",signature="c2ln""#).unwrap();
        assert_eq!(p.headers, vec!["date"]);
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            "Bearer abc",
            "Signature",
            r#"Signature keyId=k,signature="s""#,
            r#"Signature keyId="k",signature="s"#,
            r#"Signature keyId="k" signature="s""#,
            r#"Signature keyId="k",keyId="j",signature="s""#,
            r#"Signature signature="s""#,
            r#"Signature keyId="k""#,
            r#"Signature keyId="k",signature="s",headers="""#,
        ] {
            assert!(
                matches!(
                    parse_authorization(bad),
                    Err(SigningError::MalformedAuthorization(_))
                ),
                "{bad} should be rejected"
            );
        }
        assert!(matches!(
            parse_authorization(r#"Signature keyId="k",signature="s",algorithm="hmac-sha256""#),
            Err(SigningError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            parse_authorization(r#"Signature keyId="k",signature="s",version="2""#),
            Err(SigningError::UnsupportedVersion(_))
        ));
    }

    #[test]
    fn dates_with_a_wrong_weekday_still_parse() {
        // 5 January 2014 was a Sunday; OCI's published example says Thursday.
        let t = parse_http_date("Thu, 05 Jan 2014 21:31:40 GMT").unwrap();
        assert_eq!(
            t,
            httpdate::parse_http_date("Sun, 05 Jan 2014 21:31:40 GMT").unwrap()
        );
        let now = SystemTime::now();
        let formatted = httpdate::fmt_http_date(now);
        assert_eq!(
            parse_fixdate_ignoring_weekday(&formatted),
            httpdate::parse_http_date(&formatted).ok()
        );
        for bad in [
            "",
            "Thu, 5 Jan 2014 21:31:40 GMT",
            "Thu, 05 Foo 2014 21:31:40 GMT",
            "Thu, 05 Jan 2014 24:31:40 GMT",
            "Thu, 05 Jan 2014 21:31:40 UTC",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn x_date_stands_in_for_date() {
        let p = parse_authorization(
            r#"Signature keyId="k",signature="s",headers="x-date (request-target) host""#,
        )
        .unwrap();
        check_signed_headers(&p, &Method::GET, false).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_389_000_000);
        let lookup = |n: &str| (n == "x-date").then(|| httpdate::fmt_http_date(now));
        check_date(&p, lookup, now, MAX_CLOCK_SKEW).unwrap();
    }
}
