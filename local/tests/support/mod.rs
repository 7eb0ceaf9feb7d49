//! The harness shared by the tests and benchmarks that run the built `galley-local` binary: a
//! temporary directory with freshly generated keys and a stand-in `docker`, and the engine
//! started on a free loopback port with one of those keys trusted (`--trust-key`).
//!
//! Needs the tools of `tests/setup.sh`: the venv (with `oci`, `pytest` and `cryptography`) and
//! terraform.

// Each test or bench target uses a different part of this module.
#![allow(dead_code)]

pub mod attack;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use galley_oci::signing::PrivateKey;

pub const TENANCY: &str = "ocid1.tenancy.oc1..conformancetenancy";
pub const USER: &str = "ocid1.user.oc1..conformanceuser";
pub const NAMESPACE: &str = "conformancens";

pub fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed by `tests/setup.sh` under `.tools/`.
pub fn tool(rel: &str) -> PathBuf {
    let path = manifest().join("..").join(".tools").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run tests/setup.sh",
        path.display()
    );
    path
}

/// The venv's python, checked to have the SDK.
pub fn python() -> PathBuf {
    let py = tool("venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import oci, pytest, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "the venv lacks oci or pytest: run tests/setup.sh");
    py
}

/// Keys, a stand-in `docker`, and the data directory of one engine.
pub struct Fixture {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Fresh keys, written by the same library the SDK loads them with.
        let status = Command::new(python())
            .arg("-c")
            .arg(
                "import sys\n\
                 from cryptography.hazmat.primitives.asymmetric import rsa\n\
                 from cryptography.hazmat.primitives import serialization\n\
                 for path in sys.argv[1:]:\n\
                 \x20   k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
                 \x20   open(path, 'wb').write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))\n",
            )
            .arg(dir.path().join("trusted.pem"))
            .arg(dir.path().join("other.pem"))
            .status()
            .unwrap();
        assert!(status.success(), "key generation failed");
        let pem = std::fs::read_to_string(dir.path().join("trusted.pem")).unwrap();
        let fingerprint = PrivateKey::from_pem(&pem, None)
            .unwrap()
            .public_key()
            .fingerprint()
            .unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(
            bin.join("docker"),
            "#!/bin/sh\necho \"stand-in docker $*\"\n",
        )
        .unwrap();
        std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        Self { dir, fingerprint }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The fingerprint of the trusted key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The key id the engine trusts: `tenancy/user/fingerprint`.
    pub fn key_id(&self) -> String {
        format!("{TENANCY}/{USER}/{}", self.fingerprint)
    }

    /// The trusted private key (PKCS#8 PEM).
    pub fn trusted_key_file(&self) -> PathBuf {
        self.path("trusted.pem")
    }

    /// The trusted private key, loaded.
    pub fn trusted_key(&self) -> PrivateKey {
        let pem = std::fs::read_to_string(self.trusted_key_file()).unwrap();
        PrivateKey::from_pem(&pem, None).unwrap()
    }

    /// Starts the engine, logging every request to `engine.log`.
    pub fn start(&self) -> Engine {
        self.start_with_log("galley_local=debug")
    }

    /// Starts the engine with `filter` as its `GALLEY_LOCAL_LOG`.
    pub fn start_with_log(&self, filter: &str) -> Engine {
        self.start_with(&Start {
            log: filter,
            ..Start::default()
        })
    }

    /// Starts the engine as `how` says.
    pub fn start_with(&self, how: &Start<'_>) -> Engine {
        use std::os::unix::process::CommandExt as _;
        let ready = self.path("addr");
        let _ = std::fs::remove_file(&ready);
        let binary = how
            .binary
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_galley-local")));
        let mut command = Command::new(binary);
        command
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--ready-file")
            .arg(&ready)
            .arg("--data-dir")
            .arg(self.path("data"))
            .arg("--namespace")
            .arg(NAMESPACE)
            .arg("--trust-key")
            .arg(format!(
                "{}={}",
                self.key_id(),
                self.trusted_key_file().display()
            ))
            .arg("--terraform")
            .arg(tool("bin/terraform"))
            .arg("--cancel-grace-secs")
            .arg("5")
            .arg("--enable-run-command")
            .arg("--run-command-path-prefix")
            .arg(self.path("bin"))
            .args(how.args)
            .env("GALLEY_LOCAL_LOG", how.log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("engine.log")).unwrap());
        if let Some(nofile) = how.nofile {
            // SAFETY: setrlimit is async-signal-safe and touches only the child being exec'd.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: nofile,
                        rlim_max: nofile,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(&ready) {
                break a;
            }
            assert!(
                Instant::now() < deadline,
                "galley-local did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Engine {
            child,
            addr: addr.trim().to_owned(),
            endpoint: format!("http://{}", addr.trim()),
        }
    }

    /// What the engine wrote to stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("engine.log")).unwrap_or_default()
    }

    /// Runs pytest on `file` with the engine's coordinates; panics with its output on failure.
    pub fn pytest(&self, engine: &Engine, file: &str, env: &[(&str, String)]) {
        let out = Command::new(python())
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"])
            .arg(manifest().join("tests/conformance").join(file))
            .current_dir(manifest().join("tests/conformance"))
            .env("GALLEY_ENDPOINT", &engine.endpoint)
            .env("GALLEY_NAMESPACE", NAMESPACE)
            .env("GALLEY_TENANCY", TENANCY)
            .env("GALLEY_USER", USER)
            .env("GALLEY_FINGERPRINT", &self.fingerprint)
            .env("GALLEY_KEY_FILE", self.trusted_key_file())
            .env("GALLEY_OTHER_KEY_FILE", self.path("other.pem"))
            .env("GALLEY_FIXTURES", manifest().join("tests/fixtures"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pytest {file} failed:\n{}\n{}\n--- engine log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

/// How to start the engine: [`Fixture::start_with`].
pub struct Start<'a> {
    /// `GALLEY_LOCAL_LOG`.
    pub log: &'a str,
    /// Extra command-line arguments.
    pub args: &'a [&'a str],
    /// The open-file limit (soft and hard) of the process.
    pub nofile: Option<u64>,
    /// Another build of galley-local (a benchmark's baseline) instead of this one.
    pub binary: Option<&'a Path>,
}

impl Default for Start<'_> {
    fn default() -> Self {
        Self {
            log: "galley_local=debug",
            args: &[],
            nofile: None,
            binary: None,
        }
    }
}

/// A running `galley-local`; killed when dropped.
pub struct Engine {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Engine {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory (`VmRSS`) in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the process ever had (`VmHWM`) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    /// File descriptors the process has open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// SIGTERM, as a service manager stops it.
    pub fn stop(mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// SIGKILL: a crash.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
