//! The job runner: one task per job. It waits for the stack's previous job, unzips the job's
//! configuration into `<data>/stacks/<stack>/work/<job>/`, puts the stack's state in place,
//! runs `terraform init` and the operation, logs every output line, saves the state back and
//! records the outcome.
//!
//! Resource Manager injects `region`, `compartment_ocid` and `tenancy_ocid` (and
//! `current_user_ocid`) as Terraform variables next to the stack's own; here they are passed
//! as `TF_VAR_*`, which terraform ignores for undeclared variables, as RM's injection is.
//! A stack variable of the same name wins.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

use super::logs::{Level, LogWriter};
use super::model::{FailureDetails, JobState, Operation, PlanStrategy, StoredJob};
use super::prepare::{Prepared, prepare};
use super::{INTERRUPTED_MESSAGE, JobControl, saved_plan, zipdir};
use crate::app::AppState;
use crate::process;
use crate::store;

/// How a job ended.
enum Outcome {
    Succeeded,
    Failed { code: &'static str, message: String },
    Canceled,
    Interrupted,
}

impl Outcome {
    fn failed(code: &'static str, message: impl Into<String>) -> Self {
        Outcome::Failed {
            code,
            message: message.into(),
        }
    }
}

/// How one terraform command ended.
pub(super) enum StepEnd {
    Success,
    Failed,
    Canceled,
    Interrupted,
}

/// Runs job `job_id` to completion.
pub async fn run(state: AppState, job_id: String, ctl: JobControl) {
    let rm = state.rm();
    let log = match LogWriter::open(&rm.job_dir(&job_id).join("logs.jsonl")) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            tracing::error!(job = %job_id, error = %e, "failed to open the job log");
            finish(
                &state,
                &job_id,
                Outcome::failed(
                    "INTERNAL_SERVICE_ERROR",
                    format!("failed to open the job log: {e}"),
                ),
            );
            return;
        }
    };
    let Some(job) = rm.job(&job_id) else { return };
    let lock = rm.stack_lock(&job.api.stack_id);
    let shutdown = state.shutdown_token().clone();
    let guard = tokio::select! {
        g = lock.lock_owned() => Some(g),
        _ = ctl.cancel.cancelled() => None,
        _ = shutdown.cancelled() => None,
    };
    let outcome = match guard {
        None if shutdown.is_cancelled() => Outcome::Interrupted,
        None => Outcome::Canceled,
        Some(_guard) if ctl.cancel.is_cancelled() => Outcome::Canceled,
        Some(_guard) => {
            let started = rm.update_job(&job_id, |j| {
                if j.api.lifecycle_state == JobState::Accepted {
                    j.api.lifecycle_state = JobState::InProgress;
                }
            });
            match started {
                Ok(Some(job)) => match prepare(&state, &job, &log).await {
                    Ok(prepared) => {
                        let exec = Execution {
                            state: &state,
                            job: &job,
                            log: log.clone(),
                            ctl: &ctl,
                            prepared: &prepared,
                        };
                        exec.execute().await
                    }
                    Err(failure) => Outcome::failed(failure.code, failure.message),
                },
                Ok(None) => return,
                Err(e) => Outcome::failed("INTERNAL_SERVICE_ERROR", e.to_string()),
            }
        }
    };
    match &outcome {
        Outcome::Succeeded => log.line(Level::Info, "Job succeeded."),
        Outcome::Failed { .. } => log.line(Level::Error, "Job failed."),
        Outcome::Canceled => log.line(Level::Info, "Job canceled."),
        Outcome::Interrupted => log.line(Level::Error, INTERRUPTED_MESSAGE),
    }
    finish(&state, &job_id, outcome);
}

fn finish(state: &AppState, job_id: &str, outcome: Outcome) {
    let rm = state.rm();
    let result = rm.update_job(job_id, |j| {
        j.api.time_finished = Some(crate::clock::now());
        match outcome {
            Outcome::Succeeded => j.api.lifecycle_state = JobState::Succeeded,
            Outcome::Canceled => j.api.lifecycle_state = JobState::Canceled,
            Outcome::Failed { code, message } => {
                j.api.lifecycle_state = JobState::Failed;
                j.api.failure_details = Some(FailureDetails {
                    code: code.to_owned(),
                    message,
                });
            }
            Outcome::Interrupted => {
                j.api.lifecycle_state = JobState::Failed;
                j.api.failure_details = Some(FailureDetails {
                    code: "INTERNAL_SERVICE_ERROR".to_owned(),
                    message: INTERRUPTED_MESSAGE.to_owned(),
                });
            }
        }
    });
    if let Err(e) = result {
        tracing::error!(job = %job_id, error = %e, "failed to record the end of a job");
    }
    rm.drop_control(job_id);
    if let Some(job) = rm.job(job_id) {
        tracing::info!(job = %job_id, state = ?job.api.lifecycle_state, "job finished");
    }
}

