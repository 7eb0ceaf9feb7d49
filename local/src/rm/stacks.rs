//! Stack handlers: create (with `opc-retry-token`), get, list, update, delete, and the stack's
//! configuration zip and Terraform state.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use galley_oci::echo::echo;
use serde::Deserialize;

use super::model::{
    ConfigSource, ConfigSourceDetails, CreateStackDetails, Stack, UpdateStackDetails,
};
use super::zipdir;
use crate::api::{self, ApiError, ApiResult, SortOrder};
use crate::app::AppState;
use crate::retry::Claim;
use crate::store;

const ZIP_UPLOAD: &str = "ZIP_UPLOAD";
pub const DEFAULT_TERRAFORM_VERSION: &str = "1.5.x";

/// The stack, or 404 when absent.
pub fn find(state: &AppState, id: &str) -> ApiResult<Stack> {
    state
        .rm()
        .stack(id)
        .ok_or_else(|| ApiError::not_found(format!("stack {id} was not found", id = echo(id))))
}

/// The stack, or 404 when absent, or 409 when deleted.
pub fn find_active(state: &AppState, id: &str) -> ApiResult<Stack> {
    let stack = find(state, id)?;
    if stack.lifecycle_state != "ACTIVE" {
        return Err(ApiError::incorrect_state(format!(
            "stack {id} is {}",
            stack.lifecycle_state,
            id = echo(id)
        )));
    }
    Ok(stack)
}

pub async fn create_stack(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let retry = state.retry();
    let _guard = retry.guard().await;
    let claim = retry.claim("CreateStack", &headers, &body)?;
    if let Claim::Replay(id) = &claim {
        return Ok(api::json_with_etag(StatusCode::OK, &find(&state, id)?));
    }
    let details: CreateStackDetails = api::parse_json(&body)?;
    let stack = create(&state, details)?;
    retry.remember("CreateStack", &claim, &stack.id)?;
    tracing::info!(stack = %stack.id, "created a stack");
    Ok(api::json_with_etag(StatusCode::OK, &stack))
}

fn create(state: &AppState, d: CreateStackDetails) -> ApiResult<Stack> {
    let compartment_id = d
        .compartment_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::missing("compartmentId"))?;
    let source = d
        .config_source
        .ok_or_else(|| ApiError::missing("configSource"))?;
    let (zip, working_directory) = zip_source(&source)?;
    let zip = zip.ok_or_else(|| ApiError::missing("configSource.zipFileBase64Encoded"))?;
    let (custom_terraform_provider, third_party) =
        super::providers::create_settings(state.config(), d.custom_terraform_provider)?;
    let now = crate::clock::now();
    let stack = Stack {
        id: crate::ids::ocid("ormstack"),
        compartment_id,
        display_name: d
            .display_name
            .unwrap_or_else(|| format!("ormstack{}", now.replace(['-', ':', 'T', '.', 'Z'], ""))),
        description: d.description,
        time_created: now,
        lifecycle_state: "ACTIVE".to_owned(),
        config_source: ConfigSource {
            config_source_type: ZIP_UPLOAD.to_owned(),
            working_directory,
        },
        custom_terraform_provider,
        is_third_party_provider_experience_enabled: third_party,
        variables: d.variables.unwrap_or_default(),
        terraform_version: d
            .terraform_version
            .unwrap_or_else(|| DEFAULT_TERRAFORM_VERSION.to_owned()),
        stack_drift_status: "NOT_CHECKED".to_owned(),
        time_drift_last_checked: None,
        freeform_tags: d.freeform_tags.unwrap_or_default(),
        defined_tags: d.defined_tags.unwrap_or_default(),
        system_tags: Default::default(),
    };
    let rm = state.rm();
    store::write_atomic(&rm.stack_dir(&stack.id).join("config.zip"), &zip)?;
    rm.save_stack(stack.clone())?;
    Ok(stack)
}

/// The zip (when given) and normalised working directory of a config source.
fn zip_source(source: &ConfigSourceDetails) -> ApiResult<(Option<Vec<u8>>, Option<String>)> {
    match source.config_source_type.as_deref() {
        Some(ZIP_UPLOAD) => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "configSourceType {other} is not supported by galley-local (only ZIP_UPLOAD)",
                other = echo(other)
            )));
        }
        None => return Err(ApiError::missing("configSource.configSourceType")),
    }
    let zip = match &source.zip_file_base64_encoded {
        None => None,
        Some(b64) => {
            let bytes = STANDARD.decode(b64.trim()).map_err(|_| {
                ApiError::invalid("configSource.zipFileBase64Encoded is not valid base64")
            })?;
            zipdir::check(&bytes).map_err(|e| {
                ApiError::invalid(format!("configSource.zipFileBase64Encoded: {e}"))
            })?;
            Some(bytes)
        }
    };
    let wd = zipdir::working_directory(source.working_directory.as_deref())
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((zip, wd))
}

