//! The crate's own OCI client (`galley_oci`) drives the built `galley-local` binary through a
//! whole stack's life (create, plan, apply from the plan, logs, state, a cancelled job,
//! destroy, delete) while the engine injects throttling (429 with Retry-After), server errors
//! (500), a dropped connection and a slow answer. The scenario must still succeed, every fault
//! must have been hit, and the retried creates must not have created anything twice.
//!
//! Needs the tools of `tests/setup.sh` (terraform, and the venv the harness makes keys with).

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use galley_oci::client::{Client, Request, RetryPolicy};
use galley_oci::resource_manager::{
    CreateConfigSourceDetails, CreateJobDetails, CreateJobOperationDetails, CreateStackDetails,
    Job, JobLifecycleState, JobLogsRequest, ListJobsRequest, ListStacksRequest,
    ResourceManagerClient, Stack, StackLifecycleState, UpdateStackDetails,
};
use galley_oci::signing::{KeyId, StaticKeyProvider};
use http::Method;
use serde_json::{Value, json};
use support::{Engine, Fixture, TENANCY, USER};

const COMPARTMENT: &str = "ocid1.compartment.oc1..rustclient";

/// A root module with a `terraform_data` resource and an output, and a slow resource that only
/// exists when `slow` is true (for the job that gets cancelled).
const MAIN_TF: &str = r#"
variable "greeting" {
  type = string
}

variable "region" {
  type = string
}

variable "slow" {
  type    = bool
  default = false
}

resource "terraform_data" "hello" {
  input = "${var.greeting} from ${var.region}"
}

resource "terraform_data" "slow" {
  count = var.slow ? 1 : 0
  provisioner "local-exec" {
    command = "sleep 60"
  }
}

output "greeting" {
  value = terraform_data.hello.output
}
"#;

/// The configuration zip, built in memory.
fn config_zip() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("main.tf", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(MAIN_TF.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Short backoff so the test is quick; Retry-After is still honoured up to 5 s.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        max_elapsed: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(5),
    }
}

fn rm_client(f: &Fixture, engine: &Engine) -> ResourceManagerClient {
    let key_id = KeyId::api_key(TENANCY, USER, f.fingerprint());
    let provider = StaticKeyProvider::new(key_id, f.trusted_key());
    let client = Client::builder(Arc::new(provider))
        .retry_policy(quick_retries())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    ResourceManagerClient::new(client, format!("{}/20180917", engine.endpoint))
}

/// The engine's unsigned admin endpoints.
struct Admin {
    http: reqwest::Client,
    faults: String,
}

impl Admin {
    fn new(engine: &Engine) -> Self {
        Self {
            http: reqwest::Client::new(),
            faults: format!("{}/_galley/faults", engine.endpoint),
        }
    }

