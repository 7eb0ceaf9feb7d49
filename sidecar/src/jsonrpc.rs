//! Incoming JSON-RPC messages before the SDK sees them, for both transports: one message's bytes
//! are parsed and checked against JSON-RPC 2.0 and MCP's message types, and what fails becomes
//! the error to answer with (-32700 parse error, -32600 invalid request, -32602 invalid params),
//! carrying the request's id when it can be read, so the client's call fails at once instead of
//! waiting for its own timeout. Messages quote client input only in bounded pieces.

use rmcp::model::{ClientJsonRpcMessage, ErrorCode, ErrorData, RequestId, ServerJsonRpcMessage};
use serde_json::Value;

use crate::limits::human_bytes;

/// The most characters of a parser's explanation quoted back (it may quote the input).
const MAX_DETAIL_CHARS: usize = 300;
/// Longest string id echoed back in an error; a longer one is not an id worth answering.
const MAX_ID_CHARS: usize = 256;
/// How much of an oversized message is kept to find its id.
pub const HEAD_BYTES: usize = 4096;

/// What to do with one incoming message.
#[derive(Debug)]
pub enum Incoming {
    Message(Box<ClientJsonRpcMessage>),
    /// Nothing to deliver or to answer: a blank line, or a notification this server does not
    /// know (answering a notification is not allowed, and other SDKs ignore them too).
    Ignore,
    /// Answer with this error; deliver nothing.
    Reject(Box<ServerJsonRpcMessage>),
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_DETAIL_CHARS {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_DETAIL_CHARS).collect();
    format!("{head}...")
}

/// A JSON-RPC error message.
pub fn error(code: ErrorCode, message: String, id: Option<RequestId>) -> ServerJsonRpcMessage {
    ServerJsonRpcMessage::error(ErrorData::new(code, message, None), id)
}

/// The answer to a message larger than `limit` bytes, with its id when its first bytes show it.
pub fn too_large(limit: usize, head: &[u8]) -> ServerJsonRpcMessage {
    error(
        ErrorCode::INVALID_REQUEST,
        format!(
            "the message is larger than {}, the most this server accepts (GALLEY_MAX_MESSAGE_BYTES); it was discarded. Send less at once (for example one component at a time with add_component)",
            match human_bytes(limit) {
                h if h.ends_with(" bytes") => h,
                h => format!("{h} ({limit} bytes)"),
            }
        ),
        head_id(head),
    )
}

fn request_id(v: &Value) -> Option<RequestId> {
    match v {
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        Value::String(s) if s.chars().count() <= MAX_ID_CHARS => {
            Some(RequestId::String(s.as_str().into()))
        }
        _ => None,
    }
}

/// Parses and checks one message (without its line ending).
pub fn classify(bytes: &[u8]) -> Incoming {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Incoming::Ignore;
    }
    let reject = |code, message: String, id| Incoming::Reject(Box::new(error(code, message, id)));
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return reject(
                ErrorCode::PARSE_ERROR,
                format!(
                    "parse error: the message is not valid JSON ({}); send one JSON-RPC object per message",
                    clip(&e.to_string())
                ),
                head_id(bytes),
            );
        }
    };
    let Value::Object(obj) = &value else {
        let what = if value.is_array() {
            "a JSON array (batches are not supported: send each message on its own)"
        } else {
            "not a JSON object"
        };
        return reject(
            ErrorCode::INVALID_REQUEST,
            format!("invalid request: the message is {what}"),
            None,
        );
    };
    let id = obj.get("id").and_then(request_id);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return reject(
            ErrorCode::INVALID_REQUEST,
            "invalid request: the message must have \"jsonrpc\": \"2.0\"".into(),
            id,
        );
    }
    if let Some(raw_id) = obj.get("id")
        && id.is_none()
        && !raw_id.is_null()
    {
        return reject(
            ErrorCode::INVALID_REQUEST,
            format!(
                "invalid request: \"id\" must be an integer or a string of at most {MAX_ID_CHARS} characters"
            ),
            None,
        );
    }
    let method = obj.get("method").and_then(Value::as_str);
    match serde_json::from_value::<ClientJsonRpcMessage>(value.clone()) {
        Ok(m) => Incoming::Message(Box::new(m)),
        Err(_) if method.is_some() && !obj.contains_key("id") => Incoming::Ignore,
        Err(e) => match method {
            Some(m) => reject(
                ErrorCode::INVALID_PARAMS,
                format!(
                    "invalid params for {}: {}",
                    crate::echo::quoted(m),
                    clip(&e.to_string())
                ),
                id,
            ),
            None => reject(
                ErrorCode::INVALID_REQUEST,
                format!(
                    "invalid request: not a request, notification or response ({})",
                    clip(&e.to_string())
                ),
                id,
            ),
        },
    }
}

