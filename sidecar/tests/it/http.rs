//! The HTTP transport's security against the running binary: the URL token (query or bearer),
//! Origin and Host allow-lists with JSON refusals, `/health`, and the MCP conformance suite's
//! DNS-rebinding scenario.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{self, HttpSidecar};

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

async fn post(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize().to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_default()
}

#[tokio::test]
async fn token_is_required_and_compared() {
    let server = HttpSidecar::start(&[("GALLEY_URL_TOKEN", "s3cret")]);
    let url = server.mcp_url();

    let (status, body) = post(&url, &[]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "missing_token"),
        "{body}"
    );
    assert!(
        body.contains("?token=") && body.contains("Authorization: Bearer"),
        "the refusal says how: {body}"
    );

    let (status, body) = post(&format!("{url}?token=s3cre"), &[]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "invalid_token"),
        "{body}"
    );
    assert!(!body.contains("s3cret"), "never echo the token");
    let (status, _) = post(&url, &[("authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401);

    let (status, body) = post(&format!("{url}?token=s3cret"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&url, &[("authorization", "Bearer s3cret")]).await;
    assert_eq!(status, 200, "{body}");

    // A foreign Origin is refused even with the right token.
    let (status, body) = post(
        &format!("{url}?token=s3cret"),
        &[("origin", "https://evil.example.com")],
    )
    .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "forbidden_origin"),
        "{body}"
    );
    let (status, _) = post(
        &format!("{url}?token=s3cret"),
        &[("origin", "http://localhost:6274")],
    )
    .await;
    assert_eq!(status, 200);

    // Anything else gets a clear JSON refusal.
    let other = reqwest::get(format!("{}/nope", server.base))
        .await
        .expect("get");
    assert_eq!(other.status().as_u16(), 404);
    assert!(other.text().await.unwrap_or_default().contains("/mcp"));

    // Health needs no token.
    let health = reqwest::get(format!("{}/health", server.base))
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);
    let v: Value = health.json().await.expect("json");
    assert_eq!(v["status"], "ok");
}

#[tokio::test]
async fn configured_origins_replace_the_defaults_and_foreign_hosts_are_refused() {
    let server = HttpSidecar::start(&[("GALLEY_ALLOWED_ORIGINS", "https://console.example.com")]);
    let url = server.mcp_url();
    let (status, _) = post(&url, &[("origin", "https://console.example.com")]).await;
    assert_eq!(status, 200);
    let (status, body) = post(&url, &[("origin", "http://localhost:3000")]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "forbidden_origin")
    );
    let (status, body) = post(&url, &[("host", "evil.example.com")]).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "forbidden_host"),
        "{body}"
    );
}

#[test]
fn conformance_dns_rebinding_scenario_passes() {
    let server = HttpSidecar::start(&[]);
    let mut cmd = Command::new(util::tool("mcp-conformance"));
    cmd.args([
        "server",
        "--url",
        &server.mcp_url(),
        "--scenario",
        "dns-rebinding-protection",
    ]);
    let (_, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(120));
    let plain: String = out
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    assert!(
        plain.contains("Passed: 2/2, 0 failed"),
        "conformance output:\n{out}\n{err}"
    );
}
