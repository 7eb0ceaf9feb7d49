//! When a failed attempt is tried again, and how long to wait first.
//!
//! Retried: 409 `IncorrectState` and `LockConflict`, 429, 500, 502, 503, 504, connection
//! failures and timeouts. Never: 400, 401 (the transport's one refresh-and-resend aside), 403,
//! 404, 409 `Conflict` and `InvalidatedRetryToken`, 412, 501 and anything else. A POST that
//! carries no `opc-retry-token` could create twice, so it is resent only when the service
//! cannot have acted on it (429, or no connection was made).
//!
//! Waits grow exponentially from `base_delay`, capped at `max_delay`, with full jitter (a
//! uniform draw below the ceiling, so many clients do not retry in step); a `Retry-After`
//! header replaces the draw, capped at `max_retry_after`.

use std::time::{Duration, SystemTime};

use rand_core::{OsRng, RngCore};

/// How many attempts and how long, for every call of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Ceiling of the first wait.
    pub base_delay: Duration,
    /// Largest ceiling of a wait.
    pub max_delay: Duration,
    /// Total time budget from the first attempt: no retry starts after it.
    pub max_elapsed: Duration,
    /// Largest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Whether resending a request could repeat its effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    /// GET, HEAD, PUT, DELETE: the same effect however often sent.
    Idempotent,
    /// A create carrying an `opc-retry-token`: the service returns the first result again.
    RetryToken,
    /// A POST without a retry token (Object Storage CreateBucket, CreatePreauthenticatedRequest).
    Unsafe,
}

/// How an attempt failed without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// No connection was made: the request never left.
    Connect,
    /// The per-request timeout fired, possibly after the service acted.
    Timeout,
    /// The connection broke mid-request.
    Other,
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The ceiling of the wait before retry number `retry` (1 for the first retry):
    /// `base_delay * 2^(retry-1)`, at most `max_delay`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry number `retry`: the capped `retry_after` when the service sent
    /// one, else `unit` (in `[0, 1)`) times the ceiling. Deterministic, for tests.
    pub fn delay_with(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        match retry_after {
            Some(after) => after.min(self.max_retry_after),
            None => self.backoff_ceiling(retry).mul_f64(unit.clamp(0.0, 1.0)),
        }
    }

    /// [`RetryPolicy::delay_with`] with a random draw.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        // 53 random bits give a uniform f64 in [0, 1).
        let unit = (OsRng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        self.delay_with(retry, retry_after, unit)
    }
}

/// True for the service answers worth retrying (see the module doc).
pub fn retryable_status(status: u16, code: &str) -> bool {
    match status {
        409 => code == "IncorrectState" || code == "LockConflict",
        429 | 500 | 502 | 503 | 504 => true,
        _ => false,
    }
}

/// Whether an answer with `status` and `code` is retried for a request of `safety`.
pub fn should_retry_status(status: u16, code: &str, safety: Safety) -> bool {
    match safety {
        Safety::Unsafe => status == 429,
        Safety::Idempotent | Safety::RetryToken => retryable_status(status, code),
    }
}

/// Whether a failure without an answer is retried for a request of `safety`.
pub fn should_retry_transport(failure: TransportFailure, safety: Safety) -> bool {
    match safety {
        Safety::Unsafe => failure == TransportFailure::Connect,
        Safety::Idempotent | Safety::RetryToken => true,
    }
}

/// Parses `Retry-After`: delta-seconds (fractions accepted, as some services send them) or an
/// HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e6)));
    }
    let at = crate::signing::parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// A fresh `opc-retry-token`: 32 random lowercase hex characters (OCI allows up to 64).
pub fn new_retry_token() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
