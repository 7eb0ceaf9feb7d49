//! `galley-local`: serves OCI Resource Manager, Instance Agent and Object Storage on loopback.
//! See the crate documentation and `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use galley_local::config::{DEFAULT_NAMESPACE, DEFAULT_REGION};
use galley_local::rm::terraforms::TerraformBinary;
use galley_local::{AppState, Config, TrustStore, app, serve, trust};

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
        let id = trust
            .trust_profile(&config_path, profile)
            .with_context(|| format!("failed to trust profile {profile}"))?;
        tracing::info!(key_id = %id.as_str(), profile = %profile, "trusting an OCI config profile");
    }
    for spec in &args.trust_keys {
        trust.trust_spec(spec)?;
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
        ..Config::new(PathBuf::new())
    };
    let state = AppState::open(config, trust).context("failed to open the data directory")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    if let Some(file) = &args.ready_file {
        galley_local::store::write_atomic(file, addr.to_string().as_bytes())?;
    }
    tracing::info!(%addr, data_dir = %state.config().data_dir.display(), run_command = state.config().enable_run_command, "galley-local listening");
    serve(listener, app(state.clone()), shutdown_signal()).await?;
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
