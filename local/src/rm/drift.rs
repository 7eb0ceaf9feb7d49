//! Drift detection (DetectStackDrift, ListStackResourceDriftDetails): a refresh-only plan of
//! the stack's state, run as the stack's jobs run (its configuration unzipped, its state in
//! place, the same terraform environment), in a work request of type `DRIFT_DETECTION`.
//!
//! Every managed resource instance of the stored state is reported: `DELETED` when the
//! refresh found it gone, `MODIFIED` when its attributes changed (Terraform's `resource_drift`
//! of the refresh-only plan), `IN_SYNC` otherwise. For a drifted resource the expected (stored)
//! and actual (refreshed) properties are the leaf values that differ, flattened as Resource
//! Manager writes them (`options.0.server_type`); sensitive values are masked. `resourceName`
//! is the address without its type for resources of the root module (`web[3]` of
//! `oci_core_instance.web[3]`) and the whole address inside modules.
//!
//! Like Resource Manager, drift can be detected for a stack whose last job was an apply or an
//! import of state; otherwise the request is refused with 409 `IncorrectState`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::logs::{Level, LogWriter};
use super::model::{
    ConfigSourceRecord, Job, JobInternal, JobState, Operation, OperationDetails, Stack, StoredJob,
};
use super::prepare::prepare;
use super::runner::{Execution, StepEnd};
use super::workrequests::{
    self, DRIFT_DETECTION, StoredWorkRequest, WorkRequest, WorkRequestError, WorkRequestInternal,
    WorkRequestResource,
};
use super::{JobControl, stacks, zipdir};
use crate::api::{self, ApiError, ApiResult};
use crate::app::AppState;
use crate::auth::Principal;
use crate::retry::Claim;
use crate::store;

const OPC_WORK_REQUEST_ID: HeaderName = HeaderName::from_static("opc-work-request-id");
/// Shown instead of a sensitive property's value.
const SENSITIVE: &str = "(sensitive value)";

pub const IN_SYNC: &str = "IN_SYNC";
pub const MODIFIED: &str = "MODIFIED";
pub const DELETED: &str = "DELETED";

/// One resource's drift, as `StackResourceDriftSummary`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDrift {
    pub stack_id: String,
    pub compartment_id: String,
    pub resource_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    pub resource_type: String,
    pub resource_drift_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_properties: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_properties: Option<BTreeMap<String, String>>,
    pub time_drift_checked: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DetectDetails {
    resource_addresses: Option<Vec<String>>,
}

pub async fn detect_drift(
    State(state): State<AppState>,
    Path(stack_id): Path<String>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let retry = state.retry();
    let _guard = retry.guard().await;
    let claim = retry.claim("DetectStackDrift", &headers, &body)?;
    if let Claim::Replay(id) = &claim {
        return Ok(accepted(&id.clone()));
    }
    let details: DetectDetails = if body.is_empty() {
        DetectDetails::default()
    } else {
        api::parse_json(&body)?
    };
    let stack = stacks::find_active(&state, &stack_id)?;
    check_last_job(&state, &stack)?;
    let (tenancy, user) = principal
        .as_ref()
        .and_then(|p| p.0.key_id.api_key_parts())
        .map(|(t, u, _)| (Some(t.to_owned()), Some(u.to_owned())))
        .unwrap_or_default();
    let id = crate::ids::ocid("ormworkrequest");
    let wr = StoredWorkRequest {
        api: WorkRequest {
            operation_type: DRIFT_DETECTION.to_owned(),
            status: workrequests::ACCEPTED.to_owned(),
            id: id.clone(),
            compartment_id: stack.compartment_id.clone(),
            resources: vec![WorkRequestResource {
                action_type: "IN_PROGRESS".to_owned(),
                entity_type: "stack".to_owned(),
                identifier: stack.id.clone(),
                entity_uri: Some(format!("/20180917/stacks/{}", stack.id)),
            }],
            percent_complete: 0.0,
            time_accepted: crate::clock::now(),
            time_started: None,
            time_finished: None,
        },
        galley: WorkRequestInternal {
            tenancy_ocid: tenancy,
            user_ocid: user,
            resource_addresses: details.resource_addresses.unwrap_or_default(),
            ..Default::default()
        },
    };
    state.rm().save_work_request(wr)?;
    retry.remember("DetectStackDrift", &claim, &id)?;
    state.spawn(run(state.clone(), id.clone()));
    tracing::info!(work_request = %id, stack = %stack.id, "started drift detection");
    Ok(accepted(&id))
}

