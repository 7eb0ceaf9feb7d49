//! Job events on the wire: how a field value is encoded in the provider's log, and the parsers
//! that read an event back from a log line, in either of the two forms it takes:
//!
//! - the provider's own line on stderr, one go-plugin JSON object
//!   (`{"@level":"info","@message":"job started","event":"job_started","job_id":"ocid1..."}`):
//!   [`parse_plugin_line`];
//! - the same line as Terraform re-renders it in its log with `TF_LOG_PROVIDER` (go-plugin hands
//!   the fields to hclog, in no fixed order):
//!   `TIME [INFO]  provider.terraform-provider-galley: job started: event=job_started job_id=ocid1... @module=provider.galley timestamp=...`:
//!   [`parse_terraform_line`].
//!
//! Both ignore the message. hclog quotes a value with anything outside `-`..`~` in it, escaping
//! `"` and unprintable characters but not `\` (older releases escape nothing), and writes a
//! value holding a newline over several `  | ` lines. So the provider encodes each value with
//! [`encode`] first: `%`, `"`, `\` and control characters become `%XX`, which every hclog
//! release passes through unchanged, and which [`decode`] reverses.

use std::collections::BTreeMap;

use crate::job_event::{JobEvent, field};

/// The start of the logger name Terraform gives the Galley provider's lines: `provider.` and
/// the plugin's file name (which may carry a version suffix).
pub const PROVIDER_LOGGER: &str = "provider.terraform-provider-galley";

/// A field value made safe for every rendering of Terraform's log (see the module doc).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '"' | '\\') || c.is_ascii_control() {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The value [`encode`] was given. A `%` not followed by two hex digits is kept as it is.
pub fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The job event of a go-plugin JSON line the provider wrote, if it is one.
pub fn parse_plugin_line(line: &str) -> Option<JobEvent> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).ok()?;
    JobEvent::from_fields(|name| object.get(name)?.as_str().map(decode))
}

/// The job event of a line of Terraform's log, if it is one of the Galley provider's.
pub fn parse_terraform_line(line: &str) -> Option<JobEvent> {
    let fields = provider_fields(line)?;
    JobEvent::from_fields(|name| fields.get(name).map(|v| decode(v)))
}

/// The fields of a line of the Galley provider's log as Terraform renders it, when the line
/// carries the `event` field.
fn provider_fields(line: &str) -> Option<BTreeMap<String, String>> {
    let at = line.find(PROVIDER_LOGGER)?;
    let after = &line[at + PROVIDER_LOGGER.len()..];
    // `provider.terraform-provider-galley_v0.1.0: ...`
    let colon = after.find(':')?;
    if after[..colon].contains(char::is_whitespace) {
        return None;
    }
    let (_message, fields) = split_fields(&after[colon + 1..]);
    fields.contains_key(field::EVENT).then_some(fields)
}

/// Splits hclog's ` MESSAGE: k=v k="quoted v" ...` into the message and its fields. The message
/// may itself hold `: `, so the split is at the first `: ` after which everything parses as
/// fields; a line of fields only (an empty message) has no message. Values are unquoted, not
/// decoded.
pub fn split_fields(rest: &str) -> (&str, BTreeMap<String, String>) {
    if let Some(fields) = parse_fields(rest) {
        return ("", fields);
    }
    let mut from = 0;
    while let Some(i) = rest[from..].find(": ") {
        let at = from + i;
        if let Some(fields) = parse_fields(&rest[at + 2..]) {
            return (rest[..at].trim_start(), fields);
        }
        from = at + 2;
    }
    (rest.trim(), BTreeMap::new())
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c == '@' || c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
}

/// `k=v` tokens separated by spaces, values bare or quoted; `None` unless the whole text is
/// such tokens (and not empty).
fn parse_fields(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if !is_key(key) {
            return None;
        }
        let after = &rest[eq + 1..];
        let (value, remaining) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted)?,
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                (after[..end].to_owned(), &after[end..])
            }
        };
        if !(remaining.is_empty() || remaining.starts_with(' ')) {
            return None;
        }
        out.insert(key.to_owned(), value);
        rest = remaining.trim_start_matches(' ');
    }
    (!out.is_empty()).then_some(out)
}

/// A quoted value up to its closing quote (the opening one already taken), with hclog's
/// escapes undone; the value and what follows the closing quote.
fn unquote(quoted: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &quoted[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let hex = |n: usize, chars: &mut std::str::CharIndices<'_>| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                };
                match e {
                    'a' => value.push('\u{7}'),
                    'b' => value.push('\u{8}'),
                    'f' => value.push('\u{c}'),
                    'n' => value.push('\n'),
                    'r' => value.push('\r'),
                    't' => value.push('\t'),
                    'v' => value.push('\u{b}'),
                    'x' => value.push(hex(2, &mut chars)?),
                    'u' => value.push(hex(4, &mut chars)?),
                    'U' => value.push(hex(8, &mut chars)?),
                    // `\"`, `\\`; an unknown escape keeps its character.
                    other => value.push(other),
                }
            }
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_text_readable_and_round_trips() {
        let text = "│ on main.tf line 4, in resource \"x\" \"y\": 100% \\ done\t\u{1b}[0m é";
        let encoded = encode(text);
        assert!(!encoded.contains(['"', '\\', '\t', '\u{1b}']), "{encoded}");
        assert!(encoded.starts_with("│ on main.tf line 4, in resource %22x%22"));
        assert_eq!(decode(&encoded), text);
        assert_eq!(decode("50% off"), "50% off");
        assert_eq!(decode(""), "");
    }

    #[test]
    fn quoted_values_unescape() {
        let (m, f) = split_fields(
            r#" creating: @module=provider.galley compartment="Some(\"c\")" x=1 nbsp="a\u00a0b""#,
        );
        assert_eq!(m, "creating");
        assert_eq!(f["compartment"], "Some(\"c\")");
        assert_eq!(f["x"], "1");
        assert_eq!(f["nbsp"], "a\u{a0}b");
        let (m, f) = split_fields(" no fields: here");
        assert_eq!(m, "no fields: here");
        assert!(f.is_empty());
    }

    #[test]
    fn messages_holding_colons_and_empty_messages() {
        let (m, f) = split_fields(" Running: terraform init -input=false: event=x @module=m");
        assert_eq!(m, "Running: terraform init -input=false");
        assert_eq!(f["event"], "x");
        let (m, f) = split_fields(" event=x @module=m");
        assert_eq!(m, "");
        assert_eq!(f["@module"], "m");
    }

    #[test]
    fn lines_of_other_loggers_or_without_an_event_are_not_events() {
        for line in [
            "2026-11-23T04:32:51.701Z [INFO]  provider: configuring client automatic mTLS",
            "Interrupt received.",
            "T [INFO]  provider.terraform-provider-galley: created the stack: @module=provider.galley stack=x",
            "T [INFO]  provider.terraform-provider-null: job started: event=job_started job_id=J state=ACCEPTED",
            "T [INFO]  provider.terraform-provider-galley: job started: event=job_launched job_id=J state=ACCEPTED",
            "T [INFO]  provider.terraform-provider-galley: job started: event=job_started state=ACCEPTED",
        ] {
            assert_eq!(parse_terraform_line(line), None, "{line}");
        }
    }
}
