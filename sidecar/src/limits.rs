//! Limits and timeouts on what clients can make the sidecar hold: the HTTP listener's timeouts
//! and connections, MCP sessions and their streams over HTTP, the size of one message on either
//! transport, and the size of a design. Each has a default, an environment variable and a
//! command-line flag (the flag wins), read once at start-up; `SETTINGS` is the one list the
//! usage text and the README table are checked against.

use std::time::Duration;

/// What a setting counts, for parsing and for the usage text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Count,
    Bytes,
}

/// One setting: its environment variable, its flag, default, bounds and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub env: &'static str,
    pub flag: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    pub unit: Unit,
    pub meaning: &'static str,
}

const MIB: u64 = 1024 * 1024;

/// Every setting, in the order of the usage text.
pub const SETTINGS: &[Setting] = &[
    Setting {
        env: "GALLEY_HTTP_HEADER_TIMEOUT_SECS",
        flag: "--http-header-timeout-secs",
        default: 10,
        min: 1,
        max: 3600,
        unit: Unit::Seconds,
        meaning: "a request's headers must be complete this long after their first byte",
    },
    Setting {
        env: "GALLEY_HTTP_IDLE_TIMEOUT_SECS",
        flag: "--http-idle-timeout-secs",
        default: 60,
        min: 1,
        max: 86_400,
        unit: Unit::Seconds,
        meaning: "a connection with no request in progress is closed after this long without a byte",
    },
    Setting {
        env: "GALLEY_HTTP_REQUEST_TIMEOUT_SECS",
        flag: "--http-request-timeout-secs",
        default: 30,
        min: 1,
        max: 3600,
        unit: Unit::Seconds,
        meaning: "a request's body must be complete this long after its headers (responses, and so long tool calls, are not limited)",
    },
    Setting {
        env: "GALLEY_HTTP_MAX_CONNECTIONS",
        flag: "--http-max-connections",
        default: 512,
        min: 2,
        max: 1_000_000,
        unit: Unit::Count,
        meaning: "open HTTP connections; beyond it the oldest one without a request in progress is closed, or the new one refused. Capped below the open-file limit",
    },
    Setting {
        env: "GALLEY_HTTP_MAX_SESSIONS",
        flag: "--http-max-sessions",
        default: 100,
        min: 1,
        max: 100_000,
        unit: Unit::Count,
        meaning: "live MCP sessions (`initialize` over HTTP); beyond it the least recently used one without an open stream is closed, or `initialize` refused",
    },
    Setting {
        env: "GALLEY_HTTP_SESSION_IDLE_SECS",
        flag: "--http-session-idle-secs",
        default: 300,
        min: 1,
        max: 86_400,
        unit: Unit::Seconds,
        meaning: "an MCP session that receives nothing for this long is closed",
    },
    Setting {
        env: "GALLEY_HTTP_MAX_STREAMS_PER_SESSION",
        flag: "--http-max-streams-per-session",
        default: 16,
        min: 1,
        max: 10_000,
        unit: Unit::Count,
        meaning: "requests and event streams one MCP session may have open at once (notifications are always accepted)",
    },
    Setting {
        env: "GALLEY_MAX_MESSAGE_BYTES",
        flag: "--max-message-bytes",
        default: 4 * MIB,
        min: 64 * 1024,
        max: 256 * MIB,
        unit: Unit::Bytes,
        meaning: "largest JSON-RPC message, one stdio line or one HTTP request body; a larger one gets a JSON-RPC error naming this limit",
    },
    Setting {
        env: "GALLEY_MAX_DESIGN_COMPONENTS",
        flag: "--max-design-components",
        default: 500,
        min: 1,
        max: 100_000,
        unit: Unit::Count,
        meaning: "components in one session's design",
    },
    Setting {
        env: "GALLEY_MAX_DESIGN_CONNECTIONS",
        flag: "--max-design-connections",
        default: 2_000,
        min: 1,
        max: 1_000_000,
        unit: Unit::Count,
        meaning: "connections in one session's design",
    },
];

/// The HTTP listener's and the HTTP sessions' limits.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_sessions: usize,
    pub session_idle: Duration,
    pub max_streams_per_session: usize,
}

/// How big one session's design may get.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignLimits {
    pub max_components: usize,
    pub max_connections: usize,
}

/// All limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub http: HttpLimits,
    pub max_message_bytes: usize,
    pub design: DesignLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_parts(&[], |_| None)
            .map(|(l, _)| l)
            .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"))
    }
}

impl Default for DesignLimits {
    fn default() -> Self {
        Limits::default().design
    }
}

fn parse_value(s: &Setting, from: &str, raw: &str) -> Result<u64, String> {
    let v: u64 = raw.trim().parse().map_err(|_| {
        format!(
            "{from} must be a whole number{}, got {}",
            match s.unit {
                Unit::Seconds => " of seconds",
                Unit::Bytes => " of bytes",
                Unit::Count => "",
            },
            crate::echo::quoted(raw)
        )
    })?;
    if v < s.min || v > s.max {
        return Err(format!(
            "{from} must be between {} and {}, got {v}",
            s.min, s.max
        ));
    }
    Ok(v)
}

