//! Job handlers: create (with `opc-retry-token`, plan resolution), get, list, update, cancel,
//! logs (entries and content), and the job's state and configuration.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use galley_oci::echo::echo;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::logs;
use super::model::{
    ApplyJobPlanResolution, ConfigSourceRecord, CreateJobDetails, Job, JobInternal, JobState,
    LogEntry, Operation, OperationDetails, PlanStrategy, Stack, StoredJob, UpdateJobDetails,
};
use super::stacks::{self, bytes_response};
use crate::api::{self, ApiError, ApiResult, SortOrder};
use crate::app::AppState;
use crate::auth::Principal;
use crate::retry::Claim;
use crate::store;

/// The job, or 404.
pub fn find(state: &AppState, id: &str) -> ApiResult<StoredJob> {
    state
        .rm()
        .job(id)
        .ok_or_else(|| ApiError::not_found(format!("job {id} was not found", id = echo(id))))
}

pub async fn create_job(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let retry = state.retry();
    let _guard = retry.guard().await;
    let claim = retry.claim("CreateJob", &headers, &body)?;
    if let Claim::Replay(id) = &claim {
        return Ok(api::json_with_etag(StatusCode::OK, &find(&state, id)?.api));
    }
    let details: CreateJobDetails = api::parse_json(&body)?;
    let job = create(&state, details, principal.map(|p| p.0))?;
    retry.remember("CreateJob", &claim, &job.api.id)?;
    let id = job.api.id.clone();
    let ctl = state.rm().register_control(&id);
    state.spawn(super::runner::run(state.clone(), id.clone(), ctl));
    tracing::info!(job = %id, stack = %job.api.stack_id, operation = ?job.api.operation, "created a job");
    Ok(api::json_with_etag(StatusCode::OK, &job.api))
}

