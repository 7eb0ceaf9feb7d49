//! The real `Runner`: a small root module next to the session's stack that manages it as one
//! `galley_session` resource, and the `terraform` CLI run there with the Galley provider taken
//! from a local directory through `dev_overrides` (no registry involved). Output lines stream out
//! as events; cancellation sends SIGINT so Terraform asks the provider to stop, which cancels the
//! remote job.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::{Events, JobStatus, RunEvent, RunOutcome, RunRequest, Runner, RunnerError, output};
use crate::hcl::{self, Block, Expr, Item};
use crate::store::write_atomic;

/// The provider's source address, as the root module requires it.
pub const PROVIDER_SOURCE: &str = "galley-dev/galley";
/// How many output lines a result carries.
const LOG_TAIL_LINES: usize = 40;
/// Output kept for parsing; older lines are dropped beyond this many.
const MAX_KEPT_LINES: usize = 20_000;
/// How long Terraform gets to stop after SIGINT before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(120);

/// Runs the `terraform` CLI against the Galley provider.
#[derive(Debug, Clone)]
pub struct TerraformRunner {
    terraform: PathBuf,
    provider_dir: PathBuf,
    /// Job states seen in run output, for `job_status`.
    jobs: Arc<Mutex<HashMap<String, (String, String)>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Plan,
    Apply,
    PreviewDestroy,
    Destroy,
}

impl TerraformRunner {
    /// `terraform` is the CLI to run; `provider_dir` holds `terraform-provider-galley`.
    pub fn new(terraform: PathBuf, provider_dir: PathBuf) -> Self {
        TerraformRunner {
            terraform,
            provider_dir,
            jobs: Arc::default(),
        }
    }

