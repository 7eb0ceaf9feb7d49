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
        Self::start_with(env, None)
    }

    /// With `nofile`, the process runs with that open-file limit (soft and hard), as under
    /// `prlimit --nofile=N`.
    pub fn start_with(env: &[(&str, &str)], nofile: Option<u64>) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(sidecar_bin());
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Resident memory of a process, in KiB, from `/proc`.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// Open file descriptors of a process, from `/proc`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A sidecar on stdio, driven with raw JSON-RPC lines; killed on drop.
pub struct StdioSidecar {
    pub child: Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    next: u64,
    pub data: tempfile::TempDir,
    /// How long a response may take (a tool that runs Resource Manager jobs needs longer).
    pub wait: Duration,
}

impl StdioSidecar {
    /// Started and initialized (protocol 2025-06-18).
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_logging(env, Stdio::null())
    }

    /// As [`StdioSidecar::start`], its log (stderr) going to `stderr`.
    pub fn start_logging(env: &[(&str, &str)], stderr: impl Into<Stdio>) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(sidecar_bin());
        cmd.arg("--stdio")
            .env("GALLEY_DATA_DIR", data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn sidecar");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut s = StdioSidecar {
            child,
            stdin,
            lines,
            next: 1_000,
            data,
            wait: Duration::from_secs(30),
        };
        let init = s.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        assert!(init.get("result").is_some(), "{init}");
        s.send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        s
    }

    pub fn send_line(&mut self, line: &str) {
        use std::io::Write;
        self.stdin.write_all(line.as_bytes()).expect("write");
        self.stdin.write_all(b"\n").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// Writes raw bytes (a huge or broken message).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The next message the server writes, within `limit`.
    pub fn next_message(&mut self, limit: Duration) -> serde_json::Value {
        let line = self.lines.recv_timeout(limit).expect("a message in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The response with `id` (notifications in between are skipped).
    pub fn response(&mut self, id: &serde_json::Value) -> serde_json::Value {
        loop {
            let m = self.next_message(self.wait);
            if &m["id"] == id && m.get("method").is_none() {
                return m;
            }
        }
    }

    pub fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next += 1;
        let id = serde_json::json!(self.next);
        let line =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&line.to_string());
        self.response(&id)
    }

    /// Calls a tool: (is_error, structured content, text).
    pub fn call(
        &mut self,
        tool: &str,
        args: serde_json::Value,
    ) -> (bool, serde_json::Value, String) {
        let r = self.request(
            "tools/call",
            serde_json::json!({"name": tool, "arguments": args}),
        );
        let result = &r["result"];
        assert!(r.get("error").is_none(), "{tool}: JSON-RPC error {r}");
        let text = result["content"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        (
            result["isError"] == serde_json::json!(true),
            result["structuredContent"].clone(),
            text,
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StdioSidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
