//! Field names and enum values against the official Python SDK: each sample in
//! `fixtures/sdk-model-samples.json` (written by `fixtures/sdk_model_samples.py` from the SDK's
//! `attribute_map`s) decodes into the crate's type and encodes back unchanged, so a misspelt or
//! silently dropped field fails here.

use galley_oci::instance_agent::{
    CommandExecutionOutput, CommandOutput, CommandSource, CreateInstanceAgentCommandDetails,
    InstanceAgentCommand, InstanceAgentCommandExecution,
};
use galley_oci::object_storage::{
    Bucket, CreateBucketDetails, CreatePreauthenticatedRequestDetails, PreauthenticatedRequest,
};
use galley_oci::resource_manager::{
    CreateJobDetails, CreateJobOperationDetails, CreateStackDetails, DetectStackDriftDetails, Job,
    JobLifecycleState, JobSummary, LogEntry, Stack, StackResourceDriftCollection, StackSummary,
    UpdateStackDetails, WorkRequest, WorkRequestError, WorkRequestLogEntry,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::util::fixture;

fn samples() -> Value {
    serde_json::from_str(&fixture("sdk-model-samples.json")).expect("the samples file is JSON")
}

/// Removes a dotted path from a JSON object.
fn remove(value: &mut Value, path: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut node = value;
    for part in parts {
        node = node
            .get_mut(part)
            .unwrap_or_else(|| panic!("no {part} in {path}"));
    }
    assert!(
        node.as_object_mut().unwrap().remove(last).is_some(),
        "{path} is not in the sample: the omission list is stale"
    );
}

fn round_trip<T: Serialize + DeserializeOwned>(name: &str, omitted: &[&str]) {
    let all = samples();
    let sample = all["models"][name].clone();
    assert!(sample.is_object(), "no sample for {name}");
    let decoded: T = serde_json::from_value(sample.clone())
        .unwrap_or_else(|e| panic!("{name}: the SDK sample does not decode: {e}\n{sample:#}"));
    let encoded = serde_json::to_value(&decoded).unwrap();
    let mut expected = sample;
    for path in omitted {
        remove(&mut expected, path);
    }
    assert_eq!(
        encoded, expected,
        "{name} does not round-trip the SDK's fields"
    );
}

#[test]
fn samples_come_from_the_pinned_sdk() {
    assert_eq!(samples()["sdk_version"], "2.189.0");
}

#[test]
fn resource_manager_models_match_the_sdk() {
    round_trip::<CreateStackDetails>("rm.CreateStackDetails", &[]);
    round_trip::<UpdateStackDetails>("rm.UpdateStackDetails", &[]);
    round_trip::<Stack>("rm.Stack", &[]);
    round_trip::<StackSummary>("rm.StackSummary", &[]);
    round_trip::<CreateJobDetails>("rm.CreateJobDetails", &[]);
    round_trip::<CreateJobOperationDetails>("rm.CreatePlanJobOperationDetails", &[]);
    round_trip::<CreateJobOperationDetails>("rm.CreateApplyJobOperationDetails", &[]);
    round_trip::<CreateJobOperationDetails>("rm.CreateDestroyJobOperationDetails", &[]);
    round_trip::<CreateJobOperationDetails>("rm.CreateImportTfStateJobOperationDetails", &[]);
    round_trip::<Job>("rm.Job", &[]);
    round_trip::<JobSummary>("rm.JobSummary", &[]);
    round_trip::<LogEntry>("rm.LogEntry", &[]);
}

#[test]
fn drift_and_work_request_models_match_the_sdk() {
    round_trip::<DetectStackDriftDetails>("rm.DetectStackDriftDetails", &[]);
    round_trip::<StackResourceDriftCollection>("rm.StackResourceDriftCollection", &[]);
    round_trip::<WorkRequest>("rm.WorkRequest", &[]);
    round_trip::<WorkRequest>("rm.WorkRequestSummary", &[]);
    round_trip::<WorkRequestError>("rm.WorkRequestError", &[]);
    round_trip::<WorkRequestLogEntry>("rm.WorkRequestLogEntry", &[]);
}

#[test]
fn instance_agent_models_match_the_sdk() {
    // `commandString` is a server-side rendering of the command, never needed here.
    round_trip::<CreateInstanceAgentCommandDetails>(
        "ia.CreateInstanceAgentCommandDetails",
        &["content.commandString"],
    );
    round_trip::<InstanceAgentCommand>("ia.InstanceAgentCommand", &["content.commandString"]);
    round_trip::<InstanceAgentCommandExecution>("ia.InstanceAgentCommandExecution", &[]);
    round_trip::<CommandSource>("ia.SourceViaObjectStorageTuple", &[]);
    round_trip::<CommandSource>("ia.SourceViaObjectStorageUri", &[]);
    round_trip::<CommandOutput>("ia.OutputViaObjectStorageTuple", &[]);
    round_trip::<CommandOutput>("ia.OutputViaObjectStorageUri", &[]);
    round_trip::<CommandExecutionOutput>("ia.ExecutionOutputViaObjectStorageTuple", &[]);
}

#[test]
fn object_storage_models_match_the_sdk() {
    round_trip::<CreateBucketDetails>("os.CreateBucketDetails", &[]);
    round_trip::<Bucket>("os.Bucket", &[]);
    round_trip::<CreatePreauthenticatedRequestDetails>(
        "os.CreatePreauthenticatedRequestDetails",
        &[],
    );
    round_trip::<PreauthenticatedRequest>("os.PreauthenticatedRequest", &[]);
}

#[test]
fn new_server_values_and_fields_do_not_break_reads() {
    let job: Job = serde_json::from_value(json!({
        "id": "j", "lifecycleState": "PAUSED_FOR_REVIEW", "operation": "DRIFT_DETECTION",
        "failureDetails": {"code": "SOMETHING_NEW", "message": "m"},
        "brandNewField": [1, 2, 3]
    }))
    .unwrap();
    assert_eq!(
        job.lifecycle_state,
        JobLifecycleState::Unknown("PAUSED_FOR_REVIEW".into())
    );
    assert!(!job.lifecycle_state.is_terminal());
    assert_eq!(job.failure_details.unwrap().code.as_str(), "SOMETHING_NEW");
    let command: InstanceAgentCommand = serde_json::from_value(json!({
        "id": "c",
        "content": {"source": {"sourceType": "SOMETHING_NEW", "x": 1}, "output": {"outputType": "TEXT"}}
    }))
    .unwrap();
    assert_eq!(command.content.unwrap().source, CommandSource::Unknown);
}

#[test]
fn text_sources_carry_the_sha256_of_the_script() {
    let details = CreateInstanceAgentCommandDetails::text_script("c", "i", "echo hi\n", 600);
    let body = serde_json::to_value(&details).unwrap();
    assert_eq!(
        body,
        json!({
            "compartmentId": "c",
            "executionTimeOutInSeconds": 600,
            "target": {"instanceId": "i"},
            "content": {
                "source": {
                    "sourceType": "TEXT",
                    "text": "echo hi\n",
                    // sha256sum of "echo hi\n"
                    "textSha256": "ab08508fdf5ca4da5c4995987bc41c56c048aaa5eeb046417ae4049b7d40286e"
                },
                "output": {"outputType": "TEXT"}
            }
        })
    );
}
