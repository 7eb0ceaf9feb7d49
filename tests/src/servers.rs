//! Local servers for tests: moto (DynamoDB and S3), dynalite (DynamoDB with realistic CREATING
//! delays) and SeaweedFS (S3 that verifies SigV4 signatures). Each starts on free loopback
//! ports in its own process group and temporary directory, is waited for until it answers HTTP,
//! and is stopped (with any children) and cleaned up when its guard is dropped.
//!
//! Binaries come from `GALLEY_TOOLS_BIN`, else `.tools/bin` of the workspace, where
//! `tests/setup.sh` installs them. A missing binary is an error that says to run the setup
//! script: tests fail rather than skip.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a server gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Starts are retried with fresh ports when a server dies early (a port taken in between).
const START_TRIES: usize = 3;

/// Why a server could not be started.
#[derive(Debug)]
pub enum StartError {
    /// The binary is not installed.
    Missing { tool: &'static str, path: PathBuf },
    /// Spawning, the temporary directory or a port failed.
    Io {
        tool: &'static str,
        what: String,
        error: std::io::Error,
    },
    /// The server exited or did not answer in time; `log` is the end of its output.
    NotReady {
        tool: &'static str,
        reason: String,
        log: String,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Missing { tool, path } => write!(
                f,
                "{tool} is not installed at {}: run tests/setup.sh (or set GALLEY_TOOLS_BIN)",
                path.display()
            ),
            StartError::Io { tool, what, error } => {
                write!(f, "failed to start {tool}: {what}: {error}")
            }
            StartError::NotReady { tool, reason, log } => {
                write!(
                    f,
                    "failed to start {tool}: {reason}; its output ends with:\n{log}"
                )
            }
        }
    }
}

impl std::error::Error for StartError {}

/// The directory holding the test tools.
pub fn tools_bin() -> PathBuf {
    crate::tools::bin_dir()
}

/// The path of a tool, or [`StartError::Missing`].
pub fn tool(name: &'static str) -> Result<PathBuf, StartError> {
    let path = tools_bin().join(name);
    // `exists` follows symlinks, so a dangling launcher counts as missing.
    if path.exists() {
        Ok(path)
    } else {
        Err(StartError::Missing { tool: name, path })
    }
}

/// `count` distinct free loopback ports. The listeners are held until all are chosen so the
/// ports differ, then released for the server to bind.
pub fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// A running server process. Dropping it stops the process group and removes its directory.
pub struct ServerGuard {
    tool: &'static str,
    child: Child,
    port: u16,
    log_path: PathBuf,
    // Dropped after `Drop::drop` has stopped the process.
    dir: TempDir,
}

impl ServerGuard {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's own temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's output so far (stdout and stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // The server leads its own process group, so this reaches any children it started.
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill has no memory-safety preconditions; the group id is our child's.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                // Children may outlive the leader briefly; make sure none are left.
                // SAFETY: as above.
                unsafe { libc::kill(group, libc::SIGKILL) };
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for ServerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerGuard")
            .field("tool", &self.tool)
            .field("endpoint", &self.endpoint())
            .field("pid", &self.child.id())
            .finish()
    }
}