fn accepted(id: &str) -> axum::response::Response {
    let mut resp = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(OPC_WORK_REQUEST_ID, v);
    }
    resp
}

/// Resource Manager detects drift for stacks whose last job applied or imported state.
fn check_last_job(state: &AppState, stack: &Stack) -> ApiResult<()> {
    let last = state
        .rm()
        .jobs()
        .into_iter()
        .filter(|j| j.api.stack_id == stack.id)
        .max_by(|a, b| a.api.time_created.cmp(&b.api.time_created));
    match last.map(|j| j.api.operation) {
        Some(Operation::Apply | Operation::ImportTfState) => Ok(()),
        other => Err(ApiError::incorrect_state(format!(
            "drift can be detected for a stack whose last job was an apply or an import of \
             state; the last job of stack {} is {}",
            stack.id,
            match other.and_then(|op| serde_json::to_value(op).ok()) {
                Some(Value::String(op)) => format!("a {op} job"),
                _ => "none".to_owned(),
            }
        ))),
    }
}

/// Runs drift detection `id` to its end.
async fn run(state: AppState, id: String) {
    let rm = state.rm();
    let Some(wr) = rm.work_request(&id) else {
        return;
    };
    let Some(stack_id) = wr.api.stack_id().map(str::to_owned) else {
        return;
    };
    let dir = rm.work_request_dir(&id);
    let log = match LogWriter::open(&dir.join("logs.jsonl")) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            finish(&state, &id, Err(format!("failed to open the log: {e}")));
            return;
        }
    };
    let lock = rm.stack_lock(&stack_id);
    let shutdown = state.shutdown_token().clone();
    let _guard = tokio::select! {
        g = lock.lock_owned() => g,
        _ = shutdown.cancelled() => return,
    };
    let _ = rm.update_work_request(&id, |w| {
        w.api.status = workrequests::IN_PROGRESS.to_owned();
        w.api.time_started = Some(crate::clock::now());
        w.api.percent_complete = 10.0;
    });
    let outcome = match rm.stack(&stack_id) {
        Some(stack) => detect(&state, &wr, &stack, log.clone()).await,
        None => Err(format!("stack {stack_id} no longer exists")),
    };
    let _ = std::fs::remove_dir_all(rm.stack_dir(&stack_id).join("work").join(&id));
    match &outcome {
        Ok(drifts) => {
            let drifted = drifts
                .iter()
                .any(|d| d.resource_drift_status == MODIFIED || d.resource_drift_status == DELETED);
            let now = crate::clock::now();
            let saved = store::write_json(&dir.join("drift.json"), drifts).and_then(|_| {
                rm.update_stack(&stack_id, |s| {
                    s.stack_drift_status = if drifted { "DRIFTED" } else { IN_SYNC }.to_owned();
                    s.time_drift_last_checked = Some(now);
                })
            });
            if let Err(e) = saved {
                finish(&state, &id, Err(format!("failed to save the result: {e}")));
                return;
            }
            log.line(Level::Info, "Drift detection succeeded.");
        }
        Err(message) => log.line(Level::Error, message),
    }
    finish(&state, &id, outcome.map(|_| ()));
}

