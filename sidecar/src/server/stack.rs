//! Stack tools: write the session's Terraform (`export_iac`) and edit one of its files
//! (`update_terraform_file`). Both invalidate a reviewed plan, since the files it was made from
//! change.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sessions::SessionIdArgs;
use super::{Sidecar, fail};
use crate::export;
use crate::model::SessionStatus;
use crate::store::{Durability, MAX_STACK_FILE_BYTES};

#[derive(Debug, Serialize, JsonSchema)]
pub struct WrittenFile {
    /// Path relative to the session's stack directory.
    pub path: String,
    pub bytes: usize,
    pub sha256: String,
    /// False when the file already had exactly this content (it was left alone).
    pub changed: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportResult {
    pub session_id: String,
    pub files: Vec<WrittenFile>,
    /// `type.name` of every Terraform resource written.
    pub resources: Vec<String>,
    /// Validation warnings (export refuses on errors).
    pub warnings: Vec<String>,
    /// True when a reviewed plan was discarded because the files changed.
    pub plan_invalidated: bool,
    pub next_step: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateFileArgs {
    pub session_id: String,
    /// Path of the file relative to the session's stack directory, for example `main.tf` or
    /// `modules/net/main.tf`. No `..`, no absolute paths, no hidden names.
    pub file_path: String,
    /// The whole new content of the file.
    pub new_content: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UpdateFileResult {
    pub session_id: String,
    pub file: WrittenFile,
    pub plan_invalidated: bool,
}

fn written(path: &str, content: &[u8], changed: bool) -> WrittenFile {
    WrittenFile {
        path: path.to_string(),
        bytes: content.len(),
        sha256: hex::encode(Sha256::digest(content)),
        changed,
    }
}

#[tool_router(router = stack_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Write the session's architecture as a Resource-Manager-compatible Terraform stack: main.tf (provider with region = var.region), variables.tf (tenancy_ocid, compartment_ocid, region and per-component settings with defaults), components.tf, outputs.tf and terraform.tfvars.example. Refuses while validate_architecture reports errors. Overwrites those five files (edits made with update_terraform_file to them are lost).",
        annotations(
            title = "Export Terraform",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn export_iac(
        &self,
        Parameters(args): Parameters<SessionIdArgs>,
    ) -> Result<Json<ExportResult>, String> {
        let rules = &self.inner.rules;
        let ((files, resources, warnings, invalidated), _) = self
            .update_session_with(&args.session_id, Durability::Atomic, |s, edit| {
                let report = rules.validate(&s.architecture);
                if !report.valid {
                    let msgs: Vec<_> = report
                        .errors
                        .iter()
                        .map(|f| format!("[{}] {} ({})", f.rule_id, f.message, f.recommendation))
                        .collect();
                    return Err(format!(
                        "the architecture has {} validation error(s); fix them first:\n{}",
                        msgs.len(),
                        msgs.join("\n")
                    ));
                }
                // The stack passed the load check before anything is written; then every file
                // is written with the session, as one step. A file that already says this is
                // left alone: re-exporting after a small change rewrites only what changed.
                let options = export::Options {
                    app_image: s.last_build.as_ref().map(|b| b.image_reference.as_str()),
                };
                let stack = export::export_with(&s.architecture, &options).map_err(fail)?;
                let mut files = Vec::with_capacity(stack.files.len());
                for f in &stack.files {
                    let changed = edit
                        .write_stack_file(&f.path, f.content.as_bytes())
                        .map_err(fail)?;
                    files.push(written(&f.path, f.content.as_bytes(), changed));
                }
                let invalidated = s.pending_plan.take().is_some();
                s.status = SessionStatus::Exported;
                let warnings = report
                    .warnings
                    .iter()
                    .map(|f| format!("[{}] {}", f.rule_id, f.message))
                    .collect();
                Ok((files, stack.resources, warnings, invalidated))
            })
            .await?;
        Ok(Json(ExportResult {
            session_id: args.session_id,
            files,
            resources,
            warnings,
            plan_invalidated: invalidated,
            next_step: "Review the files if needed (update_terraform_file edits one), then call run_terraform_plan.".into(),
        }))
    }

    #[tool(
        description = "Replace one file of the session's Terraform stack with new content (creating it and its directories if needed). The path is relative to the stack directory; `..`, absolute paths, hidden names and symbolic links are refused. Any reviewed plan is discarded: plan again before applying.",
        annotations(
            title = "Update Terraform file",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_terraform_file(
        &self,
        Parameters(args): Parameters<UpdateFileArgs>,
    ) -> Result<Json<UpdateFileResult>, String> {
        if args.new_content.len() > MAX_STACK_FILE_BYTES {
            return Err(format!(
                "new_content is {} bytes; files are limited to {MAX_STACK_FILE_BYTES}",
                args.new_content.len()
            ));
        }
        let ((invalidated, changed), _) = self
            .update_session_with(&args.session_id, Durability::Atomic, |s, edit| {
                let changed = edit
                    .write_stack_file(&args.file_path, args.new_content.as_bytes())
                    .map_err(fail)?;
                // Any call discards the reviewed plan: the caller meant to change the stack.
                let invalidated = s.pending_plan.take().is_some();
                if s.status != SessionStatus::Designing {
                    s.status = SessionStatus::Exported;
                }
                Ok((invalidated, changed))
            })
            .await?;
        tracing::info!(session = %args.session_id, bytes = args.new_content.len(), "stack file updated");
        Ok(Json(UpdateFileResult {
            session_id: args.session_id,
            file: written(&args.file_path, args.new_content.as_bytes(), changed),
            plan_invalidated: invalidated,
        }))
    }
}
