//! Bounded echoes of client input in messages. A tool error or a JSON-RPC error that quotes what
//! the client sent helps it fix the call, but a quote of a megabyte-long name repeated in every
//! finding costs the client and the model far more than the call was worth; everything a message
//! quotes back goes through here.

/// The most characters of one quoted value.
pub const MAX_ECHO_CHARS: usize = 80;

/// `s` as a Rust-style quoted string (control characters escaped), cut after
/// [`MAX_ECHO_CHARS`] characters with a note of the full length.
pub fn quoted(s: &str) -> String {
    let total = s.chars().count();
    if total <= MAX_ECHO_CHARS {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(MAX_ECHO_CHARS).collect();
    format!("{head:?}... ({total} characters)")
}

/// A JSON value written compactly, cut like [`quoted`] (without the quotes a string adds).
pub fn value(v: &serde_json::Value) -> String {
    let text = v.to_string();
    let total = text.chars().count();
    if total <= MAX_ECHO_CHARS {
        return text;
    }
    let head: String = text.chars().take(MAX_ECHO_CHARS).collect();
    format!("{head}... ({total} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_quoted_whole_and_long_input_is_cut() {
        assert_eq!(quoted("web\n1"), "\"web\\n1\"");
        let long = "x".repeat(10_000);
        let q = quoted(&long);
        assert!(q.len() < 120, "{q}");
        assert!(q.ends_with("(10000 characters)"), "{q}");
        let v = value(&serde_json::json!({ "a": "y".repeat(5_000) }));
        assert!(v.len() < 120 && v.contains("characters"), "{v}");
        assert_eq!(value(&serde_json::json!([1, 2])), "[1,2]");
    }
}
