//! The retry policy on its own: which answers retry, how waits grow, `Retry-After`.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use galley_oci::client::retry::{
    new_retry_token, parse_retry_after, retryable_status, should_retry_status,
    should_retry_transport,
};
use galley_oci::client::{RetryPolicy, Safety, TransportFailure};

#[test]
fn only_the_documented_answers_retry() {
    for (status, code) in [
        (409, "IncorrectState"),
        (409, "LockConflict"),
        (429, "TooManyRequests"),
        (500, "InternalServerError"),
        (502, "BadGateway"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
    ] {
        assert!(
            retryable_status(status, code),
            "{status} {code} should retry"
        );
    }
    for (status, code) in [
        (400, "InvalidParameter"),
        (401, "NotAuthenticated"),
        (403, "Forbidden"),
        (404, "NotAuthorizedOrNotFound"),
        (409, "Conflict"),
        (409, "InvalidatedRetryToken"),
        (412, "NoEtagMatch"),
        (501, "MethodNotImplemented"),
        (505, "HttpVersionNotSupported"),
    ] {
        assert!(
            !retryable_status(status, code),
            "{status} {code} must not retry"
        );
    }
}

#[test]
fn posts_without_a_retry_token_retry_only_when_nothing_happened() {
    assert!(should_retry_status(
        500,
        "InternalServerError",
        Safety::RetryToken
    ));
    assert!(should_retry_status(
        500,
        "InternalServerError",
        Safety::Idempotent
    ));
    assert!(!should_retry_status(
        500,
        "InternalServerError",
        Safety::Unsafe
    ));
    assert!(should_retry_status(429, "TooManyRequests", Safety::Unsafe));
    assert!(should_retry_transport(
        TransportFailure::Connect,
        Safety::Unsafe
    ));
    assert!(!should_retry_transport(
        TransportFailure::Timeout,
        Safety::Unsafe
    ));
    assert!(should_retry_transport(
        TransportFailure::Timeout,
        Safety::RetryToken
    ));
    assert!(should_retry_transport(
        TransportFailure::Other,
        Safety::Idempotent
    ));
}

#[test]
fn backoff_grows_exponentially_and_is_capped() {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let ceilings: Vec<u128> = (1..=7)
        .map(|r| policy.backoff_ceiling(r).as_millis())
        .collect();
    assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000, 1000]);
    assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_secs(1));
    // Full jitter: the draw scales the ceiling, and random draws stay below it.
    assert_eq!(policy.delay_with(3, None, 0.5), Duration::from_millis(200));
    assert_eq!(policy.delay_with(3, None, 0.0), Duration::ZERO);
    let draws: HashSet<u128> = (0..50).map(|_| policy.delay(4, None).as_micros()).collect();
    assert!(draws.iter().all(|d| *d <= 800_000));
    assert!(
        draws.len() > 10,
        "jitter should spread the waits: {draws:?}"
    );
}

#[test]
fn retry_after_replaces_the_draw_up_to_its_cap() {
    let policy = RetryPolicy {
        max_retry_after: Duration::from_secs(30),
        ..RetryPolicy::default()
    };
    assert_eq!(
        policy.delay_with(1, Some(Duration::from_secs(7)), 0.0),
        Duration::from_secs(7)
    );
    assert_eq!(
        policy.delay(1, Some(Duration::from_secs(3600))),
        Duration::from_secs(30)
    );
    let now = SystemTime::now();
    assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
    assert_eq!(
        parse_retry_after("0.5", now),
        Some(Duration::from_millis(500))
    );
    let later = now + Duration::from_secs(120);
    let parsed = parse_retry_after(&httpdate::fmt_http_date(later), now).unwrap();
    assert!(parsed <= Duration::from_secs(120) && parsed >= Duration::from_secs(118));
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-1", now), None);
}

#[test]
fn retry_tokens_are_fresh() {
    let tokens: HashSet<String> = (0..100).map(|_| new_retry_token()).collect();
    assert_eq!(tokens.len(), 100);
    assert!(
        tokens
            .iter()
            .all(|t| t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()))
    );
}