fn create(
    state: &AppState,
    d: CreateJobDetails,
    principal: Option<Principal>,
) -> ApiResult<StoredJob> {
    let stack_id = d
        .stack_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing("stackId"))?;
    let stack = stacks::find_active(state, &stack_id)?;
    let jod = d.job_operation_details.clone();
    let operation = jod
        .as_ref()
        .and_then(|j| j.operation)
        .or(d.operation)
        .ok_or_else(|| ApiError::missing("jobOperationDetails.operation"))?;
    let advanced = jod
        .as_ref()
        .and_then(|j| j.terraform_advanced_options.clone());
    let legacy = d.apply_job_plan_resolution.clone();

    let mut details = OperationDetails {
        operation,
        terraform_advanced_options: advanced,
        execution_plan_strategy: None,
        execution_plan_job_id: None,
    };
    let mut resolution = None;
    let mut resolved_plan_job_id = None;
    let id = crate::ids::ocid("ormjob");
    let rm = state.rm();
    match operation {
        Operation::Plan => {}
        Operation::Apply => {
            let strategy = jod
                .as_ref()
                .and_then(|j| j.execution_plan_strategy)
                .or_else(|| legacy_strategy(legacy.as_ref()))
                .ok_or_else(|| ApiError::missing("jobOperationDetails.executionPlanStrategy"))?;
            let plan_job = match strategy {
                PlanStrategy::AutoApproved => None,
                PlanStrategy::FromPlanJobId => {
                    let plan_id = jod
                        .as_ref()
                        .and_then(|j| j.execution_plan_job_id.clone())
                        .or_else(|| legacy.as_ref().and_then(|l| l.plan_job_id.clone()))
                        .ok_or_else(|| {
                            ApiError::missing("jobOperationDetails.executionPlanJobId")
                        })?;
                    details.execution_plan_job_id = Some(plan_id.clone());
                    Some(check_plan_job(state, &stack, &plan_id)?)
                }
                PlanStrategy::FromLatestPlanJob => {
                    let latest = rm
                        .jobs()
                        .into_iter()
                        .filter(|j| {
                            j.api.stack_id == stack.id
                                && j.api.operation == Operation::Plan
                                && j.api.lifecycle_state == JobState::Succeeded
                        })
                        .max_by(|a, b| a.api.time_created.cmp(&b.api.time_created))
                        .ok_or_else(|| {
                            ApiError::invalid(format!(
                                "stack {} has no SUCCEEDED plan job to apply",
                                stack.id
                            ))
                        })?;
                    Some(latest.api.id)
                }
            };
            details.execution_plan_strategy = Some(strategy);
            resolution = Some(ApplyJobPlanResolution {
                plan_job_id: plan_job.clone(),
                is_use_latest_job_id: Some(strategy == PlanStrategy::FromLatestPlanJob),
                is_auto_approved: Some(strategy == PlanStrategy::AutoApproved),
            });
            resolved_plan_job_id = plan_job;
        }
        Operation::Destroy => {
            let strategy = jod
                .as_ref()
                .and_then(|j| j.execution_plan_strategy)
                .unwrap_or(PlanStrategy::AutoApproved);
            if strategy != PlanStrategy::AutoApproved {
                return Err(ApiError::invalid(
                    "DESTROY jobs support only the AUTO_APPROVED executionPlanStrategy",
                ));
            }
            details.execution_plan_strategy = Some(strategy);
        }
        Operation::ImportTfState => {
            let b64 = jod
                .as_ref()
                .and_then(|j| j.tf_state_base64_encoded.clone())
                .ok_or_else(|| ApiError::missing("jobOperationDetails.tfStateBase64Encoded"))?;
            let bytes = STANDARD.decode(b64.trim()).map_err(|_| {
                ApiError::invalid("jobOperationDetails.tfStateBase64Encoded is not valid base64")
            })?;
            if !serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.is_object()) {
                return Err(ApiError::invalid(
                    "jobOperationDetails.tfStateBase64Encoded is not a Terraform state (JSON object)",
                ));
            }
            store::write_atomic(&rm.job_dir(&id).join("import.tfstate"), &bytes)?;
        }
    }

    let zip = store::read(&rm.stack_dir(&stack.id).join("config.zip"))?;
    let config_sha256 = config_digest(&zip, &stack);
    store::write_atomic(&rm.job_dir(&id).join("config.zip"), &zip)?;

    let (tenancy, user) = principal
        .as_ref()
        .and_then(|p| p.key_id.api_key_parts())
        .map(|(t, u, _)| (Some(t.to_owned()), Some(u.to_owned())))
        .unwrap_or_default();
    let now = crate::clock::now();
    let job = StoredJob {
        api: Job {
            id: id.clone(),
            stack_id: stack.id.clone(),
            compartment_id: stack.compartment_id.clone(),
            display_name: d
                .display_name
                .unwrap_or_else(|| format!("ormjob{}", now.replace(['-', ':', 'T', '.', 'Z'], ""))),
            operation,
            is_third_party_provider_experience_enabled: stack
                .is_third_party_provider_experience_enabled,
            is_provider_upgrade_required: jod
                .as_ref()
                .and_then(|j| j.is_provider_upgrade_required)
                .unwrap_or(false),
            job_operation_details: details,
            apply_job_plan_resolution: resolution,
            resolved_plan_job_id,
            time_created: now,
            time_finished: None,
            lifecycle_state: JobState::Accepted,
            failure_details: None,
            cancellation_details: None,
            working_directory: stack.config_source.working_directory.clone(),
            variables: stack.variables.clone(),
            config_source: ConfigSourceRecord {
                config_source_record_type: "ZIP_UPLOAD".to_owned(),
            },
            freeform_tags: d.freeform_tags.unwrap_or_default(),
            defined_tags: d.defined_tags.unwrap_or_default(),
            system_tags: Default::default(),
        },
        galley: JobInternal {
            tenancy_ocid: tenancy,
            user_ocid: user,
            config_sha256,
        },
    };
    rm.save_job(job.clone())?;
    Ok(job)
}

fn legacy_strategy(r: Option<&ApplyJobPlanResolution>) -> Option<PlanStrategy> {
    let r = r?;
    if r.plan_job_id.is_some() {
        Some(PlanStrategy::FromPlanJobId)
    } else if r.is_use_latest_job_id == Some(true) {
        Some(PlanStrategy::FromLatestPlanJob)
    } else if r.is_auto_approved == Some(true) {
        Some(PlanStrategy::AutoApproved)
    } else {
        None
    }
}

