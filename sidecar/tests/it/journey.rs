//! The whole Galley journey through real clients on the local OCI engine: the Python MCP SDK in
//! both protocol generations (the `initialize` handshake of 2025-11-25 and 2026-07-28 without
//! it), over stdio and Streamable HTTP, runs hearing, design from the hearing, diagram and
//! summary, resources and prompts, export, plan, apply with the token and destroy with its
//! token (`tests/clients/journey_session.py`); over stdio the application too, built and pushed
//! on the engine's instance (a stand-in docker) and exported by digest. The diagram it was given is checked in Chromium
//! and by the official Mermaid parser; leaving an HTTP session must not make the SDK log a
//! failed termination. The MCP Inspector CLI reads a resource and a prompt.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use galley_oci::resource_manager::StackLifecycleState;
use galley_sidecar::model::Architecture;
use galley_tests::local::LocalOci;
use serde_json::Value;

use crate::diagram;
use crate::local_engine::{Rm, provider_dir, sidecar_env};
use crate::util::{self, HttpSidecar};

const MODES: [&str; 2] = ["legacy", "2026-07-28"];

fn journey(
    mode: &str,
    target: &[&str],
    env: &[(String, String)],
    marker: &Path,
    artifacts: &Path,
) -> Value {
    let mut cmd = Command::new(util::python());
    cmd.arg(util::crate_dir().join("tests/clients/journey_session.py"))
        .arg(mode)
        .args(target)
        .arg("--marker")
        .arg(marker)
        .arg("--artifacts")
        .arg(artifacts);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(300));
    assert!(ok, "journey ({mode} {target:?}) failed:\n{out}\n{err}");
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad summary {line:?}: {e}\n{err}"))
}

fn assert_journey(
    seen: &Value,
    mode: &str,
    rm: &Rm,
    marker: &Path,
    artifacts: &Path,
    data: Option<&Path>,
) {
    assert_eq!(seen["ok"], true, "{seen}");
    let expected = if mode == "legacy" {
        "2025-11-25"
    } else {
        "2026-07-28"
    };
    assert_eq!(seen["protocol_version"], expected, "{seen}");
    assert_eq!(
        std::fs::read_to_string(marker).unwrap_or_default().trim(),
        "destroyed"
    );
    let stack = seen["stack_id"].as_str().expect("stack id");
    assert!(
        rm.stack(stack)
            .is_none_or(|(state, _)| state == StackLifecycleState::Deleted),
        "the stack was deleted"
    );
    // The diagram the client was given, as a person sees it.
    let sid = seen["session_id"].as_str().expect("sid");
    if let Some(data) = data {
        let session: Value = serde_json::from_str(
            &std::fs::read_to_string(data.join("sessions").join(sid).join("session.json"))
                .expect("session.json"),
        )
        .expect("json");
        let arch: Architecture =
            serde_json::from_value(session["architecture"].clone()).expect("architecture");
        assert_eq!(
            arch.components.len() as u64,
            seen["components"].as_u64().unwrap()
        );
        let svg = std::fs::read_to_string(artifacts.join("diagram.svg")).expect("svg");
        diagram::check_svg(&svg, &arch);
        let mermaid = std::fs::read_to_string(artifacts.join("diagram.mmd")).expect("mermaid");
        diagram::check_mermaid(&mermaid, &arch);
    }
}

#[test]
fn python_sdk_runs_the_whole_journey_over_stdio_in_both_generations() {
    let record_dir = tempfile::tempdir().expect("tempdir");
    let record = record_dir.path().join("docker.record");
    let (_docker, local) = crate::build::build_engine(&record);
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let mut env0 = sidecar_env(&local, &provider_dir(providers.path()), "terraform");
    env0.extend(crate::build::build_env());
    let bin = util::sidecar_bin();
    let bin = bin.to_str().expect("utf-8");
    for mode in MODES {
        let data = tempfile::tempdir().expect("tempdir");
        let marker = data.path().join("destroyed.marker");
        let artifacts = tempfile::tempdir().expect("tempdir");
        let mut env = env0.clone();
        env.push(("GALLEY_DATA_DIR".into(), data.path().display().to_string()));
        let seen = journey(
            mode,
            &["stdio", bin, "--stdio"],
            &env,
            &marker,
            artifacts.path(),
        );
        assert_journey(
            &seen,
            mode,
            &rm,
            &marker,
            artifacts.path(),
            Some(data.path()),
        );
        // The image the stack runs is the one the stand-in pushed last.
        let pushed = std::fs::read_to_string(record.with_extension("record.digests"))
            .expect("the stand-in pushed");
        let digest = pushed.lines().last().expect("a digest");
        assert!(
            seen["image_reference"]
                .as_str()
                .is_some_and(|r| r.ends_with(&format!("@{digest}"))),
            "{seen}"
        );
    }
}