    async fn arm(&self, fault: Value) {
        let r = self
            .http
            .post(&self.faults)
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "arming {fault}: {}",
            r.text().await.unwrap()
        );
    }

    async fn armed(&self) -> Vec<Value> {
        self.http
            .get(&self.faults)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Polls GetJob until `done` holds for the job, or panics after `timeout`.
async fn wait_job(
    rm: &ResourceManagerClient,
    f: &Fixture,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Job) -> bool,
) -> Job {
    let deadline = Instant::now() + timeout;
    loop {
        let job = rm.get_job(id).await.unwrap().into_inner();
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} still {} after {timeout:?}\n--- engine log ---\n{}",
            job.lifecycle_state,
            f.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_finished(rm: &ResourceManagerClient, f: &Fixture, id: &str) -> Job {
    wait_job(rm, f, id, Duration::from_secs(120), |j| {
        j.lifecycle_state.is_terminal()
    })
    .await
}

async fn logs_text(rm: &ResourceManagerClient, id: &str) -> String {
    rm.get_all_job_logs(id, &JobLogsRequest::default())
        .await
        .unwrap()
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_runs_a_stack_through_faults_without_creating_twice() {
    let f = Fixture::new();
    let engine = f.start();
    let rm = rm_client(&f, &engine);
    let admin = Admin::new(&engine);

    // Faults are taken in the order armed: CreateStack meets a 429, a 500, a dropped
    // connection and an answer slower than its timeout before it gets through.
    let create_stack = "POST /20180917/stacks";
    admin
        .arm(json!({"route": create_stack, "kind": "status", "status": 429, "retry_after_secs": 2}))
        .await;
    admin
        .arm(json!({"route": create_stack, "kind": "status", "status": 500}))
        .await;
    admin
        .arm(json!({"route": create_stack, "kind": "drop"}))
        .await;
    admin
        .arm(json!({"route": create_stack, "kind": "delay", "delay_ms": 3000}))
        .await;
    admin
        .arm(json!({"route": "GET /20180917/jobs/*", "kind": "status", "status": 429, "retry_after_secs": 1, "count": 3}))
        .await;
    admin
        .arm(json!({"route": "POST /20180917/jobs", "kind": "status", "status": 500}))
        .await;
    assert_eq!(admin.armed().await.len(), 6);

    // CreateStack, with a per-attempt timeout shorter than the injected delay.
    let mut details = CreateStackDetails::new(
        COMPARTMENT,
        CreateConfigSourceDetails::zip(&config_zip(), None),
    );
    details.display_name = Some("rust-client".into());
    details.variables = Some(BTreeMap::from([("greeting".into(), "hello".into())]));
    let impatient = rm.with_client(rm.client().with_timeout(Duration::from_millis(1500)));
    let started = Instant::now();
    let stack = impatient
        .create_stack(&details)
        .await
        .unwrap_or_else(|e| panic!("CreateStack through faults: {e}\n{}", f.log()));
    let took = started.elapsed();
    // The 429's Retry-After (2 s) was waited for, not the 50 ms backoff; the slow attempt
    // was abandoned after 1.5 s.
    assert!(
        took >= Duration::from_millis(3500),
        "CreateStack took {took:?}"
    );
    let stack_id = stack.id.clone();
    assert_eq!(stack.lifecycle_state, StackLifecycleState::Active);

    assert!(stack.etag.is_some());
    assert!(stack.opc_request_id.is_some());

    // PLAN (CreateJob meets a 500; GetJob polls meet three 429s).
    let plan = rm
        .create_job(&CreateJobDetails::new(
            &stack_id,
            CreateJobOperationDetails::plan(None),
        ))
        .await
        .unwrap()
        .into_inner();
    let plan = wait_finished(&rm, &f, &plan.id).await;
    assert_eq!(
        plan.lifecycle_state,
        JobLifecycleState::Succeeded,
        "{plan:?}"
    );
    let plan_log = logs_text(&rm, &plan.id).await;
    assert!(
        plan_log.contains("terraform_data.hello will be created"),
        "{plan_log}"
    );

    // APPLY of that plan.
    let apply = rm
        .create_job(&CreateJobDetails::new(
            &stack_id,
            CreateJobOperationDetails::apply_plan(&plan.id, None),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        apply.resolved_plan_job_id.as_deref(),
        Some(plan.id.as_str())
    );
    let apply = wait_finished(&rm, &f, &apply.id).await;
    assert_eq!(
        apply.lifecycle_state,
        JobLifecycleState::Succeeded,
        "{apply:?}"
    );
    assert!(apply.time_finished.is_some());

    // Logs: paged entries, and the whole text.
    let first = rm
        .get_job_logs(
            &apply.id,
            &JobLogsRequest {
                limit: Some(3),
                ..JobLogsRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert!(first.next_page.is_some(), "the log spans several pages");
    let entries = rm
        .get_all_job_logs(
            &apply.id,
            &JobLogsRequest {
                limit: Some(3),
                ..JobLogsRequest::default()
            },
        )
        .await
        .unwrap();
    assert!(entries.len() > 3);
    let messages: Vec<&str> = entries.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("greeting = \"hello from us-ashburn-1\"")),
        "{messages:#?}"
    );
    let content = rm
        .get_job_logs_content(&apply.id)
        .await
        .unwrap()
        .into_inner();
    assert!(
        content.contains("Apply complete! Resources: 1 added"),
        "{content}"
    );
    assert!(content.contains("greeting = \"hello from us-ashburn-1\""));
    // Paging neither lost nor repeated entries.
    assert_eq!(entries.len(), content.lines().count(), "{content}");

    // The stack's state holds the resource and the output.
    let state: Value =
        serde_json::from_slice(&rm.get_stack_tf_state(&stack_id).await.unwrap().value).unwrap();
    let resources = state["resources"].as_array().unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r["type"] == "terraform_data" && r["name"] == "hello"),
        "{state}"
    );
    assert_eq!(
        state["outputs"]["greeting"]["value"],
        "hello from us-ashburn-1"
    );

    // A long job, cancelled while Terraform runs the provisioner's `sleep 60`.
    let current = rm.get_stack(&stack_id).await.unwrap();
    rm.update_stack(
        &stack_id,
        &UpdateStackDetails {
            variables: Some(BTreeMap::from([
                ("greeting".into(), "hello".into()),
                ("slow".into(), "true".into()),
            ])),
            ..UpdateStackDetails::default()
        },
        current.etag.as_deref(),
    )
    .await
    .unwrap();
    let slow = rm
        .create_job(&CreateJobDetails::new(
            &stack_id,
            CreateJobOperationDetails::apply_auto_approved(None),
        ))
        .await
        .unwrap()
        .into_inner();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = logs_text(&rm, &slow.id).await;
        if log.contains("Executing: [\"/bin/sh\" \"-c\" \"sleep 60\"]") {
            break;
        }
        let job = rm.get_job(&slow.id).await.unwrap();
        assert!(
            !job.lifecycle_state.is_terminal() && Instant::now() < deadline,
            "the slow job never reached its provisioner: {job:?}\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cancelled_at = Instant::now();
    rm.cancel_job(&slow.id, false).await.unwrap();
    let slow = wait_finished(&rm, &f, &slow.id).await;
    assert_eq!(
        slow.lifecycle_state,
        JobLifecycleState::Canceled,
        "{slow:?}"
    );
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(30),
        "cancel took {:?}",
        cancelled_at.elapsed()
    );

    // DESTROY.
    let destroy = rm
        .create_job(&CreateJobDetails::new(
            &stack_id,
            CreateJobOperationDetails::destroy(None),
        ))
        .await
        .unwrap()
        .into_inner();
    let destroy = wait_finished(&rm, &f, &destroy.id).await;
    assert_eq!(
        destroy.lifecycle_state,
        JobLifecycleState::Succeeded,
        "{destroy:?}\n{}",
        logs_text(&rm, &destroy.id).await
    );
    let state: Value =
        serde_json::from_slice(&rm.get_stack_tf_state(&stack_id).await.unwrap().value).unwrap();
    assert_eq!(state["resources"], json!([]), "{state}");

    // Despite the retried creates: one stack, and only the four jobs asked for.
    let stacks = rm
        .list_all_stacks(&ListStacksRequest {
            compartment_id: Some(COMPARTMENT.into()),
            ..ListStacksRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(stacks.len(), 1, "{stacks:#?}");
    assert_eq!(stacks[0].id, stack_id);
    let everywhere = rm
        .list_all_stacks(&ListStacksRequest::default())
        .await
        .unwrap();
    assert_eq!(everywhere.len(), 1, "{everywhere:#?}");
    let jobs = rm
        .list_all_jobs(&ListJobsRequest {
            stack_id: Some(stack_id.clone()),
            ..ListJobsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 4, "{jobs:#?}");

    // Every armed fault was met.
    let left = admin.armed().await;
    assert!(left.is_empty(), "faults never hit: {left:#?}");

    rm.delete_stack(&stack_id, None).await.unwrap();
    assert_eq!(
        rm.get_stack(&stack_id).await.unwrap().lifecycle_state,
        StackLifecycleState::Deleted
    );
    assert!(
        rm.list_all_stacks(&ListStacksRequest::default())
            .await
            .unwrap()
            .is_empty()
    );
    engine.stop();
}

#[tokio::test]
async fn a_404_names_its_code_message_and_request_id() {
    let f = Fixture::new();
    let engine = f.start();
    let rm = rm_client(&f, &engine);
    let missing = "ocid1.ormstack.oc1..doesnotexist";
    let err = rm.get_stack(missing).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let service = err.service().expect("a service error");
    assert_eq!(service.status, 404);
    assert_eq!(service.code, "NotAuthorizedOrNotFound");
    assert!(service.message.contains(missing), "{service:?}");
    assert_eq!(service.attempts, 1, "a 404 is not retried");
    let request_id = err.opc_request_id().expect("an opc-request-id");
    assert!(!request_id.is_empty());
    let text = err.to_string();
    for part in [
        "GetStack",
        "404",
        "NotAuthorizedOrNotFound",
        service.message.as_str(),
        request_id,
    ] {
        assert!(text.contains(part), "{part:?} missing from {text:?}");
    }
    engine.stop();
}

#[tokio::test]
async fn a_create_resent_with_its_retry_token_returns_the_first_stack() {
    // The engine drops a request's handler when its client gives up, so none of the injected
    // faults lets the engine act while the answer gets lost. This is that case by hand: one
    // body under one retry token, twice, as the transport resends it after a lost answer.
    let f = Fixture::new();
    let engine = f.start();
    let rm = rm_client(&f, &engine);
    let details = CreateStackDetails::new(
        COMPARTMENT,
        CreateConfigSourceDetails::zip(&config_zip(), None),
    );
    let token = galley_oci::client::retry::new_retry_token();
    let url = format!("{}/stacks", rm.base_url());
    let send = || async {
        let request = Request::new("CreateStack", Method::POST, &url)
            .json(&details)
            .unwrap()
            .retry_token(&token);
        rm.client()
            .send(request)
            .await
            .unwrap()
            .json::<Stack>()
            .unwrap()
    };
    let once = send().await;
    let again = send().await;
    assert_eq!(once.id, again.id);
    let stacks = rm
        .list_all_stacks(&ListStacksRequest::default())
        .await
        .unwrap();
    assert_eq!(stacks.len(), 1, "{stacks:#?}");
    engine.stop();
}