fn tail(text: &str, max: usize) -> String {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

/// Whether something answers HTTP on the port (any status counts: servers answer anonymous
/// requests with 403 or 400).
fn answers_http(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    head.starts_with(b"HTTP/1.")
}

/// Spawns `program args` with its output in a log file inside `dir`, in a new process group,
/// and waits until `port` answers HTTP.
fn spawn(
    tool: &'static str,
    program: &Path,
    args: &[String],
    dir: TempDir,
    port: u16,
) -> Result<ServerGuard, StartError> {
    let io = |what: &str, error| StartError::Io {
        tool,
        what: what.to_owned(),
        error,
    };
    let log_path = dir.path().join("server.log");
    let log = File::create(&log_path).map_err(|e| io("create the log file", e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| io("duplicate the log file", e))?;
    let child = Command::new(program)
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| io(&format!("run {}", program.display()), e))?;
    let mut guard = ServerGuard {
        tool,
        child,
        port,
        log_path,
        dir,
    };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = guard.child.try_wait() {
            return Err(StartError::NotReady {
                tool,
                reason: format!("it exited with {status} before answering"),
                log: tail(&guard.log(), 4000),
            });
        }
        if answers_http(port) {
            return Ok(guard);
        }
        if start.elapsed() > READY_TIMEOUT {
            guard.stop();
            return Err(StartError::NotReady {
                tool,
                reason: format!(
                    "it did not answer on port {port} within {}s",
                    READY_TIMEOUT.as_secs()
                ),
                log: tail(&guard.log(), 4000),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `attempt` up to [`START_TRIES`] times while the server dies early, which is what a port
/// taken between choosing and binding looks like.
fn with_retries(
    mut attempt: impl FnMut() -> Result<ServerGuard, StartError>,
) -> Result<ServerGuard, StartError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt() {
            Err(StartError::NotReady { reason, .. })
                if tries < START_TRIES && reason.contains("exited") =>
            {
                continue;
            }
            other => return other,
        }
    }
}

fn temp_dir(tool: &'static str) -> Result<TempDir, StartError> {
    tempfile::Builder::new()
        .prefix(&format!("galley-{tool}-"))
        .tempdir()
        .map_err(|error| StartError::Io {
            tool,
            what: "create a temporary directory".to_owned(),
            error,
        })
}

fn ports(tool: &'static str, count: usize) -> Result<Vec<u16>, StartError> {
    free_ports(count).map_err(|error| StartError::Io {
        tool,
        what: "find free loopback ports".to_owned(),
        error,
    })
}

/// moto in server mode: DynamoDB and S3 on one port, no signature checks, tables ACTIVE at once.
#[derive(Debug)]
pub struct Moto {
    guard: ServerGuard,
}

impl Moto {
    /// Starts moto or panics with the reason (including "run tests/setup.sh" when missing).
    pub fn start() -> Moto {
        Moto::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start() -> Result<Moto, StartError> {
        let program = tool("moto_server")?;
        let guard = with_retries(|| {
            let port = ports("moto_server", 1)?[0];
            let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
            spawn("moto_server", &program, &args, temp_dir("moto")?, port)
        })?;
        Ok(Moto { guard })
    }

    /// The endpoint for both DynamoDB and S3.
    pub fn endpoint(&self) -> String {
        self.guard.endpoint()
    }

    pub fn guard(&self) -> &ServerGuard {
        &self.guard
    }
}

/// dynalite: DynamoDB that keeps tables CREATING, UPDATING and DELETING for a while.
#[derive(Debug)]
pub struct Dynalite {
    guard: ServerGuard,
}

impl Dynalite {
    /// Starts dynalite with its default 500 ms state delays, or panics with the reason.
    pub fn start() -> Dynalite {
        Dynalite::try_start_with_delay(Duration::from_millis(500)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts dynalite with tables staying CREATING/UPDATING/DELETING for `delay`.
    pub fn start_with_delay(delay: Duration) -> Dynalite {
        Dynalite::try_start_with_delay(delay).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start_with_delay(delay: Duration) -> Result<Dynalite, StartError> {
        let program = tool("dynalite")?;
        let ms = delay.as_millis().to_string();
        let guard = with_retries(|| {
            let port = ports("dynalite", 1)?[0];
            let args = [
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--createTableMs",
                &ms,
                "--deleteTableMs",
                &ms,
                "--updateTableMs",
                &ms,
            ]
            .map(str::to_owned);
            spawn("dynalite", &program, &args, temp_dir("dynalite")?, port)
        })?;
        Ok(Dynalite { guard })
    }

    pub fn endpoint(&self) -> String {
        self.guard.endpoint()
    }

    pub fn guard(&self) -> &ServerGuard {
        &self.guard
    }
}

/// SeaweedFS (`weed mini`): S3 that verifies SigV4 signatures against one identity.
#[derive(Debug)]
pub struct Seaweed {
    guard: ServerGuard,
    access_key: String,
    secret_key: String,
}

impl Seaweed {
    /// Starts SeaweedFS accepting exactly this key pair, or panics with the reason.
    pub fn start(access_key: &str, secret_key: &str) -> Seaweed {
        Seaweed::try_start(access_key, secret_key).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(access_key: &str, secret_key: &str) -> Result<Seaweed, StartError> {
        let program = tool("weed")?;
        let guard = with_retries(|| {
            let dir = temp_dir("weed")?;
            let io = |what: &str, error| StartError::Io {
                tool: "weed",
                what: what.to_owned(),
                error,
            };
            let config = dir.path().join("s3.json");
            fs::write(&config, identities(access_key, secret_key))
                .map_err(|e| io("write the S3 identities file", e))?;
            let data = dir.path().join("data");
            fs::create_dir(&data).map_err(|e| io("create the data directory", e))?;
            // Every listener gets its own free port: the defaults are fixed numbers that would
            // collide between tests running at the same time.
            let p = ports("weed", 10)?;
            let path = |name: &str| dir.path().join(name).display().to_string();
            let args = vec![
                "mini".to_owned(),
                format!("-dir={}", data.display()),
                "-ip=127.0.0.1".to_owned(),
                "-ip.bind=127.0.0.1".to_owned(),
                format!("-s3.port={}", p[0]),
                format!("-s3.port.grpc={}", p[1]),
                format!("-master.port={}", p[2]),
                format!("-master.port.grpc={}", p[3]),
                format!("-volume.port={}", p[4]),
                format!("-volume.port.grpc={}", p[5]),
                format!("-filer.port={}", p[6]),
                format!("-filer.port.grpc={}", p[7]),
                format!("-admin.port={}", p[8]),
                format!("-admin.port.grpc={}", p[9]),
                format!("-s3.config={}", config.display()),
                format!("-filer.localSocket={}", path("filer.sock")),
                format!("-s3.localSocket={}", path("s3.sock")),
                "-webdav=false".to_owned(),
                "-admin.ui=false".to_owned(),
                "-s3.port.iceberg=0".to_owned(),
                "-s3.port.lance=0".to_owned(),
                "-master.telemetry=false".to_owned(),
                // Behave like S3: refuse to delete a bucket that still has objects.
                "-s3.allowDeleteBucketNotEmpty=false".to_owned(),
            ];
            spawn("weed", &program, &args, dir, p[0])
        })?;
        Ok(Seaweed {
            guard,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
        })
    }

    /// The S3 endpoint.
    pub fn endpoint(&self) -> String {
        self.guard.endpoint()
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub fn guard(&self) -> &ServerGuard {
        &self.guard
    }
}

/// SeaweedFS's `-s3.config` file: one identity with the key pair and every action.
fn identities(access_key: &str, secret_key: &str) -> String {
    let quote = |text: &str| {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    format!(
        "{{\"identities\":[{{\"name\":\"galley-test\",\"credentials\":[{{\"accessKey\":{},\
         \"secretKey\":{}}}],\"actions\":[\"Admin\",\"Read\",\"Write\",\"List\",\"Tagging\"]}}]}}",
        quote(access_key),
        quote(secret_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_file_is_json_with_the_keys() {
        let text = identities("esb", "se\"cret");
        assert!(text.contains(r#""accessKey":"esb""#), "{text}");
        assert!(text.contains(r#""secretKey":"se\"cret""#), "{text}");
        assert!(text.contains(r#""Admin""#), "{text}");
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(10).unwrap();
        let mut sorted = ports.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
    }

    #[test]
    fn a_missing_tool_says_to_run_setup() {
        let err = tool("no-such-tool-for-galley").unwrap_err().to_string();
        assert!(err.contains("run tests/setup.sh"), "{err}");
    }

    #[test]
    fn moto_starts_answers_and_stops() {
        let moto = Moto::start();
        let port = moto.guard().port();
        assert!(answers_http(port));
        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        let dir = moto.guard().dir().to_owned();
        drop(moto);
        assert!(!answers_http(port), "stopped on drop");
        assert!(!dir.exists(), "temporary directory removed");
    }

    #[test]
    fn dynalite_starts_and_stops() {
        let dynalite = Dynalite::start();
        let port = dynalite.guard().port();
        assert!(answers_http(port));
        drop(dynalite);
        assert!(!answers_http(port));
    }

    #[test]
    fn seaweed_starts_and_stops_with_all_its_listeners() {
        let weed = Seaweed::start("esb", "esbsecret");
        let port = weed.guard().port();
        assert!(answers_http(port));
        let pid = weed.guard().child.id();
        drop(weed);
        assert!(!answers_http(port));
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        assert!(!alive, "weed process {pid} still running");
    }
}
