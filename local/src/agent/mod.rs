//! Compute Instance Agent 20180530 (run command): commands are accepted for any instance id
//! and executed on this machine by [`runner`], in `<data>/commands/<id>/sandbox`, only when
//! the engine was started with `--enable-run-command`.
//!
//! Data layout: `<data>/commands/<id>/command.json` (command and execution), `script.sh`,
//! `output.log` (combined stdout and stderr), `sandbox/` (the working directory).

pub mod model;
pub mod runner;

use galley_oci::echo::echo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiError, ApiResult, SortOrder};
use crate::app::AppState;
use crate::retry::Claim;
use crate::store::{self, StoreError};
use model::{
    Command, CommandSummary, Content, CreateCommandDetails, ExecState, Execution, ExecutionContent,
    StoredCommand, Target,
};

/// Commands in memory and on disk.
pub struct Agent {
    root: PathBuf,
    commands: RwLock<HashMap<String, StoredCommand>>,
    controls: Mutex<HashMap<String, CancellationToken>>,
}

impl Agent {
    /// Loads commands and fails the executions a restart interrupted.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let agent = Self {
            root: root.join("commands"),
            commands: RwLock::default(),
            controls: Mutex::default(),
        };
        let mut interrupted = Vec::new();
        for dir in store::subdirs(&agent.root) {
            match store::read_json::<StoredCommand>(&dir.join("command.json")) {
                Ok(c) => {
                    if !c.execution.lifecycle_state.is_terminal() {
                        interrupted.push(c.command.id.clone());
                    }
                    agent.write().insert(c.command.id.clone(), c);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable command"),
            }
        }
        for id in interrupted {
            let killed = crate::process::kill_strays(&agent.dir(&id).join("sandbox"));
            if killed > 0 {
                tracing::warn!(command = %id, killed, "killed processes the interrupted command left behind");
            }
            agent.update(&id, |c| {
                let e = &mut c.execution;
                e.lifecycle_state = ExecState::Failed;
                e.time_updated = crate::clock::now();
                e.content.message = Some(
                    "interrupted by a galley-local restart: the engine stopped while this command was running"
                        .to_owned(),
                );
            })?;
        }
        Ok(agent)
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, StoredCommand>> {
        self.commands.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, StoredCommand>> {
        self.commands.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<StoredCommand> {
        self.read().get(id).cloned()
    }

    pub fn all(&self) -> Vec<StoredCommand> {
        self.read().values().cloned().collect()
    }

    pub fn save(&self, c: StoredCommand) -> Result<(), StoreError> {
        let mut commands = self.write();
        store::write_json(&self.dir(&c.command.id).join("command.json"), &c)?;
        commands.insert(c.command.id.clone(), c);
        Ok(())
    }

    /// Changes a command record under the lock.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut StoredCommand),
    ) -> Result<Option<StoredCommand>, StoreError> {
        let mut commands = self.write();
        let Some(current) = commands.get(id) else {
            return Ok(None);
        };
        let mut c = current.clone();
        f(&mut c);
        store::write_json(&self.dir(id).join("command.json"), &c)?;
        commands.insert(id.to_owned(), c.clone());
        Ok(Some(c))
    }

    fn register_control(&self, id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.controls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), token.clone());
        token
    }

    fn control(&self, id: &str) -> Option<CancellationToken> {
        self.controls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub(crate) fn drop_control(&self, id: &str) {
        self.controls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// Routes under `/20180530`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/20180530/instanceAgentCommands",
            get(list_commands).post(create_command),
        )
        .route(
            "/20180530/instanceAgentCommands/{id}",
            get(get_command).delete(cancel_command),
        )
        .route(
            "/20180530/instanceAgentCommands/{id}/status",
            get(get_execution),
        )
        .route(
            "/20180530/instanceAgentCommandExecutions",
            get(list_executions),
        )
}

fn find(state: &AppState, id: &str) -> ApiResult<StoredCommand> {
    state.agent().get(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "instance agent command {id} was not found",
            id = echo(id)
        ))
    })
}

async fn create_command(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let retry = state.retry();
    let _guard = retry.guard().await;
    let claim = retry.claim("CreateInstanceAgentCommand", &headers, &body)?;
    if let Claim::Replay(id) = &claim {
        return Ok(api::json_with_etag(
            StatusCode::OK,
            &find(&state, id)?.command,
        ));
    }
    let d: CreateCommandDetails = api::parse_json(&body)?;
    let stored = create(&state, d)?;
    retry.remember("CreateInstanceAgentCommand", &claim, &stored.command.id)?;
    let id = stored.command.id.clone();
    let ctl = state.agent().register_control(&id);
    state.spawn(runner::run(state.clone(), id.clone(), ctl));
    tracing::info!(command = %id, instance = %stored.execution.instance_id, "created an instance agent command");
    Ok(api::json_with_etag(StatusCode::OK, &stored.command))
}

