//! `build_app_image` for real: the sidecar binary over stdio, real Terraform with the Galley
//! provider built from this workspace, and galley-local running the build script through its
//! Instance Agent with a stand-in `docker` first on the script's PATH (the provider's acceptance
//! fixture `tests/fixtures/build/bin/docker`: it records its calls, fails a context holding a
//! `FAIL` file and prints a push digest), fetching the context through real pre-authenticated
//! URLs. The registry token must reach `docker login` and nothing else: no tool result, no log
//! line of the sidecar, no file of its data directory or of the engine. The shipped templates
//! themselves are run too: each must serve its API and stop on SIGTERM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use galley_tests::local::{LocalOci, LocalOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::local_engine::{provider_dir, sidecar_env};
use crate::util::{self, StdioSidecar};

const TOKEN: &str = "reg-T0ken-never-shown-7f3a";
const BUCKET: &str = "builds";
const REGISTRY: &str = "iad.ocir.io/galleylocal";

/// The stand-in `docker` in a directory of its own, recording into `record`.
pub(crate) fn stand_in_docker(record: &Path) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::Builder::new()
        .prefix("galley-build-bin-")
        .tempdir()
        .expect("tempdir");
    let script =
        std::fs::read_to_string(util::workspace_root().join("tests/fixtures/build/bin/docker"))
            .expect("the stand-in docker fixture")
            .replace("@RECORD@", &record.display().to_string());
    let path = bin.path().join("docker");
    std::fs::write(&path, script).expect("write docker");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bin
}

/// Every file under `dir` whose content contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            .unwrap_or(false)
        {
            found.push(path);
        }
    }
    found
}

/// Calls a tool with a progress token and waits for its result (a build takes a while, so
/// longer than `StdioSidecar::call` waits); returns (is_error, structured, text, progress
/// notifications seen, the raw response).
fn call_with_progress(
    s: &mut StdioSidecar,
    tool: &str,
    args: Value,
    token: &str,
) -> (bool, Value, String, usize, String) {
    let id = json!(format!("call-{token}"));
    let line = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args, "_meta": {"progressToken": token}}});
    s.send_line(&line.to_string());
    let mut progress = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        assert!(std::time::Instant::now() < deadline, "{tool} took too long");
        let m = s.next_message(Duration::from_secs(240));
        if m["method"] == "notifications/progress" && m["params"]["progressToken"] == token {
            progress += 1;
            continue;
        }
        if m["id"] == id {
            let result = &m["result"];
            let text = result["content"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(|b| b["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            return (
                result["isError"] == json!(true),
                result["structuredContent"].clone(),
                text,
                progress,
                m.to_string(),
            );
        }
    }
}

/// The engine running build commands with the stand-in `docker` (recording into `record`;
/// the directory returned holds it and must outlive the engine), its build bucket made.
pub(crate) fn build_engine(record: &Path) -> (tempfile::TempDir, LocalOci) {
    let bin = stand_in_docker(record);
    let local = LocalOci::start_with(LocalOptions {
        enable_run_command: true,
        run_command_path_prefix: Some(bin.path().to_owned()),
        ..Default::default()
    });
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let os = crate::store::object_storage(&local).await;
            crate::store::new_bucket(&os, BUCKET).await;
        });
    (bin, local)
}

