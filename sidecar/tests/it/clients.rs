//! Real MCP clients against the binary: the Python SDK in legacy and 2026-07-28 modes over stdio
//! and Streamable HTTP drive a whole design session (create, design, validate, export, and the
//! refusals), and the MCP Inspector CLI lists and calls tools, also after a restart.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::util::{self, HttpSidecar};

const ALL_TOOLS: usize = 15;

/// Runs `drive_session.py`; returns its JSON summary.
fn drive(mode: &str, target: &[&str], data_dir: Option<&Path>) -> Value {
    let mut cmd = Command::new(util::python());
    cmd.arg(util::crate_dir().join("tests/clients/drive_session.py"))
        .arg(mode)
        .args(target);
    cmd.arg("--fixture")
        .arg(util::fixture("full-architecture.json"));
    if let Some(d) = data_dir {
        cmd.env("GALLEY_DATA_DIR", d);
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
    if mode == "legacy" { "2025-11-25" } else { mode }
}

#[test]
fn python_sdk_drives_a_session_over_stdio_in_legacy_and_2026_modes() {
    let bin = util::sidecar_bin();
    let bin = bin.to_str().expect("utf-8 path");
    for mode in ["legacy", "2026-07-28"] {
        let data = tempfile::tempdir().expect("tempdir");
        let seen = drive(mode, &["stdio", bin, "--stdio"], Some(data.path()));
        assert_eq!(seen["protocol_version"], expected_version(mode), "{seen}");
        assert_eq!(seen["ok"], true);
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
    let server = HttpSidecar::start(&[("GALLEY_URL_TOKEN", "t0ken-for-tests")]);
    let url = format!("{}?token=t0ken-for-tests", server.mcp_url());
    for mode in ["legacy", "2026-07-28"] {
        let seen = drive(mode, &["http", &url], None);
        assert_eq!(seen["protocol_version"], expected_version(mode), "{seen}");
        assert_eq!(seen["ok"], true);
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
    assert_eq!(ro.len(), ALL_TOOLS - 2, "{ro:?}");
    assert!(!ro.contains("run_terraform_apply") && !ro.contains("run_terraform_destroy"));
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
