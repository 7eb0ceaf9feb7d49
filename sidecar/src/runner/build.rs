//! Building a session's application into an image: a second root module, in the session's
//! `build/` directory beside the stack runner's `runner/`, with one `galley_build` resource
//! (the app directory uploaded to Object Storage, `docker build` and `docker push` run on the
//! build instance through the Instance Agent), applied with the `terraform` CLI and the Galley
//! provider. Its Terraform state is its own (local to `build/`): the stack's state and plans are
//! never touched.
//!
//! The registry token reaches Terraform only as `TF_VAR_registry_auth_token` of an `ephemeral`
//! variable given to the write-only `registry_auth_token_wo`, so it is in no file the module,
//! its state or a plan holds, and never in a log line (Terraform 1.11 or later is required for
//! that; an older Terraform with a token is refused).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::child::{self, ChildEvent};
use super::terraform::{PROVIDER_SOURCE, TerraformRunner};
use super::{Events, RunEvent, RunnerError};
use crate::config::{BuildSettings, build_env};
use crate::hcl::{self, Block, Expr, Item};
use crate::oci::OciSettings;
use crate::store::write_atomic;

/// The resource's address in the build module.
pub const BUILD_ADDRESS: &str = "galley_build.app";
/// The variable the registry token arrives in (through `TF_VAR_<name>`).
const TOKEN_VAR: &str = "registry_auth_token";
/// Lines of the build's output a result carries.
const OUTPUT_TAIL_LINES: usize = 30;
/// Lines of Terraform's own output kept for the errors.
const KEPT_LINES: usize = 2_000;
/// How long Terraform gets to stop after SIGINT before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(120);
/// The first Terraform with write-only attributes (the token stays out of the state).
const WRITE_ONLY_SINCE: (u64, u64) = (1, 11);

/// What a build works on.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub session_id: String,
    /// The session's `build/` directory, its `app/` already holding the application.
    pub work_dir: PathBuf,
    /// Repository and tag to push, such as `iad.ocir.io/ns/app:v1`.
    pub image_uri: String,
}

/// What a build did. A failed build is an `Ok` with `success: false`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct BuildOutcome {
    pub success: bool,
    pub cancelled: bool,
    /// Exit code of the build script on the instance (`None` when it never ran).
    pub exit_code: Option<i64>,
    /// Digest of the pushed image.
    pub image_digest: Option<String>,
    /// SHA-256 of the build context as uploaded.
    pub source_sha256: Option<String>,
    /// The instance agent command that ran the build.
    pub command_id: Option<String>,
    /// The last lines of the build's output on the instance.
    pub output_tail: Vec<String>,
    /// Terraform's errors (summary and detail, one entry each).
    pub errors: Vec<String>,
}

/// Builds images; the tool's gating (one heavy operation per session) is not its business.
pub trait Builder: Send + Sync + 'static {
    /// The image URI of `name:tag` under the configured registry, or the error naming the
    /// setting that is missing.
    fn image_uri(&self, name: &str, tag: &str) -> Result<String, String>;
    /// Builds and pushes `req.work_dir/app`.
    fn build(
        &self,
        req: BuildRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<BuildOutcome, RunnerError>>;
}

/// The real builder: Terraform with the Galley provider's `galley_build`.
#[derive(Debug, Clone)]
pub struct TerraformBuilder {
    terraform: PathBuf,
    provider_dir: PathBuf,
    oci: OciSettings,
    settings: BuildSettings,
}

impl TerraformBuilder {
    pub fn new(
        terraform: PathBuf,
        provider_dir: PathBuf,
        oci: OciSettings,
        settings: BuildSettings,
    ) -> Self {
        TerraformBuilder {
            terraform,
            provider_dir,
            oci,
            settings,
        }
    }