fn finish(state: &AppState, id: &str, outcome: Result<(), String>) {
    let result = state.rm().update_work_request(id, |w| {
        let now = crate::clock::now();
        w.api.time_finished = Some(now.clone());
        match outcome {
            Ok(()) => {
                w.api.status = workrequests::SUCCEEDED.to_owned();
                w.api.percent_complete = 100.0;
                for r in &mut w.api.resources {
                    r.action_type = "UPDATED".to_owned();
                }
            }
            Err(message) => {
                w.api.status = workrequests::FAILED.to_owned();
                w.galley.errors.push(WorkRequestError {
                    code: "TERRAFORM_EXECUTION_ERROR".to_owned(),
                    message,
                    timestamp: now,
                });
            }
        }
    });
    if let Err(e) = result {
        tracing::error!(work_request = %id, error = %e, "failed to record the end of a work request");
    }
    tracing::info!(work_request = %id, "drift detection finished");
}

/// The job whose environment the drift detection's terraform commands get: a PLAN of the
/// stack as it is now, by whoever asked for the detection.
fn as_job(stack: &Stack, wr: &StoredWorkRequest) -> StoredJob {
    StoredJob {
        api: Job {
            id: wr.api.id.clone(),
            stack_id: stack.id.clone(),
            compartment_id: stack.compartment_id.clone(),
            display_name: "drift detection".to_owned(),
            operation: Operation::Plan,
            is_provider_upgrade_required: false,
            is_third_party_provider_experience_enabled: stack
                .is_third_party_provider_experience_enabled,
            job_operation_details: OperationDetails {
                operation: Operation::Plan,
                terraform_advanced_options: None,
                execution_plan_strategy: None,
                execution_plan_job_id: None,
            },
            apply_job_plan_resolution: None,
            resolved_plan_job_id: None,
            time_created: wr.api.time_accepted.clone(),
            time_finished: None,
            lifecycle_state: JobState::InProgress,
            failure_details: None,
            cancellation_details: None,
            working_directory: stack.config_source.working_directory.clone(),
            variables: stack.variables.clone(),
            config_source: ConfigSourceRecord {
                config_source_record_type: "ZIP_UPLOAD".to_owned(),
            },
            freeform_tags: Default::default(),
            defined_tags: Default::default(),
            system_tags: Default::default(),
        },
        galley: JobInternal {
            tenancy_ocid: wr.galley.tenancy_ocid.clone(),
            user_ocid: wr.galley.user_ocid.clone(),
            config_sha256: String::new(),
        },
    }
}

