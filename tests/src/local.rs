//! `galley-local`, the local OCI engine, started for a test: a fresh API signing key and OCI
//! config file in a temporary directory, the engine binary listening on a free loopback port
//! with that key trusted, and the environment a Terraform working directory (or any OCI SDK)
//! needs to reach it. Dropping the guard stops the engine and its jobs and removes everything.
//!
//! The binary is `GALLEY_LOCAL_BIN` when set, else `galley-local` in the cargo target directory
//! the running test was built in. `cargo test --workspace` builds it before running any test;
//! a run limited to one package needs `cargo build -p galley-local` first, and the panic says
//! so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use galley_contract::env::WORK_COMPARTMENT_ID;
use galley_oci::setup::env as oci_env;
use tempfile::TempDir;

use crate::terraform::Workdir;
use crate::tools;

/// The tenancy, user and compartment the generated config file names.
pub const TENANCY: &str = "ocid1.tenancy.oc1..aaaaaaaagalleytest";
pub const USER: &str = "ocid1.user.oc1..aaaaaaaagalleytest";
pub const COMPARTMENT: &str = "ocid1.compartment.oc1..aaaaaaaagalleytest";
/// The engine's default Object Storage namespace and region.
pub const NAMESPACE: &str = "galleylocal";
pub const REGION: &str = "us-ashburn-1";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(15);

/// How to start the engine.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Run instance agent command scripts (`--enable-run-command`).
    pub enable_run_command: bool,
    /// Directory put first on the scripts' `PATH` (stand-in tools such as `docker`).
    pub run_command_path_prefix: Option<PathBuf>,
    /// Seconds a cancelled job's terraform gets after SIGINT (`--cancel-grace-secs`).
    pub cancel_grace_secs: Option<u64>,
    /// Further Terraform binaries jobs choose from by their stack's `terraformVersion`
    /// (`--terraform [VERSION=]PATH`, after the default `.tools/bin/terraform`).
    pub terraforms: Vec<String>,
    /// Stacks are created like those made before custom providers existed (`--older-stacks`).
    pub older_stacks: bool,
    /// The CLI configuration the jobs' terraform gets (empty when unset), such as
    /// `dev_overrides` for a provider under test.
    pub job_cli_config: Option<String>,
}

/// A running engine.
pub struct LocalOci {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

/// The `galley-local` binary to run.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("GALLEY_LOCAL_BIN") {
        return PathBuf::from(bin);
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // <target>/<profile>/deps/<test binary>: the engine sits in <target>/<profile>.
        candidates.extend(
            exe.ancestors()
                .skip(1)
                .take(3)
                .map(|d| d.join("galley-local")),
        );
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(target).join("debug").join("galley-local"));
    }
    candidates.push(tools::workspace_root().join("target/debug/galley-local"));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the galley-local binary was not found next to this test: run `cargo build -p \
                 galley-local` (cargo test --workspace builds it) or set GALLEY_LOCAL_BIN"
            )
        })
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to run openssl (needed to make a test key): {e}"));
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Writes a fresh RSA key and returns its OCI fingerprint (MD5 of the public key DER, as
/// colon-separated hex).
fn generate_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("oci_api_key.pem");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "oci_api_key.pem",
        ],
        dir,
    );
    let der = openssl(
        &[
            "pkey",
            "-in",
            "oci_api_key.pem",
            "-pubout",
            "-outform",
            "DER",
        ],
        dir,
    );
    std::fs::write(dir.join("public.der"), &der).expect("write the public key");
    let digest = openssl(&["dgst", "-md5", "-hex", "public.der"], dir);
    let text = String::from_utf8_lossy(&digest);
    let hex = text
        .rsplit(' ')
        .next()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(hex.len(), 32, "unexpected openssl dgst output: {text}");
    let fingerprint = hex
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    (key, fingerprint)
}

impl LocalOci {
    /// Starts the engine with default options, or panics with the reason.
    pub fn start() -> LocalOci {
        Self::start_with(LocalOptions::default())
    }

    pub fn start_with(options: LocalOptions) -> LocalOci {
        let dir = tempfile::Builder::new()
            .prefix("galley-local-")
            .tempdir()
            .expect("create a temporary directory");
        let (key, fingerprint) = generate_key(dir.path());
        let config = dir.path().join("oci_config");
        std::fs::write(
            &config,
            format!(
                "[DEFAULT]\nuser={USER}\nfingerprint={fingerprint}\nkey_file={}\ntenancy={TENANCY}\nregion={REGION}\n",
                key.display()
            ),
        )
        .expect("write the OCI config file");
        // Jobs get a CLI configuration of their own: the machine's may not exist.
        let cli_config = dir.path().join("job.terraformrc");
        std::fs::write(&cli_config, options.job_cli_config.as_deref().unwrap_or(""))
            .expect("write the jobs' CLI configuration");
        let ready = dir.path().join("ready");
        let data = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("engine.log")).expect("create the log");
        let log_err = log.try_clone().expect("duplicate the log");