    /// The root module: one `galley_session` managing the session's stack directory.
    pub fn root_module() -> String {
        hcl::render(&[
            Item::Comment(
                "Written by galley-sidecar: the session's stack as one Resource Manager stack."
                    .into(),
            ),
            Item::Block(Block::new("terraform", &[]).block(
                Block::new("required_providers", &[]).attr(
                    "galley",
                    Expr::Object(vec![("source".into(), Expr::str(PROVIDER_SOURCE))]),
                ),
            )),
            Item::Block(
                Block::new("variable", &["compartment_ocid"])
                    .attr(
                        "description",
                        Expr::str("Compartment of the Resource Manager stack."),
                    )
                    .attr("type", Expr::raw("string")),
            ),
            Item::Block(
                Block::new("variable", &["stack_variables"])
                    .attr(
                        "description",
                        Expr::str("Variables of the stack, passed to Resource Manager."),
                    )
                    .attr("type", Expr::raw("map(string)"))
                    .attr("default", Expr::Object(vec![])),
            ),
            Item::Block(Block::new("provider", &["galley"])),
            Item::Block(
                Block::new("resource", &["galley_session", "this"])
                    .attr("compartment_id", Expr::raw("var.compartment_ocid"))
                    .attr("terraform_dir", Expr::str("../terraform"))
                    .attr("variables", Expr::raw("var.stack_variables")),
            ),
            Item::Block(
                Block::new("output", &["stack_id"])
                    .attr("value", Expr::raw("galley_session.this.stack_id")),
            ),
            Item::Block(
                Block::new("output", &["job_id"])
                    .attr("value", Expr::raw("galley_session.this.job_id")),
            ),
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

    fn prepare(&self, req: &RunRequest) -> Result<(), RunnerError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunnerError::Prepare { path, source }
        };
        std::fs::create_dir_all(&req.work_dir).map_err(err(&req.work_dir))?;
        let write = |name: &str, content: &[u8]| {
            let p = req.work_dir.join(name);
            write_atomic(&p, content).map_err(|e| RunnerError::Prepare {
                path: p.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        };
        write("main.tf", Self::root_module().as_bytes())?;
        write(
            "galley.tfrc",
            Self::cli_config(&self.provider_dir).as_bytes(),
        )?;
        let mut vars = serde_json::Map::new();
        let mut stack_vars: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &req.variables {
            if k == "compartment_ocid" {
                vars.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            // Resource Manager fills these in itself; they are never stack variables.
            if !matches!(
                k.as_str(),
                "compartment_ocid" | "tenancy_ocid" | "region" | "current_user_ocid"
            ) {
                stack_vars.insert(k, v);
            }
        }
        if !vars.contains_key("compartment_ocid")
            && let Ok(c) = std::env::var("GALLEY_COMPARTMENT_OCID")
        {
            vars.insert("compartment_ocid".into(), serde_json::Value::String(c));
        }
        vars.insert(
            "stack_variables".into(),
            serde_json::to_value(stack_vars).unwrap_or_default(),
        );
        let json = serde_json::to_vec_pretty(&vars).unwrap_or_default();
        write("galley.auto.tfvars.json", &json)?;
        Ok(())
    }

    fn args(op: Op, req: &RunRequest) -> Vec<String> {
        let mut a: Vec<String> = match op {
            Op::Plan => vec!["plan".into(), "-out=plan.tfplan".into()],
            Op::PreviewDestroy => vec![
                "plan".into(),
                "-destroy".into(),
                "-out=destroy.tfplan".into(),
            ],
            Op::Apply | Op::Destroy => vec!["apply".into()],
        };
        a.push("-input=false".into());
        a.push("-no-color".into());
        if matches!(op, Op::Apply | Op::Destroy) {
            let default = if op == Op::Apply {
                "plan.tfplan"
            } else {
                "destroy.tfplan"
            };
            let file = req
                .plan_file
                .as_ref()
                .and_then(|p| p.file_name())
                .map_or_else(|| default.to_string(), |n| n.to_string_lossy().into_owned());
            a.push(file);
        }
        a
    }

    async fn run(
        &self,
        op: Op,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, RunnerError> {
        self.prepare(&req)?;
        let args = Self::args(op, &req);
        tracing::info!(session = %req.session_id, ?op, "running terraform");
        let mut child = Command::new(&self.terraform)
            .args(&args)
            .current_dir(&req.work_dir)
            .env("TF_CLI_CONFIG_FILE", req.work_dir.join("galley.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RunnerError::Spawn {
                program: self.terraform.display().to_string(),
                source,
            })?;
        let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = line_tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        drop(line_tx);

        let mut kept: VecDeque<String> = VecDeque::new();
        let mut cancelled = false;
        let mut interrupted_at: Option<tokio::time::Instant> = None;
        let status = loop {
            let deadline = interrupted_at.map(|t| t + INTERRUPT_GRACE);
            tokio::select! {
                line = line_rx.recv() => match line {
                    Some(l) => {
                        if let Some((job, state)) = output::job_state(&l) {
                            self.remember(&job, &state, &req.session_id);
                            let _ = events.send(RunEvent::JobState { job_id: job, state });
                        }
                        let _ = events.send(RunEvent::Log(l.clone()));
                        kept.push_back(l);
                        if kept.len() > MAX_KEPT_LINES {
                            kept.pop_front();
                        }
                    }
                    None => break child.wait().await,
                },
                _ = cancel.cancelled(), if !cancelled => {
                    cancelled = true;
                    interrupted_at = Some(tokio::time::Instant::now());
                    if let Some(pid) = child.id() {
                        tracing::info!(session = %req.session_id, pid, "interrupting terraform");
                        // SIGINT is Terraform's graceful stop: it asks the provider to stop,
                        // which cancels the Resource Manager job.
                        // SAFETY: kill(2) with a pid we spawned and own.
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
                    }
                },
                _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } else { std::future::pending().await } } => {
                    tracing::warn!(session = %req.session_id, "terraform did not stop after SIGINT; killing it");
                    let _ = child.start_kill();
                    interrupted_at = None;
                }
            }
        };
        let lines: Vec<String> = kept.into_iter().collect();
        let success = status.as_ref().is_ok_and(|s| s.success()) && !cancelled;
        let mut outcome = RunOutcome {
            success,
            cancelled,
            summary: output::summary(&lines),
            job_id: output::job_id(&lines),
            stack_id: output::stack_id(&lines),
            errors: output::errors(&lines),
            log_tail: lines
                .iter()
                .rev()
                .take(LOG_TAIL_LINES)
                .rev()
                .cloned()
                .collect(),
            plan_file: None,
        };
        if success {
            match op {
                Op::Plan => outcome.plan_file = Some(req.work_dir.join("plan.tfplan")),
                Op::PreviewDestroy => outcome.plan_file = Some(req.work_dir.join("destroy.tfplan")),
                Op::Apply | Op::Destroy => self.read_outputs(&req, &mut outcome).await,
            }
        }
        Ok(outcome)
    }

    /// Reads `stack_id` and `job_id` from the root module's outputs after an apply.
    async fn read_outputs(&self, req: &RunRequest, outcome: &mut RunOutcome) {
        let out = Command::new(&self.terraform)
            .args(["output", "-json"])
            .current_dir(&req.work_dir)
            .env("TF_CLI_CONFIG_FILE", req.work_dir.join("galley.tfrc"))
            .stdin(Stdio::null())
            .output()
            .await;
        let Ok(out) = out else { return };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
            return;
        };
        let get = |k: &str| {
            json.get(k)
                .and_then(|o| o.get("value"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        outcome.stack_id = get("stack_id").or(outcome.stack_id.take());
        outcome.job_id = get("job_id").or(outcome.job_id.take());
    }

    fn remember(&self, job: &str, state: &str, session: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.insert(job.to_string(), (state.to_string(), session.to_string()));
    }
}

impl Runner for TerraformRunner {
    fn plan(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.run(Op::Plan, req, events, cancel))
    }
    fn apply(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.run(Op::Apply, req, events, cancel))
    }
    fn preview_destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.run(Op::PreviewDestroy, req, events, cancel))
    }
    fn destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.run(Op::Destroy, req, events, cancel))
    }
    fn job_status(&self, job_id: &str) -> BoxFuture<'_, Result<JobStatus, RunnerError>> {
        let job_id = job_id.to_string();
        Box::pin(async move {
            let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            match jobs.get(&job_id) {
                Some((state, session)) => Ok(JobStatus {
                    job_id: job_id.clone(),
                    state: state.clone(),
                    session_id: Some(session.clone()),
                    source: "run log".into(),
                }),
                None => Err(RunnerError::UnknownJob(job_id)),
            }
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
        let m = TerraformRunner::root_module();
        assert!(m.contains("resource \"galley_session\" \"this\""));
        assert!(m.contains("terraform_dir  = \"../terraform\""), "{m}");
    }

    #[test]
    fn apply_uses_the_saved_plan() {
        let req = RunRequest {
            session_id: "s-x".into(),
            stack_dir: "/x/terraform".into(),
            work_dir: "/x/runner".into(),
            variables: Default::default(),
            plan_file: Some("/x/runner/plan.tfplan".into()),
        };
        assert_eq!(
            TerraformRunner::args(Op::Apply, &req),
            ["apply", "-input=false", "-no-color", "plan.tfplan"]
        );
        assert_eq!(
            TerraformRunner::args(Op::PreviewDestroy, &req)[..3],
            ["plan", "-destroy", "-out=destroy.tfplan"]
        );
    }
}
