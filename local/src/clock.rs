//! Timestamps as OCI writes them: RFC 3339, UTC, millisecond precision (`2024-05-01T12:00:00.123Z`).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// The current time as an OCI timestamp.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Formats `t` in UTC with milliseconds.
pub fn format(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Parses any RFC 3339 timestamp (the SDKs send microseconds, offsets or `Z`).
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// An HTTP date (`last-modified`) for an OCI timestamp.
pub fn http_date(ts: &str) -> Option<String> {
    let t = parse(ts)?;
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    Some(httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_parses_sdk_forms() {
        let t = parse("2024-05-01T12:00:00.123456+02:00").unwrap();
        assert_eq!(format(t), "2024-05-01T10:00:00.123Z");
        assert!(parse("2024-05-01T10:00:00.123000Z").is_some());
        assert!(parse("yesterday").is_none());
        assert_eq!(
            http_date("2024-05-01T10:00:00.123Z").as_deref(),
            Some("Wed, 01 May 2024 10:00:00 GMT")
        );
        assert_eq!(now().len(), "2024-05-01T10:00:00.123Z".len());
    }
}
