//! The real `Runner`: a small root module next to the session's stack that manages it as one
//! `galley_session` resource, and the `terraform` CLI run there with the Galley provider taken
//! from a local directory through `dev_overrides` (no registry involved).
//!
//! How the operations map onto the resource:
//! - plan: `operation = "plan"` is applied (the stack is created or updated with the files and
//!   a Resource Manager PLAN job runs: its summary and log are what the user reviews). That
//!   job's id is the result: the plan token binds it, with the variables file.
//! - apply: `operation = "apply"` with `plan_job_id` set to the reviewed job: one APPLY job runs
//!   `FROM_PLAN_JOB_ID`, no new PLAN job; the provider refuses a job that no longer describes
//!   the stack (files, variables, folder changed, or another job ran since).
//! - destroy preview: `plan -destroy` is saved, and the resources the stack's state holds are
//!   listed (what its DESTROY job removes); destroy applies that saved plan.
//! - drift: Resource Manager's drift detection on the stack, asked directly (no Terraform run).
//!
//! A plan or an apply is one Terraform run (`apply -auto-approve`; a first plan saves its plan
//! first, see `plan`): the root module's `prevent_destroy` makes Terraform refuse a replacement
//! of the stack, which is what a review of the outer plan was for; the root module's state is
//! read where Terraform keeps it (see `state`), so no `terraform show` runs. Jobs' progress, log lines, Terraform errors and
//! resource counts come from the job events of the provider's log (`TF_LOG_PROVIDER=INFO`, see
//! `lines`). Every line is streamed out as an event and kept in
//! `<op>.log` in the work directory. Cancellation sends SIGINT, so Terraform asks the provider to
//! stop, which cancels the running job.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use galley_contract::env::WORK_COMPARTMENT_ID;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use galley_contract::job_event::{Failure, FollowEnd, JobEvent, JobEventKind};

use super::child::{self, ChildEvent};
use super::lines::{self, Line};
use super::output::{Diagnostic, Origin, PlanSummary};
use super::state::{self, ADDRESS, SessionState};
use super::{
    DriftReport, Events, JobStatus, RunEvent, RunOutcome, RunRequest, Runner, RunnerError,
    SESSION_TAG,
};
use crate::hcl::{self, Block, Expr, Item};
use crate::oci::ResourceManager;
use crate::store::write_atomic;

/// The provider's source address, as the root module requires it.
pub const PROVIDER_SOURCE: &str = "galley-dev/galley";
/// How many log lines a result carries.
const LOG_TAIL_LINES: usize = 40;
/// Lines kept for parsing; older ones are dropped beyond this many.
const MAX_KEPT_LINES: usize = 20_000;
/// How long Terraform gets to stop after SIGINT before it is killed. The provider cancels the
/// job and waits for it to end, which takes a while on a real Resource Manager.
const INTERRUPT_GRACE: Duration = Duration::from_secs(180);
/// Longest detail kept of one diagnostic of the sidecar's own run.
const MAX_DETAIL: usize = 1_500;

/// How long `terraform init` of the state backend may take.
const INIT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a recovering run waits for the jobs a dead run left to end once cancelled.
const RECOVER_WAIT: Duration = Duration::from_secs(180);

/// Every `http` backend setting Terraform reads from the environment: only the runner's own
/// reach a run.
const HTTP_BACKEND_ENV: [&str; 12] = [
    "TF_HTTP_ADDRESS",
    "TF_HTTP_UPDATE_METHOD",
    "TF_HTTP_LOCK_ADDRESS",
    "TF_HTTP_LOCK_METHOD",
    "TF_HTTP_UNLOCK_ADDRESS",
    "TF_HTTP_UNLOCK_METHOD",
    "TF_HTTP_USERNAME",
    "TF_HTTP_PASSWORD",
    "TF_HTTP_SKIP_CERT_VERIFICATION",
    "TF_HTTP_RETRY_MAX",
    "TF_HTTP_RETRY_WAIT_MIN",
    "TF_HTTP_RETRY_WAIT_MAX",
];

/// How long a drift detection may take (a refresh of every resource of the stack).
const DRIFT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The variables of a run (root module and stack), written by a plan and kept for its apply.
pub const VARIABLES_FILE: &str = "galley.auto.tfvars.json";

/// The saved plans.
const REVIEW_PLAN: &str = "review.tfplan";
const APPLY_PLAN: &str = "plan.tfplan";
const DESTROY_PLAN: &str = "destroy.tfplan";

/// Runs the `terraform` CLI against the Galley provider.
#[derive(Debug, Clone)]
pub struct TerraformRunner {
    terraform: PathBuf,
    provider_dir: PathBuf,
    rm: ResourceManager,
}

/// A job seen in a run.
#[derive(Debug, Clone)]
struct JobSeen {
    id: String,
    operation: String,
    state: String,
    /// What its `job_finished` event said, once it came.
    end: Option<JobEnd>,
}

#[derive(Debug, Clone)]
struct JobEnd {
    ending: FollowEnd,
    failure: Option<Failure>,
    summary: Option<PlanSummary>,
}

impl JobSeen {
    /// Following ended and the job did not succeed.
    fn failed(&self) -> bool {
        self.end
            .as_ref()
            .is_some_and(|e| e.ending != FollowEnd::Finished || self.state != "SUCCEEDED")
    }

    /// How the job ended, in the sidecar's words, from the event's fields.
    fn report(&self) -> Option<String> {
        let end = self.end.as_ref()?;
        let (op, id, state) = (&self.operation, &self.id, &self.state);
        Some(match (end.ending, &end.failure) {
            (FollowEnd::Finished, Some(f)) => {
                format!("{op} job {id} ended {state}: {}: {}", f.code, f.message)
            }
            (FollowEnd::Finished, None) => format!("{op} job {id} ended {state}."),
            (FollowEnd::Interrupted, _) => {
                format!("{op} job {id} was cancelled as the run was interrupted; it is {state}.")
            }
            (FollowEnd::TimedOut, _) => {
                format!("{op} job {id} did not finish in time and was cancelled; it is {state}.")
            }
            (FollowEnd::Unreachable, _) => {
                format!("Lost track of {op} job {id} (last seen {state}); it may still be running.")
            }
        })
    }
}