/// Init and a refresh-only plan of the stack's state; the per-resource result.
async fn detect(
    state: &AppState,
    wr: &StoredWorkRequest,
    stack: &Stack,
    log: Arc<LogWriter>,
) -> Result<Vec<ResourceDrift>, String> {
    let rm = state.rm();
    let stack_dir = rm.stack_dir(&stack.id);
    let stored = match std::fs::read(stack_dir.join("tfstate.json")) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| format!("the stack's state is not JSON: {e}"))?,
        Err(_) => {
            log.line(Level::Info, "The stack has no state: nothing can drift.");
            return Ok(Vec::new());
        }
    };
    let zip = store::read(&stack_dir.join("config.zip")).map_err(|e| e.to_string())?;
    let work = stack_dir.join("work").join(&wr.api.id);
    let _ = std::fs::remove_dir_all(&work);
    zipdir::extract_into(&zip, &work, state.config().extract).map_err(|e| e.to_string())?;
    let wd = match &stack.config_source.working_directory {
        Some(w) => work.join(w),
        None => work.clone(),
    };
    std::fs::copy(stack_dir.join("tfstate.json"), wd.join("terraform.tfstate"))
        .map_err(|e| format!("failed to put the stack's state in place: {e}"))?;
    let job = as_job(stack, wr);
    let ctl = JobControl::default();
    // The same Terraform and custom providers a job of the stack would run with.
    let prepared = prepare(state, &job, &log)
        .await
        .map_err(|failure| failure.message)?;
    let exec = Execution {
        state,
        job: &job,
        log: log.clone(),
        ctl: &ctl,
        prepared: &prepared,
    };
    let step = |end: StepEnd, what: &str| match end {
        StepEnd::Success => Ok(()),
        StepEnd::Failed => Err(format!(
            "terraform {what} failed: {}",
            log.failure_summary()
        )),
        StepEnd::Canceled | StepEnd::Interrupted => {
            Err(format!("terraform {what} was interrupted"))
        }
    };
    let init: Vec<OsString> = vec!["init".into(), "-input=false".into(), "-no-color".into()];
    step(exec.terraform(&wd, init).await, "init")?;
    let plan_file = rm.work_request_dir(&wr.api.id).join("drift.tfplan");
    let mut out = OsString::from("-out=");
    out.push(&plan_file);
    let plan: Vec<OsString> = vec![
        "plan".into(),
        "-refresh-only".into(),
        "-input=false".into(),
        "-no-color".into(),
        out,
    ];
    step(exec.terraform(&wd, plan).await, "plan -refresh-only")?;
    let show: Vec<OsString> = vec!["show".into(), "-json".into(), plan_file.clone().into()];
    let output = exec
        .command(&wd, &show)
        .output()
        .await
        .map_err(|e| format!("failed to run terraform show: {e}"))?;
    let _ = std::fs::remove_file(&plan_file);
    if !output.status.success() {
        return Err(format!(
            "terraform show -json failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let plan: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("terraform show -json printed no JSON plan: {e}"))?;
    Ok(summarize(
        &stored,
        &plan,
        &wr.galley.resource_addresses,
        stack,
        &crate::clock::now(),
    ))
}

/// The drift of every managed resource instance of `stored` (a state file), from the
/// `resource_drift` of `plan` (a refresh-only plan as `terraform show -json` prints it); only
/// `addresses` when any are given.
pub fn summarize(
    stored: &Value,
    plan: &Value,
    addresses: &[String],
    stack: &Stack,
    now: &str,
) -> Vec<ResourceDrift> {
    let drift: BTreeMap<&str, &Value> = plan["resource_drift"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["address"].as_str()?, &d["change"])))
        .collect();
    let mut out = Vec::new();
    for resource in stored["resources"].as_array().into_iter().flatten() {
        if resource["mode"] != "managed" {
            continue;
        }
        let ty = resource["type"].as_str().unwrap_or_default();
        let name = resource["name"].as_str().unwrap_or_default();
        let module = resource["module"].as_str();
        for instance in resource["instances"].as_array().into_iter().flatten() {
            let index = match &instance["index_key"] {
                Value::Number(n) => format!("[{n}]"),
                Value::String(s) => format!("[{}]", Value::String(s.clone())),
                _ => String::new(),
            };
            let local = format!("{ty}.{name}{index}");
            let address = match module {
                Some(m) => format!("{m}.{local}"),
                None => local,
            };
            if !addresses.is_empty() && !addresses.contains(&address) {
                continue;
            }
            let resource_name = match module {
                Some(_) => address.clone(),
                None => format!("{name}{index}"),
            };
            let change = drift.get(address.as_str());
            let actions: Vec<&str> = change
                .and_then(|c| c["actions"].as_array())
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let (status, expected, actual) = if actions.contains(&"delete") {
                let before = change.map(|c| masked(flat(&c["before"]), &c["before_sensitive"]));
                (DELETED, before, Some(BTreeMap::new()))
            } else if actions.contains(&"update") {
                let c = change.expect("an action comes from a change");
                let (before, after) = (flat(&c["before"]), flat(&c["after"]));
                // Compared before masking: a changed secret is drift too, shown masked.
                let keys: BTreeSet<&String> = before
                    .keys()
                    .chain(after.keys())
                    .filter(|k| before.get(*k) != after.get(*k))
                    .collect();
                let pick = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
                    keys.iter()
                        .filter_map(|k| m.get(*k).map(|v| ((*k).clone(), v.clone())))
                        .collect()
                };
                (
                    MODIFIED,
                    Some(masked(pick(&before), &c["before_sensitive"])),
                    Some(masked(pick(&after), &c["after_sensitive"])),
                )
            } else {
                (IN_SYNC, None, None)
            };
            out.push(ResourceDrift {
                stack_id: stack.id.clone(),
                compartment_id: stack.compartment_id.clone(),
                resource_name,
                resource_id: instance["attributes"]["id"].as_str().map(str::to_owned),
                resource_type: ty.to_owned(),
                resource_drift_status: status.to_owned(),
                actual_properties: actual,
                expected_properties: expected,
                time_drift_checked: now.to_owned(),
            });
        }
    }
    out
}