impl Limits {
    /// Reads every setting from `env` and the flags in `args`; returns the limits and the
    /// arguments that are not limit flags (the transport choice), in order.
    pub fn from_parts(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Limits, Vec<String>), String> {
        let mut values: Vec<u64> = Vec::with_capacity(SETTINGS.len());
        for s in SETTINGS {
            values.push(match env(s.env) {
                Some(raw) if !raw.trim().is_empty() => parse_value(s, s.env, &raw)?,
                _ => s.default,
            });
        }
        let mut rest = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            let Some(pos) = SETTINGS.iter().position(|s| s.flag == name) else {
                rest.push(arg.clone());
                i += 1;
                continue;
            };
            let raw = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("{name} needs a value"))?
                }
            };
            values[pos] = parse_value(&SETTINGS[pos], name, &raw)?;
            i += 1;
        }
        let get = |env: &str| {
            SETTINGS
                .iter()
                .position(|s| s.env == env)
                .map(|p| values[p])
                .unwrap_or_default()
        };
        let secs = |env: &str| Duration::from_secs(get(env));
        let count = |env: &str| usize::try_from(get(env)).unwrap_or(usize::MAX);
        Ok((
            Limits {
                http: HttpLimits {
                    header_timeout: secs("GALLEY_HTTP_HEADER_TIMEOUT_SECS"),
                    idle_timeout: secs("GALLEY_HTTP_IDLE_TIMEOUT_SECS"),
                    request_timeout: secs("GALLEY_HTTP_REQUEST_TIMEOUT_SECS"),
                    max_connections: count("GALLEY_HTTP_MAX_CONNECTIONS"),
                    max_sessions: count("GALLEY_HTTP_MAX_SESSIONS"),
                    session_idle: secs("GALLEY_HTTP_SESSION_IDLE_SECS"),
                    max_streams_per_session: count("GALLEY_HTTP_MAX_STREAMS_PER_SESSION"),
                },
                max_message_bytes: count("GALLEY_MAX_MESSAGE_BYTES"),
                design: DesignLimits {
                    max_components: count("GALLEY_MAX_DESIGN_COMPONENTS"),
                    max_connections: count("GALLEY_MAX_DESIGN_CONNECTIONS"),
                },
            },
            rest,
        ))
    }

    /// The limits part of the usage text.
    pub fn usage() -> String {
        let mut out = String::from(
            "limits (environment variable, or the flag after the transport, e.g. --http-max-sessions 20):\n",
        );
        for s in SETTINGS {
            let default = match s.unit {
                Unit::Seconds => format!("{} s", s.default),
                Unit::Bytes if s.default.is_multiple_of(MIB) => format!("{} MiB", s.default / MIB),
                _ => s.default.to_string(),
            };
            out.push_str(&format!(
                "  {} / {} (default {default})\n      {}\n",
                s.env, s.flag, s.meaning
            ));
        }
        out
    }
}

/// A message size for humans: `4 MiB`, `700 KiB` or bytes.
pub fn human_bytes(n: usize) -> String {
    let n = n as u64;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_environment_and_flags() {
        let d = Limits::default();
        assert_eq!(d.http.header_timeout, Duration::from_secs(10));
        assert_eq!(d.max_message_bytes, 4 << 20);
        assert_eq!(d.design.max_components, 500);
        let env = |k: &str| match k {
            "GALLEY_HTTP_MAX_SESSIONS" => Some("7".to_string()),
            "GALLEY_HTTP_IDLE_TIMEOUT_SECS" => Some("5".to_string()),
            _ => None,
        };
        let (l, rest) = Limits::from_parts(
            &args(&[
                "--http",
                "127.0.0.1:0",
                "--http-max-sessions=3",
                "--max-design-components",
                "9",
            ]),
            env,
        )
        .unwrap();
        assert_eq!(rest, args(&["--http", "127.0.0.1:0"]));
        assert_eq!(l.http.max_sessions, 3, "the flag wins over the environment");
        assert_eq!(l.http.idle_timeout, Duration::from_secs(5));
        assert_eq!(l.design.max_components, 9);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Limits::from_parts(&[], |k| {
            (k == "GALLEY_MAX_MESSAGE_BYTES").then(|| "lots".to_string())
        })
        .unwrap_err();
        assert!(err.contains("GALLEY_MAX_MESSAGE_BYTES"), "{err}");
        let err =
            Limits::from_parts(&args(&["--http-max-connections", "1"]), |_| None).unwrap_err();
        assert!(
            err.contains("--http-max-connections") && err.contains("between"),
            "{err}"
        );
        let err = Limits::from_parts(&args(&["--http-idle-timeout-secs"]), |_| None).unwrap_err();
        assert!(err.contains("needs a value"), "{err}");
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../README.md");
        let usage = Limits::usage();
        for s in SETTINGS {
            assert!(readme.contains(s.env), "README lacks {}", s.env);
            assert!(readme.contains(s.flag), "README lacks {}", s.flag);
            assert!(usage.contains(s.env) && usage.contains(s.flag));
        }
    }
}