pub async fn get_stack(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(api::json_with_etag(StatusCode::OK, &find(&state, &id)?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListStacksQuery {
    compartment_id: Option<String>,
    id: Option<String>,
    lifecycle_state: Option<String>,
    display_name: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<SortOrder>,
    limit: Option<usize>,
    page: Option<String>,
}

pub async fn list_stacks(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let q: ListStacksQuery = api::parse_query(&uri)?;
    let mut stacks: Vec<Stack> = state
        .rm()
        .stacks()
        .into_iter()
        .filter(|s| {
            q.compartment_id
                .as_ref()
                .is_none_or(|c| *c == s.compartment_id)
        })
        .filter(|s| q.id.as_ref().is_none_or(|i| *i == s.id))
        .filter(|s| match &q.lifecycle_state {
            Some(l) => *l == s.lifecycle_state,
            None => s.lifecycle_state != "DELETED",
        })
        .filter(|s| q.display_name.as_ref().is_none_or(|d| *d == s.display_name))
        .collect();
    sort(&mut stacks, q.sort_by.as_deref(), q.sort_order, |s| {
        (s.time_created.clone(), s.display_name.clone())
    })?;
    let page = api::paginate(stacks, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    let summaries: Vec<_> = page.items.iter().map(Stack::summary).collect();
    Ok(api::page_response(api::Page {
        items: summaries,
        next: page.next,
    }))
}

/// Sorts by `TIMECREATED` (default, newest first) or `DISPLAYNAME` (default ascending);
/// `key` gives (timeCreated, displayName).
pub fn sort<T>(
    items: &mut [T],
    sort_by: Option<&str>,
    order: Option<SortOrder>,
    key: impl Fn(&T) -> (String, String),
) -> ApiResult<()> {
    let by_name = match sort_by {
        None | Some("TIMECREATED") => false,
        Some("DISPLAYNAME") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "sortBy {other} is not one of TIMECREATED, DISPLAYNAME",
                other = echo(other)
            )));
        }
    };
    let order = order.unwrap_or(if by_name {
        SortOrder::Asc
    } else {
        SortOrder::Desc
    });
    items.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let ord = if by_name {
            ka.1.cmp(&kb.1).then(ka.0.cmp(&kb.0))
        } else {
            ka.0.cmp(&kb.0).then(ka.1.cmp(&kb.1))
        };
        if order == SortOrder::Desc {
            ord.reverse()
        } else {
            ord
        }
    });
    Ok(())
}

pub async fn update_stack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let mut stack = find_active(&state, &id)?;
    api::check_if_match(&headers, &stack)?;
    let d: UpdateStackDetails = api::parse_json(&body)?;
    super::providers::update_stack(&mut stack, &d)?;
    let rm = state.rm();
    if let Some(source) = &d.config_source {
        let (zip, wd) = zip_source(source)?;
        if let Some(zip) = zip {
            store::write_atomic(&rm.stack_dir(&id).join("config.zip"), &zip)?;
        }
        stack.config_source.working_directory = wd;
    }
    if let Some(v) = d.display_name {
        stack.display_name = v;
    }
    if let Some(v) = d.description {
        stack.description = Some(v);
    }
    // RM replaces the whole map rather than merging it.
    if let Some(v) = d.variables {
        stack.variables = v;
    }
    if let Some(v) = d.terraform_version {
        stack.terraform_version = v;
    }
    if let Some(v) = d.freeform_tags {
        stack.freeform_tags = v;
    }
    if let Some(v) = d.defined_tags {
        stack.defined_tags = v;
    }
    rm.save_stack(stack.clone())?;
    Ok(api::json_with_etag(StatusCode::OK, &stack))
}

pub async fn delete_stack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let mut stack = find(&state, &id)?;
    if stack.lifecycle_state == "DELETED" {
        return Err(ApiError::not_found(format!(
            "stack {id} was not found",
            id = echo(&id)
        )));
    }
    api::check_if_match(&headers, &stack)?;
    let rm = state.rm();
    if rm.has_unfinished_jobs(&id) {
        return Err(ApiError::incorrect_state(format!(
            "stack {id} has a job that has not finished; cancel it or wait before deleting the stack",
            id = echo(&id)
        )));
    }
    // Keep a DELETED tombstone (as RM reports the state) but drop the configuration, state,
    // work directories and jobs.
    stack.lifecycle_state = "DELETED".to_owned();
    rm.save_stack(stack)?;
    let dir = rm.stack_dir(&id);
    for name in ["config.zip", "tfstate.json"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_dir_all(dir.join("work"));
    for job in rm.jobs().into_iter().filter(|j| j.api.stack_id == id) {
        rm.remove_job(&job.api.id);
    }
    tracing::info!(stack = %id, "deleted a stack");
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn get_tf_config(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    find_active(&state, &id)?;
    let zip = store::read(&state.rm().stack_dir(&id).join("config.zip"))?;
    Ok(bytes_response(zip, "application/zip"))
}

pub async fn get_tf_state(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    find_active(&state, &id)?;
    match store::read(&state.rm().stack_dir(&id).join("tfstate.json")) {
        Ok(bytes) => Ok(bytes_response(bytes, "application/json")),
        Err(e) if e.is_not_found() => Err(ApiError::not_found(format!(
            "stack {id} has no Terraform state yet (no apply or import job has run)",
            id = echo(&id)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A raw body (state, zip) with its etag.
pub fn bytes_response(bytes: Vec<u8>, content_type: &'static str) -> Response {
    let etag = api::etag_of(&bytes);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::ETAG, etag.as_str()),
        ],
        bytes,
    )
        .into_response()
}
