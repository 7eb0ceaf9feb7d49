//! App tools: the session's application directory (start it from a shipped template, write its
//! files) and `build_app_image`, which builds and pushes it through the builder (`galley_build`
//! in a root module of its own). A build is a heavy operation: one per session at a time, with
//! progress notifications and cancellation like a plan. Its result becomes the session's
//! `last_build`, which a container's `image = "app"` resolves to at export.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Sidecar;
use super::infra::forward_progress;
use crate::app::{self, APP_IMAGE, Template};
use crate::model::{BuildRecord, now_secs};
use crate::runner::build::{BuildOutcome, BuildRequest, Builder, context_digest};
use crate::store::Durability;

/// The operation name a build holds its session under.
const BUILD_OP: &str = "build";

#[derive(Debug, Serialize, JsonSchema)]
pub struct TemplateList {
    pub templates: Vec<Template>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScaffoldArgs {
    pub session_id: String,
    /// The template: `rest-api-python` or `rest-api-node` (list_app_templates describes them).
    pub template: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteAppFileArgs {
    pub session_id: String,
    /// Path relative to the application directory, for example `Dockerfile` or `src/app.py`.
    /// No `..`, no absolute paths, no hidden names, at most four directories deep.
    pub file_path: String,
    /// The whole new content of the file (text).
    pub content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BuildArgs {
    pub session_id: String,
    /// Repository name under the configured registry (default `app`), such as `shop/api`.
    #[serde(default)]
    pub image_name: Option<String>,
    /// Image tag (default: the first 12 hex digits of the application files' digest, so the
    /// same files give the same tag and an unchanged app is not rebuilt).
    #[serde(default)]
    pub tag: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AppFile {
    pub path: String,
    pub bytes: usize,
    pub sha256: String,
    /// False when the file already had exactly this content.
    pub changed: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AppFilesResult {
    pub session_id: String,
    pub files: Vec<AppFile>,
    /// Every path the application directory holds now.
    pub app_files: Vec<String>,
    pub next_step: String,
}

/// What build_app_image returns.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BuildResult {
    pub session_id: String,
    pub success: bool,
    pub cancelled: bool,
    /// Repository and tag built and pushed.
    pub image_uri: String,
    /// Digest of the pushed image (after a successful build).
    pub image_digest: Option<String>,
    /// `image_uri@image_digest`: what a container with `image = "app"` runs after export_iac.
    pub image_reference: Option<String>,
    /// SHA-256 of the build context uploaded.
    pub source_sha256: Option<String>,
    /// Exit code of the build script on the build instance (`None`: it never ran).
    pub exit_code: Option<i64>,
    /// The last lines of the build's output (docker build and push).
    pub output_tail: Vec<String>,
    /// What failed before or around the build (upload, instance, settings), from Terraform.
    pub errors: Vec<String>,
    pub next_step: String,
}

fn app_file(path: &str, content: &str, changed: bool) -> AppFile {
    AppFile {
        path: path.to_string(),
        bytes: content.len(),
        sha256: hex::encode(Sha256::digest(content.as_bytes())),
        changed,
    }
}

fn build_tool_result(r: &BuildResult) -> CallToolResult {
    let value = serde_json::to_value(r).unwrap_or_default();
    let mut out = if r.success {
        CallToolResult::structured(value)
    } else {
        CallToolResult::structured_error(value)
    };
    let head = if r.success {
        format!(
            "Built and pushed {} for session {}.",
            r.image_reference.as_deref().unwrap_or(&r.image_uri),
            r.session_id
        )
    } else if r.cancelled {
        format!("The build of session {} was cancelled.", r.session_id)
    } else {
        let what = match r.exit_code {
            Some(code) => format!("the build script exited with code {code}"),
            None => "the build did not run to the end".to_string(),
        };
        let mut s = format!("The build of {} failed: {what}.", r.image_uri);
        if !r.errors.is_empty() {
            s.push_str("\nErrors:\n");
            s.push_str(&r.errors.join("\n"));
        }
        if !r.output_tail.is_empty() {
            s.push_str("\nLast lines of the build:\n");
            s.push_str(&r.output_tail.join("\n"));
        }
        s
    };
    out.content
        .insert(0, ContentBlock::text(format!("{head}\n{}", r.next_step)));
    out
}

impl Sidecar {
    /// Builds images with `builder` (before any session is served).
    pub fn with_builder(mut self, builder: Arc<dyn Builder>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.builder = Some(builder);
        }
        self
    }

    async fn write_app(
        &self,
        session_id: &str,
        files: &[(&str, &str)],
        next_step: &str,
    ) -> Result<AppFilesResult, String> {
        let (written, session) = self
            .update_session_with(session_id, Durability::Atomic, |s, _| {
                let mut written = Vec::with_capacity(files.len());
                for (path, content) in files {
                    let changed = app::put_file(&mut s.app_files, path, content)?;
                    let path = app::app_path(path)?;
                    written.push(app_file(&path, content, changed));
                }
                Ok(written)
            })
            .await?;
        tracing::info!(session = %session_id, files = written.len(), "app files written");
        Ok(AppFilesResult {
            session_id: session_id.to_string(),
            files: written,
            app_files: session.app_files.keys().cloned().collect(),
            next_step: next_step.to_string(),
        })
    }

    async fn build_impl(
        &self,
        args: BuildArgs,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let Some(builder) = self.inner.builder.clone() else {
            return Err(
                "this sidecar has no image builder; run galley-sidecar with the GALLEY_BUILD_* settings".into(),
            );
        };
        let id = args.session_id;
        let session = self.load_session(&id).await?;
        if session.app_files.is_empty() {
            return Err(format!(
                "session {id} has no application files yet; call scaffold_app_from_template (templates: {}) or write_app_file first",
                app::template_names()
            ));
        }
        if !session.app_files.contains_key("Dockerfile") {
            return Err(format!(
                "the application of session {id} has no Dockerfile at its top level; write one with write_app_file (file_path \"Dockerfile\")"
            ));
        }
        let name = args.image_name.unwrap_or_else(|| APP_IMAGE.to_string());
        app::check_image_name(&name)?;
        let digest = context_digest(&session.app_files);
        let tag = args.tag.unwrap_or_else(|| digest[..12].to_string());
        app::check_tag(&tag)?;
        let image_uri = builder.image_uri(&name, &tag)?;

        let (_guard, lease) = self.claim(&id, BUILD_OP).await?;
        let work_dir = self
            .inner
            .store
            .build_dir(&id, &session.app_files)
            .await
            .map_err(|e| self.without_server_paths(Some(&id), &e.to_string()))?;
        let req = BuildRequest {
            session_id: id.clone(),
            work_dir,
            image_uri: image_uri.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let forward = forward_progress(&ctx, rx, self.clone(), id.clone());
        // The request's cancellation, or the loss of the lease, interrupts the build.
        let cancel = ctx.ct.child_token();
        let watch = {
            let cancel = cancel.clone();
            let lost = lease.lost();
            tokio::spawn(async move {
                tokio::select! {
                    _ = lost.cancelled() => cancel.cancel(),
                    _ = cancel.cancelled() => {}
                }
            })
        };
        let outcome = builder.build(req, tx, cancel).await;
        watch.abort();
        let _ = forward.await;
        let relative = |t: &str| self.without_server_paths(Some(&id), t);
        let outcome: BuildOutcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                lease.release().await;
                return Err(relative(&e.to_string()));
            }
        };
        let image_reference = outcome
            .image_digest
            .as_ref()
            .map(|d| format!("{image_uri}@{d}"));
        if let (true, Some(digest), Some(reference)) = (
            outcome.success,
            outcome.image_digest.clone(),
            image_reference.clone(),
        ) {
            let record = BuildRecord {
                image_uri: image_uri.clone(),
                image_digest: digest,
                image_reference: reference,
                source_sha256: outcome.source_sha256.clone().unwrap_or_default(),
                built_at: now_secs(),
            };
            self.update_session_with(&id, Durability::Flushed, |s, _| {
                s.last_build = Some(record);
                Ok(())
            })
            .await?;
        }
        lease.release().await;
        let next_step = if outcome.success {
            format!(
                "Set the `image` of a container_instance component to \"{APP_IMAGE}\" (configure_component), then call export_iac: the stack runs {} by its digest. Build again after changing app files, and export again.",
                image_reference.as_deref().unwrap_or(&image_uri)
            )
        } else if outcome.cancelled {
            "The build was cancelled; call build_app_image again when ready.".to_string()
        } else if outcome.exit_code.is_some() {
            "Read output_tail (docker's own messages), fix the Dockerfile or the app files with write_app_file, then call build_app_image again.".to_string()
        } else {
            "The build did not run on the build instance: read errors (uploading the context, the instance's agent, the GALLEY_BUILD_* settings), fix the cause, then call build_app_image again.".to_string()
        };
        let result = BuildResult {
            session_id: id.clone(),
            success: outcome.success,
            cancelled: outcome.cancelled,
            image_uri,
            image_digest: outcome.image_digest,
            image_reference,
            source_sha256: outcome.source_sha256,
            exit_code: outcome.exit_code,
            output_tail: outcome.output_tail.iter().map(|l| relative(l)).collect(),
            errors: outcome.errors.iter().map(|l| relative(l)).collect(),
            next_step,
        };
        tracing::info!(session = %id, success = result.success, exit_code = ?result.exit_code, "build finished");
        Ok(build_tool_result(&result))
    }
}

#[tool_router(router = app_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "List the application templates shipped with the sidecar (rest-api-python, rest-api-node): name, description and files of each.",
        annotations(
            title = "List app templates",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_app_templates(&self) -> Json<TemplateList> {
        Json(TemplateList {
            templates: app::templates().to_vec(),
        })
    }

    #[tool(
        description = "Start the session's application directory from a shipped template: `rest-api-python` (a JSON REST API on the Python standard library with a Dockerfile) or `rest-api-node` (the same on Node.js 22). Writes the template's files, replacing files of the same path; other app files stay. Then edit files with write_app_file and build with build_app_image.",
        annotations(
            title = "Scaffold app from template",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn scaffold_app_from_template(
        &self,
        Parameters(args): Parameters<ScaffoldArgs>,
    ) -> Result<Json<AppFilesResult>, String> {
        let template = app::template(&args.template)?;
        let files: Vec<(&str, &str)> = template.contents().to_vec();
        self.write_app(
            &args.session_id,
            &files,
            "Adapt the files with write_app_file if needed, then call build_app_image.",
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "Write one text file of the session's application directory (the build context of build_app_image; a Dockerfile at its top level is required to build). Same path rules as update_terraform_file: relative, no `..`, no hidden names, at most four directories deep. Files are limited to 256 KiB, the directory to 1 MiB and 200 files.",
        annotations(
            title = "Write app file",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn write_app_file(
        &self,
        Parameters(args): Parameters<WriteAppFileArgs>,
    ) -> Result<Json<AppFilesResult>, String> {
        self.write_app(
            &args.session_id,
            &[(args.file_path.as_str(), args.content.as_str())],
            "Call build_app_image to build and push the image.",
        )
        .await
        .map(Json)
    }

    #[tool(
        description = "Build the session's application directory into a container image and push it, on the configured build instance through the Galley provider's galley_build (context uploaded to Object Storage, docker build and push run by the Instance Agent). Returns image_uri, image_digest, image_reference (uri@digest), the script's exit_code and the last lines of its output. A failed build is an error result saying what failed. Afterwards a container_instance component with config image = \"app\" runs this image once export_iac is called. Sends progress notifications when the request carries a progress token; cancelling the request interrupts the build.",
        output_schema = schema_for_output::<BuildResult>(),
        annotations(
            title = "Build app image",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn build_app_image(
        &self,
        Parameters(args): Parameters<BuildArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.build_impl(args, ctx)
            .await
            .unwrap_or_else(|e| CallToolResult::error(vec![ContentBlock::text(e)]))
    }
}