#[test]
fn python_sdk_runs_the_whole_journey_over_http_and_ends_its_session_cleanly() {
    let local = LocalOci::start();
    let rm = Rm::new(&local);
    let providers = tempfile::tempdir().expect("tempdir");
    let env = sidecar_env(&local, &provider_dir(providers.path()), "terraform");
    let mut server_env: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    server_env.push(("GALLEY_URL_TOKEN", "journey-t0ken"));
    let server = HttpSidecar::start(&server_env);
    let url = format!("{}?token=journey-t0ken", server.mcp_url());
    for mode in MODES {
        let marks = tempfile::tempdir().expect("tempdir");
        let marker = marks.path().join("destroyed.marker");
        let seen = journey(mode, &["http", &url], &[], &marker, marks.path());
        assert_journey(
            &seen,
            mode,
            &rm,
            &marker,
            marks.path(),
            Some(server._data.path()),
        );
        // The legacy revision ends its session with DELETE: the SDK must not log a failure.
        assert_eq!(
            seen["termination_warnings"],
            serde_json::json!([]),
            "{seen}"
        );
    }
}

/// The Inspector CLI's JSON output for one call to a fresh stdio sidecar on `data`.
fn inspector(args: &[&str], data: &Path) -> Value {
    let mut cmd = Command::new(util::tool("mcp-inspector"));
    cmd.arg("--cli")
        .arg("-e")
        .arg(format!("GALLEY_DATA_DIR={}", data.display()))
        .arg(util::sidecar_bin())
        .arg("--stdio")
        .args(args);
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(ok, "inspector {args:?} failed:\n{out}\n{err}");
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("inspector output is not JSON ({e}):\n{out}"))
}

#[test]
fn inspector_cli_reads_a_session_resource_and_gets_a_prompt() {
    let data = tempfile::tempdir().expect("tempdir");
    let created = inspector(
        &["--method", "tools/call", "--tool-name", "create_session"],
        data.path(),
    );
    let sid = created["structuredContent"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let fixture = util::full_architecture();
    inspector(
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "save_architecture",
            "--tool-arg",
            &format!("session_id={sid}"),
            "--tool-arg",
            &format!(
                "components={}",
                serde_json::to_string(&fixture.components).unwrap()
            ),
            "--tool-arg",
            &format!(
                "connections={}",
                serde_json::to_string(&fixture.connections).unwrap()
            ),
        ],
        data.path(),
    );
    let uri = format!("galley://sessions/{sid}/diagram.mmd");
    let read = inspector(&["--method", "resources/read", "--uri", &uri], data.path());
    let contents = &read["contents"][0];
    assert_eq!(contents["uri"], uri.as_str(), "{read}");
    assert_eq!(contents["mimeType"], "text/vnd.mermaid");
    let text = contents["text"].as_str().expect("text");
    assert!(
        text.starts_with("flowchart TB") && text.contains("orders-db<br/>adb"),
        "{text}"
    );
    let listed = inspector(&["--method", "resources/templates/list"], data.path());
    assert!(
        listed["resourceTemplates"]
            .as_array()
            .is_some_and(|t| t.len() >= 8),
        "{listed}"
    );

    let prompt = inspector(
        &[
            "--method",
            "prompts/get",
            "--prompt-name",
            "clean_up",
            "--prompt-args",
            &format!("session_id={sid}"),
        ],
        data.path(),
    );
    let text = prompt["messages"][0]["content"]["text"]
        .as_str()
        .expect("prompt text");
    assert!(
        text.contains(&sid) && text.contains("destroy: true"),
        "{prompt}"
    );
    let prompts = inspector(&["--method", "prompts/list"], data.path());
    let names: Vec<&str> = prompts["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["build_infrastructure", "build_full_stack", "clean_up"]
    );
}

/// A replacement question set is checked at start: a bad one stops the sidecar with the file and
/// the field named; a good one is what get_hearing_questions serves.
#[test]
fn a_bad_hearing_file_stops_the_start_with_the_file_and_field_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("my-questions.yml");
    std::fs::write(
        &bad,
        "phases:\n  - id: only\n    title: Only\n    questions:\n      - id: size\n        text: How big?\n        type: choice\n        choices:\n          - value: big\n            label: Big\n            implies:\n              config:\n                compute: {cpus: 4}\n",
    )
    .expect("write");
    let out = Command::new(util::sidecar_bin())
        .arg("--stdio")
        .env("GALLEY_DATA_DIR", dir.path().join("data"))
        .env("GALLEY_HEARING_FILE", &bad)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("my-questions.yml")
            && stderr.contains("phases[0].questions[0].choices[0].implies.config.compute.cpus")
            && stderr.contains("ocpus"),
        "{stderr}"
    );

    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "phases:\n  - id: only\n    title: Only\n    questions:\n      - {id: team, text: Which team owns it?, type: text, required: true}\n",
    )
    .expect("write");
    let mut cmd = Command::new(util::tool("mcp-inspector"));
    cmd.arg("--cli")
        .arg("-e")
        .arg(format!(
            "GALLEY_DATA_DIR={}",
            dir.path().join("data").display()
        ))
        .arg("-e")
        .arg(format!("GALLEY_HEARING_FILE={}", good.display()))
        .arg(util::sidecar_bin())
        .arg("--stdio")
        .args([
            "--method",
            "tools/call",
            "--tool-name",
            "get_hearing_questions",
        ]);
    let (ok, out, err) = util::run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert!(ok, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let q = &v["structuredContent"];
    assert_eq!(q["phases"][0]["questions"][0]["id"], "team", "{v}");
    assert!(
        q["source"].as_str().is_some_and(|s| s.contains("good.yml")),
        "{v}"
    );
}