        let mut cmd = Command::new(binary());
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data)
            .arg("--oci-config")
            .arg(&config)
            .arg("--trust-profile")
            .arg("DEFAULT")
            .arg("--terraform")
            .arg(tools::require("terraform"))
            .arg("--terraform-cli-config")
            .arg(&cli_config)
            .arg("--ready-file")
            .arg(&ready);
        if options.enable_run_command {
            cmd.arg("--enable-run-command");
        }
        if let Some(prefix) = &options.run_command_path_prefix {
            cmd.arg("--run-command-path-prefix").arg(prefix);
        }
        if let Some(secs) = options.cancel_grace_secs {
            cmd.arg("--cancel-grace-secs").arg(secs.to_string());
        }
        for terraform in &options.terraforms {
            cmd.arg("--terraform").arg(terraform);
        }
        if options.older_stacks {
            cmd.arg("--older-stacks");
        }
        let child = {
            use std::os::unix::process::CommandExt;
            cmd.current_dir(dir.path())
                .env_remove("TF_LOG")
                .env_remove("TF_CLI_ARGS")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .process_group(0)
                .spawn()
                .expect("start galley-local")
        };
        let mut engine = LocalOci {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = engine.child.try_wait() {
                panic!(
                    "galley-local exited with {status} before it was ready:\n{}",
                    engine.log()
                );
            }
            if let Some(addr) = std::fs::read_to_string(&ready)
                .ok()
                .and_then(|a| a.trim().parse().ok())
            {
                engine.addr = addr;
                return engine;
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "galley-local was not ready within {READY_TIMEOUT:?}:\n{}",
                engine.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`: the root of all three services.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OCI config file whose `DEFAULT` profile the engine trusts.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("oci_config")
    }

    /// The engine's data directory (stacks, jobs, commands, objects).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The engine's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("engine.log")).unwrap_or_default()
    }

    /// What a process needs to reach the engine through the galley provider (or an SDK):
    /// the config file, the three endpoint overrides and the work compartment.
    pub fn env(&self) -> Vec<(String, String)> {
        let endpoint = self.endpoint();
        vec![
            (
                oci_env::CONFIG_FILE.into(),
                self.config_file().display().to_string(),
            ),
            (oci_env::CONFIG_FILE_PROFILE.into(), "DEFAULT".into()),
            (oci_env::RESOURCE_MANAGER_ENDPOINT.into(), endpoint.clone()),
            (oci_env::INSTANCE_AGENT_ENDPOINT.into(), endpoint.clone()),
            (oci_env::OBJECT_STORAGE_ENDPOINT.into(), endpoint),
            (WORK_COMPARTMENT_ID.into(), COMPARTMENT.into()),
        ]
    }

    /// Adds [`LocalOci::env`] to a Terraform working directory.
    pub fn configure(&self, wd: &mut Workdir) {
        for (k, v) in self.env() {
            wd.env(&k, &v);
        }
    }

    /// Arms a fault (`POST /_galley/faults`, see the engine's README) and returns the answer.
    pub fn arm_fault(&self, fault: &serde_json::Value) -> serde_json::Value {
        let (status, body) = self.admin("POST", "/_galley/faults", Some(&fault.to_string()));
        assert_eq!(status, 201, "arming {fault} failed: {body}");
        serde_json::from_str(&body).expect("the engine answers JSON")
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        let (status, body) = self.admin("DELETE", "/_galley/faults", None);
        assert!(
            (200..300).contains(&status),
            "clearing faults failed: {body}"
        );
    }

    /// The armed faults and their remaining counts.
    pub fn faults(&self) -> serde_json::Value {
        let (status, body) = self.admin("GET", "/_galley/faults", None);
        assert_eq!(status, 200, "listing faults failed: {body}");
        serde_json::from_str(&body).expect("the engine answers JSON")
    }

    /// One request to the unsigned admin API: (status, body).
    fn admin(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut stream =
            TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a timeout");
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill has no memory-safety preconditions; the group is our child's.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Jobs run in process groups of their own; the engine stops them on SIGTERM, and
        // whatever is left of its own group goes now.
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for LocalOci {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for LocalOci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalOci")
            .field("endpoint", &self.endpoint())
            .field("dir", &self.dir.path())
            .finish()
    }
}
