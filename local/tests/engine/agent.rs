//! Instance Agent run command: scripts run only when opted in, in a sandbox, with the PATH
//! prefix, reporting exit code and output, TIMED_OUT past the timeout, CANCELED on cancel.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::util::{COMPARTMENT, Engine};

const INSTANCE: &str = "ocid1.instance.oc1..testinstance";

fn command(script: &str, timeout: u64) -> Value {
    json!({
        "compartmentId": COMPARTMENT,
        "executionTimeOutInSeconds": timeout,
        "displayName": "test",
        "target": {"instanceId": INSTANCE},
        "content": {
            "source": {"sourceType": "TEXT", "text": script},
            "output": {"outputType": "TEXT"},
        },
    })
}

async fn run(e: &Engine, script: &str, timeout: u64) -> (String, Value) {
    let r = e
        .post("/20180530/instanceAgentCommands", command(script, timeout))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cmd = r.json();
    let id = cmd["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ocid1.instanceagentcommand.oc1.."));
    assert_eq!(cmd["target"]["instanceId"], INSTANCE);
    assert_eq!(cmd["content"]["source"]["text"], script);
    (id.clone(), wait(e, &id).await)
}

async fn wait(e: &Engine, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = e
            .get(&format!(
                "/20180530/instanceAgentCommands/{id}/status?instanceId={INSTANCE}"
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let exec = r.json();
        let state = exec["lifecycleState"].as_str().unwrap().to_owned();
        if !matches!(state.as_str(), "ACCEPTED" | "IN_PROGRESS") {
            return exec;
        }
        assert!(Instant::now() < deadline, "{exec}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn enabled_with_stand_in_docker() -> (Engine, tempfile::TempDir) {
    let bin = tempfile::tempdir().unwrap();
    let docker = bin.path().join("docker");
    std::fs::write(&docker, "#!/bin/sh\necho \"stand-in docker $*\"\n").unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prefix = bin.path().to_owned();
    let e = Engine::with(move |c| {
        c.enable_run_command = true;
        c.run_command_path_prefix = Some(prefix);
    });
    (e, bin)
}

#[tokio::test]
async fn a_script_runs_in_its_sandbox_with_the_path_prefix() {
    let (e, _bin) = enabled_with_stand_in_docker();
    let (id, exec) = run(&e, "docker build -t app .\npwd\necho oops >&2\n", 30).await;
    assert_eq!(exec["lifecycleState"], "SUCCEEDED", "{exec}");
    assert_eq!(exec["deliveryState"], "ACKED");
    assert_eq!(exec["instanceAgentCommandId"], id);
    assert_eq!(exec["content"]["outputType"], "TEXT");
    assert_eq!(exec["content"]["exitCode"], 0);
    let text = exec["content"]["text"].as_str().unwrap();
    assert!(text.contains("stand-in docker build -t app ."), "{text}");
    assert!(text.contains(&format!("/commands/{id}/sandbox")), "{text}");
    assert!(text.contains("oops"), "stderr is captured too: {text}");
    use sha2::Digest;
    assert_eq!(
        exec["content"]["textSha256"],
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    );

    let list = e
        .get(&format!(
            "/20180530/instanceAgentCommandExecutions?compartmentId={COMPARTMENT}&instanceId={INSTANCE}"
        ))
        .await
        .json();
    assert_eq!(list[0]["instanceAgentCommandId"], id);
    let list = e
        .get(&format!(
            "/20180530/instanceAgentCommands?compartmentId={COMPARTMENT}"
        ))
        .await
        .json();
    assert_eq!(list[0]["instanceAgentCommandId"], id);
}

#[tokio::test]
async fn exit_codes_timeouts_and_cancel() {
    let (e, _bin) = enabled_with_stand_in_docker();
    let (_, exec) = run(&e, "echo before; exit 3", 30).await;
    assert_eq!(exec["lifecycleState"], "FAILED");
    assert_eq!(exec["content"]["exitCode"], 3);
    assert!(exec["content"]["text"].as_str().unwrap().contains("before"));

    let started = Instant::now();
    let (_, exec) = run(&e, "echo started; sleep 30 & wait", 1).await;
    assert_eq!(exec["lifecycleState"], "TIMED_OUT", "{exec}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        exec["content"]["text"]
            .as_str()
            .unwrap()
            .contains("started")
    );

    let r = e
        .post("/20180530/instanceAgentCommands", command("sleep 30", 60))
        .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = e
        .delete(&format!("/20180530/instanceAgentCommands/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let exec = wait(&e, &id).await;
    assert_eq!(exec["lifecycleState"], "CANCELED");
    assert_eq!(exec["deliveryState"], "ACKED_CANCELED");
    let cmd = e
        .get(&format!("/20180530/instanceAgentCommands/{id}"))
        .await
        .json();
    assert_eq!(cmd["isCanceled"], true);
}

#[tokio::test]
async fn without_the_opt_in_nothing_runs() {
    let e = Engine::new();
    let marker = e.dir.join("ran");
    let (_, exec) = run(&e, &format!("touch {}", marker.display()), 30).await;
    assert_eq!(exec["lifecycleState"], "FAILED");
    assert!(
        exec["content"]["message"]
            .as_str()
            .unwrap()
            .contains("--enable-run-command")
    );
    assert!(!marker.exists());
}

#[tokio::test]
async fn the_status_of_another_instance_is_not_found() {
    let (e, _bin) = enabled_with_stand_in_docker();
    let (id, _) = run(&e, "true", 30).await;
    let r = e
        .get(&format!(
            "/20180530/instanceAgentCommands/{id}/status?instanceId=ocid1.instance.oc1..other"
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
