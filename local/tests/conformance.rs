//! Runs the Python conformance suite (tests/conformance, the official OCI SDK as the client)
//! against the built `galley-local` binary, on a free loopback port with a temporary data
//! directory and a freshly generated key trusted with `--trust-key`.
//!
//! Needs the tools of `tests/setup.sh`: the venv (with `oci` and `pytest`) and terraform.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use galley_oci::signing::PrivateKey;

const TENANCY: &str = "ocid1.tenancy.oc1..conformancetenancy";
const USER: &str = "ocid1.user.oc1..conformanceuser";
const NAMESPACE: &str = "conformancens";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(rel: &str) -> PathBuf {
    let path = manifest().join("..").join(".tools").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run tests/setup.sh",
        path.display()
    );
    path
}

fn python() -> PathBuf {
    let py = tool("venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import oci, pytest, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "the venv lacks oci or pytest: run tests/setup.sh");
    py
}

/// Keys, a stand-in `docker`, and the data directory of one engine.
struct Fixture {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl Fixture {
    fn new() -> Self {
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

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn start(&self) -> Engine {
        let ready = self.path("addr");
        let _ = std::fs::remove_file(&ready);
        let key_id = format!("{TENANCY}/{USER}/{}", self.fingerprint);
        let child = Command::new(env!("CARGO_BIN_EXE_galley-local"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--ready-file")
            .arg(&ready)
            .arg("--data-dir")
            .arg(self.path("data"))
            .arg("--namespace")
            .arg(NAMESPACE)
            .arg("--trust-key")
            .arg(format!("{key_id}={}", self.path("trusted.pem").display()))
            .arg("--terraform")
            .arg(tool("bin/terraform"))
            .arg("--cancel-grace-secs")
            .arg("5")
            .arg("--enable-run-command")
            .arg("--run-command-path-prefix")
            .arg(self.path("bin"))
            .env("GALLEY_LOCAL_LOG", "galley_local=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.path("engine.log")).unwrap())
            .spawn()
            .unwrap();
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
            endpoint: format!("http://{addr}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("engine.log")).unwrap_or_default()
    }

    /// Runs pytest on `file` with the engine's coordinates; panics with its output on failure.
    fn pytest(&self, engine: &Engine, file: &str, env: &[(&str, String)]) {
        let out = Command::new(python())
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"])
            .arg(manifest().join("tests/conformance").join(file))
            .current_dir(manifest().join("tests/conformance"))
            .env("GALLEY_ENDPOINT", &engine.endpoint)
            .env("GALLEY_NAMESPACE", NAMESPACE)
            .env("GALLEY_TENANCY", TENANCY)
            .env("GALLEY_USER", USER)
            .env("GALLEY_FINGERPRINT", &self.fingerprint)
            .env("GALLEY_KEY_FILE", self.path("trusted.pem"))
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

struct Engine {
    child: Child,
    endpoint: String,
}

impl Engine {
    /// SIGTERM, as a service manager stops it.
    fn stop(mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// SIGKILL: a crash.
    fn crash(mut self) {
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

#[test]
fn the_oci_python_sdk_drives_galley_local() {
    let f = Fixture::new();
    let engine = f.start();
    f.pytest(&engine, "test_sdk.py", &[]);
    engine.stop();
}

#[test]
fn a_crashed_engine_restarts_with_its_data_and_fails_the_interrupted_job() {
    let f = Fixture::new();
    let state = f.path("restart.json");
    let engine = f.start();
    f.pytest(
        &engine,
        "test_restart.py",
        &[
            ("GALLEY_RESTART_PHASE", "before".into()),
            ("GALLEY_RESTART_STATE", state.display().to_string()),
        ],
    );
    engine.crash();
    let engine = f.start();
    // What the crashed job left running (terraform's provisioner) was killed at start-up.
    let work = std::fs::canonicalize(f.path("data")).unwrap();
    let strays: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c.starts_with(&work)))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        strays.is_empty(),
        "processes left in the data directory: {strays:?}"
    );
    f.pytest(
        &engine,
        "test_restart.py",
        &[
            ("GALLEY_RESTART_PHASE", "after".into()),
            ("GALLEY_RESTART_STATE", state.display().to_string()),
        ],
    );
    engine.stop();
}
