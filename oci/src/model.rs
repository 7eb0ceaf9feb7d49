//! Pieces shared by the service models: string enums that survive values added by the service
//! later, the [`Reply`] wrapper carrying response headers next to the decoded value, and RFC 3339
//! timestamps.

use std::ops::Deref;
use std::time::SystemTime;

use crate::client::Response;

/// Defines an enum serialized as its OCI string, with an `Unknown(String)` variant that keeps
/// any value this crate does not know yet, so a new server value never breaks decoding.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this crate does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// Every known value.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as OCI spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(other) => other.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::Unknown(String::new())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok(Self::from(value.as_ref()))
            }
        }
    };
}

pub(crate) use string_enum;

string_enum! {
    /// `sortOrder` of list calls.
    SortOrder {
        Asc => "ASC",
        Desc => "DESC",
    }
}

/// A decoded answer with the headers callers need: `etag` (for `if-match`), `opc-request-id`
/// (for messages) and `opc-next-page` (for lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<T> {
    pub value: T,
    pub etag: Option<String>,
    pub opc_request_id: Option<String>,
    pub next_page: Option<String>,
}

impl<T> Reply<T> {
    /// Wraps `value` with the headers of `response`.
    pub fn new(value: T, response: &Response) -> Self {
        Self {
            value,
            etag: response.etag(),
            opc_request_id: response.opc_request_id.clone(),
            next_page: response.next_page(),
        }
    }

    pub fn into_inner(self) -> T {
        self.value
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        Reply {
            value: f(self.value),
            etag: self.etag,
            opc_request_id: self.opc_request_id,
            next_page: self.next_page,
        }
    }
}

impl<T> Deref for Reply<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Formats a time as RFC 3339 in UTC with millisecond precision (`2024-05-06T07:08:09.123Z`),
/// the form OCI writes.
pub fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    let millis = at.millisecond();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Parses an RFC 3339 timestamp as OCI sends them.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    string_enum! {
        Color { Red => "RED", Green => "GREEN" }
    }

    #[test]
    fn unknown_values_round_trip() {
        let parsed: Vec<Color> = serde_json::from_str(r#"["RED","PURPLE"]"#).unwrap();
        assert_eq!(parsed, vec![Color::Red, Color::Unknown("PURPLE".into())]);
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            r#"["RED","PURPLE"]"#
        );
        assert_eq!(Color::Green.to_string(), "GREEN");
        assert_eq!(Color::KNOWN, [Color::Red, Color::Green]);
    }

    #[test]
    fn rfc3339_round_trips_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_millis(1_715_000_000_123);
        let text = rfc3339(at);
        assert_eq!(text, "2024-05-06T12:53:20.123Z");
        assert_eq!(parse_rfc3339(&text), Some(at));
        assert_eq!(
            parse_rfc3339("2024-05-06T12:53:20+00:00"),
            Some(UNIX_EPOCH + Duration::from_secs(1_715_000_000))
        );
    }
}
