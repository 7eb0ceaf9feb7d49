//! MCP resources: what a session holds, readable by URI, and the sidecar's reference data.
//!
//! - `galley://hearing/questions`, `galley://design/services`: the question set and the service
//!   catalog (JSON).
//! - `galley://sessions/{session_id}/design` (the session: status, answers, architecture, JSON),
//!   `.../hearing` (answers and result), `.../summary.md`, `.../diagram.svg`, `.../diagram.mmd`,
//!   `.../stack` (the stack's files) and `.../stack/{path}` (one file), `.../app` (the
//!   application's files and last built image), `.../last-run` (the latest plan, apply or
//!   destroy result since the sidecar started).
//!
//! Resources only read; the URI parsing and the safe reading of stack files live here.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::Mutex;

use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use rustix::fs::{Mode, OFlags};
use serde_json::{Value, json};

use super::Sidecar;
use super::infra::RunResult;
use crate::catalog;
use crate::model::SessionView;
use crate::store::MAX_STACK_FILE_BYTES;
use crate::view::{self, prices::PriceTable};

/// Sessions whose resources resources/list names one by one (the newest); the templates reach
/// every session.
const LISTED_SESSIONS: usize = 20;

/// The latest run result of each session, kept in memory: the session document records the
/// stack and the last job id, the full result is only here.
#[derive(Debug, Default)]
pub struct LastRuns(Mutex<HashMap<String, RunResult>>);

impl LastRuns {
    pub fn record(&self, r: &RunResult) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(r.session_id.clone(), r.clone());
    }
    fn get(&self, session: &str) -> Option<RunResult> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session)
            .cloned()
    }
}

/// The per-session resources: (suffix, name, mime type, description).
const SESSION_RESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        "design",
        "design",
        "application/json",
        "The session: status, hearing answers and result, architecture (components and connections), stack id.",
    ),
    (
        "hearing",
        "hearing",
        "application/json",
        "The hearing's answers, progress and, once complete, its result.",
    ),
    (
        "summary.md",
        "summary",
        "text/markdown",
        "The design summary (placement, components, connections, estimated costs, validation) as export_summary writes it.",
    ),
    (
        "diagram.svg",
        "diagram (SVG)",
        "image/svg+xml",
        "The architecture diagram drawn by the sidecar.",
    ),
    (
        "diagram.mmd",
        "diagram (Mermaid)",
        "text/vnd.mermaid",
        "The architecture diagram as Mermaid flowchart text.",
    ),
    (
        "stack",
        "stack files",
        "application/json",
        "The session's Terraform files: paths, sizes, and the URI of each.",
    ),
    (
        "app",
        "application",
        "application/json",
        "The session's application directory (paths, sizes and contents) and the image build_app_image last built from it.",
    ),
    (
        "last-run",
        "last run",
        "application/json",
        "The latest plan, apply or destroy result of the session since the sidecar started.",
    ),
];

fn uri(session: &str, suffix: &str) -> String {
    format!("galley://sessions/{session}/{suffix}")
}

fn not_found(message: String) -> ErrorData {
    ErrorData::resource_not_found(message, None)
}

