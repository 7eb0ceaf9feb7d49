//! Attacks on the stdio transport of the running binary: a message over 16 MiB and malformed
//! lines must each get a JSON-RPC error (with the request's id when it can be read) instead of
//! silence, the oversized one must not be held in memory, and the server must keep serving.

use std::time::Duration;

use serde_json::json;

use crate::util::{self, StdioSidecar};

#[test]
fn oversized_and_malformed_stdio_messages_get_jsonrpc_errors_and_the_server_keeps_serving() {
    let mut s = StdioSidecar::start(&[]);
    let before = util::rss_kib(s.pid());

    // 17 MiB in one line, the id first.
    let mut huge = br#"{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"save_architecture","arguments":{"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 17 << 20));
    huge.extend_from_slice(b"\"}}}\n");
    s.send_raw(&huge);
    let m = s.next_message(Duration::from_secs(30));
    assert_eq!(m["id"], 99, "the client's call fails at once: {m}");
    assert_eq!(m["error"]["code"], -32600);
    let message = m["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("4 MiB") && message.contains("GALLEY_MAX_MESSAGE_BYTES"),
        "{message}"
    );

    s.send_line(r#"{"jsonrpc":"2.0","id":100,"method":"tools/list""#);
    let m = s.next_message(Duration::from_secs(10));
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (json!(100), json!(-32700)),
        "{m}"
    );
    s.send_line("[]");
    let m = s.next_message(Duration::from_secs(10));
    assert_eq!(m["error"]["code"], -32600, "{m}");
    s.send_line(r#"{"jsonrpc":"2.0","id":101,"method":"tools/call","params":7}"#);
    let m = s.next_message(Duration::from_secs(10));
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (json!(101), json!(-32602)),
        "{m}"
    );

    // Still serving.
    let (err, created, text) = s.call("create_session", json!({}));
    assert!(!err, "{text}");
    assert!(
        created["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("s-"))
    );
    let after = util::rss_kib(s.pid());
    assert!(
        after.saturating_sub(before) < 12 * 1024,
        "the 17 MiB line was not held: RSS {before} -> {after} KiB"
    );
}

#[test]
fn the_message_limit_is_a_setting() {
    let mut s = StdioSidecar::start(&[("GALLEY_MAX_MESSAGE_BYTES", "70000")]);
    let pad = "b".repeat(80_000);
    s.send_line(
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "create_session", "arguments": {"answers": {"pad": pad}}}})
            .to_string(),
    );
    let m = s.next_message(Duration::from_secs(10));
    assert_eq!(m["id"], 5);
    assert!(
        m["error"]["message"]
            .as_str()
            .is_some_and(|t| t.contains("70000 bytes")),
        "{m}"
    );
    let (err, _, text) = s.call("create_session", json!({"answers": {"pad": "small"}}));
    assert!(!err, "{text}");
}
