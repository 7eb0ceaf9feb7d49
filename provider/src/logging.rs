//! Structured logs for Terraform: one JSON object per line on stderr, in the shape go-plugin's
//! log reader understands (`@level`, `@message`, `@timestamp`, `@module`, then the event's
//! fields), so `TF_LOG=DEBUG` shows provider lines with their real levels.
//!
//! This module owns the subscriber set-up and the line format. It must never write to stdout:
//! stdout belongs to the plugin handshake. Secrets are kept out by the callers, who never put a
//! key, token or password into an event field.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;

/// The level Terraform asked for: `TF_LOG_PROVIDER` wins over `TF_LOG`; unset means warnings and
/// errors only (Terraform drops plugin output it was not asked to show anyway).
pub fn level_from_env() -> Option<Level> {
    let raw = std::env::var("TF_LOG_PROVIDER")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("TF_LOG").ok().filter(|v| !v.is_empty()));
    match raw.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None => Some(Level::WARN),
        Some("OFF") => None,
        Some("TRACE") | Some("JSON") => Some(Level::TRACE),
        Some("DEBUG") => Some(Level::DEBUG),
        Some("INFO") => Some(Level::INFO),
        Some("WARN") => Some(Level::WARN),
        Some("ERROR") => Some(Level::ERROR),
        // Terraform treats any other value as TRACE.
        Some(_) => Some(Level::TRACE),
    }
}

/// Installs the stderr JSON-lines subscriber. Safe to call once per process.
pub fn init() {
    let Some(level) = level_from_env() else {
        return;
    };
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    let _ = tracing_subscriber::registry()
        .with(
            JsonLines {
                module: "provider.galley",
            }
            .with_filter(filter),
        )
        .try_init();
}

/// A `tracing` layer that renders each event as one go-plugin JSON log line on stderr.
pub struct JsonLines {
    pub module: &'static str,
}

impl<S: Subscriber> Layer<S> for JsonLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = render(self.module, event);
        // One write call per line keeps lines whole when tasks log concurrently.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

pub(crate) fn render(module: &str, event: &Event<'_>) -> String {
    let mut fields = FieldMap::default();
    event.record(&mut fields);
    let meta = event.metadata();
    let mut object = Map::new();
    object.insert("@level".into(), level_name(meta.level()).into());
    object.insert(
        "@message".into(),
        fields.message.take().unwrap_or_default().into(),
    );
    object.insert("@timestamp".into(), rfc3339_now().into());
    object.insert("@module".into(), module.into());
    object.insert("@caller".into(), meta.target().into());
    for (k, v) in fields.values {
        object.insert(k, v);
    }
    let mut line = Value::Object(object).to_string();
    line.push('\n');
    line
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

#[derive(Default)]
struct FieldMap {
    message: Option<String>,
    values: Vec<(String, Value)>,
}

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.values.push((field.name().to_owned(), value.into()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.values.push((field.name().to_owned(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.values.push((field.name().to_owned(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.values.push((field.name().to_owned(), value.into()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.values.push((field.name().to_owned(), value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.values.push((field.name().to_owned(), text.into()));
        }
    }
}

/// RFC 3339 UTC timestamp with microseconds, without pulling in a date library.
fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_micros())
}

fn format_rfc3339(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-23T03:20:53Z
        assert_eq!(
            format_rfc3339(1_795_404_053, 42),
            "2026-11-23T03:20:53.000042Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400, 0),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn events_render_as_go_plugin_json_lines() {
        use std::sync::{Arc, Mutex};
        struct Capture(Arc<Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
                self.0
                    .lock()
                    .unwrap()
                    .push(render("provider.galley", event));
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(table = "orders", attempts = 3, "table is ACTIVE");
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].ends_with('\n'));
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@message"], "table is ACTIVE");
        assert_eq!(v["@module"], "provider.galley");
        assert_eq!(v["table"], "orders");
        assert_eq!(v["attempts"], 3);
        assert!(v["@timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
