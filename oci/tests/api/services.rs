//! The typed calls on the wire: method, path, query, headers and body of each, against a
//! stand-in that checks every signature (PutObject's without its body) as the services do.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use galley_oci::instance_agent::{
    CreateInstanceAgentCommandDetails, DeliveryState, ExecutionLifecycleState, InstanceAgentClient,
};
use galley_oci::model::SortOrder;
use galley_oci::object_storage::{
    CreateBucketDetails, CreatePreauthenticatedRequestDetails, ObjectStorageClient,
    PutObjectOptions, content_md5,
};
use galley_oci::resource_manager::{
    CreateJobDetails, CreateJobOperationDetails, DetectStackDriftDetails, JobLifecycleState,
    JobLogTail, JobLogsRequest, JobOperation, ListJobsRequest, ListResourceDriftRequest,
    ListStacksRequest, ListWorkRequestsRequest, ResourceDriftStatus, ResourceManagerClient,
    TerraformAdvancedOptions, TfPlanFormat, UpdateConfigSourceDetails, UpdateStackDetails,
    WorkRequestStatus,
};
use galley_oci::signing::GENERIC_HEADERS;
use http::Method;
use serde_json::json;

use crate::stand_in::{Canned, Recorded, StandIn, serve};
use crate::{api_key_client, api_key_lookup};

/// A stand-in that rejects unsigned or badly signed requests before `route` sees them.
async fn verified(route: impl Fn(&Recorded) -> Canned + Send + Sync + 'static) -> StandIn {
    serve(move |request| {
        let body_excluded = request.method == Method::PUT && request.path().contains("/o/");
        match request.verify(body_excluded, api_key_lookup) {
            Ok(params) => {
                if body_excluded {
                    assert_eq!(params.header_names(), GENERIC_HEADERS);
                }
                route(request)
            }
            Err(e) => Canned::error(401, "NotAuthenticated", &e.to_string()),
        }
    })
    .await
}

fn log_entry(ts: &str, message: &str) -> serde_json::Value {
    json!({"type": "TERRAFORM_CONSOLE", "level": "INFO", "timestamp": ts, "message": message})
}