    /// The build module: one `galley_build` of `./app`. With `token`, the write-only token
    /// from an ephemeral variable (never in this file, the state or a plan).
    pub fn root_module(settings: &BuildSettings, image_uri: &str) -> Result<String, String> {
        let (instance, bucket, _) = settings.required()?;
        let token = settings.registry_token.is_some();
        let mut build = Block::new("resource", &["galley_build", "app"])
            .attr("instance_id", Expr::str(instance))
            .attr("app_dir", Expr::raw("\"${path.module}/app\""))
            .attr("bucket_name", Expr::str(bucket))
            .attr("image_uri", Expr::str(image_uri));
        if let Some(ns) = &settings.namespace {
            build = build.attr("namespace", Expr::str(ns));
        }
        if let (true, Some(user)) = (token, &settings.registry_username) {
            build = build
                .attr("registry_username", Expr::str(user))
                .attr(
                    "registry_auth_token_wo",
                    Expr::raw(format!("var.{TOKEN_VAR}")),
                )
                .attr("registry_auth_token_wo_version", 1i64);
        }
        let mut items = vec![
            Item::Comment(
                "Written by galley-sidecar: the session's application built into an image.".into(),
            ),
            Item::Block(Block::new("terraform", &[]).block(
                Block::new("required_providers", &[]).attr(
                    "galley",
                    Expr::Object(vec![("source".into(), Expr::str(PROVIDER_SOURCE))]),
                ),
            )),
        ];
        if token {
            items.push(Item::Block(
                Block::new("variable", &[TOKEN_VAR])
                    .attr(
                        "description",
                        Expr::str("Registry token, from the sidecar's environment only."),
                    )
                    .attr("type", Expr::raw("string"))
                    .attr("sensitive", true)
                    .attr("ephemeral", true),
            ));
        }
        // OCI settings come from the environment the sidecar passes on.
        items.push(Item::Block(Block::new("provider", &["galley"])));
        items.push(Item::Block(build));
        Ok(hcl::render(&items))
    }