/// `value` flattened to `a.0.b` paths, nulls left out.
fn flat(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten("", value, &mut out);
    out
}

/// `props` with the values under a path `sensitive` marks (Terraform's `*_sensitive`
/// structure, `true` at sensitive values) replaced by [`SENSITIVE`].
fn masked(mut props: BTreeMap<String, String>, sensitive: &Value) -> BTreeMap<String, String> {
    let hidden: Vec<String> = flat(sensitive)
        .into_iter()
        .filter(|(_, v)| v == "true")
        .map(|(k, _)| k)
        .collect();
    let everything = sensitive.as_bool() == Some(true);
    for (k, v) in props.iter_mut() {
        if everything
            || hidden
                .iter()
                .any(|h| k == h || k.starts_with(&format!("{h}.")))
        {
            *v = SENSITIVE.to_owned();
        }
    }
    props
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Null => {}
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&key(&i.to_string()), v, out)),
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

pub async fn list_resource_drift_details(
    State(state): State<AppState>,
    Path(stack_id): Path<String>,
    uri: Uri,
) -> ApiResult {
    let stack = stacks::find_active(&state, &stack_id)?;
    let mut work_request_id = None;
    let mut statuses = Vec::new();
    let mut limit = None;
    let mut page = None;
    for (k, v) in query_pairs(&uri) {
        match k.as_str() {
            "workRequestId" => work_request_id = Some(v),
            "resourceDriftStatus" => {
                let s = v.to_ascii_uppercase();
                if ![IN_SYNC, MODIFIED, DELETED, "NOT_CHECKED"].contains(&s.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "resourceDriftStatus {v} is not one of NOT_CHECKED, IN_SYNC, MODIFIED, DELETED"
                    )));
                }
                statuses.push(s);
            }
            "limit" => {
                limit = Some(
                    v.parse::<usize>()
                        .map_err(|_| ApiError::invalid("limit is not a number"))?,
                )
            }
            "page" => page = Some(v),
            _ => {}
        }
    }
    let rm = state.rm();
    let wr = match work_request_id {
        Some(id) => {
            let wr = workrequests::find(&state, &id)?;
            if wr.api.stack_id() != Some(stack.id.as_str())
                || wr.api.operation_type != DRIFT_DETECTION
            {
                return Err(ApiError::not_found(format!(
                    "work request {id} is not a drift detection of stack {}",
                    stack.id
                )));
            }
            if wr.api.status != workrequests::SUCCEEDED {
                return Err(ApiError::incorrect_state(format!(
                    "work request {id} is {}; drift details exist once it SUCCEEDED",
                    wr.api.status
                )));
            }
            Some(wr)
        }
        // The latest completed drift detection of the stack.
        None => rm
            .work_requests()
            .into_iter()
            .filter(|w| {
                w.api.stack_id() == Some(stack.id.as_str())
                    && w.api.operation_type == DRIFT_DETECTION
                    && w.api.status == workrequests::SUCCEEDED
            })
            .max_by(|a, b| a.api.time_finished.cmp(&b.api.time_finished)),
    };
    let items: Vec<ResourceDrift> = match wr {
        Some(wr) => store::read_json::<Vec<ResourceDrift>>(
            &rm.work_request_dir(&wr.api.id).join("drift.json"),
        )
        .unwrap_or_default(),
        None => Vec::new(),
    }
    .into_iter()
    .filter(|d| statuses.is_empty() || statuses.contains(&d.resource_drift_status))
    .collect();
    let page = api::paginate(items, limit, page.as_deref(), api::DEFAULT_LIMIT)?;
    #[derive(Serialize)]
    struct Collection {
        items: Vec<ResourceDrift>,
    }
    let mut resp = api::json(StatusCode::OK, &Collection { items: page.items });
    if let Some(next) = page.next
        && let Ok(v) = HeaderValue::from_str(&next)
    {
        resp.headers_mut().insert(api::OPC_NEXT_PAGE, v);
    }
    Ok(resp)
}