/// Everything one operation's Terraform runs printed, classified.
struct Transcript {
    log: Option<std::fs::File>,
    /// Terraform's messages (UI and other text), for the log tail when no job ran.
    messages: VecDeque<String>,
    /// Job log lines with their job id.
    job_lines: VecDeque<(String, String)>,
    /// The stack's errors, from the jobs' `job_error` events.
    stack_errors: Vec<Diagnostic>,
    /// Error diagnostics of Terraform's UI, and the runner's own.
    errors: Vec<Diagnostic>,
    jobs: Vec<JobSeen>,
    stack_id: Option<String>,
    cancelled: bool,
    /// How many times the operation started the `terraform` CLI.
    runs: u32,
}

fn keep<T>(q: &mut VecDeque<T>, item: T) {
    q.push_back(item);
    if q.len() > MAX_KEPT_LINES {
        q.pop_front();
    }
}

/// At most [`MAX_DETAIL`] bytes of `detail`.
fn trim_detail(detail: &str) -> String {
    let mut d = detail.trim().to_string();
    if d.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !d.is_char_boundary(end) {
            end -= 1;
        }
        d.truncate(end);
        d.push_str("...");
    }
    d
}

impl Transcript {
    fn new(path: &Path) -> Self {
        let log = std::fs::File::create(path)
            .map_err(
                |e| tracing::warn!(path = %path.display(), error = %e, "cannot write the run log"),
            )
            .ok();
        Transcript {
            log,
            messages: VecDeque::new(),
            job_lines: VecDeque::new(),
            stack_errors: Vec::new(),
            errors: Vec::new(),
            jobs: Vec::new(),
            stack_id: None,
            cancelled: false,
            runs: 0,
        }
    }

    fn note(&mut self, text: &str) {
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{text}");
        }
    }

    fn set_job_state(
        &mut self,
        job_id: &str,
        operation: Option<&str>,
        state: &str,
        events: &Events,
    ) {
        let job = match self.jobs.iter_mut().find(|j| j.id == job_id) {
            Some(j) => j,
            None => {
                self.jobs.push(JobSeen {
                    id: job_id.to_string(),
                    operation: operation.unwrap_or_default().to_string(),
                    state: String::new(),
                    end: None,
                });
                let last = self.jobs.len() - 1;
                &mut self.jobs[last]
            }
        };
        if job.operation.is_empty() {
            job.operation = operation.unwrap_or_default().to_string();
        }
        if job.state != state {
            job.state = state.to_string();
            let _ = events.send(RunEvent::JobState {
                job_id: job.id.clone(),
                operation: job.operation.clone(),
                state: state.to_string(),
            });
        }
    }

    /// Takes one line of output; forwards what a user would want to follow.
    fn take(&mut self, raw: &str, stdout: bool, events: &Events) {
        self.note(raw);
        match lines::classify(raw, stdout) {
            Line::Ui {
                message,
                kind,
                diagnostic,
            } => {
                if let Some(d) = diagnostic
                    && d.error
                {
                    self.errors.push(d.diagnostic);
                }
                if kind != "version" {
                    let _ = events.send(RunEvent::Log(message.clone()));
                    keep(&mut self.messages, message);
                }
            }
            Line::Planned { message, .. } => {
                let _ = events.send(RunEvent::Log(message.clone()));
                keep(&mut self.messages, message);
            }
            Line::Job(event) => self.job_event(event, events),
            Line::Other(text) => {
                // Plugin and core log lines are for the run log only.
                let is_log = text
                    .split(' ')
                    .nth(1)
                    .is_some_and(|w| w.starts_with('[') && w.ends_with(']') && w.len() > 2);
                if !is_log && !text.trim().is_empty() {
                    let _ = events.send(RunEvent::Log(text.clone()));
                    keep(&mut self.messages, text);
                }
            }
        }
    }

    fn job_event(&mut self, event: JobEvent, events: &Events) {
        let JobEvent {
            job_id,
            operation,
            stack_id,
            kind,
        } = event;
        if stack_id.is_some() {
            self.stack_id = stack_id;
        }
        let operation = operation.as_deref();
        match kind {
            JobEventKind::Started { state } | JobEventKind::StateChanged { state } => {
                self.set_job_state(&job_id, operation, &state, events);
            }
            JobEventKind::Log { text } => {
                // Log lines mean the job runs, even before a status read says so.
                let known = self.jobs.iter().find(|j| j.id == job_id);
                if known.is_none_or(|j| j.state == "ACCEPTED") {
                    self.set_job_state(&job_id, operation, "IN_PROGRESS", events);
                }
                let op = self
                    .jobs
                    .iter()
                    .find(|j| j.id == job_id)
                    .map(|j| j.operation.clone())
                    .unwrap_or_default();
                let _ = events.send(RunEvent::Log(format!("[{op} job] {text}")));
                keep(&mut self.job_lines, (job_id, text));
            }
            JobEventKind::Error(e) => self.stack_errors.push(Diagnostic::from_stack(&e)),
            JobEventKind::Cancelling { .. } => {
                self.set_job_state(&job_id, operation, "CANCELING", events);
            }
            JobEventKind::Finished {
                state,
                ending,
                failure,
                summary,
            } => {
                self.set_job_state(&job_id, operation, &state, events);
                if let Some(job) = self.jobs.iter_mut().find(|j| j.id == job_id) {
                    job.end = Some(JobEnd {
                        ending,
                        failure,
                        summary,
                    });
                }
            }
        }
    }

    fn last_job(&self) -> Option<&JobSeen> {
        self.jobs.last()
    }

    /// Lines of the last job's log, or Terraform's messages when no job logged anything.
    fn tail(&self) -> Vec<String> {
        let job_lines: Vec<&String> = match self.last_job() {
            Some(j) => self
                .job_lines
                .iter()
                .filter(|(id, _)| *id == j.id)
                .map(|(_, l)| l)
                .collect(),
            None => Vec::new(),
        };
        let source: Vec<&String> = if job_lines.is_empty() {
            self.messages.iter().collect()
        } else {
            job_lines
        };
        let skip = source.len().saturating_sub(LOG_TAIL_LINES);
        source.into_iter().skip(skip).cloned().collect()
    }

    /// The errors of the run: the stack's (from the jobs' events) first, then the runner's.
    /// A runner diagnostic that names a job which did not succeed is the provider's report of
    /// it (which repeats the stack's errors and the log the result carries anyway): its detail
    /// becomes the job's end as the events tell it. Others keep their detail, trimmed.
    fn all_errors(&self) -> Vec<Diagnostic> {
        let mut errors = self.stack_errors.clone();
        errors.extend(self.errors.iter().map(|d| {
            let report = self
                .jobs
                .iter()
                .rev()
                .filter(|j| j.failed() && d.detail.contains(&j.id))
                .find_map(JobSeen::report);
            Diagnostic {
                detail: trim_detail(report.as_deref().unwrap_or(&d.detail)),
                ..d.clone()
            }
        }));
        errors
    }

    /// The resource counts of the last job of one operation (PLAN, DESTROY...) that had them.
    fn job_summary(&self, operation: &str) -> Option<PlanSummary> {
        self.jobs
            .iter()
            .rev()
            .filter(|j| j.operation == operation)
            .find_map(|j| j.end.as_ref()?.summary)
    }

    fn runner_error(&mut self, summary: &str, detail: String) {
        self.note(&format!("Error: {summary}: {detail}"));
        self.errors.push(Diagnostic {
            summary: summary.to_string(),
            detail,
            file: None,
            line: None,
            origin: Origin::Runner,
        });
    }
}

