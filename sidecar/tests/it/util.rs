//! Helpers shared by the integration tests: paths of the workspace, its tools and fixtures, and
//! running the sidecar binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use galley_sidecar::model::Architecture;

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn workspace_root() -> PathBuf {
    crate_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(crate_dir)
}

/// A tool installed by `tests/setup.sh` into `.tools/bin`; fails with what to run when missing.
pub fn tool(name: &str) -> PathBuf {
    let p = workspace_root().join(".tools/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `bash tests/setup.sh` at the workspace root first",
        p.display()
    );
    p
}

/// The Python of the tools venv (with the `mcp` SDK).
pub fn python() -> PathBuf {
    let p = workspace_root().join(".tools/venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `bash tests/setup.sh` at the workspace root first",
        p.display()
    );
    p
}

pub fn fixture(name: &str) -> PathBuf {
    crate_dir().join("tests/fixtures").join(name)
}

pub fn full_architecture() -> Architecture {
    let text = std::fs::read_to_string(fixture("full-architecture.json")).expect("read fixture");
    serde_json::from_str(&text).expect("parse fixture")
}

pub fn sidecar_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_galley-sidecar"))
}

/// A sidecar serving HTTP on a free loopback port; killed on drop.
pub struct HttpSidecar {
    pub child: Child,
    pub base: String,
    pub _data: tempfile::TempDir,
}

impl HttpSidecar {
    pub fn start(env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(sidecar_bin());
        cmd.args(["--http", "127.0.0.1:0"])
            .env("GALLEY_DATA_DIR", data.path())
            .env_remove("GALLEY_URL_TOKEN")
            .env_remove("GALLEY_READ_ONLY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn sidecar");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut sent = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !sent && line.contains("ready: serving MCP") {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                    let addr = v["fields"]["addr"].as_str().unwrap_or_default().to_string();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("sidecar did not report ready");
        HttpSidecar {
            child,
            base: format!("http://{addr}"),
            _data: data,
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }
}

impl Drop for HttpSidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command with a deadline; returns (success, stdout, stderr). Output is drained while it
/// runs, so a chatty child never blocks on a full pipe.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(out)) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        _ => {
            // Only the child this helper started.
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            (false, String::new(), format!("timed out after {limit:?}"))
        }
    }
}