/// One run of terraform commands for a job (drift detection runs its commands through it too,
/// as a job of the stack would, so both see the same environment).
pub(super) struct Execution<'a> {
    pub(super) state: &'a AppState,
    pub(super) job: &'a StoredJob,
    pub(super) log: Arc<LogWriter>,
    pub(super) ctl: &'a JobControl,
    /// The Terraform binary and CLI configuration the job runs with.
    pub(super) prepared: &'a Prepared,
}

impl Execution<'_> {
    async fn execute(&self) -> Outcome {
        let rm = self.state.rm();
        let job = &self.job.api;
        let job_dir = rm.job_dir(&job.id);
        let stack_dir = rm.stack_dir(&job.stack_id);
        let stack_state = stack_dir.join("tfstate.json");

        if job.operation == Operation::ImportTfState {
            return self.import_state(&job_dir, &stack_state);
        }

        let work = stack_dir.join("work").join(&job.id);
        let zip = match store::read(&job_dir.join("config.zip")) {
            Ok(z) => z,
            Err(e) => return Outcome::failed("INTERNAL_SERVICE_ERROR", e.to_string()),
        };
        let _ = std::fs::remove_dir_all(&work);
        // TERRAFORM_CONFIG_UNZIP_FAILED for every refusal, limits included: it is Resource
        // Manager's code for a ZIP_UPLOAD configuration it cannot unpack (its size codes are
        // for Object Storage sources), and SDKs map codes they do not know to
        // UNKNOWN_ENUM_VALUE.
        if let Err(e) = zipdir::extract_into(&zip, &work, self.state.config().extract) {
            self.log.line(Level::Error, &e.to_string());
            return Outcome::failed("TERRAFORM_CONFIG_UNZIP_FAILED", e.to_string());
        }
        let wd = match &job.working_directory {
            Some(w) => work.join(w),
            None => work.clone(),
        };
        if !zipdir::has_terraform_files(&wd) {
            let msg = format!(
                "Terraform config file is missing in zip file: no .tf or .tf.json file in the working directory {:?} of the configuration",
                job.working_directory.as_deref().unwrap_or("(zip root)")
            );
            self.log.line(Level::Error, &msg);
            return Outcome::failed("INVALID_WORKING_DIRECTORY", msg);
        }
        let local_state = wd.join("terraform.tfstate");
        if stack_state.exists() {
            if let Err(e) = std::fs::copy(&stack_state, &local_state) {
                return Outcome::failed(
                    "INTERNAL_SERVICE_ERROR",
                    format!("failed to put the stack's state in place: {e}"),
                );
            }
            if job.operation == Operation::Plan {
                let _ = std::fs::copy(&stack_state, job_dir.join("tfstate.json"));
            }
        }

        // A saved plan applies only to the configuration it was made from.
        let mut plan_file = None;
        if job.operation == Operation::Apply
            && job.job_operation_details.execution_plan_strategy != Some(PlanStrategy::AutoApproved)
        {
            let Some(plan_id) = &job.resolved_plan_job_id else {
                return Outcome::failed("TERRAFORM_EXECUTION_ERROR", "no plan job to apply");
            };
            let Some(plan) = rm.job(plan_id) else {
                return Outcome::failed(
                    "TERRAFORM_EXECUTION_ERROR",
                    format!("plan job {plan_id} no longer exists"),
                );
            };
            if let Some(stale) = saved_plan::stale(rm, &plan, self.job) {
                stale.log(&self.log);
                return Outcome::failed("TERRAFORM_EXECUTION_ERROR", stale.message());
            }
            let file = rm.job_dir(plan_id).join("plan.tfplan");
            if !file.exists() {
                return Outcome::failed(
                    "TERRAFORM_EXECUTION_ERROR",
                    format!("plan job {plan_id} has no saved plan"),
                );
            }
            // Same provider selections as the plan.
            let plan_work = stack_dir.join("work").join(plan_id);
            let lock_file = match &job.working_directory {
                Some(w) => plan_work.join(w),
                None => plan_work,
            }
            .join(".terraform.lock.hcl");
            if lock_file.exists() {
                let _ = std::fs::copy(&lock_file, wd.join(".terraform.lock.hcl"));
            }
            plan_file = Some(file);
        }

        let mut init: Vec<OsString> =
            vec!["init".into(), "-input=false".into(), "-no-color".into()];
        if job.is_provider_upgrade_required {
            init.push("-upgrade".into());
        }
        match self.terraform(&wd, init).await {
            StepEnd::Success => {}
            other => return self.step_outcome(other),
        }
        if self.ctl.cancel.is_cancelled() {
            return Outcome::Canceled;
        }

        let mut args: Vec<OsString> = Vec::new();
        let options = job
            .job_operation_details
            .terraform_advanced_options
            .clone()
            .unwrap_or_default();
        match job.operation {
            Operation::Plan => {
                args.extend(["plan".into(), "-input=false".into(), "-no-color".into()]);
                let mut out = OsString::from("-out=");
                out.push(job_dir.join("plan.tfplan"));
                args.push(out);
            }
            Operation::Apply => {
                args.extend(["apply".into(), "-input=false".into(), "-no-color".into()]);
                if plan_file.is_none() {
                    args.push("-auto-approve".into());
                }
            }
            Operation::Destroy => {
                args.extend([
                    "destroy".into(),
                    "-input=false".into(),
                    "-no-color".into(),
                    "-auto-approve".into(),
                ]);
            }
            Operation::ImportTfState => unreachable!("handled above"),
        }
        // A saved plan already fixed refresh; terraform rejects -refresh with a plan file.
        if plan_file.is_none() && options.is_refresh_required == Some(false) {
            args.push("-refresh=false".into());
        }
        if let Some(p) = options.parallelism {
            args.push(format!("-parallelism={p}").into());
        }
        if let Some(file) = &plan_file {
            args.push(file.into());
        }
        let end = self.terraform(&wd, args).await;

        if job.operation.writes_state() && local_state.exists() {
            // Saved whatever the outcome: a failed apply's partial state is still the truth.
            if let Err(e) = std::fs::read(&local_state)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    store::write_atomic(&stack_state, &bytes)
                        .and_then(|_| store::write_atomic(&job_dir.join("tfstate.json"), &bytes))
                        .map_err(|e| e.to_string())
                })
            {
                self.log
                    .line(Level::Error, &format!("failed to save the state: {e}"));
                return Outcome::failed(
                    "INTERNAL_SERVICE_ERROR",
                    format!("failed to save the state: {e}"),
                );
            }
        }
        self.step_outcome(end)
    }

    fn step_outcome(&self, end: StepEnd) -> Outcome {
        match end {
            StepEnd::Success => Outcome::Succeeded,
            StepEnd::Canceled => Outcome::Canceled,
            StepEnd::Interrupted => Outcome::Interrupted,
            StepEnd::Failed => {
                let summary = self.log.failure_summary();
                let message = if summary.is_empty() {
                    "terraform failed without output".to_owned()
                } else {
                    summary
                };
                Outcome::failed("TERRAFORM_EXECUTION_ERROR", message)
            }
        }
    }

    fn import_state(&self, job_dir: &Path, stack_state: &Path) -> Outcome {
        self.log
            .line(Level::Info, "Importing the Terraform state file.");
        let result = store::read(&job_dir.join("import.tfstate")).and_then(|bytes| {
            store::write_atomic(stack_state, &bytes)?;
            store::write_atomic(&job_dir.join("tfstate.json"), &bytes)
        });
        match result {
            Ok(()) => Outcome::Succeeded,
            Err(e) => Outcome::failed("INTERNAL_SERVICE_ERROR", e.to_string()),
        }
    }

    /// The environment of every terraform command of the job.
    pub(super) fn command(&self, wd: &Path, args: &[OsString]) -> Command {
        let config = self.state.config();
        let job = &self.job.api;
        let mut cmd = Command::new(&self.prepared.terraform);
        cmd.args(args)
            .current_dir(wd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The engine's own terraform settings must not leak into jobs.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("TF_VAR_")
                || k.starts_with("TF_CLI_ARGS")
                || matches!(
                    &*k,
                    "TF_DATA_DIR" | "TF_WORKSPACE" | "TF_LOG" | "TF_LOG_PATH"
                )
            {
                cmd.env_remove(&key);
            }
        }
        cmd.env("TF_IN_AUTOMATION", "1").env("TF_INPUT", "0");
        if let Some(cli_config) = self
            .prepared
            .cli_config
            .as_ref()
            .or(config.terraform_cli_config.as_ref())
        {
            cmd.env("TF_CLI_CONFIG_FILE", cli_config);
        }
        if std::env::var_os("TF_PLUGIN_CACHE_DIR").is_none() {
            let cache = self.state.rm().plugin_cache_dir();
            if std::fs::create_dir_all(&cache).is_ok() {
                cmd.env("TF_PLUGIN_CACHE_DIR", cache);
            }
        }
        if let Some(level) = job
            .job_operation_details
            .terraform_advanced_options
            .as_ref()
            .and_then(|o| o.detailed_log_level.as_deref())
        {
            cmd.env("TF_LOG", level);
        }
        cmd.env("TF_VAR_region", &config.region)
            .env("TF_VAR_compartment_ocid", &job.compartment_id);
        if let Some(t) = &self.job.galley.tenancy_ocid {
            cmd.env("TF_VAR_tenancy_ocid", t);
        }
        if let Some(u) = &self.job.galley.user_ocid {
            cmd.env("TF_VAR_current_user_ocid", u);
        }
        for (name, value) in &job.variables {
            cmd.env(format!("TF_VAR_{name}"), value);
        }
        process::isolate(&mut cmd);
        cmd
    }

    /// Runs one terraform command, logging its output, honouring cancel and shutdown.
    pub(super) async fn terraform(&self, wd: &Path, args: Vec<OsString>) -> StepEnd {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        self.log.line(
            Level::Info,
            &format!("Running: terraform {}", shown.join(" ")),
        );
        let mut child = match self.command(wd, &args).spawn() {
            Ok(c) => c,
            Err(e) => {
                self.log.line(
                    Level::Error,
                    &format!("failed to start {}: {e}", self.prepared.terraform.display()),
                );
                return StepEnd::Failed;
            }
        };
        let pid = child.id().unwrap_or(0);
        let pumps = [
            child
                .stdout
                .take()
                .map(|s| tokio::spawn(pump(s, self.log.clone(), Level::Info))),
            child
                .stderr
                .take()
                .map(|s| tokio::spawn(pump(s, self.log.clone(), Level::Error))),
        ];

        let shutdown = self.state.shutdown_token();
        let grace = self.state.config().cancel_grace;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let mut reason: Option<StepEnd> = None;
        let mut kill_at = far;
        let mut killed = false;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = self.ctl.cancel.cancelled(), if reason.is_none() => {
                    self.log.line(Level::Info, "Cancel requested: interrupting terraform.");
                    process::signal_group(pid, process::SIGINT);
                    reason = Some(StepEnd::Canceled);
                    kill_at = Instant::now() + grace;
                }
                _ = shutdown.cancelled(), if reason.is_none() => {
                    process::signal_group(pid, process::SIGINT);
                    reason = Some(StepEnd::Interrupted);
                    kill_at = Instant::now() + grace;
                }
                _ = self.ctl.force.cancelled(), if !killed => {
                    process::signal_group(pid, process::SIGKILL);
                    killed = true;
                }
                _ = tokio::time::sleep_until(kill_at), if !killed && reason.is_some() => {
                    self.log.line(Level::Error, "terraform did not stop within the grace period: killing it.");
                    process::signal_group(pid, process::SIGKILL);
                    killed = true;
                }
            }
        };
        // Providers or provisioners left behind must not outlive the step.
        process::signal_group(pid, process::SIGKILL);
        for pump in pumps.into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
        }
        match (reason, status) {
            (Some(r), _) => r,
            (None, Ok(s)) if s.success() => StepEnd::Success,
            (None, Ok(s)) => {
                self.log
                    .line(Level::Error, &format!("terraform exited with {s}"));
                StepEnd::Failed
            }
            (None, Err(e)) => {
                self.log
                    .line(Level::Error, &format!("failed to wait for terraform: {e}"));
                StepEnd::Failed
            }
        }
    }
}

/// Copies lines of a child's output into the job log as they arrive.
async fn pump(stream: impl AsyncRead + Unpin, log: Arc<LogWriter>, level: Level) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => log.line(level, &String::from_utf8_lossy(&buf)),
        }
    }
}