/// Whether `terraform init` configured the `http` backend in `work_dir`.
fn backend_ready(work_dir: &Path) -> bool {
    std::fs::read_to_string(work_dir.join(".terraform/terraform.tfstate"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .is_some_and(|v| v["backend"]["type"] == "http")
}

/// What looking for the session's stack before creating one came to.
enum Adoption {
    /// No stack carries the session's tag: the plan creates it.
    Nothing,
    /// The session's stack was imported into the runner's state.
    Imported,
    /// The plan must stop (the transcript says why).
    Refused,
}

/// Terraform's summary of the error `prevent_destroy` raises (the same from 0.12 to 1.15).
const PREVENTED_DESTROY: &str = "Instance cannot be destroyed";

/// After a run refused by the root module's `prevent_destroy` (the plan would replace the
/// stack), says why and what to do instead.
fn explain_kept_stack(t: &mut Transcript) {
    if !t.errors.iter().any(|e| e.summary == PREVENTED_DESTROY) {
        return;
    }
    t.runner_error(
        "The stack would be replaced",
        "Terraform plans to delete and create the Resource Manager stack (its compartment \
         changed?), which destroys what it deployed. Destroy the session's stack first \
         (run_terraform_plan with destroy=true, then run_terraform_destroy), or keep the \
         compartment."
            .into(),
    );
}

impl TerraformRunner {
    /// `terraform` is the CLI to run; `provider_dir` holds `terraform-provider-galley`; `rm` is
    /// the Resource Manager access whose settings the provider is given too.
    pub fn new(terraform: PathBuf, provider_dir: PathBuf, rm: ResourceManager) -> Self {
        TerraformRunner {
            terraform,
            provider_dir,
            rm,
        }
    }

    /// The root module: one `galley_session` managing the session's stack directory, tagged
    /// with the session's id; with `remote_state`, its state in the `http` backend (configured
    /// by the environment, see `RemoteState::env`).
    /// With `keep_stack`, the resource has `prevent_destroy`: Terraform itself refuses a plan
    /// that would delete the stack (a replacement), so a plan or an apply can run in one
    /// `apply -auto-approve` (destroy previews and destroys are written without it).
    pub fn root_module(remote_state: bool, keep_stack: bool) -> String {
        let var = |name: &str, ty: &str, description: &str, default: Option<Expr>| {
            let mut b = Block::new("variable", &[name])
                .attr("description", Expr::str(description))
                .attr("type", Expr::raw(ty));
            if let Some(d) = default {
                b = b.attr("default", d);
            }
            Item::Block(b)
        };
        let output = |name: &str, value: &str| {
            Item::Block(Block::new("output", &[name]).attr("value", Expr::raw(value)))
        };
        hcl::render(&[
            Item::Comment(
                "Written by galley-sidecar: the session's stack as one Resource Manager stack."
                    .into(),
            ),
            Item::Block({
                let terraform =
                    Block::new("terraform", &[]).block(Block::new("required_providers", &[]).attr(
                        "galley",
                        Expr::Object(vec![("source".into(), Expr::str(PROVIDER_SOURCE))]),
                    ));
                if remote_state {
                    terraform.block(Block::new("backend", &["http"]))
                } else {
                    terraform
                }
            }),
            var("session_id", "string", "The sidecar session.", None),
            var(
                "compartment_ocid",
                "string",
                &format!("Compartment of the stack; null: {WORK_COMPARTMENT_ID}."),
                Some(Expr::raw("null")),
            ),
            var(
                "stack_variables",
                "map(string)",
                "Variables of the stack, passed to Resource Manager.",
                Some(Expr::Object(vec![])),
            ),
            var(
                "operation",
                "string",
                "plan: a PLAN job only; apply: an APPLY job (of plan_job_id when set).",
                Some(Expr::str("apply")),
            ),
            var(
                "plan_job_id",
                "string",
                "With operation = apply: the reviewed PLAN job to apply exactly.",
                Some(Expr::raw("null")),
            ),
            // Settings come from the environment the sidecar passes on (OCI_*, GALLEY_*).
            Item::Block(Block::new("provider", &["galley"])),
            Item::Block(
                Block::new("resource", &["galley_session", "this"])
                    .attr("compartment_id", Expr::raw("var.compartment_ocid"))
                    .attr("display_name", Expr::raw("\"galley ${var.session_id}\""))
                    .attr(
                        "description",
                        Expr::raw("\"Managed by galley-sidecar, session ${var.session_id}.\""),
                    )
                    .attr(
                        "terraform_dir",
                        Expr::raw("\"${path.module}/../terraform\""),
                    )
                    .attr("variables", Expr::raw("var.stack_variables"))
                    .attr("operation", Expr::raw("var.operation"))
                    .attr("plan_job_id", Expr::raw("var.plan_job_id"))
                    .attr(
                        "freeform_tags",
                        Expr::Object(vec![(SESSION_TAG.into(), Expr::raw("var.session_id"))]),
                    )
                    .block_if(keep_stack, || {
                        Block::new("lifecycle", &[]).attr("prevent_destroy", Expr::raw("true"))
                    }),
            ),
            output("stack_id", "galley_session.this.id"),
            output("last_job_id", "galley_session.this.last_job_id"),
            output("last_job_state", "galley_session.this.last_job_state"),
            output("plan_summary", "galley_session.this.plan_summary"),
            output("stack_outputs", "galley_session.this.outputs"),
        ])
    }

    /// The CLI configuration that points Terraform at the local provider build.
    pub fn cli_config(provider_dir: &Path) -> String {
        format!(
            "provider_installation {{\n  dev_overrides {{\n    {} = {}\n  }}\n  direct {{}}\n}}\n",
            hcl::quote(PROVIDER_SOURCE),
            hcl::quote(&provider_dir.to_string_lossy())
        )
    }

    /// Writes the root module and the CLI configuration (what applying a saved plan needs too:
    /// the work directory may be a fresh cache).
    fn write_root(&self, req: &RunRequest, keep_stack: bool) -> Result<(), RunnerError> {
        std::fs::create_dir_all(&req.work_dir).map_err(|source| RunnerError::Prepare {
            path: req.work_dir.clone(),
            source,
        })?;
        let write = |name: &str, content: &[u8]| {
            let p = req.work_dir.join(name);
            write_atomic(&p, content).map_err(|e| RunnerError::Prepare {
                path: p.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        };
        write(
            "main.tf",
            Self::root_module(req.remote_state.is_some(), keep_stack).as_bytes(),
        )?;
        write(
            "galley.tfrc",
            Self::cli_config(&self.provider_dir).as_bytes(),
        )
    }

    /// Writes the root module, the CLI configuration and the variables of this run.
    fn prepare(&self, req: &RunRequest, keep_stack: bool) -> Result<(), RunnerError> {
        self.write_root(req, keep_stack)?;
        let write = |name: &str, content: &[u8]| {
            let p = req.work_dir.join(name);
            write_atomic(&p, content).map_err(|e| RunnerError::Prepare {
                path: p.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        };
        let mut vars = serde_json::Map::new();
        vars.insert("session_id".into(), req.session_id.clone().into());
        let mut stack_vars: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &req.variables {
            if k == "compartment_ocid" {
                vars.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            // Resource Manager fills these in itself; they are never stack variables.
            if !galley_contract::rm::is_injected(k) {
                stack_vars.insert(k, v);
            }
        }
        vars.insert(
            "stack_variables".into(),
            serde_json::to_value(stack_vars).unwrap_or_default(),
        );
        let json = serde_json::to_vec_pretty(&vars).unwrap_or_default();
        write(VARIABLES_FILE, &json)?;
        Ok(())
    }

    fn command(&self, req: &RunRequest, args: &[&str]) -> Command {
        let work_dir = &req.work_dir;
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(work_dir)
            .env("TF_CLI_CONFIG_FILE", work_dir.join("galley.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            // The provider's log carries the job's progress and log lines (see `lines`).
            .env("TF_LOG_PROVIDER", "INFO");
        for k in [
            "TF_LOG",
            "TF_LOG_CORE",
            "TF_LOG_PATH",
            "TF_CLI_ARGS",
            "TF_CLI_ARGS_plan",
            "TF_CLI_ARGS_apply",
            "TF_WORKSPACE",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in self.rm.settings().vars() {
            cmd.env(k, v);
        }
        for k in HTTP_BACKEND_ENV {
            cmd.env_remove(k);
        }
        if let Some(remote) = &req.remote_state {
            for (k, v) in remote.env() {
                cmd.env(k, v);
            }
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    /// Runs one command, streaming its lines into `t`; true when it exited successfully.
    async fn stream(
        &self,
        req: &RunRequest,
        args: &[&str],
        t: &mut Transcript,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<bool, RunnerError> {
        if cancel.is_cancelled() {
            t.cancelled = true;
            return Ok(false);
        }
        t.note(&format!("$ terraform {}", args.join(" ")));
        tracing::info!(session = %req.session_id, ?args, "running terraform");
        t.runs += 1;
        let started = std::time::Instant::now();
        // A process group of its own, signalled as a whole like Ctrl-C in a terminal signals
        // the foreground group: Terraform up to 1.1 runs under panicwrap, whose parent process
        // ignores SIGINT and leaves it to the group to reach the real Terraform child. The
        // provider survives the signal and waits for Terraform's Stop.
        let child = self
            .command(req, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| RunnerError::Spawn {
                program: self.terraform.display().to_string(),
                source,
            })?;
        let (status, _) = child::supervise(
            child,
            cancel,
            INTERRUPT_GRACE,
            &format!("session {}", req.session_id),
            |event| match event {
                ChildEvent::Line(is_stdout, l) => t.take(&l, is_stdout, events),
                ChildEvent::Interrupted => {
                    t.cancelled = true;
                    t.note("[galley-sidecar] request cancelled: sending SIGINT to terraform");
                }
            },
        )
        .await;
        let ok = status.as_ref().is_ok_and(|s| s.success());
        tracing::info!(session = %req.session_id, command = args[0], ok, elapsed_ms = started.elapsed().as_millis() as u64, "terraform exited");
        t.note(&format!("[galley-sidecar] terraform exited: {status:?}"));
        Ok(ok)
    }

    /// The resource as the root module's state has it; `None` when nothing is in state. Read
    /// where Terraform keeps it, without running Terraform.
    async fn state(&self, req: &RunRequest) -> Result<Option<SessionState>, String> {
        match state::read(&req.work_dir, req.remote_state.as_ref()).await? {
            Some(bytes) => state::parse(&bytes),
            None => Ok(None),
        }
    }

    /// A create that failed leaves the resource tainted, and a tainted resource is replaced
    /// (its stack destroyed) by the next plan. The sidecar keeps one stack per session, so it
    /// clears the mark: the next run reruns the jobs on the same stack.
    async fn untaint(&self, req: &RunRequest, t: &mut Transcript) {
        t.runs += 1;
        let out = self
            .command(req, &["untaint", "-no-color", ADDRESS])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await;
        match out {
            Ok(o) => t.note(&format!(
                "$ terraform untaint {ADDRESS}\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => t.note(&format!("terraform untaint failed to start: {e}")),
        }
    }

    /// With the `http` backend, `terraform init` once per work directory (the cache may be
    /// fresh); then, after a run that died, the jobs it left are ended. False when the run
    /// cannot go on (the transcript says why).
    async fn begin(
        &self,
        req: &RunRequest,
        t: &mut Transcript,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<bool, RunnerError> {
        if req.remote_state.is_some() && !backend_ready(&req.work_dir) {
            if cancel.is_cancelled() {
                t.cancelled = true;
                return Ok(false);
            }
            let _ = events.send(RunEvent::Log(
                "Setting up the runner's state backend (terraform init)".into(),
            ));
            self.init_backend(req, t).await;
            if !backend_ready(&req.work_dir) {
                return Ok(false);
            }
        }
        if req.recover {
            match self.state(req).await {
                Ok(Some(SessionState {
                    stack_id: Some(stack),
                    ..
                })) => return Ok(self.recover(req, &stack, t).await),
                Ok(_) => {}
                Err(e) => {
                    t.runner_error("Cannot read the runner's state", e);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// `terraform init` of the `http` backend. Only the backend is wanted: Terraform up to 1.14
    /// also tries to install the dev-overridden provider from its registry and exits with an
    /// error after the backend is configured, so what decides is [`backend_ready`], and the
    /// output goes to the run log (and the error, when the backend is not ready).
    async fn init_backend(&self, req: &RunRequest, t: &mut Transcript) {
        t.note("$ terraform init -input=false -no-color");
        t.runs += 1;
        let run = self
            .command(req, &["init", "-input=false", "-no-color"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output();
        let (status, text) = match tokio::time::timeout(INIT_TIMEOUT, run).await {
            Ok(Ok(out)) => (
                format!("{}", out.status),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            ),
            Ok(Err(e)) => ("not started".into(), e.to_string()),
            Err(_) => (
                "timed out".into(),
                format!("no answer in {}s", INIT_TIMEOUT.as_secs()),
            ),
        };
        t.note(&text);
        t.note(&format!("[galley-sidecar] terraform init: {status}"));
        if !backend_ready(&req.work_dir) {
            let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(8)..].join("\n");
            t.runner_error(
                "Cannot set up the runner's state backend",
                format!("terraform init ({status}) did not configure the http backend:\n{tail}"),
            );
        }
    }

    /// Cancels the jobs a run that died left on `stack_id`, and waits for them to end.
    async fn recover(&self, req: &RunRequest, stack_id: &str, t: &mut Transcript) -> bool {
        t.note(&format!(
            "[galley-sidecar] the last run of the session stopped unfinished: ending the jobs it left on stack {stack_id}"
        ));
        match self.rm.finish_jobs(stack_id, RECOVER_WAIT).await {
            Ok(jobs) => {
                for (job, state) in jobs {
                    tracing::warn!(session = %req.session_id, %job, %state, "ended a job left by a run that stopped");
                    t.note(&format!(
                        "[galley-sidecar] job {job}, left running by the run that stopped: {state}"
                    ));
                }
                true
            }
            Err(e) => {
                t.runner_error(
                    "Cannot end the jobs of the run that stopped",
                    format!("{e}; try again"),
                );
                false
            }
        }
    }

    /// Before a plan creates a stack: the session may have one already, its runner state lost.
    /// The stack is found by the session's tag in the compartment the plan would create it in,
    /// and imported into the state. Two tagged stacks, or no answer, stop the plan: creating
    /// one more would leave a session with two.
    async fn adopt(
        &self,
        req: &RunRequest,
        t: &mut Transcript,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<Adoption, RunnerError> {
        // Where the plan creates the stack: the root module's compartment_ocid, else the
        // provider's default (the same setting, handed to it by `command`).
        let compartment = req
            .variables
            .get("compartment_ocid")
            .filter(|c| !c.is_empty())
            .cloned()
            .or_else(|| {
                self.rm
                    .settings()
                    .get(WORK_COMPARTMENT_ID)
                    .map(str::to_string)
            });
        let Some(compartment) = compartment else {
            tracing::warn!(session = %req.session_id, "no compartment known before the stack is created: not looking for an earlier stack");
            return Ok(Adoption::Nothing);
        };
        let sid = &req.session_id;
        let found = match self.rm.stacks_tagged(&compartment, SESSION_TAG, sid).await {
            Ok(found) => found,
            Err(e) => {
                t.runner_error(
                    "Cannot look for the session's stack",
                    format!(
                        "{e}. The runner has no state of session {sid}'s stack; without knowing \
                         whether a stack tagged {SESSION_TAG}={sid} exists, planning would risk \
                         creating a second one. Try again."
                    ),
                );
                return Ok(Adoption::Refused);
            }
        };
        match found.as_slice() {
            [] => Ok(Adoption::Nothing),
            [stack] => {
                tracing::warn!(session = %sid, %stack, "the runner's state of the session is missing; adopting its stack, found by its tag");
                let _ = events.send(RunEvent::Log(format!(
                    "The runner's state of this session is missing: adopting its stack {stack} (tagged {SESSION_TAG}={sid})."
                )));
                t.note(&format!("[galley-sidecar] adopting stack {stack}"));
                let imported = self
                    .stream(
                        req,
                        &["import", "-input=false", "-no-color", ADDRESS, stack],
                        t,
                        events,
                        cancel,
                    )
                    .await?;
                if !imported {
                    if !t.cancelled {
                        t.runner_error(
                            "Cannot adopt the session's stack",
                            format!("terraform import of stack {stack} failed (see the log)."),
                        );
                    }
                    return Ok(Adoption::Refused);
                }
                if req.recover && !self.recover(req, stack, t).await {
                    return Ok(Adoption::Refused);
                }
                Ok(Adoption::Imported)
            }
            many => {
                t.runner_error(
                    "The session has several stacks",
                    format!(
                        "Stacks {} all carry the tag {SESSION_TAG}={sid}. Delete the extra ones \
                         (or remove the tag from them), then plan again.",
                        many.join(", ")
                    ),
                );
                Ok(Adoption::Refused)
            }
        }
    }

    fn outcome(&self, t: &Transcript, success: bool, state: Option<&SessionState>) -> RunOutcome {
        let last = t.last_job();
        RunOutcome {
            success: success && !t.cancelled,
            cancelled: t.cancelled,
            summary: state.and_then(|s| s.plan_summary),
            job_id: state
                .and_then(|s| s.last_job_id.clone())
                .or_else(|| last.map(|j| j.id.clone())),
            job_state: state
                .and_then(|s| s.last_job_state.clone())
                .or_else(|| last.map(|j| j.state.clone())),
            stack_id: state
                .and_then(|s| s.stack_id.clone())
                .or_else(|| t.stack_id.clone()),
            errors: t.all_errors(),
            log_tail: t.tail(),
            outputs: state.map(|s| s.outputs.clone()).unwrap_or_default(),
            resources: Vec::new(),
            plan_file: None,
            plan_job_id: None,
            terraform_runs: t.runs,
        }
    }

    /// The state before a run: `Some(state)`, or `None` after recording why it cannot be read.
    async fn state_or_error(
        &self,
        req: &RunRequest,
        t: &mut Transcript,
    ) -> Option<Option<SessionState>> {
        match self.state(req).await {
            Ok(s) => Some(s),
            Err(e) => {
                t.runner_error("Cannot read the runner's state", e);
                None
            }
        }
    }

    /// The state after a run; a failure to read it becomes an error of the run.
    async fn state_after(&self, req: &RunRequest, t: &mut Transcript) -> Option<SessionState> {
        match self.state(req).await {
            Ok(s) => s,
            Err(e) => {
                t.runner_error("Cannot read the runner's state", e);
                None
            }
        }
    }

    /// Runs the stack's PLAN job for review: one `apply -auto-approve` with `operation = "plan"`
    /// (the stack is updated with the files and the PLAN job runs). Before it, the state is
    /// read: a failed create is untainted; without a stack in state the create is planned and
    /// saved first, and the session adopts the stack it may already have. The root module's `prevent_destroy` makes Terraform
    /// refuse a replacement of the stack. The job is what the token binds and what the apply
    /// applies (`plan_job_id`); the variables it ran with stay in [`VARIABLES_FILE`] for it.
    async fn plan(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, RunnerError> {
        self.prepare(&req, true)?;
        let mut t = Transcript::new(&req.work_dir.join("plan.log"));
        for stale in [REVIEW_PLAN, APPLY_PLAN] {
            let _ = std::fs::remove_file(req.work_dir.join(stale));
        }
        if !self.begin(&req, &mut t, &events, &cancel).await? {
            return Ok(self.outcome(&t, false, None));
        }
        let Some(before) = self.state_or_error(&req, &mut t).await else {
            return Ok(self.outcome(&t, false, None));
        };
        if before.as_ref().is_some_and(|s| s.tainted) {
            self.untaint(&req, &mut t).await;
        }
        // Without a stack in state (a first plan, or the runner's state lost) the plan creates
        // one: it is saved first, so that Terraform has loaded the provider and planned before
        // the session's tag is looked for (a broken set-up is reported as Terraform's error),
        // and a stack found is adopted instead.
        let mut saved = false;
        if before.as_ref().and_then(|s| s.stack_id.as_ref()).is_none() {
            let review_out = format!("-out={REVIEW_PLAN}");
            let reviewed = self
                .stream(
                    &req,
                    &[
                        "plan",
                        "-json",
                        "-input=false",
                        "-var=operation=plan",
                        &review_out,
                    ],
                    &mut t,
                    &events,
                    &cancel,
                )
                .await?;
            explain_kept_stack(&mut t);
            let adoption = if reviewed {
                self.adopt(&req, &mut t, &events, &cancel).await?
            } else {
                Adoption::Refused
            };
            match adoption {
                Adoption::Nothing => saved = true,
                // The saved plan predates the import: planned again by the apply.
                Adoption::Imported => {}
                Adoption::Refused => {
                    let _ = std::fs::remove_file(req.work_dir.join(REVIEW_PLAN));
                    let state = self.state_after(&req, &mut t).await;
                    return Ok(self.outcome(&t, false, state.as_ref()));
                }
            }
        }
        // The stack gets the files and a PLAN job runs.
        let args: &[&str] = if saved {
            &["apply", "-json", "-input=false", REVIEW_PLAN]
        } else {
            &[
                "apply",
                "-auto-approve",
                "-json",
                "-input=false",
                "-var=operation=plan",
            ]
        };
        let planned = self.stream(&req, args, &mut t, &events, &cancel).await?;
        let _ = std::fs::remove_file(req.work_dir.join(REVIEW_PLAN));
        explain_kept_stack(&mut t);
        let state = self.state_after(&req, &mut t).await;
        if !planned {
            if state.as_ref().is_some_and(|s| s.tainted) {
                // Only a PLAN job ran: nothing was deployed, so the stack can be kept.
                self.untaint(&req, &mut t).await;
            }
            return Ok(self.outcome(&t, false, state.as_ref()));
        }
        // The reviewed job: the stack's last job, a PLAN job that succeeded (an unchanged
        // stack keeps the one an earlier plan ran).
        let job = state
            .as_ref()
            .filter(|s| {
                s.operation.as_deref() == Some("plan")
                    && s.last_job_state.as_deref() == Some("SUCCEEDED")
            })
            .and_then(|s| s.last_job_id.clone());
        let Some(job) = job else {
            t.runner_error(
                "No reviewed PLAN job",
                "the stack's last job is not a PLAN job that succeeded, so there is nothing to \
                 apply exactly; plan again"
                    .into(),
            );
            return Ok(self.outcome(&t, false, state.as_ref()));
        };
        let mut outcome = self.outcome(&t, true, state.as_ref());
        if outcome.summary.is_none() {
            outcome.summary = t.job_summary("PLAN");
        }
        outcome.plan_job_id = Some(job);
        outcome.plan_file = Some(req.work_dir.join(VARIABLES_FILE));
        Ok(outcome)
    }

    /// Applies the reviewed PLAN job `req.plan_job_id`: one `apply -auto-approve` with
    /// `operation = "apply"` and `plan_job_id`, whose APPLY job runs `FROM_PLAN_JOB_ID` (no new
    /// PLAN job). The provider refuses there, before any job, a job that is stale or planned
    /// other files, variables or folder; `prevent_destroy` refuses a replacement of the stack.
    async fn apply_reviewed(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, RunnerError> {
        self.write_root(&req, true)?;
        let mut t = Transcript::new(&req.work_dir.join("apply.log"));
        let _ = std::fs::remove_file(req.work_dir.join(APPLY_PLAN));
        let Some(job) = req.plan_job_id.clone() else {
            t.runner_error(
                "No reviewed PLAN job",
                "an apply applies the PLAN job of a reviewed plan; call run_terraform_plan first"
                    .into(),
            );
            return Ok(self.outcome(&t, false, None));
        };
        if !self.begin(&req, &mut t, &events, &cancel).await? {
            return Ok(self.outcome(&t, false, None));
        }
        let job_var = format!("-var=plan_job_id={job}");
        let ok = self
            .stream(
                &req,
                &[
                    "apply",
                    "-auto-approve",
                    "-json",
                    "-input=false",
                    "-var=operation=apply",
                    &job_var,
                ],
                &mut t,
                &events,
                &cancel,
            )
            .await?;
        explain_kept_stack(&mut t);
        let after = self.state_after(&req, &mut t).await;
        let mut outcome = self.outcome(&t, ok, after.as_ref());
        if outcome.summary.is_none() {
            outcome.summary = t.job_summary("PLAN");
        }
        outcome.plan_job_id = Some(job);
        Ok(outcome)
    }

    /// Applies the saved destroy plan: the DESTROY job, then the stack's deletion.
    async fn destroy_saved(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, RunnerError> {
        let plan = req
            .plan_file
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or_else(
                || DESTROY_PLAN.to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
        self.write_root(&req, false)?;
        let mut t = Transcript::new(&req.work_dir.join("destroy.log"));
        if !self.begin(&req, &mut t, &events, &cancel).await? {
            return Ok(self.outcome(&t, false, None));
        }
        let before = self.state(&req).await.ok().flatten();
        let ok = self
            .stream(
                &req,
                &["apply", "-json", "-input=false", &plan],
                &mut t,
                &events,
                &cancel,
            )
            .await?;
        let after = self.state_after(&req, &mut t).await;
        let _ = std::fs::remove_file(req.work_dir.join(&plan));
        let mut outcome = self.outcome(&t, ok, after.as_ref());
        // After a successful destroy the resource is gone from state: report what it was.
        if outcome.stack_id.is_none() {
            outcome.stack_id = before.and_then(|b| b.stack_id);
        }
        if let Some(job) = t.jobs.iter().rev().find(|j| j.operation == "DESTROY") {
            outcome.job_id = Some(job.id.clone());
            outcome.job_state = Some(job.state.clone());
        }
        outcome.summary = t.job_summary("DESTROY").or(if ok {
            Some(PlanSummary::default())
        } else {
            None
        });
        Ok(outcome)
    }

    async fn preview_destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, RunnerError> {
        self.prepare(&req, false)?;
        let mut t = Transcript::new(&req.work_dir.join("destroy-preview.log"));
        let _ = std::fs::remove_file(req.work_dir.join(DESTROY_PLAN));
        if !self.begin(&req, &mut t, &events, &cancel).await? {
            return Ok(self.outcome(&t, false, None));
        }
        let out = format!("-out={DESTROY_PLAN}");
        let ok = self
            .stream(
                &req,
                &["plan", "-destroy", "-json", "-input=false", &out],
                &mut t,
                &events,
                &cancel,
            )
            .await?;
        let state = self.state_after(&req, &mut t).await;
        let mut outcome = self.outcome(&t, ok, state.as_ref());
        outcome.outputs.clear();
        outcome.summary = Some(PlanSummary::default());
        if ok && let Some(stack) = state.as_ref().and_then(|s| s.stack_id.as_deref()) {
            match self.rm.deployed_resources(stack).await {
                Ok(resources) => {
                    outcome.summary = Some(PlanSummary {
                        add: 0,
                        change: 0,
                        destroy: u64::try_from(resources.len()).unwrap_or(u64::MAX),
                    });
                    outcome.resources = resources;
                }
                Err(e) => {
                    // A preview that cannot say what goes is no preview.
                    t.runner_error("Cannot list what the stack deployed", e.to_string());
                    let mut failed = self.outcome(&t, false, state.as_ref());
                    failed.outputs.clear();
                    return Ok(failed);
                }
            }
        }
        if outcome.success {
            outcome.plan_file = Some(req.work_dir.join(DESTROY_PLAN));
        }
        Ok(outcome)
    }
}

impl Runner for TerraformRunner {
    fn plan(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(TerraformRunner::plan(self, req, events, cancel))
    }
    fn apply(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.apply_reviewed(req, events, cancel))
    }
    fn preview_destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(TerraformRunner::preview_destroy(self, req, events, cancel))
    }
    fn destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.destroy_saved(req, events, cancel))
    }
    fn job_status(&self, job_id: &str) -> BoxFuture<'_, Result<JobStatus, RunnerError>> {
        let job_id = job_id.to_string();
        Box::pin(async move { Ok(self.rm.job(&job_id).await?) })
    }
    fn detect_drift(
        &self,
        stack_id: &str,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<DriftReport, RunnerError>> {
        let stack_id = stack_id.to_string();
        Box::pin(async move {
            Ok(self
                .rm
                .detect_drift(&stack_id, DRIFT_TIMEOUT, &cancel)
                .await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_config_overrides_only_the_galley_provider() {
        let c = TerraformRunner::cli_config(Path::new("/opt/galley/bin"));
        assert!(c.contains("dev_overrides"));
        assert!(c.contains("\"galley-dev/galley\" = \"/opt/galley/bin\""));
        assert!(c.contains("direct {}"));
    }

    #[test]
    fn root_module_manages_the_stack_next_to_it() {
        let m = TerraformRunner::root_module(false, true);
        assert!(m.contains("prevent_destroy = true"), "{m}");
        assert!(!TerraformRunner::root_module(false, false).contains("prevent_destroy"));
        assert!(!m.contains("backend"), "{m}");
        assert!(
            m.contains("freeform_tags = {\n    \"galley-session\" = var.session_id\n  }"),
            "{m}"
        );
        let remote = TerraformRunner::root_module(true, true);
        assert!(remote.contains("backend \"http\" {}"), "{remote}");
        assert!(m.contains("resource \"galley_session\" \"this\""));
        assert!(
            m.contains("terraform_dir  = \"${path.module}/../terraform\""),
            "{m}"
        );
        assert!(m.contains("operation      = var.operation"), "{m}");
        for attr in [
            "id",
            "last_job_id",
            "last_job_state",
            "plan_summary",
            "outputs",
        ] {
            assert!(
                m.contains(&format!("galley_session.this.{attr}\n")),
                "{attr}: {m}"
            );
        }
    }

    #[test]
    fn long_details_are_trimmed() {
        let long = "é".repeat(MAX_DETAIL);
        assert!(trim_detail(&long).ends_with("..."));
        assert_eq!(trim_detail("  short \n"), "short");
    }

    /// The provider's log of a PLAN job that fails on a stack error, as Terraform renders it
    /// (`{m}` stands for the provider's messages, `{p}` for the line's start).
    const FAILED_PLAN: &[&str] = &[
        "{p} {m}: @caller=galley_contract::job_event @module=provider.galley event=job_started job_id=J1 stack_id=S1 operation=PLAN state=ACCEPTED timestamp=x",
        "{p} {m}: event=job_log job_id=J1 operation=PLAN stack_id=S1 text=\"Error: Unsupported argument\" @module=provider.galley",
        "{p} {m}: @module=provider.galley event=job_log text=\"\" job_id=J1 operation=PLAN stack_id=S1",
        "{p} {m}: text=\"  on main.tf line 4, in resource %22x%22 %22y%22:\" event=job_log job_id=J1 operation=PLAN stack_id=S1 @module=provider.galley",
        "{p} {m}: event=job_error job_id=J1 operation=PLAN stack_id=S1 error_summary=\"Unsupported argument\" error_detail=\"\" error_location=\"on main.tf line 4, in resource %22x%22 %22y%22:\" error_file=main.tf error_line=4 @module=provider.galley",
        "{p} {m}: @module=provider.galley event=job_finished job_id=J1 operation=PLAN stack_id=S1 state=FAILED ending=finished timestamp=x",
        "2026 [INFO]  provider: configuring client automatic mTLS",
    ];

    /// Feeds `FAILED_PLAN` with `message` as the provider's message, then the provider's
    /// diagnostic; returns the transcript and the events it sent.
    fn failed_plan(dir: &Path, message: &str) -> (Transcript, Vec<RunEvent>) {
        let mut t = Transcript::new(&dir.join("x.log"));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for l in FAILED_PLAN {
            let l = l
                .replace("{p}", "T [INFO]  provider.terraform-provider-galley:")
                .replace("{m}", message);
            t.take(&l, false, &tx);
        }
        t.take(
            r#"{"@message":"Error: Resource Manager PLAN job failed","type":"diagnostic","diagnostic":{"severity":"error","summary":"Resource Manager PLAN job failed","detail":"PLAN job J1 of stack S1 ended FAILED.\n\nTerraform errors:\n  x"}}"#,
            true,
            &tx,
        );
        drop(tx);
        let mut sent = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            sent.push(ev);
        }
        (t, sent)
    }

    #[test]
    fn transcript_follows_jobs_and_keeps_their_log() {
        let dir = tempfile::tempdir().unwrap();
        let (t, sent) = failed_plan(dir.path(), "job news");
        let mut states = Vec::new();
        let mut logs = Vec::new();
        for ev in sent {
            match ev {
                RunEvent::JobState { state, .. } => states.push(state),
                RunEvent::Log(l) => logs.push(l),
            }
        }
        assert_eq!(states, ["ACCEPTED", "IN_PROGRESS", "FAILED"]);
        assert!(logs.iter().all(|l| !l.contains("mTLS")), "{logs:?}");
        assert!(logs.contains(&"[PLAN job] Error: Unsupported argument".to_string()));
        let errors = t.all_errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].origin, Origin::Stack);
        assert_eq!(errors[0].file.as_deref(), Some("main.tf"));
        assert_eq!(errors[0].line, Some(4));
        assert_eq!(errors[1].origin, Origin::Runner);
        assert_eq!(errors[1].detail, "PLAN job J1 ended FAILED.");
        assert_eq!(t.stack_id.as_deref(), Some("S1"));
        assert_eq!(t.tail().len(), 3);
        let log = std::fs::read_to_string(dir.path().join("x.log")).unwrap();
        assert!(log.contains("mTLS"), "the run log keeps everything");
    }

    #[test]
    fn rewording_the_provider_s_messages_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, sent_a) = failed_plan(dir.path(), "job news");
        let (b, sent_b) = failed_plan(
            dir.path(),
            "Something happened: see the fields (or not): really",
        );
        assert!(
            sent_a
                .iter()
                .any(|e| matches!(e, RunEvent::JobState { state, .. } if state == "FAILED")),
            "{sent_a:?}"
        );
        assert_eq!(a.all_errors().len(), 2);
        assert_eq!(sent_a, sent_b);
        assert_eq!(a.all_errors(), b.all_errors());
        assert_eq!(a.tail(), b.tail());
        assert_eq!(a.stack_id, b.stack_id);
    }

    #[test]
    fn a_failed_job_s_diagnostic_tells_its_end_from_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Transcript::new(&dir.path().join("x.log"));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let p = "T [INFO]  provider.terraform-provider-galley: m:";
        for l in [
            format!("{p} event=job_started job_id=J1 operation=PLAN state=ACCEPTED"),
            format!(
                "{p} event=job_finished job_id=J1 operation=PLAN state=SUCCEEDED ending=finished add=2 change=0 destroy=1"
            ),
            format!("{p} event=job_started job_id=J2 operation=APPLY state=ACCEPTED"),
            format!(
                "{p} event=job_finished job_id=J2 operation=APPLY state=FAILED ending=finished failure_code=TERRAFORM_EXECUTION_ERROR failure_message=\"400 InvalidParameter\""
            ),
            format!("{p} event=job_started job_id=J3 operation=DESTROY state=ACCEPTED"),
            format!("{p} event=job_cancelling job_id=J3 operation=DESTROY reason=timed_out"),
            format!(
                "{p} event=job_finished job_id=J3 operation=DESTROY state=CANCELED ending=timed_out"
            ),
        ] {
            t.take(&l, false, &tx);
        }
        let diagnostic = |detail: &str| {
            format!(
                r#"{{"@message":"Error: x","type":"diagnostic","diagnostic":{{"severity":"error","summary":"x","detail":{}}}}}"#,
                serde_json::Value::from(detail)
            )
        };
        // Whatever the provider wrote around the id, the detail comes from the event.
        t.take(
            &diagnostic("Anything about J2, reworded.\n\nMore"),
            true,
            &tx,
        );
        t.take(&diagnostic("And J3, which timed out"), true, &tx);
        // A diagnostic naming only a job that succeeded is kept as it is.
        t.take(
            &diagnostic("Failed to read the outputs after J1"),
            true,
            &tx,
        );
        let details: Vec<String> = t.all_errors().into_iter().map(|d| d.detail).collect();
        assert_eq!(
            details,
            [
                "APPLY job J2 ended FAILED: TERRAFORM_EXECUTION_ERROR: 400 InvalidParameter",
                "DESTROY job J3 did not finish in time and was cancelled; it is CANCELED.",
                "Failed to read the outputs after J1",
            ]
        );
        assert_eq!(
            t.job_summary("PLAN"),
            Some(PlanSummary {
                add: 2,
                change: 0,
                destroy: 1
            })
        );
        assert_eq!(t.job_summary("APPLY"), None);
        assert_eq!(t.jobs[2].state, "CANCELED");
    }
}