/// The build settings of a sidecar building on [`build_engine`].
pub(crate) fn build_env() -> Vec<(String, String)> {
    [
        (
            "GALLEY_BUILD_INSTANCE_ID",
            "ocid1.instance.oc1..aaaaaaaabuildhost",
        ),
        ("GALLEY_BUILD_BUCKET", BUCKET),
        ("GALLEY_BUILD_REGISTRY", REGISTRY),
        ("GALLEY_BUILD_REGISTRY_USERNAME", "galleylocal/ci"),
        ("GALLEY_BUILD_REGISTRY_TOKEN", TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn build_app_image_builds_and_pushes_on_the_engine_and_never_shows_the_token() {
    let work = tempfile::tempdir().expect("tempdir");
    let record = work.path().join("docker.record");
    let (_bin, local) = build_engine(&record);
    let providers = tempfile::tempdir().expect("tempdir");
    let mut env = sidecar_env(&local, &provider_dir(providers.path()), "terraform");
    env.extend(build_env());
    env.push(("RUST_LOG".into(), "debug".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let log_path = work.path().join("sidecar.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut s = StdioSidecar::start_logging(&env, log);
    let mut seen = String::new();

    let (err, session, _) = s.call("create_session", json!({}));
    assert!(!err);
    let sid = session["id"].as_str().expect("id").to_string();

    // An unknown template names the known ones.
    let (err, _, text) = s.call(
        "scaffold_app_from_template",
        json!({"session_id": sid, "template": "rest-api-fortran"}),
    );
    assert!(
        err && text.contains("rest-api-python") && text.contains("rest-api-node"),
        "{text}"
    );
    let (err, files, text) = s.call(
        "scaffold_app_from_template",
        json!({"session_id": sid, "template": "rest-api-python"}),
    );
    assert!(!err, "{text}");
    assert_eq!(
        files["app_files"],
        json!(["Dockerfile", "README.md", "app.py"])
    );

    // The build: uploaded, built and pushed on the engine's instance, with progress.
    let (err, built, text, progress, raw) =
        call_with_progress(&mut s, "build_app_image", json!({"session_id": sid}), "b1");
    seen.push_str(&raw);
    assert!(!err, "{text}");
    assert!(progress > 0, "no progress notifications");
    let pushed = std::fs::read_to_string(record.with_extension("record.digests"))
        .expect("the stand-in pushed");
    let digest = pushed.lines().last().expect("a digest");
    assert_eq!(built["image_digest"], digest, "{built}");
    assert_eq!(built["exit_code"], 0);
    let uri = built["image_uri"].as_str().expect("uri").to_string();
    assert!(uri.starts_with(&format!("{REGISTRY}/app:")), "{uri}");
    let reference = format!("{uri}@{digest}");
    assert_eq!(built["image_reference"], reference.as_str());
    assert!(
        built["output_tail"].as_array().is_some_and(|l| l
            .iter()
            .any(|l| l.as_str().unwrap_or("").contains("digest: sha256:"))),
        "{built}"
    );
    assert_eq!(built["source_sha256"].as_str().map(str::len), Some(64));
    // What docker was asked to do: the token reached `docker login` (only its hash is
    // recorded), and the context is the session's app.
    let calls = std::fs::read_to_string(&record).expect("record");
    let token_sha = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    for line in [
        format!(
            "login --username galleylocal/ci --password-stdin iad.ocir.io password-sha256={token_sha}"
        ),
        format!("build -f context/Dockerfile -t {uri} context"),
        "context Dockerfile".to_string(),
        "context app.py".to_string(),
        format!("push {uri}"),
    ] {
        assert!(
            calls.lines().any(|l| l == line),
            "{line:?} missing from:\n{calls}"
        );
    }

    // A container running "app" is exported with the built image, by digest.
    let (err, _, text) = s.call(
        "save_architecture",
        json!({
            "session_id": sid,
            "components": [
                {"id": "vcn", "service_type": "vcn", "display_name": "net"},
                {"id": "sn", "service_type": "subnet", "display_name": "apps", "config": {"public": true}},
                {"id": "ci", "service_type": "container_instance", "display_name": "api", "config": {"image": "app"}}
            ],
            "connections": [
                {"source_id": "sn", "target_id": "vcn", "connection_type": "placement"},
                {"source_id": "ci", "target_id": "sn", "connection_type": "placement"}
            ]
        }),
    );
    assert!(!err, "{text}");
    let (err, _, text) = s.call("export_iac", json!({"session_id": sid}));
    assert!(!err, "{text}");
    let stack = s.data.path().join("sessions").join(&sid).join("terraform");
    let vars = std::fs::read_to_string(stack.join("variables.tf")).expect("variables.tf");
    assert!(vars.contains(&format!("\"{reference}\"")), "{vars}");
    crate::export::fmt_check(&stack);
    crate::export::terraform_loads(&stack);
    let problems = crate::export::schema_check(&stack, &crate::export::schema());
    assert!(problems.is_empty(), "{problems:#?}");

    // A failing build is a tool error with the exit code, docker's words and what to do.
    let (err, _, text) = s.call(
        "write_app_file",
        json!({"session_id": sid, "file_path": "FAIL", "content": "\n"}),
    );
    assert!(!err, "{text}");
    let (err, failed, text, _, raw) =
        call_with_progress(&mut s, "build_app_image", json!({"session_id": sid}), "b2");
    seen.push_str(&raw);
    assert!(err, "a failed build is an error result: {text}");
    assert_eq!(failed["exit_code"], 1, "{failed}");
    assert_eq!(failed["image_digest"], Value::Null, "{failed}");
    assert!(
        text.contains("exited with code 1")
            && text.contains("failed to solve")
            && text.contains("write_app_file"),
        "{text}"
    );
    // The last good image is still the session's.
    let session: Value = serde_json::from_str(
        &std::fs::read_to_string(
            s.data
                .path()
                .join("sessions")
                .join(&sid)
                .join("session.json"),
        )
        .expect("session.json"),
    )
    .expect("json");
    assert_eq!(session["last_build"]["image_reference"], reference.as_str());

    // The token is nowhere but where docker read it: not in a tool result, a file of the data
    // directory (the build's module and state among them), the sidecar's log or the engine.
    assert!(!seen.contains(TOKEN), "a tool result shows the token");
    let build_dir = s.data.path().join("sessions").join(&sid).join("build");
    assert!(
        build_dir.join("terraform.tfstate").is_file(),
        "the build keeps its own state"
    );
    assert!(
        !s.data
            .path()
            .join("sessions")
            .join(&sid)
            .join("runner/terraform.tfstate")
            .exists(),
        "the stack runner's state is untouched"
    );
    assert_eq!(
        files_containing(s.data.path(), TOKEN),
        Vec::<PathBuf>::new()
    );
    drop(s);
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.contains("build finished"), "the sidecar logged: {log}");
    assert!(!log.contains(TOKEN), "the sidecar's log shows the token");
    assert_eq!(files_containing(work.path(), TOKEN), Vec::<PathBuf>::new());
    assert_eq!(
        files_containing(&local.data_dir(), TOKEN),
        Vec::<PathBuf>::new()
    );
    assert!(!local.log().contains(TOKEN));
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; the response's status line and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// The shipped templates are working APIs: each runs with the interpreter its Dockerfile names
/// (the tools' Python and Node 22 standing in for the images), answers /health and /items, and
/// stops on SIGTERM as a container runtime asks it to.
#[test]
fn the_shipped_templates_serve_their_api_and_stop_on_sigterm() {
    for t in galley_sidecar::app::templates() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, content) in t.contents() {
            std::fs::write(dir.path().join(path), content).expect("write");
        }
        let dockerfile =
            std::fs::read_to_string(dir.path().join("Dockerfile")).expect("Dockerfile");
        let (program, main) = if dockerfile.contains("FROM python:") {
            (util::python(), "app.py")
        } else if dockerfile.contains("FROM node:22") {
            (util::tool("node22"), "server.js")
        } else {
            panic!("{}: no interpreter for {dockerfile}", t.name);
        };
        assert!(dockerfile.contains(&format!("\"{main}\"")), "{}", t.name);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = std::process::Command::new(program)
            .arg(main)
            .current_dir(dir.path())
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the template");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let health = loop {
            if let Some(r) = http(port, "GET", "/health", "") {
                break r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} never answered",
                t.name
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(health.0.contains(" 200 "), "{}: {health:?}", t.name);
        let created = http(port, "POST", "/items", r#"{"name": "tea"}"#).expect("POST");
        assert!(created.0.contains(" 201 "), "{}: {created:?}", t.name);
        let item: Value = serde_json::from_str(&created.1).expect("json");
        assert_eq!(item["name"], "tea", "{}", t.name);
        let got = http(
            port,
            "GET",
            &format!("/items/{}", item["id"].as_str().unwrap()),
            "",
        )
        .expect("GET");
        assert_eq!(
            serde_json::from_str::<Value>(&got.1).unwrap(),
            item,
            "{}",
            t.name
        );
        let bad = http(port, "POST", "/items", "not json").expect("POST");
        assert!(bad.0.contains(" 400 "), "{}: {bad:?}", t.name);
        // SAFETY: kill(2) on the process this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let stopped = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "{}: {status}", t.name);
                break;
            }
            if stopped.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("{} did not stop on SIGTERM", t.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
