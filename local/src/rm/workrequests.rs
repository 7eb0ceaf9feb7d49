//! Resource Manager work requests: the record of an asynchronous stack operation (here: drift
//! detection), with the exact field names of the SDK's `WorkRequest`, `WorkRequestResource`,
//! `WorkRequestError` and `WorkRequestLogEntry`, and their handlers (get, list, errors, logs).
//!
//! Data layout: `<data>/workrequests/<id>/workrequest.json` (the wire form plus the engine's
//! own fields), `logs.jsonl` (what terraform printed), and what the operation produced
//! (`drift.json`). On open, work requests found ACCEPTED or IN_PROGRESS were interrupted by a
//! restart and end FAILED, like jobs.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::{Deserialize, Serialize};

use super::INTERRUPTED_MESSAGE;
use crate::api::{self, ApiError, ApiResult, SortOrder};
use crate::app::AppState;

pub const DRIFT_DETECTION: &str = "DRIFT_DETECTION";
pub const ACCEPTED: &str = "ACCEPTED";
pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkRequestResource {
    pub action_type: String,
    pub entity_type: String,
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_uri: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkRequest {
    pub operation_type: String,
    pub status: String,
    pub id: String,
    pub compartment_id: String,
    pub resources: Vec<WorkRequestResource>,
    pub percent_complete: f64,
    pub time_accepted: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_finished: Option<String>,
}

impl WorkRequest {
    pub fn is_terminal(&self) -> bool {
        self.status == SUCCEEDED || self.status == FAILED
    }

    /// The stack this work request is about.
    pub fn stack_id(&self) -> Option<&str> {
        self.resources
            .iter()
            .find(|r| r.entity_type == "stack")
            .map(|r| r.identifier.as_str())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkRequestError {
    pub code: String,
    pub message: String,
    pub timestamp: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkRequestLogEntry {
    pub message: String,
    pub timestamp: String,
}

/// What the engine keeps about a work request besides its wire form.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkRequestInternal {
    #[serde(default)]
    pub errors: Vec<WorkRequestError>,
    /// Injected as `TF_VAR_tenancy_ocid` into the terraform it runs.
    #[serde(default)]
    pub tenancy_ocid: Option<String>,
    /// Injected as `TF_VAR_current_user_ocid`.
    #[serde(default)]
    pub user_ocid: Option<String>,
    /// The resource addresses a drift detection was asked to check (all when empty).
    #[serde(default)]
    pub resource_addresses: Vec<String>,
}

/// A work request as stored in `workrequest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredWorkRequest {
    #[serde(flatten)]
    pub api: WorkRequest,
    #[serde(default)]
    pub galley: WorkRequestInternal,
}

impl StoredWorkRequest {
    /// Ends a work request a restart interrupted.
    pub fn interrupted(&mut self) {
        let now = crate::clock::now();
        self.api.status = FAILED.to_owned();
        self.api.time_finished = Some(now.clone());
        self.galley.errors.push(WorkRequestError {
            code: "INTERNAL_SERVICE_ERROR".to_owned(),
            message: INTERRUPTED_MESSAGE.to_owned(),
            timestamp: now,
        });
    }
}

/// The work request, or 404.
pub fn find(state: &AppState, id: &str) -> ApiResult<StoredWorkRequest> {
    state
        .rm()
        .work_request(id)
        .ok_or_else(|| ApiError::not_found(format!("work request {id} was not found")))
}

pub async fn get_work_request(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(api::json_with_etag(StatusCode::OK, &find(&state, &id)?.api))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    compartment_id: Option<String>,
    resource_id: Option<String>,
    limit: Option<usize>,
    page: Option<String>,
}

pub async fn list_work_requests(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let q: ListQuery = api::parse_query(&uri)?;
    let compartment = q
        .compartment_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::missing("compartmentId"))?;
    let mut items: Vec<WorkRequest> = state
        .rm()
        .work_requests()
        .into_iter()
        .map(|w| w.api)
        .filter(|w| w.compartment_id == compartment)
        .filter(|w| {
            q.resource_id
                .as_ref()
                .is_none_or(|r| w.resources.iter().any(|x| x.identifier == *r))
        })
        .collect();
    // Newest first, as the service lists them.
    items.sort_by(|a, b| b.time_accepted.cmp(&a.time_accepted).then(b.id.cmp(&a.id)));
    let page = api::paginate(items, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    Ok(api::page_response(page))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubListQuery {
    sort_order: Option<SortOrder>,
    limit: Option<usize>,
    page: Option<String>,
}

pub async fn list_errors(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult {
    let q: SubListQuery = api::parse_query(&uri)?;
    let mut errors = find(&state, &id)?.galley.errors;
    if q.sort_order == Some(SortOrder::Desc) {
        errors.reverse();
    }
    let page = api::paginate(errors, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    Ok(api::page_response(page))
}

pub async fn list_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult {
    let q: SubListQuery = api::parse_query(&uri)?;
    find(&state, &id)?;
    let mut entries: Vec<WorkRequestLogEntry> =
        super::logs::read_all(&state.rm().work_request_dir(&id).join("logs.jsonl"))
            .into_iter()
            .map(|e| WorkRequestLogEntry {
                message: e.message,
                timestamp: e.timestamp,
            })
            .collect();
    if q.sort_order == Some(SortOrder::Desc) {
        entries.reverse();
    }
    let page = api::paginate(entries, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    Ok(api::page_response(page))
}
