//! What a job settles before its first terraform command, and says in its first log lines:
//! which Terraform binary runs it ([`super::terraforms`]) and, for a stack with
//! `customTerraformProvider`, the providers installed from the bucket and the CLI
//! configuration that finds them ([`super::providers`]).

use std::path::PathBuf;

use super::logs::{Level, LogWriter};
use super::model::{Operation, StoredJob};
use super::providers::{self, BucketRef, InstallFailure};
use super::terraforms;
use crate::app::AppState;

/// How the job's terraform commands run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The binary.
    pub terraform: PathBuf,
    /// `TF_CLI_CONFIG_FILE` when the job has its own (custom providers); otherwise the
    /// engine's.
    pub cli_config: Option<PathBuf>,
}

impl Prepared {
    /// The engine's defaults, for jobs that run no terraform (IMPORT_TF_STATE).
    fn defaults(state: &AppState) -> Self {
        Prepared {
            terraform: state.config().terraform.clone(),
            cli_config: None,
        }
    }
}

/// Chooses the job's Terraform and installs its custom providers, logging both first.
pub async fn prepare(
    state: &AppState,
    job: &StoredJob,
    log: &LogWriter,
) -> Result<Prepared, InstallFailure> {
    if job.api.operation == Operation::ImportTfState {
        return Ok(Prepared::defaults(state));
    }
    let stack = state.rm().stack(&job.api.stack_id);
    let requested = stack
        .as_ref()
        .map_or(super::stacks::DEFAULT_TERRAFORM_VERSION, |s| {
            s.terraform_version.as_str()
        });
    let choice = terraforms::choose(state.config(), requested).await;
    for line in choice.log_lines() {
        log.line(Level::Info, &line);
    }
    let mut prepared = Prepared {
        terraform: choice.path,
        cli_config: None,
    };
    let Some(bucket) = stack.as_ref().and_then(BucketRef::of) else {
        return Ok(prepared);
    };
    log.line(Level::Info, providers::GETTING_PROVIDERS);
    let rm = state.rm();
    match providers::install(state, &bucket, &rm.job_dir(&job.api.id)).await {
        Ok(installed) => {
            for line in installed.log_lines(&bucket) {
                log.line(Level::Info, &line);
            }
            tracing::info!(
                job = %job.api.id,
                providers = installed.providers.len(),
                bytes = installed.bytes,
                millis = installed.elapsed.as_millis() as u64,
                "installed custom providers"
            );
            prepared.cli_config = Some(installed.cli_config);
            Ok(prepared)
        }
        Err(failure) => {
            log.line(Level::Error, &failure.message);
            Err(failure)
        }
    }
}