/// The query's parameters in order, decoded, repeated ones included.
fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stack() -> Stack {
        serde_json::from_value(json!({
            "id": "ocid1.ormstack.oc1..s", "compartmentId": "c", "displayName": "s",
            "timeCreated": "t", "lifecycleState": "ACTIVE",
            "configSource": {"configSourceType": "ZIP_UPLOAD"},
            "terraformVersion": "1.5.x", "stackDriftStatus": "NOT_CHECKED"
        }))
        .unwrap()
    }

    #[test]
    fn each_stored_instance_is_in_sync_modified_or_deleted() {
        let stored = json!({"resources": [
            {"mode": "managed", "type": "esb_resources", "name": "app", "instances": [
                {"attributes": {"id": "esb-1", "table_names": ["a", "b"]}}]},
            {"mode": "managed", "type": "terraform_data", "name": "x", "instances": [
                {"index_key": 0, "attributes": {"id": "x0"}},
                {"index_key": 1, "attributes": {"id": "x1"}}]},
            {"mode": "managed", "type": "terraform_data", "name": "y", "module": "module.m",
             "instances": [{"index_key": "k", "attributes": {"id": "y"}}]},
            {"mode": "data", "type": "terraform_remote_state", "name": "r", "instances": [{}]}
        ]});
        let plan = json!({"resource_drift": [
            {"address": "esb_resources.app", "change": {"actions": ["update"],
                "before": {"id": "esb-1", "table_names": ["a", "b"], "secret_key": "s1"},
                "after": {"id": "esb-1", "table_names": ["a"], "secret_key": "s2"},
                "before_sensitive": {"secret_key": true}, "after_sensitive": {"secret_key": true}}},
            {"address": "terraform_data.x[1]", "change": {"actions": ["delete"],
                "before": {"id": "x1", "input": "v"}, "after": null}}
        ]});
        let d = summarize(&stored, &plan, &[], &stack(), "now");
        let by: Vec<(&str, &str)> = d
            .iter()
            .map(|r| (r.resource_name.as_str(), r.resource_drift_status.as_str()))
            .collect();
        assert_eq!(
            by,
            [
                ("app", MODIFIED),
                ("x[0]", IN_SYNC),
                ("x[1]", DELETED),
                ("module.m.terraform_data.y[\"k\"]", IN_SYNC)
            ]
        );
        let app = &d[0];
        assert_eq!(app.resource_id.as_deref(), Some("esb-1"));
        assert_eq!(
            app.expected_properties,
            Some(BTreeMap::from([
                ("secret_key".into(), SENSITIVE.into()),
                ("table_names.1".into(), "b".into())
            ]))
        );
        assert_eq!(
            app.actual_properties,
            Some(BTreeMap::from([("secret_key".into(), SENSITIVE.into())]))
        );
        assert_eq!(d[2].expected_properties.as_ref().unwrap()["input"], "v");
        let only = summarize(
            &stored,
            &plan,
            &["terraform_data.x[1]".into()],
            &stack(),
            "now",
        );
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].resource_drift_status, DELETED);
    }
}