#[tokio::test]
async fn resource_manager_calls() {
    let server = verified(|r| {
        let path = r.path().strip_prefix("/20180917").unwrap_or("").to_owned();
        match (r.method.as_str(), path.as_str()) {
            ("PUT", "/stacks/ocid1.ormstack.oc1..s") => {
                Canned::json(200, json!({"id": "ocid1.ormstack.oc1..s", "lifecycleState": "ACTIVE"}))
                    .header("etag", "e2")
            }
            ("DELETE", "/stacks/ocid1.ormstack.oc1..s") => Canned::empty(204),
            ("GET", "/stacks") => match r.query_value("page").as_deref() {
                None => Canned::json(200, json!([{"id": "s1"}, {"id": "s2"}])).header("opc-next-page", "p2"),
                Some("p2") => Canned::json(200, json!([{"id": "s3"}])),
                Some(other) => Canned::error(400, "InvalidParameter", other),
            },
            ("POST", "/jobs") => {
                let body = r.json();
                Canned::json(200, json!({
                    "id": "ocid1.ormjob.oc1..j", "stackId": body["stackId"], "operation": body["operation"],
                    "lifecycleState": "ACCEPTED",
                    "jobOperationDetails": body["jobOperationDetails"]
                }))
            }
            ("GET", "/jobs/ocid1.ormjob.oc1..j") => Canned::json(200, json!({
                "id": "ocid1.ormjob.oc1..j", "lifecycleState": "FAILED", "operation": "APPLY",
                "failureDetails": {"code": "TERRAFORM_EXECUTION_ERROR", "message": "exit 1"}
            })),
            ("DELETE", "/jobs/ocid1.ormjob.oc1..j") => Canned::empty(204),
            ("GET", "/jobs") => Canned::json(200, json!([{"id": "j1", "lifecycleState": "SUCCEEDED"}])),
            ("GET", "/jobs/ocid1.ormjob.oc1..j/logs/content") => {
                Canned::bytes(200, "text/plain", b"Terraform v1.5.7\nApply complete!\n")
            }
            ("GET", "/stacks/ocid1.ormstack.oc1..s/tfState") => {
                Canned::bytes(200, "application/octet-stream", b"{\"version\":4}")
            }
            ("GET", "/jobs/ocid1.ormjob.oc1..j/tfState") => {
                Canned::bytes(200, "application/octet-stream", b"{\"version\":4,\"serial\":2}")
            }
            ("GET", "/jobs/ocid1.ormjob.oc1..j/tfConfig") => {
                Canned::bytes(200, "application/zip", b"PK-job-zip")
            }
            ("GET", "/jobs/ocid1.ormjob.oc1..j/tfPlan") => {
                Canned::bytes(200, "application/json", b"{\"format_version\":\"1.2\"}")
            }
            _ => Canned::error(404, "NotAuthorizedOrNotFound", &format!("{} {}", r.method, r.path_and_query)),
        }
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));

    let mut variables = BTreeMap::new();
    variables.insert("region".to_owned(), "us-ashburn-1".to_owned());
    let update = UpdateStackDetails {
        config_source: Some(UpdateConfigSourceDetails::zip(b"zip", None)),
        variables: Some(variables),
        ..UpdateStackDetails::default()
    };
    let updated = rm
        .update_stack("ocid1.ormstack.oc1..s", &update, Some("e1"))
        .await
        .unwrap();
    assert_eq!(updated.etag.as_deref(), Some("e2"));
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.header("if-match").as_deref(), Some("e1"));
    assert_eq!(
        sent.json(),
        json!({"configSource": {"configSourceType": "ZIP_UPLOAD", "zipFileBase64Encoded": "emlw"},
               "variables": {"region": "us-ashburn-1"}})
    );
    assert!(
        sent.header("opc-retry-token").is_none(),
        "only creates carry a retry token"
    );

    rm.delete_stack("ocid1.ormstack.oc1..s", None)
        .await
        .unwrap();
    assert_eq!(server.requests().pop().unwrap().header("if-match"), None);

    let query = ListStacksRequest {
        compartment_id: Some("ocid1.compartment.oc1..c".into()),
        sort_order: Some(SortOrder::Desc),
        ..ListStacksRequest::default()
    };
    let first = rm.list_stacks(&query).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first.next_page.as_deref(), Some("p2"));
    let all = rm.list_all_stacks(&query).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s1", "s2", "s3"]
    );
    let last = server.requests().pop().unwrap();
    assert_eq!(
        last.query_value("compartmentId").as_deref(),
        Some("ocid1.compartment.oc1..c")
    );
    assert_eq!(last.query_value("sortOrder").as_deref(), Some("DESC"));
    assert_eq!(last.query_value("page").as_deref(), Some("p2"));

    let options = TerraformAdvancedOptions {
        is_refresh_required: Some(true),
        parallelism: Some(4),
        detailed_log_level: None,
    };
    let details = CreateJobDetails::new(
        "ocid1.ormstack.oc1..s",
        CreateJobOperationDetails::apply_plan("ocid1.ormjob.oc1..plan", Some(options)),
    );
    let job = rm.create_job(&details).await.unwrap();
    assert_eq!(job.operation, JobOperation::Apply);
    let sent = server.requests().pop().unwrap();
    assert!(sent.header("opc-retry-token").is_some());
    assert_eq!(
        sent.json(),
        json!({
            "stackId": "ocid1.ormstack.oc1..s",
            "operation": "APPLY",
            "jobOperationDetails": {
                "operation": "APPLY",
                "terraformAdvancedOptions": {"isRefreshRequired": true, "parallelism": 4},
                "executionPlanStrategy": "FROM_PLAN_JOB_ID",
                "executionPlanJobId": "ocid1.ormjob.oc1..plan"
            }
        })
    );
    let destroy = CreateJobDetails::new(
        "s",
        CreateJobOperationDetails::destroy(None).with_provider_upgrade(true),
    );
    rm.create_job(&destroy).await.unwrap();
    assert_eq!(
        server.requests().pop().unwrap().json()["jobOperationDetails"],
        json!({"operation": "DESTROY", "isProviderUpgradeRequired": true, "executionPlanStrategy": "AUTO_APPROVED"})
    );

    let job = rm.get_job("ocid1.ormjob.oc1..j").await.unwrap();
    assert_eq!(job.lifecycle_state, JobLifecycleState::Failed);
    assert!(job.lifecycle_state.is_terminal());
    assert_eq!(job.failure_details.as_ref().unwrap().message, "exit 1");

    rm.cancel_job("ocid1.ormjob.oc1..j", true).await.unwrap();
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.method, Method::DELETE);
    assert_eq!(sent.query_value("isForced").as_deref(), Some("true"));

    let jobs = rm
        .list_jobs(&ListJobsRequest {
            stack_id: Some("ocid1.ormstack.oc1..s".into()),
            ..ListJobsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs[0].lifecycle_state, JobLifecycleState::Succeeded);
    assert_eq!(
        server
            .requests()
            .pop()
            .unwrap()
            .query_value("stackId")
            .as_deref(),
        Some("ocid1.ormstack.oc1..s")
    );

    let content = rm
        .get_job_logs_content("ocid1.ormjob.oc1..j")
        .await
        .unwrap();
    assert_eq!(content.value, "Terraform v1.5.7\nApply complete!\n");
    assert_eq!(
        server.requests().pop().unwrap().header("accept").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let state = rm
        .get_stack_tf_state("ocid1.ormstack.oc1..s")
        .await
        .unwrap();
    assert_eq!(state.value, Bytes::from_static(b"{\"version\":4}"));
    let job_state = rm.get_job_tf_state("ocid1.ormjob.oc1..j").await.unwrap();
    assert_eq!(&job_state.value[..], b"{\"version\":4,\"serial\":2}");
    let job_config = rm.get_job_tf_config("ocid1.ormjob.oc1..j").await.unwrap();
    assert_eq!(&job_config.value[..], b"PK-job-zip");
    let plan = rm
        .get_job_tf_plan("ocid1.ormjob.oc1..j", Some(TfPlanFormat::Json))
        .await
        .unwrap();
    assert!(plan.value.starts_with(b"{\"format_version\""));
    assert_eq!(
        server
            .requests()
            .pop()
            .unwrap()
            .query_value("tfPlanFormat")
            .as_deref(),
        Some("JSON")
    );
}

#[tokio::test]
async fn job_logs_page_and_tail_incrementally() {
    // Entries the "job" has written so far, shared with the stand-in.
    let written = std::sync::Arc::new(std::sync::Mutex::new(vec![
        log_entry("2024-01-01T00:00:01.000Z", "Initializing"),
        log_entry("2024-01-01T00:00:02.000Z", "Plan: 1 to add"),
        log_entry("2024-01-01T00:00:02.000Z", "aws_instance.a: Creating"),
    ]));
    let log = std::sync::Arc::clone(&written);
    let server = verified(move |r| {
        if r.path() != "/20180917/jobs/ocid1.ormjob.oc1..j/logs" {
            return Canned::error(404, "NotAuthorizedOrNotFound", r.path());
        }
        let entries = log.lock().unwrap().clone();
        let since = r.query_value("timestampGreaterThanOrEqualTo");
        let matching: Vec<_> = entries
            .into_iter()
            .filter(|e| {
                since
                    .as_deref()
                    .is_none_or(|s| e["timestamp"].as_str().unwrap() >= s)
            })
            .collect();
        // Pages of two entries.
        let start: usize = r.query_value("page").map_or(0, |p| p.parse().unwrap());
        let page: Vec<_> = matching.iter().skip(start).take(2).cloned().collect();
        let mut canned = Canned::json(200, serde_json::Value::Array(page));
        if start + 2 < matching.len() {
            canned = canned.header("opc-next-page", &(start + 2).to_string());
        }
        canned
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));

    let one_page = rm
        .get_job_logs("ocid1.ormjob.oc1..j", &JobLogsRequest::default())
        .await
        .unwrap();
    assert_eq!(one_page.len(), 2);
    assert_eq!(one_page.next_page.as_deref(), Some("2"));

    let mut tail = JobLogTail::new("ocid1.ormjob.oc1..j");
    let first = tail.next(&rm).await.unwrap();
    assert_eq!(
        first.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["Initializing", "Plan: 1 to add", "aws_instance.a: Creating"]
    );
    assert!(
        tail.next(&rm).await.unwrap().is_empty(),
        "nothing new, nothing repeated"
    );
    let sent = server.requests().pop().unwrap();
    assert_eq!(
        sent.query_value("timestampGreaterThanOrEqualTo").as_deref(),
        Some("2024-01-01T00:00:02.000Z")
    );
    assert_eq!(sent.query_value("sortOrder").as_deref(), Some("ASC"));

    written.lock().unwrap().extend([
        log_entry("2024-01-01T00:00:02.000Z", "aws_instance.a: Still creating"),
        log_entry("2024-01-01T00:00:05.000Z", "Apply complete!"),
    ]);
    let more = tail.next(&rm).await.unwrap();
    assert_eq!(
        more.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["aws_instance.a: Still creating", "Apply complete!"]
    );
}

#[tokio::test]
async fn instance_agent_calls() {
    let server = verified(|r| {
        let path = r.path().strip_prefix("/20180530").unwrap_or("").to_owned();
        match (r.method.as_str(), path.as_str()) {
            ("POST", "/instanceAgentCommands") => Canned::json(200, json!({
                "id": "ocid1.instanceagentcommand.oc1..c",
                "compartmentId": r.json()["compartmentId"],
                "target": r.json()["target"],
                "content": r.json()["content"],
                "executionTimeOutInSeconds": r.json()["executionTimeOutInSeconds"],
            })),
            ("GET", "/instanceAgentCommands/ocid1.instanceagentcommand.oc1..c/status") => {
                if r.query_value("instanceId").as_deref() != Some("ocid1.instance.oc1..i") {
                    return Canned::error(400, "MissingParameter", "instanceId");
                }
                Canned::json(200, json!({
                    "instanceAgentCommandId": "ocid1.instanceagentcommand.oc1..c",
                    "instanceId": "ocid1.instance.oc1..i",
                    "deliveryState": "ACKED", "lifecycleState": "SUCCEEDED",
                    "content": {"outputType": "TEXT", "exitCode": 0, "message": "ok", "text": "built\n"}
                }))
            }
            ("DELETE", "/instanceAgentCommands/ocid1.instanceagentcommand.oc1..c") => Canned::empty(204),
            _ => Canned::error(404, "NotAuthorizedOrNotFound", r.path()),
        }
    })
    .await;
    let ia = InstanceAgentClient::new(api_key_client(), format!("{}/20180530", server.base));
    let details = CreateInstanceAgentCommandDetails::text_script(
        "ocid1.compartment.oc1..c",
        "ocid1.instance.oc1..i",
        "#!/bin/sh\necho built\n",
        900,
    );
    let command = ia.create_instance_agent_command(&details).await.unwrap();
    assert_eq!(command.id, "ocid1.instanceagentcommand.oc1..c");
    assert_eq!(command.execution_time_out_in_seconds, Some(900));
    let sent = server.requests().pop().unwrap();
    assert!(sent.header("opc-retry-token").is_some());
    assert_eq!(sent.json()["content"]["source"]["sourceType"], "TEXT");

    let execution = ia
        .get_instance_agent_command_execution(&command.id, "ocid1.instance.oc1..i")
        .await
        .unwrap();
    assert_eq!(execution.delivery_state, DeliveryState::Acked);
    assert_eq!(
        execution.lifecycle_state,
        ExecutionLifecycleState::Succeeded
    );
    let output = execution.content.as_ref().unwrap();
    assert_eq!(
        (output.exit_code, output.text.as_deref()),
        (Some(0), Some("built\n"))
    );

    ia.cancel_instance_agent_command(&command.id).await.unwrap();
    assert_eq!(server.requests().pop().unwrap().method, Method::DELETE);
}

#[tokio::test]
async fn object_storage_calls() {
    let objects = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<
        String,
        (Vec<u8>, Vec<(String, String)>),
    >::new()));
    let store = std::sync::Arc::clone(&objects);
    let server = verified(move |r| {
        let path = r.path().to_owned();
        let object_prefix = "/n/ns/b/builds/o/";
        if r.method == Method::GET && path == "/n" {
            return Canned::json(200, json!("ns"));
        }
        if r.method == Method::POST && path == "/n/ns/b" {
            let body = r.json();
            return Canned::json(200, json!({"namespace": "ns", "name": body["name"], "compartmentId": body["compartmentId"]}));
        }
        if r.method == Method::POST && path == "/n/ns/b/builds/p" {
            let body = r.json();
            return Canned::json(200, json!({
                "id": "par-1", "name": body["name"], "objectName": body["objectName"],
                "accessType": body["accessType"], "timeExpires": body["timeExpires"],
                "accessUri": "/p/secret-token/n/ns/b/builds/o/src%2Fmain.tar.gz"
            }));
        }
        if r.method == Method::DELETE && path == "/n/ns/b/builds/p/par-1" {
            return Canned::empty(204);
        }
        let Some(encoded) = path.strip_prefix(object_prefix) else {
            return Canned::error(404, "BucketNotFound", &path);
        };
        let name = crate::stand_in::percent_decode(encoded);
        let mut store = store.lock().unwrap();
        match r.method.as_str() {
            "PUT" => {
                if r.header("if-none-match").as_deref() == Some("*") && store.contains_key(&name) {
                    return Canned::error(412, "IfNoneMatchFailed", "exists");
                }
                if let Some(md5) = r.header("content-md5")
                    && md5 != content_md5(&r.body)
                {
                    return Canned::error(400, "InvalidContentMD5", "mismatch");
                }
                let meta: Vec<(String, String)> = r
                    .headers
                    .iter()
                    .filter(|(n, _)| n.as_str().starts_with("opc-meta-"))
                    .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                    .collect();
                store.insert(name, (r.body.to_vec(), meta));
                Canned::empty(200).header("etag", "etag-1").header("opc-content-md5", &content_md5(&r.body))
            }
            "GET" | "HEAD" => match store.get(&name) {
                Some((body, meta)) => {
                    let mut canned = Canned::bytes(200, "application/gzip", if r.method == Method::GET { body } else { &[] })
                        .header("etag", "etag-1");
                    for (k, v) in meta {
                        canned = canned.header(k, v);
                    }
                    canned
                }
                None => Canned::error(404, "ObjectNotFound", &name),
            },
            "DELETE" => match store.remove(&name) {
                Some(_) => Canned::empty(204),
                None => Canned::error(404, "ObjectNotFound", &name),
            },
            _ => Canned::error(405, "MethodNotAllowed", "?"),
        }
    })
    .await;
    let os = ObjectStorageClient::new(api_key_client(), server.base.clone());

    assert_eq!(os.get_namespace(None).await.unwrap().value, "ns");
    let bucket = os
        .create_bucket(
            "ns",
            &CreateBucketDetails::new("builds", "ocid1.compartment.oc1..c"),
        )
        .await
        .unwrap();
    assert_eq!(bucket.name, "builds");

    let name = "src/main.tar.gz";
    let body = Bytes::from_static(b"\x1f\x8b tarball bytes");
    let mut metadata = BTreeMap::new();
    metadata.insert("build-id".to_owned(), "b-42".to_owned());
    let options = PutObjectOptions {
        content_type: Some("application/gzip".into()),
        content_md5: Some(content_md5(&body)),
        if_none_match: Some("*".into()),
        metadata,
        ..PutObjectOptions::default()
    };
    let put = os
        .put_object("ns", "builds", name, body.clone(), &options)
        .await
        .unwrap();
    assert_eq!(put.etag.as_deref(), Some("etag-1"));
    assert_eq!(put.content_md5, Some(content_md5(&body)));
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.path_and_query, "/n/ns/b/builds/o/src%2Fmain.tar.gz");
    assert!(
        sent.header("x-content-sha256").is_none(),
        "PutObject bodies are not hashed"
    );

    // if-none-match: * refuses to overwrite, and that 412 is not retried.
    let before = server.count();
    let err = os
        .put_object("ns", "builds", name, body.clone(), &options)
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed());
    assert_eq!(server.count(), before + 1);

    let got = os.get_object("ns", "builds", name).await.unwrap();
    assert_eq!(got.body, body);
    assert_eq!(
        got.head.metadata.get("build-id").map(String::as_str),
        Some("b-42")
    );
    assert_eq!(got.head.content_type.as_deref(), Some("application/gzip"));

    let head = os.head_object("ns", "builds", name).await.unwrap().unwrap();
    assert_eq!(head.etag.as_deref(), Some("etag-1"));
    assert!(
        os.head_object("ns", "builds", "absent")
            .await
            .unwrap()
            .is_none()
    );

    let expires = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let par = os
        .create_preauthenticated_request(
            "ns",
            "builds",
            &CreatePreauthenticatedRequestDetails::object_read("build-b-42", name, expires),
        )
        .await
        .unwrap();
    assert_eq!(
        server.requests().pop().unwrap().json(),
        json!({"name": "build-b-42", "objectName": name, "accessType": "ObjectRead",
               "timeExpires": "2027-01-15T08:00:00.000Z"})
    );
    assert_eq!(
        par.url(os.base_url()),
        format!(
            "{}/p/secret-token/n/ns/b/builds/o/src%2Fmain.tar.gz",
            server.base
        )
    );
    os.delete_preauthenticated_request("ns", "builds", &par.id)
        .await
        .unwrap();

    os.delete_object("ns", "builds", name, None).await.unwrap();
    let err = os
        .delete_object("ns", "builds", name, None)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(
        err.to_string()
            .contains("failed to DeleteObject: 404 ObjectNotFound"),
        "{err}"
    );
    assert!(objects.lock().unwrap().is_empty());
}