fn check_plan_job(state: &AppState, stack: &Stack, plan_id: &str) -> ApiResult<String> {
    let plan = state.rm().job(plan_id).ok_or_else(|| {
        ApiError::not_found(format!(
            "plan job {plan_id} was not found",
            plan_id = echo(plan_id)
        ))
    })?;
    if plan.api.stack_id != stack.id {
        return Err(ApiError::invalid(format!(
            "job {plan_id} belongs to another stack",
            plan_id = echo(plan_id)
        )));
    }
    if plan.api.operation != Operation::Plan {
        return Err(ApiError::invalid(format!(
            "job {plan_id} is not a PLAN job",
            plan_id = echo(plan_id)
        )));
    }
    if plan.api.lifecycle_state != JobState::Succeeded {
        return Err(ApiError::invalid(format!(
            "plan job {plan_id} is {:?}; only a SUCCEEDED plan job can be applied",
            plan.api.lifecycle_state,
            plan_id = echo(plan_id)
        )));
    }
    Ok(plan.api.id)
}

/// SHA-256 over what a job runs: the zip, the working directory and the variables.
pub fn config_digest(zip: &[u8], stack: &Stack) -> String {
    let mut h = Sha256::new();
    h.update(Sha256::digest(zip));
    h.update(
        stack
            .config_source
            .working_directory
            .as_deref()
            .unwrap_or("")
            .as_bytes(),
    );
    h.update([0]);
    h.update(serde_json::to_vec(&stack.variables).unwrap_or_default());
    hex::encode(h.finalize())
}

pub async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(api::json_with_etag(StatusCode::OK, &find(&state, &id)?.api))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJobsQuery {
    compartment_id: Option<String>,
    stack_id: Option<String>,
    id: Option<String>,
    lifecycle_state: Option<JobState>,
    display_name: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<SortOrder>,
    limit: Option<usize>,
    page: Option<String>,
}

pub async fn list_jobs(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let q: ListJobsQuery = api::parse_query(&uri)?;
    let mut jobs: Vec<Job> = state
        .rm()
        .jobs()
        .into_iter()
        .map(|j| j.api)
        .filter(|j| {
            q.compartment_id
                .as_ref()
                .is_none_or(|c| *c == j.compartment_id)
        })
        .filter(|j| q.stack_id.as_ref().is_none_or(|s| *s == j.stack_id))
        .filter(|j| q.id.as_ref().is_none_or(|i| *i == j.id))
        .filter(|j| q.lifecycle_state.is_none_or(|l| l == j.lifecycle_state))
        .filter(|j| q.display_name.as_ref().is_none_or(|d| *d == j.display_name))
        .collect();
    stacks::sort(&mut jobs, q.sort_by.as_deref(), q.sort_order, |j| {
        (j.time_created.clone(), j.display_name.clone())
    })?;
    let page = api::paginate(jobs, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    let summaries: Vec<_> = page.items.iter().map(Job::summary).collect();
    Ok(api::page_response(api::Page {
        items: summaries,
        next: page.next,
    }))
}

pub async fn update_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let job = find(&state, &id)?;
    api::check_if_match(&headers, &job.api)?;
    let d: UpdateJobDetails = api::parse_json(&body)?;
    let job = state
        .rm()
        .update_job(&id, |j| {
            if let Some(v) = d.display_name {
                j.api.display_name = v;
            }
            if let Some(v) = d.freeform_tags {
                j.api.freeform_tags = v;
            }
            if let Some(v) = d.defined_tags {
                j.api.defined_tags = v;
            }
        })?
        .ok_or_else(|| ApiError::not_found(format!("job {id} was not found", id = echo(&id))))?;
    Ok(api::json_with_etag(StatusCode::OK, &job.api))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelQuery {
    is_forced: Option<bool>,
}

pub async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let q: CancelQuery = api::parse_query(&uri)?;
    let forced = q.is_forced.unwrap_or(false);
    let job = find(&state, &id)?;
    api::check_if_match(&headers, &job.api)?;
    match job.api.lifecycle_state {
        JobState::Canceled => return Ok(StatusCode::NO_CONTENT.into_response()),
        JobState::Succeeded | JobState::Failed => {
            return Err(ApiError::incorrect_state(format!(
                "job {id} is {:?} and can no longer be canceled",
                job.api.lifecycle_state,
                id = echo(&id)
            )));
        }
        JobState::Accepted | JobState::InProgress | JobState::Canceling => {}
    }
    let rm = state.rm();
    let ctl = rm.control(&id);
    rm.update_job(&id, |j| {
        if j.api.lifecycle_state.is_terminal() {
            return;
        }
        j.api.lifecycle_state = if ctl.is_some() {
            JobState::Canceling
        } else {
            JobState::Canceled
        };
        j.api.cancellation_details = Some(super::model::CancellationDetails { is_forced: forced });
    })?;
    if let Some(ctl) = ctl {
        if forced {
            ctl.force.cancel();
        }
        ctl.cancel.cancel();
    }
    tracing::info!(job = %id, forced, "cancel requested");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    level_greater_than_or_equal_to: Option<String>,
    sort_order: Option<SortOrder>,
    limit: Option<usize>,
    page: Option<String>,
    timestamp_greater_than_or_equal_to: Option<String>,
    timestamp_less_than_or_equal_to: Option<String>,
}