fn create(state: &AppState, d: CreateCommandDetails) -> ApiResult<StoredCommand> {
    let compartment_id = d
        .compartment_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::missing("compartmentId"))?;
    let timeout = d
        .execution_time_out_in_seconds
        .ok_or_else(|| ApiError::missing("executionTimeOutInSeconds"))?;
    if timeout == 0 {
        return Err(ApiError::invalid(
            "executionTimeOutInSeconds must be positive",
        ));
    }
    let target: Target =
        serde_json::from_value(d.target.ok_or_else(|| ApiError::missing("target"))?)
            .map_err(|e| ApiError::invalid(format!("target is not valid: {e}")))?;
    if target.instance_id.is_empty() {
        return Err(ApiError::missing("target.instanceId"));
    }
    let content: Content =
        serde_json::from_value(d.content.ok_or_else(|| ApiError::missing("content"))?)
            .map_err(|e| ApiError::invalid(format!("content is not valid: {e}")))?;
    match content.source.source_type.as_str() {
        "TEXT" if content.source.text.is_none() => {
            return Err(ApiError::missing("content.source.text"));
        }
        "TEXT" | "OBJECT_STORAGE_TUPLE" | "OBJECT_STORAGE_URI" => {}
        other => {
            return Err(ApiError::invalid(format!(
                "content.source.sourceType {other} is not one of TEXT, OBJECT_STORAGE_TUPLE, OBJECT_STORAGE_URI",
                other = echo(other)
            )));
        }
    }
    match content.output.output_type.as_str() {
        "TEXT" | "OBJECT_STORAGE_TUPLE" | "OBJECT_STORAGE_URI" => {}
        other => {
            return Err(ApiError::invalid(format!(
                "content.output.outputType {other} is not one of TEXT, OBJECT_STORAGE_TUPLE, OBJECT_STORAGE_URI",
                other = echo(other)
            )));
        }
    }
    let now = crate::clock::now();
    let id = crate::ids::ocid("instanceagentcommand");
    let agent = state.agent();
    let sequence_number = agent
        .all()
        .iter()
        .filter(|c| c.execution.instance_id == target.instance_id)
        .count() as u64
        + 1;
    let stored = StoredCommand {
        execution: Execution {
            instance_agent_command_id: id.clone(),
            instance_id: target.instance_id.clone(),
            delivery_state: "VISIBLE".to_owned(),
            lifecycle_state: ExecState::Accepted,
            time_created: now.clone(),
            time_updated: now.clone(),
            sequence_number,
            display_name: d.display_name.clone(),
            content: ExecutionContent {
                output_type: content.output.output_type.clone(),
                ..Default::default()
            },
        },
        command: Command {
            id,
            compartment_id,
            display_name: d.display_name,
            time_created: now.clone(),
            time_updated: now,
            is_canceled: false,
            execution_time_out_in_seconds: timeout,
            target,
            content,
        },
    };
    agent.save(stored.clone())?;
    Ok(stored)
}

async fn get_command(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> ApiResult {
    Ok(api::json_with_etag(
        StatusCode::OK,
        &find(&state, &id)?.command,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionQuery {
    instance_id: Option<String>,
}

async fn get_execution(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    uri: Uri,
) -> ApiResult {
    let q: ExecutionQuery = api::parse_query(&uri)?;
    let instance_id = q
        .instance_id
        .ok_or_else(|| ApiError::missing("instanceId"))?;
    let c = find(&state, &id)?;
    if c.execution.instance_id != instance_id {
        return Err(ApiError::not_found(format!(
            "command {id} has no execution on instance {instance_id}",
            id = echo(&id),
            instance_id = echo(&instance_id)
        )));
    }
    Ok(api::json_with_etag(StatusCode::OK, &c.execution))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    compartment_id: Option<String>,
    instance_id: Option<String>,
    lifecycle_state: Option<ExecState>,
    sort_by: Option<String>,
    sort_order: Option<SortOrder>,
    limit: Option<usize>,
    page: Option<String>,
}

fn sorted(state: &AppState, q: &ListQuery) -> ApiResult<Vec<StoredCommand>> {
    let compartment_id = q
        .compartment_id
        .as_ref()
        .ok_or_else(|| ApiError::missing("compartmentId"))?;
    let mut all: Vec<StoredCommand> = state
        .agent()
        .all()
        .into_iter()
        .filter(|c| c.command.compartment_id == *compartment_id)
        .collect();
    crate::rm::stacks::sort(&mut all, q.sort_by.as_deref(), q.sort_order, |c| {
        (
            c.command.time_created.clone(),
            c.command.display_name.clone().unwrap_or_default(),
        )
    })?;
    Ok(all)
}

async fn list_commands(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let q: ListQuery = api::parse_query(&uri)?;
    let all = sorted(&state, &q)?;
    let page = api::paginate(all, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    let items: Vec<CommandSummary<'_>> = page
        .items
        .iter()
        .map(|c| CommandSummary {
            instance_agent_command_id: &c.command.id,
            display_name: c.command.display_name.as_deref(),
            compartment_id: &c.command.compartment_id,
            time_created: &c.command.time_created,
            time_updated: &c.command.time_updated,
            is_canceled: c.command.is_canceled,
        })
        .collect();
    Ok(api::page_response(api::Page {
        items,
        next: page.next,
    }))
}

async fn list_executions(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let q: ListQuery = api::parse_query(&uri)?;
    let instance_id = q
        .instance_id
        .clone()
        .ok_or_else(|| ApiError::missing("instanceId"))?;
    let all: Vec<Execution> = sorted(&state, &q)?
        .into_iter()
        .map(|c| c.execution)
        .filter(|e| e.instance_id == instance_id)
        .filter(|e| q.lifecycle_state.is_none_or(|l| l == e.lifecycle_state))
        .collect();
    let page = api::paginate(all, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    Ok(api::page_response(page))
}

async fn cancel_command(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> ApiResult {
    let c = find(&state, &id)?;
    api::check_if_match(&headers, &c.command)?;
    if c.execution.lifecycle_state.is_terminal() {
        // Nothing left to cancel; OCI accepts the call.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let agent = state.agent();
    agent.update(&id, |c| {
        c.command.is_canceled = true;
        c.command.time_updated = crate::clock::now();
    })?;
    if let Some(ctl) = agent.control(&id) {
        ctl.cancel();
    }
    tracing::info!(command = %id, "cancel requested");
    Ok(StatusCode::NO_CONTENT.into_response())
}
