//! Session tokens as the client sees them: JWTs whose claims are read without verifying the
//! signature (the service verifies it; the client only needs `exp` and a few identity claims),
//! and the rule for when a token is due for renewal.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::AuthError;

/// Renew at the latest this long before expiry.
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Renew at least this long before expiry, however short the token's life.
pub const MIN_REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// A session token and its claims. `Debug` shows the claims that identify, never the token.
#[derive(Clone)]
pub struct SessionToken {
    raw: String,
    claims: Map<String, Value>,
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionToken")
            .field("exp", &self.claims.get("exp"))
            .field("res_tenant", &self.claims.get("res_tenant"))
            .finish_non_exhaustive()
    }
}

impl SessionToken {
    /// Parses a compact JWT (`header.payload.signature`), surrounding whitespace dropped.
    pub fn parse(token: &str) -> Result<Self, AuthError> {
        let raw = token.trim();
        let invalid = |reason: String| AuthError::InvalidToken { reason };
        let mut parts = raw.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(
                "it is not a JWT (expected three dot-separated parts)".into(),
            ));
        };
        // Some issuers pad their base64url; the standard says not to, so accept both.
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('=').as_bytes())
            .map_err(|e| invalid(format!("the payload is not base64url: {e}")))?;
        let claims: Map<String, Value> = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("the payload is not a JSON object: {e}")))?;
        Ok(Self {
            raw: raw.to_owned(),
            claims,
        })
    }

    /// The token as sent after `ST$`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// All claims.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn time_claim(&self, name: &str) -> Option<SystemTime> {
        let secs = self.claims.get(name)?.as_f64()?;
        (secs.is_finite() && secs >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(secs))
    }

    /// `exp`, when present.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.time_claim("exp")
    }

    /// `iat`, when present.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.time_claim("iat")
    }

    /// True once `exp` has passed. A token without `exp` never expires as far as the client
    /// can tell.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at().is_some_and(|exp| now >= exp)
    }

    /// True when the token should be renewed: less than a tenth of its life is left, clamped
    /// between [`MIN_REFRESH_MARGIN`] and [`MAX_REFRESH_MARGIN`]. `obtained_at` stands in for a
    /// missing `iat`.
    pub fn needs_refresh(&self, now: SystemTime, obtained_at: SystemTime) -> bool {
        let Some(exp) = self.expires_at() else {
            return false;
        };
        let start = self.issued_at().unwrap_or(obtained_at);
        let lifetime = exp.duration_since(start).unwrap_or_default();
        let margin = (lifetime / 10).clamp(MIN_REFRESH_MARGIN, MAX_REFRESH_MARGIN);
        match exp.duration_since(now) {
            Ok(left) => left <= margin,
            Err(_) => true,
        }
    }
}

/// Builds an unsigned-looking JWT from claims: for tests and local stand-ins that issue tokens.
/// The signature part is a fixed placeholder, since clients never check it.
pub fn encode_unverified(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn reads_claims_without_verifying() {
        let raw = encode_unverified(&json!({"exp": 2000, "iat": 1000, "res_tenant": "t"}));
        let token = SessionToken::parse(&format!("{raw}\n")).unwrap();
        assert_eq!(token.as_str(), raw);
        assert_eq!(token.claim_str("res_tenant"), Some("t"));
        assert_eq!(token.expires_at(), Some(at(2000)));
        assert!(!token.is_expired(at(1999)));
        assert!(token.is_expired(at(2000)));
        assert!(!format!("{token:?}").contains(&raw));
    }

    #[test]
    fn refresh_margin_is_a_tenth_of_the_life_clamped() {
        // One hour of life: the margin is capped at five minutes.
        let long =
            SessionToken::parse(&encode_unverified(&json!({"iat": 0, "exp": 3600}))).unwrap();
        assert!(!long.needs_refresh(at(3600 - 301), at(0)));
        assert!(long.needs_refresh(at(3600 - 300), at(0)));
        // Twenty minutes: two minutes.
        let mid = SessionToken::parse(&encode_unverified(&json!({"iat": 0, "exp": 1200}))).unwrap();
        assert!(!mid.needs_refresh(at(1200 - 121), at(0)));
        assert!(mid.needs_refresh(at(1200 - 120), at(0)));
        // Twenty seconds: at least thirty seconds, so at once.
        let short = SessionToken::parse(&encode_unverified(&json!({"exp": 20}))).unwrap();
        assert!(short.needs_refresh(at(0), at(0)));
        // No exp: never.
        let none = SessionToken::parse(&encode_unverified(&json!({"sub": "x"}))).unwrap();
        assert!(!none.needs_refresh(at(u32::MAX as u64), at(0)));
    }

    #[test]
    fn rejects_non_jwts() {
        for bad in ["", "abc", "a.b", "a.b.c.d", "a.!!!.c", "a.bm90IGpzb24.c"] {
            assert!(SessionToken::parse(bad).is_err(), "{bad}");
        }
    }
}