fn level_rank(level: &str) -> Option<u8> {
    ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        .iter()
        .position(|l| *l == level)
        .map(|p| p as u8)
}

pub async fn get_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult {
    find(&state, &id)?;
    let q: LogsQuery = api::parse_query(&uri)?;
    let parse_ts = |v: &Option<String>, name: &str| -> ApiResult<_> {
        v.as_deref()
            .map(|s| {
                crate::clock::parse(s).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "{name} is not an RFC 3339 timestamp",
                        name = echo(name)
                    ))
                })
            })
            .transpose()
    };
    let from = parse_ts(
        &q.timestamp_greater_than_or_equal_to,
        "timestampGreaterThanOrEqualTo",
    )?;
    let to = parse_ts(
        &q.timestamp_less_than_or_equal_to,
        "timestampLessThanOrEqualTo",
    )?;
    let min_level = match &q.level_greater_than_or_equal_to {
        Some(l) => Some(
            level_rank(l)
                .ok_or_else(|| ApiError::invalid(format!("unknown log level {l}", l = echo(l))))?,
        ),
        None => None,
    };
    let mut entries: Vec<LogEntry> = logs::read_all(&state.rm().job_dir(&id).join("logs.jsonl"))
        .into_iter()
        .filter(|e| q.kind.as_ref().is_none_or(|k| *k == e.kind))
        .filter(|e| min_level.is_none_or(|m| level_rank(&e.level).unwrap_or(0) >= m))
        .filter(|e| {
            let t = crate::clock::parse(&e.timestamp);
            from.is_none_or(|f| t.is_some_and(|t| t >= f))
                && to.is_none_or(|l| t.is_some_and(|t| t <= l))
        })
        .collect();
    if q.sort_order == Some(SortOrder::Desc) {
        // Stable: entries of the same millisecond keep their relative order reversed.
        entries.reverse();
    }
    let page = api::paginate(entries, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    Ok(api::page_response(page))
}

pub async fn get_logs_content(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    find(&state, &id)?;
    let mut text = String::new();
    for e in logs::read_all(&state.rm().job_dir(&id).join("logs.jsonl")) {
        text.push_str(&e.message);
        text.push('\n');
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}

pub async fn get_tf_state(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    find(&state, &id)?;
    match store::read(&state.rm().job_dir(&id).join("tfstate.json")) {
        Ok(bytes) => Ok(bytes_response(bytes, "application/json")),
        Err(e) if e.is_not_found() => Err(ApiError::not_found(format!(
            "job {id} has no Terraform state (it has not run, or the stack had none)",
            id = echo(&id)
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_tf_config(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    find(&state, &id)?;
    let zip = store::read(&state.rm().job_dir(&id).join("config.zip"))?;
    Ok(bytes_response(zip, "application/zip"))
}
