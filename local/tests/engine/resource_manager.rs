//! Resource Manager: stacks keep their zip, jobs run real terraform, state is kept per stack.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::util::{COMPARTMENT, Engine, TENANCY};

fn plan() -> serde_json::Value {
    json!({"operation": "PLAN"})
}

#[tokio::test]
async fn plan_apply_from_plan_destroy_and_delete() {
    let e = Engine::new();
    let stack = e.create_stack("ok", json!({"greeting": "hi"})).await;
    let stack_id = stack["id"].as_str().unwrap();
    assert!(stack_id.starts_with("ocid1.ormstack.oc1.."));
    assert_eq!(stack["lifecycleState"], "ACTIVE");
    assert_eq!(stack["configSource"]["configSourceType"], "ZIP_UPLOAD");
    assert!(stack["configSource"].get("zipFileBase64Encoded").is_none());
    assert_eq!(stack["variables"]["greeting"], "hi");

    let job = e.create_job(stack_id, plan()).await;
    assert_eq!(job["lifecycleState"], "ACCEPTED");
    assert!(
        job["id"]
            .as_str()
            .unwrap()
            .starts_with("ocid1.ormjob.oc1..")
    );
    let plan_job = e.wait_job_finished(job["id"].as_str().unwrap()).await;
    assert_eq!(plan_job["lifecycleState"], "SUCCEEDED", "{plan_job}");
    assert!(plan_job["timeFinished"].is_string());
    let plan_id = plan_job["id"].as_str().unwrap();
    let plan_log = e.logs_text(plan_id).await;
    assert!(
        plan_log.contains("terraform_data.greeting will be created"),
        "{plan_log}"
    );
    assert!(
        plan_log.contains("\"hi from us-ashburn-1\""),
        "stack variable and injected region reach terraform: {plan_log}"
    );
    // A plan does not write state.
    let r = e.get(&format!("/20180917/stacks/{stack_id}/tfState")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let apply = e
        .create_job(
            stack_id,
            json!({"operation": "APPLY", "executionPlanStrategy": "FROM_PLAN_JOB_ID", "executionPlanJobId": plan_id}),
        )
        .await;
    assert_eq!(apply["resolvedPlanJobId"], plan_id);
    let apply = e.wait_job_finished(apply["id"].as_str().unwrap()).await;
    assert_eq!(apply["lifecycleState"], "SUCCEEDED", "{apply}");
    let apply_id = apply["id"].as_str().unwrap();
    let log = e.logs_text(apply_id).await;
    assert!(log.contains("Apply complete! Resources: 1 added"), "{log}");
    assert!(
        log.contains(&format!("injected = \"{COMPARTMENT} {TENANCY}\"")),
        "compartment_ocid and tenancy_ocid are injected: {log}"
    );

    let state = e.get(&format!("/20180917/stacks/{stack_id}/tfState")).await;
    assert_eq!(state.status, StatusCode::OK);
    let state = state.json();
    assert_eq!(state["resources"][0]["type"], "terraform_data");
    assert_eq!(
        state["outputs"]["greeting"]["value"],
        "hi from us-ashburn-1"
    );
    let job_state = e
        .get(&format!("/20180917/jobs/{apply_id}/tfState"))
        .await
        .json();
    assert_eq!(job_state["serial"], state["serial"]);

    // Log entries: paged, typed, filterable by time.
    let r = e
        .get(&format!("/20180917/jobs/{apply_id}/logs?limit=3"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let entries = r.json();
    assert_eq!(entries.as_array().unwrap().len(), 3);
    assert_eq!(entries[0]["type"], "TERRAFORM_CONSOLE");
    assert!(entries[0]["level"] == "INFO" || entries[0]["level"] == "ERROR");
    let next = r.header("opc-next-page").expect("more pages").to_owned();
    let page2 = e
        .get(&format!(
            "/20180917/jobs/{apply_id}/logs?limit=3&page={next}"
        ))
        .await
        .json();
    assert_ne!(page2[0], entries[0]);
    let all = e
        .get(&format!("/20180917/jobs/{apply_id}/logs?limit=1000"))
        .await
        .json();
    let last_ts = all.as_array().unwrap().last().unwrap()["timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    let tail = e
        .get(&format!(
            "/20180917/jobs/{apply_id}/logs?timestampGreaterThanOrEqualTo={}",
            last_ts.replace(':', "%3A")
        ))
        .await
        .json();
    let tail = tail.as_array().unwrap();
    assert!(!tail.is_empty() && tail.len() < all.as_array().unwrap().len());

    // Jobs of the stack, newest first, paged.
    let r = e
        .get(&format!("/20180917/jobs?stackId={stack_id}&limit=1"))
        .await;
    assert_eq!(r.json()[0]["id"], apply_id);
    assert!(r.header("opc-next-page").is_some());

    // A plan is applied only to the configuration it was made from.
    let r = e
        .call(
            Method::PUT,
            &format!("/20180917/stacks/{stack_id}"),
            Some(json!({"variables": {"greeting": "changed"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["variables"]["greeting"], "changed");
    let stale = e
        .create_job(
            stack_id,
            json!({"operation": "APPLY", "executionPlanStrategy": "FROM_PLAN_JOB_ID", "executionPlanJobId": plan_id}),
        )
        .await;
    let stale = e.wait_job_finished(stale["id"].as_str().unwrap()).await;
    assert_eq!(stale["lifecycleState"], "FAILED");
    assert_eq!(stale["failureDetails"]["code"], "TERRAFORM_EXECUTION_ERROR");
    let message = stale["failureDetails"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Error: Saved plan is stale")
            && message.contains(&format!(
                "variables (greeting) changed after plan job {plan_id}"
            )),
        "{stale}"
    );
    let log = e.logs_text(stale["id"].as_str().unwrap()).await;
    assert!(log.contains("│ Error: Saved plan is stale"), "{log}");
    assert!(
        !log.contains("Running: terraform"),
        "nothing ran for a stale plan: {log}"
    );

    let destroy = e
        .create_job(
            stack_id,
            json!({"operation": "DESTROY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let destroy = e.wait_job_finished(destroy["id"].as_str().unwrap()).await;
    assert_eq!(destroy["lifecycleState"], "SUCCEEDED", "{destroy}");
    let state = e
        .get(&format!("/20180917/stacks/{stack_id}/tfState"))
        .await
        .json();
    assert_eq!(state["resources"], json!([]));

    let r = e.delete(&format!("/20180917/stacks/{stack_id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let gone = e.get(&format!("/20180917/stacks/{stack_id}")).await.json();
    assert_eq!(gone["lifecycleState"], "DELETED");
    let r = e.get(&format!("/20180917/jobs/{plan_id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let listed = e
        .get(&format!("/20180917/stacks?compartmentId={COMPARTMENT}"))
        .await
        .json();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn a_failing_configuration_ends_failed_with_details() {
    let e = Engine::new();
    let stack = e.create_stack("broken", json!({})).await;
    let job = e
        .create_job(
            stack["id"].as_str().unwrap(),
            json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let job = e.wait_job_finished(job["id"].as_str().unwrap()).await;
    assert_eq!(job["lifecycleState"], "FAILED");
    assert_eq!(job["failureDetails"]["code"], "TERRAFORM_EXECUTION_ERROR");
    let message = job["failureDetails"]["message"].as_str().unwrap();
    assert!(
        message.contains("Reference to undeclared input variable"),
        "{message}"
    );
    let entries = e
        .get(&format!(
            "/20180917/jobs/{}/logs?levelGreaterThanOrEqualTo=ERROR",
            job["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["level"] == "ERROR")
    );
    assert!(!entries.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn cancel_interrupts_a_running_job_and_delete_waits_for_it() {
    let e = Engine::new();
    let stack = e.create_stack("sleep", json!({})).await;
    let stack_id = stack["id"].as_str().unwrap();
    let job = e
        .create_job(
            stack_id,
            json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    // Wait until the provisioner runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !e.logs_text(id).await.contains("local-exec") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            e.logs_text(id).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = e.delete(&format!("/20180917/stacks/{stack_id}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "IncorrectState");

    let started = std::time::Instant::now();
    let r = e.delete(&format!("/20180917/jobs/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let canceling = e.get(&format!("/20180917/jobs/{id}")).await.json();
    assert!(
        canceling["lifecycleState"] == "CANCELING" || canceling["lifecycleState"] == "CANCELED",
        "{canceling}"
    );
    let job = e.wait_job_finished(id).await;
    assert_eq!(job["lifecycleState"], "CANCELED", "{job}");
    assert_eq!(job["cancellationDetails"]["isForced"], false);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "cancel took {:?}",
        started.elapsed()
    );
    // Terminal jobs cannot be cancelled again, except idempotently when CANCELED.
    assert_eq!(
        e.delete(&format!("/20180917/jobs/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let r = e.delete(&format!("/20180917/stacks/{stack_id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_retry_token_creates_once_and_rejects_another_body() {
    let e = Engine::new();
    let body = |name: &str| {
        json!({
            "compartmentId": COMPARTMENT,
            "displayName": name,
            "configSource": {
                "configSourceType": "ZIP_UPLOAD",
                "zipFileBase64Encoded": crate::util::zip_b64(&crate::util::fixture("tf/ok")),
            },
        })
    };
    let send = |b: serde_json::Value| {
        let bytes = serde_json::to_vec(&b).unwrap();
        e.signed(
            Method::POST,
            "/20180917/stacks",
            Some(&bytes),
            &[("opc-retry-token", "token-1")],
        )
    };
    let first = e.send(send(body("a"))).await;
    assert_eq!(first.status, StatusCode::OK);
    let second = e.send(send(body("a"))).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.json()["id"], second.json()["id"]);
    let third = e.send(send(body("b"))).await;
    assert_eq!(third.status, StatusCode::CONFLICT);
    assert_eq!(third.error_code(), "InvalidatedRetryToken");
    let listed = e
        .get(&format!("/20180917/stacks?compartmentId={COMPARTMENT}"))
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_requests_get_oci_400s_and_404s() {
    let e = Engine::new();
    let r = e
        .post("/20180917/stacks", json!({"configSource": {}}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "MissingParameter");
    let r = e
        .post(
            "/20180917/stacks",
            json!({"compartmentId": "c", "configSource": {"configSourceType": "ZIP_UPLOAD", "zipFileBase64Encoded": "bm90IGEgemlw"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "InvalidParameter");
    let r = e
        .post(
            "/20180917/jobs",
            json!({"stackId": "ocid1.ormstack.oc1..missing", "jobOperationDetails": {"operation": "PLAN"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "NotAuthorizedOrNotFound");
    let stack = e.create_stack("ok", json!({})).await;
    let r = e
        .post(
            "/20180917/jobs",
            json!({"stackId": stack["id"], "jobOperationDetails": {"operation": "APPLY"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "MissingParameter");
    let r = e
        .post(
            "/20180917/jobs",
            json!({"stackId": stack["id"], "jobOperationDetails": {"operation": "APPLY", "executionPlanStrategy": "FROM_LATEST_PLAN_JOB"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no plan job yet");
    let r = e.post("/20180917/stacks", json!("not an object")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // if-match mismatch
    let r = e
        .send(e.signed(
            Method::DELETE,
            &format!("/20180917/stacks/{}", stack["id"].as_str().unwrap()),
            None,
            &[("if-match", "nope")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn import_tf_state_replaces_the_stack_state() {
    use base64::Engine as _;
    let e = Engine::new();
    let stack = e.create_stack("ok", json!({})).await;
    let state = json!({"version": 4, "terraform_version": "1.5.0", "serial": 7, "lineage": "l", "outputs": {}, "resources": []});
    let b64 = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&state).unwrap());
    let job = e
        .create_job(
            stack["id"].as_str().unwrap(),
            json!({"operation": "IMPORT_TF_STATE", "tfStateBase64Encoded": b64}),
        )
        .await;
    let job = e.wait_job_finished(job["id"].as_str().unwrap()).await;
    assert_eq!(job["lifecycleState"], "SUCCEEDED");
    let got = e
        .get(&format!(
            "/20180917/stacks/{}/tfState",
            stack["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(got["serial"], 7);
}

#[tokio::test]
async fn jobs_get_the_cli_config_and_honour_the_working_directory() {
    let cli = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cli.path(), "# no settings\n").unwrap();
    let cli_path = cli.path().to_owned();
    let e = Engine::with(move |c| c.terraform_cli_config = Some(cli_path));

    // The whole fixtures tree as one zip: the working directory picks the configuration.
    let zip = crate::util::zip_b64(&crate::util::fixture("tf"));
    let create = |wd: &str| {
        json!({
            "compartmentId": COMPARTMENT,
            "configSource": {"configSourceType": "ZIP_UPLOAD", "zipFileBase64Encoded": zip, "workingDirectory": wd},
        })
    };
    let stack = e.post("/20180917/stacks", create("env")).await.json();
    assert_eq!(stack["configSource"]["workingDirectory"], "env");
    let job = e
        .create_job(
            stack["id"].as_str().unwrap(),
            json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let job = e.wait_job_finished(job["id"].as_str().unwrap()).await;
    assert_eq!(job["lifecycleState"], "SUCCEEDED", "{job}");
    assert_eq!(job["workingDirectory"], "env");
    let log = e.logs_text(job["id"].as_str().unwrap()).await;
    assert!(
        log.contains(&format!("cli-config={}", cli.path().display())),
        "{log}"
    );

    let stack = e.post("/20180917/stacks", create("missing")).await.json();
    let job = e
        .create_job(stack["id"].as_str().unwrap(), json!({"operation": "PLAN"}))
        .await;
    let job = e.wait_job_finished(job["id"].as_str().unwrap()).await;
    assert_eq!(job["lifecycleState"], "FAILED");
    assert_eq!(job["failureDetails"]["code"], "INVALID_WORKING_DIRECTORY");

    let r = e.post("/20180917/stacks", create("../escape")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// Stacks are found by their free-form tags (the sidecar finds a session's stack by one), so
/// ListStacks summaries carry them, as set at create and replaced by an update.
#[tokio::test]
async fn stack_summaries_carry_free_form_tags() {
    let e = Engine::new();
    let body = json!({
        "compartmentId": COMPARTMENT,
        "displayName": "tagged",
        "freeformTags": {"galley-session": "s-aaaaaaaaaaaa"},
        "configSource": {
            "configSourceType": "ZIP_UPLOAD",
            "zipFileBase64Encoded": crate::util::zip_b64(&crate::util::fixture("tf/ok")),
        },
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    let created = e
        .send(e.signed(Method::POST, "/20180917/stacks", Some(&bytes), &[]))
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let listed = e
        .get(&format!("/20180917/stacks?compartmentId={COMPARTMENT}"))
        .await
        .json();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(
        listed[0]["freeformTags"],
        json!({"galley-session": "s-aaaaaaaaaaaa"})
    );
    let update = serde_json::to_vec(
        &json!({"freeformTags": {"galley-session": "s-bbbbbbbbbbbb", "team": "x"}}),
    )
    .unwrap();
    let updated = e
        .send(e.signed(
            Method::PUT,
            &format!("/20180917/stacks/{id}"),
            Some(&update),
            &[],
        ))
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    let listed = e
        .get(&format!("/20180917/stacks?compartmentId={COMPARTMENT}"))
        .await
        .json();
    assert_eq!(
        listed[0]["freeformTags"],
        json!({"galley-session": "s-bbbbbbbbbbbb", "team": "x"})
    );
}

/// Polls a work request until it ends.
async fn wait_work_request(e: &Engine, id: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let wr = e.get(&format!("/20180917/workRequests/{id}")).await.json();
        if matches!(wr["status"].as_str(), Some("SUCCEEDED" | "FAILED")) {
            return wr;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "work request stuck: {wr}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn drift_detection_checks_every_resource_of_an_applied_stack() {
    let e = Engine::new();
    let stack = e.create_stack("ok", json!({})).await;
    let stack_id = stack["id"].as_str().unwrap();
    let detect = format!("/20180917/stacks/{stack_id}/actions/detectDrift");

    // Only a stack whose last job applied (or imported) state can be checked.
    let r = e.call(Method::POST, &detect, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.error_code(), "IncorrectState");
    let plan = e.create_job(stack_id, plan()).await;
    e.wait_job_finished(plan["id"].as_str().unwrap()).await;
    let r = e.call(Method::POST, &detect, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("is a PLAN job"), "{}", r.text());

    let apply = e
        .create_job(
            stack_id,
            json!({"operation": "APPLY", "executionPlanStrategy": "AUTO_APPROVED"}),
        )
        .await;
    let apply = e.wait_job_finished(apply["id"].as_str().unwrap()).await;
    assert_eq!(apply["lifecycleState"], "SUCCEEDED", "{apply}");

    let r = e.call(Method::POST, &detect, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert!(r.body.is_empty());
    let wr_id = r
        .header("opc-work-request-id")
        .expect("a work request")
        .to_owned();
    let wr = wait_work_request(&e, &wr_id).await;
    assert_eq!(wr["status"], "SUCCEEDED", "{wr}");
    assert_eq!(wr["operationType"], "DRIFT_DETECTION");
    assert_eq!(wr["percentComplete"], 100.0);
    assert_eq!(wr["resources"][0]["identifier"], stack_id);
    let logs = e
        .get(&format!("/20180917/workRequests/{wr_id}/logs"))
        .await
        .json();
    assert!(
        logs.as_array().unwrap().iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("terraform plan -refresh-only")),
        "{logs}"
    );

    let list = format!("/20180917/stacks/{stack_id}/actions/listResourceDriftDetails");
    let r = e
        .call(Method::POST, &format!("{list}?workRequestId={wr_id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let items = r.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["resourceName"], "greeting");
    assert_eq!(items[0]["resourceType"], "terraform_data");
    assert_eq!(items[0]["resourceDriftStatus"], "IN_SYNC");
    assert!(items[0]["resourceId"].is_string());
    // The latest detection by default; filters repeat and ignore case.
    let r = e
        .call(
            Method::POST,
            &format!("{list}?resourceDriftStatus=modified&resourceDriftStatus=DELETED"),
            None,
        )
        .await;
    assert_eq!(r.json()["items"], json!([]));
    let r = e.call(Method::POST, &list, None).await;
    assert_eq!(r.json()["items"], items);

    let stack = e.get(&format!("/20180917/stacks/{stack_id}")).await.json();
    assert_eq!(stack["stackDriftStatus"], "IN_SYNC");
    assert!(stack["timeDriftLastChecked"].is_string());
    let listed = e
        .get(&format!(
            "/20180917/workRequests?compartmentId={COMPARTMENT}&resourceId={stack_id}"
        ))
        .await
        .json();
    assert_eq!(listed[0]["id"], wr_id.as_str());
    let r = e.get("/20180917/workRequests").await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "compartmentId is required"
    );
}