    fn command(&self, req: &BuildRequest, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.terraform);
        cmd.args(args)
            .current_dir(&req.work_dir)
            .env("TF_CLI_CONFIG_FILE", req.work_dir.join("galley.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0");
        // Only this run's settings: no inherited log, argument or backend settings, and the
        // token only where the module reads it.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("TF_LOG")
                || k.starts_with("TF_CLI_ARGS")
                || k.starts_with("TF_HTTP_")
                || k.starts_with("TF_VAR_")
                || k == "TF_WORKSPACE"
                || k == build_env::REGISTRY_TOKEN
            {
                cmd.env_remove(k.as_ref());
            }
        }
        for (k, v) in self.oci.vars() {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    /// The CLI's version (`terraform version -json`), as (major, minor).
    async fn version(&self, req: &BuildRequest) -> Result<(u64, u64), RunnerError> {
        let out = self
            .command(req, &["version", "-json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .await
            .map_err(|source| RunnerError::Spawn {
                program: self.terraform.display().to_string(),
                source,
            })?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let text = v["terraform_version"].as_str().unwrap_or_default();
        let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
    }

    /// Runs `terraform <args>`, streaming its lines as events and into `kept`; true when it
    /// exited successfully. Cancellation sends SIGINT (Terraform asks the provider to stop).
    async fn stream(
        &self,
        req: &BuildRequest,
        args: &[&str],
        token: Option<&str>,
        kept: &mut VecDeque<String>,
        events: &Events,
        cancel: &CancellationToken,
    ) -> Result<(bool, bool), RunnerError> {
        if cancel.is_cancelled() {
            return Ok((false, true));
        }
        tracing::info!(session = %req.session_id, ?args, "running terraform for a build");
        let mut cmd = self.command(req, args);
        if let Some(t) = token {
            cmd.env(format!("TF_VAR_{TOKEN_VAR}"), t);
        }
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| RunnerError::Spawn {
                program: self.terraform.display().to_string(),
                source,
            })?;
        let (status, cancelled) = child::supervise(
            child,
            cancel,
            INTERRUPT_GRACE,
            &format!("build of session {}", req.session_id),
            |event| {
                if let ChildEvent::Line(_, l) = event {
                    let _ = events.send(RunEvent::Log(l.clone()));
                    if kept.len() >= KEPT_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(l);
                }
            },
        )
        .await;
        Ok((status.is_ok_and(|s| s.success()), cancelled))
    }

    /// The build resource's values in the state (`terraform show -json`), when it is there.
    async fn resource_values(&self, req: &BuildRequest) -> Option<serde_json::Value> {
        let out = self
            .command(req, &["show", "-json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .await
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["values"]["root_module"]["resources"]
            .as_array()?
            .iter()
            .find(|r| r["address"] == BUILD_ADDRESS)
            .map(|r| r["values"].clone())
    }

    async fn run(
        &self,
        req: BuildRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> Result<BuildOutcome, RunnerError> {
        let token = self.settings.registry_token.clone();
        if token.is_some() {
            let version = self.version(&req).await?;
            if version < WRITE_ONLY_SINCE {
                return Ok(BuildOutcome {
                    errors: vec![format!(
                        "GALLEY_TERRAFORM is Terraform {}.{}; with {} set, Terraform {}.{} or later is needed so the token stays out of the build's state (a write-only attribute). Point GALLEY_TERRAFORM at a newer Terraform, or log the build instance into the registry yourself and unset {}",
                        version.0,
                        version.1,
                        build_env::REGISTRY_TOKEN,
                        WRITE_ONLY_SINCE.0,
                        WRITE_ONLY_SINCE.1,
                        build_env::REGISTRY_TOKEN
                    )],
                    ..BuildOutcome::default()
                });
            }
        }
        let module = Self::root_module(&self.settings, &req.image_uri).map_err(|e| {
            RunnerError::Prepare {
                path: req.work_dir.join("main.tf"),
                source: std::io::Error::other(e),
            }
        })?;
        let write = |name: &str, content: &[u8]| {
            let p = req.work_dir.join(name);
            write_atomic(&p, content).map_err(|e| RunnerError::Prepare {
                path: p.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        };
        write("main.tf", module.as_bytes())?;
        write(
            "galley.tfrc",
            TerraformRunner::cli_config(&self.provider_dir).as_bytes(),
        )?;
        let mut kept = VecDeque::new();
        let (ok, cancelled) = self
            .stream(
                &req,
                &["apply", "-auto-approve", "-input=false", "-no-color"],
                token.as_deref(),
                &mut kept,
                &events,
                &cancel,
            )
            .await?;
        let values = self.resource_values(&req).await.unwrap_or_default();
        let text = |k: &str| {
            values[k]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        // A run that failed before the script ran leaves the last build's values in the state:
        // an exit code of 0 then is not this run's.
        let stale = !ok && values["exit_code"].as_i64() == Some(0);
        let exit_code = values["exit_code"].as_i64().filter(|_| !stale);
        let output_tail: Vec<String> = text("output_tail")
            .filter(|_| !stale)
            .map(|t| {
                let lines: Vec<&str> = t.lines().collect();
                let from = lines.len().saturating_sub(OUTPUT_TAIL_LINES);
                lines[from..].iter().map(|l| l.to_string()).collect()
            })
            .unwrap_or_default();
        // The state may keep the last good build's digest while the new one failed.
        let success = ok && !cancelled && exit_code == Some(0);
        Ok(BuildOutcome {
            success,
            cancelled,
            exit_code,
            image_digest: if success { text("image_digest") } else { None },
            source_sha256: text("source_sha256"),
            command_id: text("command_id"),
            output_tail,
            errors: if ok {
                Vec::new()
            } else {
                errors_of(kept.iter().map(String::as_str))
            },
        })
    }
}

impl Builder for TerraformBuilder {
    fn image_uri(&self, name: &str, tag: &str) -> Result<String, String> {
        let (_, _, registry) = self.settings.required()?;
        Ok(format!("{registry}/{name}:{tag}"))
    }

    fn build(
        &self,
        req: BuildRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<BuildOutcome, RunnerError>> {
        Box::pin(self.run(req, events, cancel))
    }
}

/// Terraform's error blocks in its `-no-color` output (`Error: <summary>` and the lines of
/// its box up to the end), one string each, in order.
pub fn errors_of<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for raw in lines {
        let line = raw
            .trim_start_matches(['│', '╷', ' '])
            .trim_end()
            .to_string();
        if let Some(rest) = line.strip_prefix("Error: ") {
            if let Some(done) = current.take() {
                out.push(done.join(" "));
            }
            current = Some(vec![rest.to_string()]);
        } else if raw.starts_with('╵') {
            if let Some(done) = current.take() {
                out.push(done.join(" "));
            }
        } else if let Some(c) = current.as_mut()
            && !line.is_empty()
        {
            c.push(line);
        }
    }
    if let Some(done) = current {
        out.push(done.join(" "));
    }
    out
}

/// The digest `galley_build` gives `files` as its build context (`source_sha256`): the
/// provider's package digest, every file a plain (0644) file.
pub fn context_digest(files: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let hashed: Vec<_> = files
        .iter()
        .map(|(rel, content)| {
            (
                crate::store::StackFile {
                    rel: rel.clone(),
                    executable: false,
                },
                Some(<[u8; 32]>::from(Sha256::digest(content.as_bytes()))),
            )
        })
        .collect();
    crate::store::digest_of(&hashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(token: bool) -> BuildSettings {
        BuildSettings {
            instance_id: Some("ocid1.instance.oc1..b".into()),
            bucket: Some("builds".into()),
            namespace: None,
            registry: Some("iad.ocir.io/ns".into()),
            registry_username: token.then(|| "ns/ci".into()),
            registry_token: token.then(|| "tok-Secret-1".into()),
        }
    }

    #[test]
    fn the_module_takes_the_token_only_from_an_ephemeral_variable() {
        let m = TerraformBuilder::root_module(&settings(true), "iad.ocir.io/ns/app:v1").unwrap();
        assert!(!m.contains("tok-Secret-1"), "{m}");
        assert!(
            m.contains("registry_auth_token_wo         = var.registry_auth_token"),
            "{m}"
        );
        assert!(m.contains("ephemeral   = true"), "{m}");
        assert!(
            m.contains("image_uri                      = \"iad.ocir.io/ns/app:v1\""),
            "{m}"
        );
        let m = TerraformBuilder::root_module(&settings(false), "r/app:v1").unwrap();
        assert!(!m.contains("registry_"), "no login without a token: {m}");
        let mut s = settings(false);
        s.bucket = None;
        let err = TerraformBuilder::root_module(&s, "r/app:v1").unwrap_err();
        assert!(err.contains("GALLEY_BUILD_BUCKET"), "{err}");
    }

    #[test]
    fn terraform_error_blocks_are_collected() {
        let out = "galley_build.app: Creating...\n╷\n│ Error: Build failed with exit code 1\n│ \n│   with galley_build.app,\n│ ERROR: failed to solve\n╵\n";
        let errors = errors_of(out.lines());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("Build failed with exit code 1"));
        assert!(errors[0].contains("ERROR: failed to solve"), "{errors:?}");
    }

    #[test]
    fn the_context_digest_changes_with_any_file() {
        let mut files = BTreeMap::new();
        files.insert("Dockerfile".to_string(), "FROM x\n".to_string());
        let a = context_digest(&files);
        files.insert("app.py".to_string(), "print(1)\n".to_string());
        assert_ne!(a, context_digest(&files));
        assert_eq!(a.len(), 64);
    }
}