fn text(uri: &str, mime: &str, body: String) -> ReadResourceResult {
    ReadResourceResult::new(vec![ResourceContents::text(body, uri).with_mime_type(mime)])
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Reads `rel` under `dir` without following a link at any step, at most `max` bytes.
fn read_contained(dir: &std::path::Path, rel: &str, max: usize) -> std::io::Result<Vec<u8>> {
    let nofollow = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut fd: OwnedFd = rustix::fs::open(dir, nofollow | OFlags::DIRECTORY, Mode::empty())?;
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let flags = if last {
            nofollow
        } else {
            nofollow | OFlags::DIRECTORY
        };
        fd = rustix::fs::openat(&fd, *part, flags, Mode::empty())?;
    }
    let mut out = Vec::new();
    std::fs::File::from(fd)
        .take(max as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(out)
}

impl Sidecar {
    pub(crate) fn resource_templates(&self) -> ListResourceTemplatesResult {
        let mut templates: Vec<ResourceTemplate> = SESSION_RESOURCES
            .iter()
            .map(|(suffix, name, mime, description)| {
                ResourceTemplate::new(format!("galley://sessions/{{session_id}}/{suffix}"), *name)
                    .with_description(*description)
                    .with_mime_type(*mime)
            })
            .collect();
        templates.push(
            ResourceTemplate::new("galley://sessions/{session_id}/stack/{+path}", "stack file")
                .with_description("One file of the session's Terraform stack, by its path relative to the stack directory (for example main.tf).")
                .with_mime_type("text/plain"),
        );
        ListResourceTemplatesResult::with_all_items(templates)
    }

    pub(crate) async fn resource_list(&self) -> Result<ListResourcesResult, ErrorData> {
        let mut list = vec![
            Resource::new("galley://hearing/questions", "hearing questions")
                .with_description("The hearing's phases and questions with their choices and what each answer implies for the design.")
                .with_mime_type("application/json"),
            Resource::new("galley://design/services", "service types")
                .with_description("The service types components can have, with placement, Terraform resources and config keys.")
                .with_mime_type("application/json"),
        ];
        let sessions = self.inner.store.list().await.map_err(|e| {
            ErrorData::internal_error(self.without_server_paths(None, &e.to_string()), None)
        })?;
        for s in sessions.iter().take(LISTED_SESSIONS) {
            for (suffix, name, mime, description) in SESSION_RESOURCES {
                list.push(
                    Resource::new(uri(&s.id, suffix), format!("{} {name}", s.id))
                        .with_description(*description)
                        .with_mime_type(*mime),
                );
            }
        }
        Ok(ListResourcesResult::with_all_items(list))
    }

    pub(crate) async fn resource_read(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        match uri {
            "galley://hearing/questions" => {
                let q = &self.inner.hearing;
                return Ok(text(
                    uri,
                    "application/json",
                    pretty(&json!({"source": q.source, "phases": q.phases})),
                ));
            }
            "galley://design/services" => {
                return Ok(text(
                    uri,
                    "application/json",
                    pretty(&json!({"services": catalog::service_types()})),
                ));
            }
            _ => {}
        }
        let Some(rest) = uri.strip_prefix("galley://sessions/") else {
            return Err(not_found(format!(
                "no resource {}: resources/list and resources/templates/list give the URIs (galley://sessions/{{session_id}}/design, ...)",
                crate::echo::quoted(uri)
            )));
        };
        let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
        let s = self
            .inner
            .store
            .load(id)
            .await
            .map_err(|e| not_found(self.without_server_paths(Some(id), &e.to_string())))?;
        match what {
            "design" => Ok(text(
                uri,
                "application/json",
                pretty(&SessionView::from(&s)),
            )),
            "hearing" => {
                let progress = self.inner.hearing.progress(&s.answers);
                Ok(text(
                    uri,
                    "application/json",
                    pretty(&json!({
                        "answers": s.answers,
                        "progress": progress,
                        "result": s.hearing_result,
                    })),
                ))
            }
            "summary.md" => {
                let report = self.inner.rules.validate(&s.architecture);
                let sum = view::summary::render(&s, &report, PriceTable::shipped());
                Ok(text(uri, "text/markdown", sum.markdown))
            }
            "diagram.svg" => Ok(text(
                uri,
                "image/svg+xml",
                view::diagram(&s.architecture).svg,
            )),
            "diagram.mmd" => Ok(text(
                uri,
                "text/vnd.mermaid",
                view::diagram(&s.architecture).mermaid,
            )),
            "stack" => {
                let files =
                    self.inner.store.stack_files(id).await.map_err(|e| {
                        not_found(self.without_server_paths(Some(id), &e.to_string()))
                    })?;
                let files: Vec<Value> = files
                    .iter()
                    .map(|f| json!({"path": f.rel, "executable": f.executable, "uri": uri_of_file(id, &f.rel)}))
                    .collect();
                let next = if files.is_empty() {
                    "No files yet: call export_iac."
                } else {
                    "Read a file by its uri."
                };
                Ok(text(
                    uri,
                    "application/json",
                    pretty(&json!({"files": files, "next_step": next})),
                ))
            }
            "app" => {
                let files: Vec<Value> = s
                    .app_files
                    .iter()
                    .map(|(path, content)| json!({"path": path, "bytes": content.len(), "content": content}))
                    .collect();
                let next = match (files.is_empty(), &s.last_build) {
                    (true, _) => {
                        "No application yet: call scaffold_app_from_template or write_app_file."
                    }
                    (false, None) => "Not built yet: call build_app_image.",
                    (false, Some(_)) => {
                        "A container_instance with image \"app\" runs last_build.image_reference after export_iac."
                    }
                };
                Ok(text(
                    uri,
                    "application/json",
                    pretty(&json!({"files": files, "last_build": s.last_build, "next_step": next})),
                ))
            }
            "last-run" => match self.inner.last_runs.get(id) {
                Some(r) => Ok(text(uri, "application/json", pretty(&r))),
                None => Ok(text(
                    uri,
                    "application/json",
                    pretty(&json!({
                        "session_id": id,
                        "last_run": Value::Null,
                        "last_job_id": s.last_job_id,
                        "note": "No plan, apply or destroy of this session since the sidecar started; get_rm_job_status tells the state of last_job_id.",
                    })),
                )),
            },
            other => match other.strip_prefix("stack/") {
                Some(rel) => self.read_stack_file(uri, id, rel).await,
                None => Err(not_found(format!(
                    "session {id} has no resource {}; its resources are: {}, stack/<path>",
                    crate::echo::quoted(other),
                    SESSION_RESOURCES
                        .iter()
                        .map(|r| r.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            },
        }
    }

    async fn read_stack_file(
        &self,
        uri: &str,
        id: &str,
        rel: &str,
    ) -> Result<ReadResourceResult, ErrorData> {
        let files = self
            .inner
            .store
            .stack_files(id)
            .await
            .map_err(|e| not_found(self.without_server_paths(Some(id), &e.to_string())))?;
        // Only a file the stack listing names (no links, no hidden or excluded files).
        if !files.iter().any(|f| f.rel == rel) {
            return Err(not_found(format!(
                "the stack of session {id} has no file {}; galley://sessions/{id}/stack lists them",
                crate::echo::quoted(rel)
            )));
        }
        let dir = self
            .inner
            .store
            .run_dirs(id)
            .await
            .map_err(|e| not_found(self.without_server_paths(Some(id), &e.to_string())))?
            .stack_dir;
        let bytes = read_contained(&dir, rel, MAX_STACK_FILE_BYTES).map_err(|e| {
            not_found(format!(
                "the stack file {rel} of session {id} cannot be read: {e}"
            ))
        })?;
        let body = String::from_utf8(bytes).map_err(|_| {
            not_found(format!(
                "the stack file {rel} of session {id} is not UTF-8 text"
            ))
        })?;
        Ok(text(uri, "text/plain", body))
    }
}

fn uri_of_file(id: &str, rel: &str) -> String {
    format!("galley://sessions/{id}/stack/{rel}")
}