/// The top-level `"id"` of a JSON object from its first bytes (messages put it before their
/// params), for answering a message too large or too broken to parse whole.
pub fn head_id(bytes: &[u8]) -> Option<RequestId> {
    let bytes = &bytes[..bytes.len().min(HEAD_BYTES)];
    let mut depth = 0usize;
    let mut i = 0;
    // The last string read at depth 1 and whether a `:` followed it (it was a key).
    let mut key: Option<(usize, usize)> = None;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 {
                    key = Some((start, i.min(bytes.len())));
                }
            }
            b'{' | b'[' => {
                depth += 1;
                key = None;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                key = None;
            }
            b':' if depth == 1 => {
                if let Some((s, e)) = key.take()
                    && &bytes[s..e] == b"id"
                {
                    return value_at(&bytes[i + 1..]);
                }
            }
            b',' => key = None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A number or a string at the start of `bytes` (after blanks), as a request id.
fn value_at(bytes: &[u8]) -> Option<RequestId> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    let end = if rest.first() == Some(&b'"') {
        let mut i = 1;
        while i < rest.len() && rest[i] != b'"' {
            i += if rest[i] == b'\\' { 2 } else { 1 };
        }
        (i < rest.len()).then_some(i + 1)?
    } else {
        rest.iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .unwrap_or(rest.len())
    };
    serde_json::from_slice::<Value>(&rest[..end])
        .ok()
        .as_ref()
        .and_then(request_id)
}

/// A message's id, for pairing an error the transport itself sends with the request.
pub fn message_id(m: &ClientJsonRpcMessage) -> Option<RequestId> {
    match m {
        ClientJsonRpcMessage::Request(r) => Some(r.id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(bytes: &[u8]) -> Value {
        match classify(bytes) {
            Incoming::Reject(m) => serde_json::to_value(&m).unwrap(),
            other => panic!(
                "not rejected: {}",
                format!("{other:?}").chars().take(300).collect::<String>()
            ),
        }
    }

    #[test]
    fn malformed_messages_get_the_right_error_codes_with_their_ids() {
        let v = rejected(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"");
        assert_eq!(v["error"]["code"], -32700);
        assert_eq!(v["id"], 7, "the id is read from the broken message: {v}");
        let v = rejected(b"not json at all");
        assert_eq!(v["error"]["code"], -32700);
        assert!(v.get("id").is_none());
        let v = rejected(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
        assert_eq!(v["error"]["code"], -32600);
        assert!(v["error"]["message"].as_str().unwrap().contains("batches"));
        let v = rejected(b"{\"id\":\"a\",\"method\":\"ping\"}");
        assert_eq!(
            (v["error"]["code"].clone(), v["id"].clone()),
            (json(-32600), json("a"))
        );
        let v = rejected(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":5}");
        assert_eq!(
            (v["error"]["code"].clone(), v["id"].clone()),
            (json(-32602), json(3))
        );
        let v = rejected(b"{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"ping\"}");
        assert_eq!(v["error"]["code"], -32600);
        assert!(matches!(classify(b"  \r"), Incoming::Ignore));
        assert!(matches!(
            classify(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":5}"),
            Incoming::Ignore
        ));
        assert!(matches!(
            classify(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
            Incoming::Message(_)
        ));
    }

    fn json(v: impl Into<Value>) -> Value {
        v.into()
    }

    #[test]
    fn errors_quote_little_of_the_input() {
        let long = "y".repeat(100_000);
        for huge in [
            // Broken JSON after a long string, a long unknown version, a long id.
            format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{{\"a\":\"{long}\" \\q"),
            format!("{{\"jsonrpc\":\"{long}\",\"id\":1,\"method\":\"ping\"}}"),
            format!("{{\"jsonrpc\":\"2.0\",\"id\":\"{long}\",\"method\":\"ping\"}}"),
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[\"{long}\"]}}"
            ),
        ] {
            let v = rejected(huge.as_bytes());
            assert!(v.to_string().len() < 1_000, "{}", &v.to_string()[..1_000]);
        }
    }

    #[test]
    fn the_id_is_found_in_the_head_of_a_message() {
        assert_eq!(
            head_id(
                b"{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"id\":9"
            ),
            Some(RequestId::Number(42))
        );
        assert_eq!(
            head_id(b"{\"params\":{\"id\":9},\"id\":\"r-1\",\"method\":\"x\""),
            Some(RequestId::String("r-1".into()))
        );
        assert_eq!(head_id(b"{\"method\":\"x\",\"params\":{\"id\":9}"), None);
        assert_eq!(head_id(b"{\"a\":\"\\\"id\\\"\",\"b\":1"), None);
        let v = serde_json::to_value(too_large(16 << 20, b"{\"id\":5,\"params\":{")).unwrap();
        assert_eq!(v["id"], 5);
        assert!(v["error"]["message"].as_str().unwrap().contains("16 MiB"));
    }
}