#[tokio::test]
async fn drift_detection_calls() {
    let server = verified(|r| {
        let path = r.path().strip_prefix("/20180917").unwrap_or("").to_owned();
        match (r.method.as_str(), path.as_str()) {
            ("POST", "/stacks/ocid1.ormstack.oc1..s/actions/detectDrift") => {
                Canned::empty(202).header("opc-work-request-id", "ocid1.ormworkrequest.oc1..w")
            }
            ("POST", "/stacks/ocid1.ormstack.oc1..nowr/actions/detectDrift") => Canned::empty(202),
            ("POST", "/stacks/ocid1.ormstack.oc1..s/actions/listResourceDriftDetails") => {
                match r.query_value("page").as_deref() {
                    None => Canned::json(200, json!({"items": [
                        {"resourceName": "a", "resourceType": "t", "resourceDriftStatus": "MODIFIED",
                         "expectedProperties": {"x": "1"}, "actualProperties": {"x": "2"}}
                    ]}))
                    .header("opc-next-page", "p2"),
                    Some(_) => Canned::json(200, json!({"items": [
                        {"resourceName": "t.b", "resourceType": "t", "resourceDriftStatus": "DELETED"}
                    ]})),
                }
            }
            ("GET", "/workRequests/ocid1.ormworkrequest.oc1..w") => Canned::json(200, json!({
                "id": "ocid1.ormworkrequest.oc1..w", "operationType": "DRIFT_DETECTION",
                "status": "SUCCEEDED", "compartmentId": "c", "percentComplete": 100.0,
                "timeAccepted": "2024-05-06T07:08:09.123Z",
                "resources": [{"actionType": "UPDATED", "entityType": "stack", "identifier": "ocid1.ormstack.oc1..s"}]
            })),
            ("GET", "/workRequests") => Canned::json(200, json!([{"id": "w1", "status": "FAILED"}])),
            ("GET", "/workRequests/ocid1.ormworkrequest.oc1..w/errors") => Canned::json(200, json!([
                {"code": "TERRAFORM_EXECUTION_ERROR", "message": "boom", "timestamp": "2024-05-06T07:08:09.123Z"}
            ])),
            ("GET", "/workRequests/ocid1.ormworkrequest.oc1..w/logs") => Canned::json(200, json!([
                {"message": "Refreshing state...", "timestamp": "2024-05-06T07:08:09.123Z"}
            ])),
            _ => Canned::error(404, "NotAuthorizedOrNotFound", &format!("{} {}", r.method, r.path_and_query)),
        }
    })
    .await;
    let rm = ResourceManagerClient::new(api_key_client(), format!("{}/20180917", server.base));

    let details = DetectStackDriftDetails {
        resource_addresses: Some(vec!["t.a".into()]),
        ..Default::default()
    };
    let started = rm
        .detect_stack_drift("ocid1.ormstack.oc1..s", &details)
        .await
        .unwrap();
    assert_eq!(started.value, "ocid1.ormworkrequest.oc1..w");
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.json(), json!({"resourceAddresses": ["t.a"]}));
    assert!(
        sent.header("opc-retry-token").is_some(),
        "a retried detection starts once"
    );
    let missing = rm
        .detect_stack_drift(
            "ocid1.ormstack.oc1..nowr",
            &DetectStackDriftDetails::default(),
        )
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("opc-work-request-id"),
        "{missing}"
    );

    let wr = rm
        .get_work_request("ocid1.ormworkrequest.oc1..w")
        .await
        .unwrap();
    assert_eq!(wr.status, WorkRequestStatus::Succeeded);
    assert!(wr.status.is_terminal());
    assert_eq!(wr.resources[0].identifier, "ocid1.ormstack.oc1..s");

    let query = ListResourceDriftRequest {
        work_request_id: Some("ocid1.ormworkrequest.oc1..w".into()),
        resource_drift_status: vec![ResourceDriftStatus::Modified, ResourceDriftStatus::Deleted],
        ..Default::default()
    };
    let all = rm
        .list_all_stack_resource_drift_details("ocid1.ormstack.oc1..s", &query)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|d| d.address()).collect::<Vec<_>>(),
        ["t.a", "t.b"]
    );
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.method, Method::POST);
    assert!(
        sent.body.is_empty(),
        "the filters are in the query, not a body"
    );
    assert_eq!(
        sent.query()
            .into_iter()
            .filter(|(k, _)| k == "resourceDriftStatus")
            .map(|(_, v)| v)
            .collect::<Vec<_>>(),
        ["MODIFIED", "DELETED"],
        "the status filter is repeated"
    );
    assert_eq!(
        sent.query_value("workRequestId").as_deref(),
        Some("ocid1.ormworkrequest.oc1..w")
    );

    let listed = rm
        .list_work_requests(&ListWorkRequestsRequest {
            compartment_id: "c".into(),
            resource_id: Some("ocid1.ormstack.oc1..s".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed[0].status, WorkRequestStatus::Failed);
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.query_value("compartmentId").as_deref(), Some("c"));
    assert_eq!(
        sent.query_value("resourceId").as_deref(),
        Some("ocid1.ormstack.oc1..s")
    );
    let errors = rm
        .list_work_request_errors("ocid1.ormworkrequest.oc1..w")
        .await
        .unwrap();
    assert_eq!(errors[0].message, "boom");
    let logs = rm
        .list_work_request_logs("ocid1.ormworkrequest.oc1..w")
        .await
        .unwrap();
    assert_eq!(logs[0].message, "Refreshing state...");
}
