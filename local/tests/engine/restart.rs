//! Nothing is lost across a restart; work a restart interrupted ends FAILED with a message.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use crate::util::{COMPARTMENT, Engine, config};

const INTERRUPTED: &str = "interrupted by a galley-local restart";

async fn wait_for_log(e: &Engine, job: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !e.logs_text(job).await.contains(needle) {
        assert!(Instant::now() < deadline, "{}", e.logs_text(job).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fills an engine with a stack (applied), a bucket with an object, and a running job.
async fn populate(e: &Engine) -> (String, String, String) {
    let stack = e.create_stack("ok", json!({})).await;
    let stack_id = stack["id"].as_str().unwrap().to_owned();
    let applied = e
        .create_job(
            &stack_id,
            json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let applied_id = applied["id"].as_str().unwrap().to_owned();
    assert_eq!(
        e.wait_job_finished(&applied_id).await["lifecycleState"],
        "SUCCEEDED"
    );
    e.post(
        "/n/galleylocal/b",
        json!({"name": "keep", "compartmentId": COMPARTMENT}),
    )
    .await;
    let req = crate::util::sign_with(
        &e.credentials,
        axum::http::Method::PUT,
        "/n/galleylocal/b/keep/o/obj",
        Some(b"kept"),
        &[],
        true,
    );
    assert_eq!(e.send(req).await.status, StatusCode::OK);

    let slow = e.create_stack("sleep", json!({})).await;
    let running = e
        .create_job(
            slow["id"].as_str().unwrap(),
            json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let running_id = running["id"].as_str().unwrap().to_owned();
    wait_for_log(e, &running_id, "local-exec").await;
    (stack_id, applied_id, running_id)
}

async fn check_survivors(e: &Engine, stack_id: &str, applied_id: &str, running_id: &str) {
    let stack = e.get(&format!("/20180917/stacks/{stack_id}")).await;
    assert_eq!(stack.status, StatusCode::OK);
    let state = e
        .get(&format!("/20180917/stacks/{stack_id}/tfState"))
        .await
        .json();
    assert_eq!(state["resources"][0]["type"], "terraform_data");
    assert_eq!(
        e.get(&format!("/20180917/jobs/{applied_id}")).await.json()["lifecycleState"],
        "SUCCEEDED"
    );
    assert!(e.logs_text(applied_id).await.contains("Apply complete!"));
    assert_eq!(
        &e.get("/n/galleylocal/b/keep/o/obj").await.body[..],
        b"kept"
    );

    let job = e.get(&format!("/20180917/jobs/{running_id}")).await.json();
    assert_eq!(job["lifecycleState"], "FAILED", "{job}");
    assert!(
        job["failureDetails"]["message"]
            .as_str()
            .unwrap()
            .contains(INTERRUPTED),
        "{job}"
    );
    assert!(job["timeFinished"].is_string());
    assert!(e.logs_text(running_id).await.contains(INTERRUPTED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_keeps_everything_and_fails_the_running_job() {
    let mut first = Engine::new();
    let tmp = first.take_tmp();
    let (stack_id, applied_id, running_id) = populate(&first).await;
    first.state.shutdown().await;
    let cfg = config(&first.dir);
    drop(first);

    let second = Engine::open(cfg);
    check_survivors(&second, &stack_id, &applied_id, &running_id).await;
    // The stack's lock was released: new jobs run.
    let job = second
        .create_job(&stack_id, json!({"operation": "PLAN"}))
        .await;
    assert_eq!(
        second.wait_job_finished(job["id"].as_str().unwrap()).await["lifecycleState"],
        "SUCCEEDED"
    );
    drop(tmp);
}

#[test]
fn a_crash_leaves_jobs_that_the_next_start_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());

    // The first engine runs on its own runtime, which is torn down mid-job: no runner gets to
    // record anything, as when the process is killed.
    let crashed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ids = crashed.block_on(async {
        let e = Engine::open(cfg.clone());
        let ids = populate(&e).await;
        let job = e.get(&format!("/20180917/jobs/{}", ids.2)).await.json();
        assert_eq!(job["lifecycleState"], "IN_PROGRESS");
        ids
    });
    crashed.shutdown_background();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = Engine::open(cfg);
        check_survivors(&e, &ids.0, &ids.1, &ids.2).await;
    });
}
