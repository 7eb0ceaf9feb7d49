//! Real MCP clients against the binary: the Python SDK in legacy, 2026-07-28 and auto modes over
//! stdio and Streamable HTTP drives a whole design session (create, design, validate, export, a
//! plan that Terraform runs and fails without a provider build, with its progress, and the
//! refusals), and the MCP Inspector CLI lists and calls tools, also after a restart.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::util::{self, HttpSidecar};

const ALL_TOOLS: usize = 27;

/// Protocol modes of the Python SDK: the initialize handshake, the 2026-07-28 revision pinned,
/// and `auto` (probes `server/discover`, then picks 2026-07-28).
const MODES: [&str; 3] = ["legacy", "2026-07-28", "auto"];

/// Environment for a sidecar whose runner is the real Terraform CLI with an empty provider
/// directory: plans run and fail, which exercises progress and structured failures.
fn runner_env(provider_dir: &Path) -> Vec<(String, String)> {
    vec![
        (
            "GALLEY_TERRAFORM".into(),
            util::tool("terraform").display().to_string(),
        ),
        (
            "GALLEY_PROVIDER_DIR".into(),
            provider_dir.display().to_string(),
        ),
    ]
}

/// Runs `drive_session.py`; returns its JSON summary. `env` reaches a stdio server (the script
/// passes GALLEY_* on).
fn drive(mode: &str, target: &[&str], env: &[(String, String)]) -> Value {
    let mut cmd = Command::new(util::python());
    cmd.arg(util::crate_dir().join("tests/clients/drive_session.py"))
        .arg(mode)
        .args(target);
    cmd.arg("--fixture")
        .arg(util::fixture("full-architecture.json"));
    cmd.env("DRIVE_PLAN_FAILS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(
        ok,
        "python client ({mode} {target:?}) failed:\n{out}\n{err}"
    );
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad summary {line:?}: {e}\n{err}"))
}

fn expected_version(mode: &str) -> &str {
    match mode {
        "legacy" => "2025-11-25",
        _ => "2026-07-28",
    }
}

#[test]
fn python_sdk_drives_a_session_over_stdio_in_legacy_and_2026_modes() {
    let bin = util::sidecar_bin();
    let bin = bin.to_str().expect("utf-8 path");
    let providers = tempfile::tempdir().expect("tempdir");
    for mode in MODES {
        let data = tempfile::tempdir().expect("tempdir");
        let mut env = runner_env(providers.path());
        env.push(("GALLEY_DATA_DIR".into(), data.path().display().to_string()));
        let seen = drive(mode, &["stdio", bin, "--stdio"], &env);
        assert_eq!(seen["protocol_version"], expected_version(mode), "{seen}");
        assert_eq!(seen["ok"], true);
        assert!(seen["progress"].as_u64().is_some_and(|n| n > 0), "{seen}");
        assert!(
            seen["resources"].as_u64().is_some_and(|n| n >= 20),
            "{seen}"
        );
        // The session was written under GALLEY_DATA_DIR with its stack.
        let sid = seen["session_id"].as_str().expect("id");
        let dir = data.path().join("sessions").join(sid);
        assert!(dir.join("session.json").exists());
        assert!(dir.join("terraform/components.tf").exists());
        assert!(dir.join("terraform/notes/extra.tf").exists());
        assert!(
            !data.path().join("escape.tf").exists()
                && !data.path().join("sessions/escape.tf").exists()
        );
    }
}

#[test]
fn python_sdk_drives_a_session_over_http_with_the_url_token() {
    let providers = tempfile::tempdir().expect("tempdir");
    let env = runner_env(providers.path());
    let mut server_env: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    server_env.push(("GALLEY_URL_TOKEN", "t0ken-for-tests"));
    let server = HttpSidecar::start(&server_env);
    let url = format!("{}?token=t0ken-for-tests", server.mcp_url());
    for mode in MODES {
        let seen = drive(mode, &["http", &url], &[]);
        assert_eq!(seen["protocol_version"], expected_version(mode), "{seen}");
        assert_eq!(seen["ok"], true);
        assert!(seen["progress"].as_u64().is_some_and(|n| n > 0), "{seen}");
    }
}

fn inspector(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new(util::tool("mcp-inspector"));
    cmd.arg("--cli");
    for (k, v) in env {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    cmd.arg(util::sidecar_bin()).arg("--stdio").args(args);
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(ok, "inspector {args:?} failed:\n{out}\n{err}");
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("inspector output is not JSON ({e}):\n{out}"))
}

fn tool_names(list: &Value) -> BTreeSet<String> {
    list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn inspector_cli_lists_tools_and_read_only_mode_hides_apply_and_destroy() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path().to_str().expect("utf-8");
    let all = tool_names(&inspector(
        &["--method", "tools/list"],
        &[("GALLEY_DATA_DIR", d)],
    ));
    assert_eq!(all.len(), ALL_TOOLS, "{all:?}");
    assert!(all.contains("run_terraform_apply") && all.contains("run_terraform_destroy"));
    let ro = tool_names(&inspector(
        &["--method", "tools/list"],
        &[("GALLEY_DATA_DIR", d), ("GALLEY_READ_ONLY", "1")],
    ));
    assert_eq!(ro.len(), ALL_TOOLS - 3, "{ro:?}");
    assert!(
        !ro.contains("run_terraform_apply")
            && !ro.contains("run_terraform_destroy")
            && !ro.contains("build_app_image")
    );
    assert!(ro.contains("detect_drift"), "drift changes nothing: {ro:?}");
}

#[test]
fn sessions_survive_a_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path().to_str().expect("utf-8");
    let env = [("GALLEY_DATA_DIR", d)];
    let created = inspector(
        &["--method", "tools/call", "--tool-name", "create_session"],
        &env,
    );
    let id = created["structuredContent"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    // A new process (each Inspector call starts the server afresh) finds it.
    let listed = inspector(
        &["--method", "tools/call", "--tool-name", "list_sessions"],
        &env,
    );
    let ids: Vec<&str> = listed["structuredContent"]["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let got = inspector(
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "get_session",
            "--tool-arg",
            &format!("session_id={id}"),
        ],
        &env,
    );
    assert_eq!(got["structuredContent"]["status"], "designing");
    assert_ne!(got["isError"], true);
}

#[test]
fn stdio_prints_nothing_but_protocol_and_logs_json_to_stderr() {
    use std::io::Write;
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(util::sidecar_bin())
        .arg("--stdio")
        .env("GALLEY_DATA_DIR", data.path())
        .env("RUST_LOG", "debug")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let requests = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_session","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_session","arguments":{"session_id":"../../x"}}}"#,
    ];
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for r in requests {
            writeln!(stdin, "{r}").expect("write");
        }
        // Closing stdin ends the session; the process must then exit by itself.
        std::thread::sleep(Duration::from_millis(500));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("exits after stdin closes")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("non-protocol line on stdout ({e}): {l:?}"))
        })
        .collect();
    assert!(lines.iter().all(|v| v["jsonrpc"] == "2.0"), "{stdout}");
    assert_eq!(lines.len(), 3, "{stdout}");
    let by_id = |id: u64| {
        lines
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("no response {id}"))
    };
    assert_eq!(by_id(1)["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(by_id(1)["result"]["serverInfo"]["name"], "galley-sidecar");
    assert!(
        by_id(2)["result"]["structuredContent"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("s-"))
    );
    assert_eq!(
        by_id(3)["result"]["isError"],
        true,
        "a traversal session id is a tool error"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().count() > 0
            && stderr
                .lines()
                .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "logs are JSON lines:\n{stderr}"
    );
}
