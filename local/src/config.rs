//! Engine settings, independent of how they were given (command line in `main`, struct
//! literals in tests).

use std::path::PathBuf;
use std::time::Duration;

pub use crate::connections::ConnectionLimits;
use crate::rm::terraforms::TerraformBinary;

/// Namespace answered by `GET /n` when none is configured.
pub const DEFAULT_NAMESPACE: &str = "galleylocal";

/// Region injected into Resource Manager jobs when none is configured.
pub const DEFAULT_REGION: &str = "us-ashburn-1";

/// Largest request body accepted, object uploads included (`--max-body-mib`).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 512 * 1024 * 1024;

/// Most a job may extract from a configuration zip (`--max-config-extracted-mib`): Terraform
/// configurations are kilobytes to a few megabytes; this leaves room for bundled modules and
/// scripts while a zip bomb fails long before the disk fills.
pub const DEFAULT_MAX_CONFIG_EXTRACTED_BYTES: u64 = 100 * 1024 * 1024;

/// Most entries (files and directories) a configuration zip may hold (`--max-config-files`).
pub const DEFAULT_MAX_CONFIG_FILES: u64 = 10_000;

/// What a job may extract from a stack's configuration zip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Total bytes of the extracted files.
    pub max_bytes: u64,
    /// Entries (files and directories).
    pub max_files: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_CONFIG_EXTRACTED_BYTES,
            max_files: DEFAULT_MAX_CONFIG_FILES,
        }
    }
}

/// Everything the engine needs besides the trusted keys.
#[derive(Clone, Debug)]
pub struct Config {
    /// Root of all persistent data (stacks, jobs, logs, state, commands, objects).
    pub data_dir: PathBuf,
    /// The single Object Storage namespace served.
    pub namespace: String,
    /// Injected into jobs as `TF_VAR_region`.
    pub region: String,
    /// The terraform binary Resource Manager jobs run by default.
    pub terraform: PathBuf,
    /// Every Terraform binary jobs choose from by their stack's `terraformVersion` (see
    /// `rm::terraforms`), `terraform` included or not; empty: `terraform` only.
    pub terraforms: Vec<TerraformBinary>,
    /// Passed to jobs as `TF_CLI_CONFIG_FILE` (for example a `dev_overrides` file).
    pub terraform_cli_config: Option<PathBuf>,
    /// Opt-in: without it, agent commands are accepted but their execution ends FAILED.
    pub enable_run_command: bool,
    /// Prepended to `PATH` for agent command scripts (tests put stand-in tools there).
    pub run_command_path_prefix: Option<PathBuf>,
    /// How long a cancelled terraform gets after SIGINT before it is killed.
    pub cancel_grace: Duration,
    /// Largest request body accepted (object uploads included). Bodies are read only after
    /// the request's signature checked out; object bodies stream to disk.
    pub max_body_bytes: u64,
    /// What a job may extract from its configuration zip.
    pub extract: ExtractLimits,
    /// Timeouts and the connection limit of the listener.
    pub connections: ConnectionLimits,
    /// New stacks are like those created before Resource Manager sourced third-party providers
    /// from the Terraform Registry: `isThirdPartyProviderExperienceEnabled` false, a
    /// `customTerraformProvider` given at creation ignored, and refused by UpdateStack until
    /// an earlier update has set the flag.
    pub older_stacks: bool,
}

impl Config {
    /// Defaults for everything but the data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            terraform: PathBuf::from("terraform"),
            terraforms: Vec::new(),
            terraform_cli_config: None,
            enable_run_command: false,
            run_command_path_prefix: None,
            cancel_grace: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            extract: ExtractLimits::default(),
            connections: ConnectionLimits::default(),
            older_stacks: false,
        }
    }
}
