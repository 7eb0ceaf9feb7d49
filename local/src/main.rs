//! `galley-local`: serves OCI Resource Manager, Instance Agent and Object Storage on loopback.
//! See the crate documentation and `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use galley_local::config::{
    self, ConnectionLimits, DEFAULT_NAMESPACE, DEFAULT_REGION, ExtractLimits,
};
use galley_local::rm::terraforms::TerraformBinary;
use galley_local::{AppState, Config, TrustStore, app, connections, serve_with, trust};

/// A local stand-in for OCI Resource Manager, Instance Agent (run command) and Object Storage,
/// for tests: signed requests only, real terraform, data kept in a directory.
#[derive(Parser, Debug)]
#[command(name = "galley-local", version)]
struct Args {
    /// Loopback address to listen on (port 0 picks a free port; see --ready-file).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding stacks, jobs, logs, state, commands and objects.
    #[arg(long)]
    data_dir: PathBuf,
    /// Trust the API key of this profile of the OCI config file (repeatable).
    #[arg(long = "trust-profile", value_name = "PROFILE")]
    trust_profiles: Vec<String>,
    /// OCI config file for --trust-profile (default: $OCI_CONFIG_FILE or ~/.oci/config).
    #[arg(long, value_name = "FILE")]
    oci_config: Option<PathBuf>,
    /// Trust the key in PEMFILE (public or private key) for signatures with this keyId
    /// (repeatable).
    #[arg(long = "trust-key", value_name = "KEYID=PEMFILE")]
    trust_keys: Vec<String>,
    /// Object Storage namespace.
    #[arg(long, default_value = DEFAULT_NAMESPACE)]
    namespace: String,
    /// Region injected into Resource Manager jobs as `region`.
    #[arg(long, default_value = DEFAULT_REGION)]
    region: String,
    /// Terraform binary for Resource Manager jobs, as PATH or VERSION=PATH (repeatable). A job
    /// runs the one of its stack's terraformVersion line (1.5.x), else the closest, and says
    /// which in its first log line; a version not declared is asked with `version -json`. The
    /// first is the default.
    #[arg(
        long = "terraform",
        value_name = "[VERSION=]PATH",
        default_value = "terraform"
    )]
    terraforms: Vec<TerraformBinary>,
    /// CLI configuration file passed to jobs as TF_CLI_CONFIG_FILE.
    #[arg(long, value_name = "FILE")]
    terraform_cli_config: Option<PathBuf>,
    /// Seconds a cancelled terraform gets after SIGINT before it is killed.
    #[arg(long, default_value_t = 10)]
    cancel_grace_secs: u64,
    /// Actually run instance agent command scripts (on this machine, in a sandbox directory).
    #[arg(long)]
    enable_run_command: bool,
    /// Directory prepended to PATH for command scripts.
    #[arg(long, value_name = "DIR")]
    run_command_path_prefix: Option<PathBuf>,
    /// New stacks are like those created before Resource Manager sourced third-party providers
    /// from the registry (isThirdPartyProviderExperienceEnabled false): for testing clients
    /// that must enable it before setting customTerraformProvider.
    #[arg(long)]
    older_stacks: bool,
    /// Write the bound address to this file once listening (useful with port 0).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Seconds a request's headers may take to arrive.
    #[arg(long, value_name = "SECS", default_value_t = connections::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may wait for its next request.
    #[arg(long, value_name = "SECS", default_value_t = connections::DEFAULT_IDLE_TIMEOUT.as_secs())]
    idle_timeout_secs: u64,
    /// Seconds to receive a request's body and answer it.
    #[arg(long, value_name = "SECS", default_value_t = connections::DEFAULT_REQUEST_TIMEOUT.as_secs())]
    request_timeout_secs: u64,
    /// Open connections at most (lowered to fit the file-descriptor limit); idle ones are
    /// closed first to make room.
    #[arg(long, value_name = "N", default_value_t = connections::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Largest request body, in MiB (object uploads included).
    #[arg(long, value_name = "MIB", default_value_t = config::DEFAULT_MAX_BODY_BYTES >> 20)]
    max_body_mib: u64,
    /// Most a job may extract from its configuration zip, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = config::DEFAULT_MAX_CONFIG_EXTRACTED_BYTES >> 20)]
    max_config_extracted_mib: u64,
    /// Most entries (files and directories) a job's configuration zip may hold.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_MAX_CONFIG_FILES)]
    max_config_files: u64,
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GALLEY_LOCAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    let args = Args::parse();
    // Two workers are plenty for a test engine and keep idle memory low.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        bail!(
            "galley-local listens on loopback only (it runs scripts and terraform for whoever it trusts); {} is not a loopback address",
            args.listen
        );
    }
    let mut trust = TrustStore::new();
    let config_path = args
        .oci_config
        .clone()
        .unwrap_or_else(trust::default_config_path);
    for profile in &args.trust_profiles {
        trust
            .trust_profile(&config_path, profile)
            .with_context(|| format!("failed to trust profile {profile}"))?;
        // The profile, never its key id: logs carry no key material.
        tracing::info!(profile = %profile, "trusting an OCI config profile");
    }
    for spec in &args.trust_keys {
        trust.trust_spec(spec)?;
    }
    for (flag, value) in [
        ("--header-read-timeout-secs", args.header_read_timeout_secs),
        ("--idle-timeout-secs", args.idle_timeout_secs),
        ("--request-timeout-secs", args.request_timeout_secs),
        ("--max-connections", args.max_connections as u64),
        ("--max-body-mib", args.max_body_mib),
        ("--max-config-extracted-mib", args.max_config_extracted_mib),
        ("--max-config-files", args.max_config_files),
    ] {
        if value == 0 {
            bail!("{flag} must be at least 1");
        }
    }
    if trust.is_empty() {
        bail!("no trusted keys: pass --trust-profile PROFILE or --trust-key KEYID=PEMFILE");
    }

    // Children run in other directories: a relative path must not change meaning there.
    let mut terraforms = args.terraforms;
    for binary in &mut terraforms {
        if binary.path.components().count() > 1 {
            binary.path = std::path::absolute(&binary.path)?;
        }
    }
    let config = Config {
        data_dir: args.data_dir,
        namespace: args.namespace,
        region: args.region,
        terraform: terraforms[0].path.clone(),
        terraforms,
        older_stacks: args.older_stacks,
        terraform_cli_config: args
            .terraform_cli_config
            .map(std::path::absolute)
            .transpose()?,
        enable_run_command: args.enable_run_command,
        run_command_path_prefix: args
            .run_command_path_prefix
            .map(std::path::absolute)
            .transpose()?,
        cancel_grace: Duration::from_secs(args.cancel_grace_secs),
        max_body_bytes: args.max_body_mib << 20,
        extract: ExtractLimits {
            max_bytes: args.max_config_extracted_mib << 20,
            max_files: args.max_config_files,
        },
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            request_timeout: Duration::from_secs(args.request_timeout_secs),
            max_connections: args.max_connections,
        },
    };
    let state = AppState::open(config, trust).context("failed to open the data directory")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let Some(file) = &args.ready_file {
        galley_local::store::write_atomic(file, addr.to_string().as_bytes())?;
    }
    tracing::info!(
        %addr,
        data_dir = %state.config().data_dir.display(),
        run_command = state.config().enable_run_command,
        max_connections = state.config().connections.effective_max_connections(),
        "galley-local listening"
    );
    let limits = state.config().connections;
    serve_with(listener, app(state.clone()), limits, shutdown_signal()).await?;
    tracing::info!("shutting down: stopping running jobs and commands");
    state.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "failed to listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
