//! The `galley-sidecar` binary: reads the settings, sets up logging to stderr, and serves MCP over
//! stdio or Streamable HTTP until stdin closes or a signal arrives.

use std::sync::Arc;

use anyhow::Context;
use galley_sidecar::config::StateConfig;
use galley_sidecar::config::{Config, Transport};
use galley_sidecar::hearing::QuestionSet;
use galley_sidecar::http;
use galley_sidecar::limits::Limits;
use galley_sidecar::oci::ResourceManager;
use galley_sidecar::rules::RuleSet;
use galley_sidecar::runner::TerraformRunner;
use galley_sidecar::runner::build::TerraformBuilder;
use galley_sidecar::security::Policy;
use galley_sidecar::server::Sidecar;
use galley_sidecar::store::{self, BucketConfig, SessionStore};
use galley_sidecar::tfstate;
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for interrupted runs: Terraform's stop plus the job's cancellation.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(200);

fn init_logging() {
    // stdout belongs to the protocol in stdio mode: logs go to stderr, as JSON lines.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .init();
}

/// The bucket store of `state`, reached with the OCI settings the sidecar reads.
async fn open_bucket(config: &Config, state: &StateConfig) -> anyhow::Result<SessionStore> {
    let client = config
        .oci
        .object_storage(store::retry_policy(), store::CALL_TIMEOUT)
        .await
        .context("failed to set up OCI access for GALLEY_STATE_BUCKET")?;
    let namespace = match &state.namespace {
        Some(n) => n.clone(),
        None => {
            client
                .get_namespace(None)
                .await
                .context(
                    "failed to ask Object Storage for the namespace of GALLEY_STATE_BUCKET; set GALLEY_STATE_NAMESPACE",
                )?
                .value
        }
    };
    SessionStore::open_bucket(
        &config.data_dir,
        BucketConfig {
            client,
            namespace,
            bucket: state.bucket.clone(),
            cache_sessions: state.cache_sessions,
        },
    )
    .await
    .with_context(|| {
        format!(
            "failed to open the sessions in bucket {} (cache in {})",
            state.bucket,
            config.data_dir.display()
        )
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("{}\n\n{}", galley_sidecar::config::usage(), Limits::usage());
        return Ok(());
    }
    let (limits, args) = match Limits::from_parts(&args, |k| std::env::var(k).ok()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}\n\n{}", Limits::usage());
            std::process::exit(2);
        }
    };
    let config = match Config::from_parts(&args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    init_logging();
    // Everything the sidecar and its Terraform runs create (sessions, stack variables, state,
    // plans, logs) is for this user alone.
    // SAFETY: umask only sets the process's file mode creation mask.
    unsafe {
        libc::umask(0o077);
    }

    let store = match &config.state {
        None => SessionStore::open(&config.data_dir).with_context(|| {
            format!(
                "failed to open the data directory {}",
                config.data_dir.display()
            )
        })?,
        Some(state) => open_bucket(&config, state).await?,
    }
    .with_lease_duration(config.lease);
    tracing::info!(
        store = store.kind(),
        lease_secs = config.lease.as_secs(),
        "sessions store opened"
    );
    let rules = match &config.rules_dir {
        Some(dir) => RuleSet::from_dir(dir)?,
        None => RuleSet::embedded()?,
    };
    // A replacement question set is checked here, so a bad file stops the start with its name
    // and the field at fault.
    let hearing = match &config.hearing_file {
        Some(file) => QuestionSet::from_file(file)?,
        None => QuestionSet::shipped(),
    };
    let runner = Arc::new(TerraformRunner::new(
        config.terraform.clone(),
        config.provider_dir.clone(),
        ResourceManager::new(config.oci.clone()),
    ));
    // Paths of this machine that messages reaching clients may carry, and what they become.
    let mut server_paths = vec![
        (
            config.provider_dir.to_string_lossy().into_owned(),
            "$GALLEY_PROVIDER_DIR".to_string(),
        ),
        (
            config.terraform.to_string_lossy().into_owned(),
            "$GALLEY_TERRAFORM".to_string(),
        ),
    ];
    for var in ["OCI_CONFIG_FILE", "OCI_PRIVATE_KEY_PATH"] {
        if let Some(p) = config.oci.get(var) {
            server_paths.push((p.to_string(), format!("${var}")));
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        server_paths.push((home.to_string_lossy().into_owned(), "~".to_string()));
    }
    let shutdown = CancellationToken::new();
    let builder = Arc::new(TerraformBuilder::new(
        config.terraform.clone(),
        config.provider_dir.clone(),
        config.oci.clone(),
        config.build.clone(),
    ));
    let mut sidecar = Sidecar::new(store.clone(), rules, runner, config.read_only)
        .with_builder(builder)
        .with_hearing(hearing)
        .with_design_limits(limits.design.clone())
        .with_server_paths(server_paths);
    if config.state.is_some() {
        // The runner's Terraform state goes to the bucket too, through the sidecar.
        let backend = tfstate::serve(store, shutdown.clone())
            .await
            .context("failed to serve the Terraform state backend on loopback")?;
        sidecar = sidecar.with_state_backend(backend);
    }
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let ctrl_c = tokio::signal::ctrl_c();
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = ctrl_c => {},
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
            }
            shutdown.cancel();
        });
    }

    match config.transport {
        Transport::Stdio => {
            tracing::info!(read_only = config.read_only, "serving MCP on stdio");
            let running = sidecar
                .clone()
                .serve(galley_sidecar::stdio::transport(limits.max_message_bytes))
                .await
                .context("failed to start the stdio transport")?;
            let ct = running.cancellation_token();
            tokio::select! {
                r = running.waiting() => { r.context("stdio transport failed")?; }
                _ = shutdown.cancelled() => { ct.cancel(); }
            }
        }
        Transport::Http(addr) => {
            let policy = Policy::new(
                config.url_token.as_deref(),
                config.allowed_origins.as_deref(),
                config.allowed_hosts.as_deref(),
            )?;
            if !addr.ip().is_loopback() && !policy.requires_token() {
                tracing::warn!(%addr, "listening beyond loopback without GALLEY_URL_TOKEN");
            }
            let listener =
                http::bind(addr).with_context(|| format!("failed to listen on {addr}"))?;
            let local = listener.local_addr()?;
            let app = http::app(sidecar.clone(), policy, &limits, shutdown.clone());
            // The "ready" line tests and supervisors wait for (with the real port when ADDR used :0).
            tracing::info!(addr = %local, read_only = config.read_only, token_required = config.url_token.is_some(), "ready: serving MCP at /mcp");
            http::serve(
                listener,
                app,
                &limits,
                async move { shutdown.cancelled().await },
            )
            .await?;
        }
    }
    // A run whose request was cancelled by the shutdown (or a closed stdin) is interrupting
    // Terraform so the provider cancels its job: let it finish that rather than kill it.
    sidecar.wait_idle(SHUTDOWN_GRACE).await;
    Ok(())
}
