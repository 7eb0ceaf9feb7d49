//! The tools' gating, driven over an in-memory MCP connection with a scripted `Runner` in place of
//! Terraform: plan tokens, changed files, destroy previews, the per-session lock, progress,
//! cancellation and read-only mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::Sidecar;
use crate::rules::RuleSet;
use crate::runner::{
    Events, JobStatus, PlanSummary, RunEvent, RunOutcome, RunRequest, Runner, RunnerError,
};
use crate::store::SessionStore;

/// A runner that behaves like Terraform from the tools' point of view: saves a plan file, reports
/// a summary, streams lines, and stops when cancelled. With `block`, runs wait for cancellation.
#[derive(Default)]
struct ScriptedRunner {
    block: bool,
    runs: AtomicUsize,
    applies: AtomicUsize,
    destroys: AtomicUsize,
}

impl ScriptedRunner {
    async fn run(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
        plan_name: Option<&str>,
    ) -> Result<RunOutcome, RunnerError> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        std::fs::create_dir_all(&req.work_dir).map_err(|source| RunnerError::Prepare {
            path: req.work_dir.clone(),
            source,
        })?;
        let _ = events.send(RunEvent::Log("Initializing...".into()));
        let _ = events.send(RunEvent::JobState {
            job_id: "ocid1.ormjob.oc1..fake".into(),
            operation: "PLAN".into(),
            state: "IN_PROGRESS".into(),
        });
        if self.block {
            cancel.cancelled().await;
            return Ok(RunOutcome {
                cancelled: true,
                ..Default::default()
            });
        }
        let mut out = RunOutcome {
            success: true,
            summary: Some(PlanSummary {
                add: 3,
                change: 0,
                destroy: 0,
            }),
            job_id: Some("ocid1.ormjob.oc1..fake".into()),
            stack_id: Some("ocid1.ormstack.oc1..fake".into()),
            log_tail: vec!["Plan: 3 to add, 0 to change, 0 to destroy.".into()],
            ..Default::default()
        };
        if let Some(name) = plan_name {
            let p = req.work_dir.join(name);
            std::fs::write(&p, format!("plan {n}")).map_err(|source| RunnerError::Prepare {
                path: p.clone(),
                source,
            })?;
            out.plan_file = Some(p);
            if name == "plan.tfplan" {
                out.plan_job_id = Some(format!("ocid1.ormjob.oc1..plan{n}"));
            }
        } else {
            // Apply and destroy get the saved plan the tools verified; an apply, its PLAN job.
            assert!(
                req.plan_file.as_ref().is_some_and(|p| p.exists()),
                "apply without a saved plan"
            );
            out.plan_job_id = req.plan_job_id.clone();
        }
        Ok(out)
    }
}

impl Runner for ScriptedRunner {
    fn plan(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.run(req, events, cancel, Some("plan.tfplan")))
    }
    fn apply(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        Box::pin(self.run(req, events, cancel, None))
    }
    fn preview_destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        Box::pin(self.run(req, events, cancel, Some("destroy.tfplan")))
    }
    fn destroy(
        &self,
        req: RunRequest,
        events: Events,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<RunOutcome, RunnerError>> {
        self.destroys.fetch_add(1, Ordering::SeqCst);
        Box::pin(self.run(req, events, cancel, None))
    }
    fn job_status(&self, job_id: &str) -> BoxFuture<'_, Result<JobStatus, RunnerError>> {
        let job_id = job_id.to_string();
        Box::pin(async move {
            Ok(JobStatus {
                job_id,
                state: "SUCCEEDED".into(),
                operation: "APPLY".into(),
                stack_id: "ocid1.ormstack.oc1..fake".into(),
                session_id: None,
                time_created: None,
                time_finished: None,
                failure: None,
            })
        })
    }
    fn detect_drift(
        &self,
        stack_id: &str,
        _cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<crate::runner::DriftReport, RunnerError>> {
        let drifted = stack_id.ends_with("drifted");
        Box::pin(async move {
            Ok(crate::runner::DriftReport {
                drift_status: if drifted { "DRIFTED" } else { "IN_SYNC" }.into(),
                drifted_resources: Vec::new(),
                work_request_id: "ocid1.ormworkrequest.oc1..fake".into(),
            })
        })
    }
}

/// A JSON-RPC client on one end of an in-memory pipe; the sidecar serves the other end.
struct Client {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
    next: u64,
    notifications: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Client {
    async fn start(runner: Arc<ScriptedRunner>, read_only: bool) -> Client {
        let mut c = Client::connect(runner, read_only).await;
        c.request("initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})).await;
        c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        c
    }

    /// Connected, without the `initialize` handshake (as a 2026-07-28 client).
    async fn connect(runner: Arc<ScriptedRunner>, read_only: bool) -> Client {
        Client::connect_with(runner, read_only, None).await
    }

    /// Connected, building images with `builder` when given.
    async fn connect_with(
        runner: Arc<ScriptedRunner>,
        read_only: bool,
        builder: Option<Arc<dyn crate::runner::build::Builder>>,
    ) -> Client {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SessionStore::open(dir.path()).expect("store");
        let mut sidecar = Sidecar::new(
            store,
            RuleSet::embedded().expect("rules"),
            runner,
            read_only,
        );
        if let Some(b) = builder {
            sidecar = sidecar.with_builder(b);
        }
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            if let Ok(running) = sidecar.serve(theirs).await {
                let _ = running.waiting().await;
            }
        });
        let (r, w) = tokio::io::split(ours);
        Client {
            write: w,
            lines: BufReader::new(r).lines(),
            next: 1,
            notifications: vec![],
            _dir: dir,
        }
    }

    async fn send(&mut self, v: Value) {
        let mut line = v.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.expect("write");
    }

    /// Sends a request without waiting; returns its id.
    async fn start_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next;
        self.next += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    async fn response(&mut self, id: u64) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
                .await
                .expect("response in time")
                .expect("read")
                .expect("line");
            let v: Value = serde_json::from_str(&line).expect("json");
            if v.get("id") == Some(&json!(id)) && v.get("method").is_none() {
                return v;
            }
            if v.get("method").is_some() {
                self.notifications.push(v);
            }
        }
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params).await;
        self.response(id).await
    }

    /// Calls a tool; returns (is_error, structured content or text).
    async fn call(&mut self, tool: &str, args: Value) -> (bool, Value, String) {
        let r = self
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await;
        let result = &r["result"];
        assert!(r.get("error").is_none(), "{tool}: JSON-RPC error {r}");
        let text = result["content"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        (
            result["isError"] == json!(true),
            result["structuredContent"].clone(),
            text,
        )
    }

    async fn exported_session(&mut self) -> String {
        let (err, s, _) = self.call("create_session", json!({})).await;
        assert!(!err);
        let id = s["id"].as_str().expect("id").to_string();
        let (err, _, text) = self
            .call(
                "save_architecture",
                json!({
                    "session_id": id,
                    "components": [
                        {"id": "bucket", "service_type": "objectstorage", "display_name": "assets"}
                    ],
                }),
            )
            .await;
        assert!(!err, "{text}");
        let (err, _, text) = self.call("export_iac", json!({"session_id": id})).await;
        assert!(!err, "{text}");
        id
    }
}

#[tokio::test]
async fn apply_needs_the_latest_plan_token_and_unchanged_files() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner.clone(), false).await;
    let id = c.exported_session().await;

    let (err, _, text) = c
        .call("run_terraform_apply", json!({"session_id": id}))
        .await;
    assert!(err && text.contains("plan_token is required"), "{text}");
    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": "pt-guess"}),
        )
        .await;
    assert!(err && text.contains("no reviewed plan"), "{text}");

    let (err, plan, text) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    assert!(!err, "{text}");
    assert_eq!(
        plan["plan_summary"],
        json!({"add": 3, "change": 0, "destroy": 0})
    );
    assert_eq!(plan["job_id"], "ocid1.ormjob.oc1..fake");
    let token = plan["plan_token"].as_str().expect("token").to_string();

    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": "pt-0000"}),
        )
        .await;
    assert!(err && text.contains("does not match"), "{text}");

    // A newer plan replaces the token.
    let (_, plan2, _) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    let token2 = plan2["plan_token"].as_str().expect("token").to_string();
    assert_ne!(token, token2);
    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token}),
        )
        .await;
    assert!(
        err && text.contains("does not match"),
        "stale token accepted: {text}"
    );

    // A file changed behind the tools' back after the plan.
    let dir = c._dir.path().join("sessions").join(&id).join("terraform");
    std::fs::write(dir.join("extra.tf"), "# edited\n").expect("write");
    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token2}),
        )
        .await;
    assert!(err && text.contains("changed after the plan"), "{text}");
    assert_eq!(
        runner.applies.load(Ordering::SeqCst),
        0,
        "nothing may be applied so far"
    );

    // Plan again, apply with that token: works once.
    let (_, plan3, _) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    let token3 = plan3["plan_token"].as_str().expect("token").to_string();
    let (err, applied, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token3}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(applied["success"], true);
    assert_eq!(runner.applies.load(Ordering::SeqCst), 1);
    // The apply applied the PLAN job of the reviewed plan, not the one of an earlier plan.
    assert!(plan3["plan_job_id"].is_string(), "{plan3}");
    assert_ne!(plan3["plan_job_id"], plan2["plan_job_id"]);
    assert_eq!(applied["plan_job_id"], plan3["plan_job_id"]);
    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token3}),
        )
        .await;
    assert!(
        err && text.contains("no reviewed plan"),
        "a token is good for one apply: {text}"
    );
    let (_, s, _) = c.call("get_session", json!({"session_id": id})).await;
    assert_eq!(s["status"], "applied");
    assert_eq!(s["rm_stack_id"], "ocid1.ormstack.oc1..fake");
}

#[tokio::test]
async fn detect_drift_needs_a_stack_and_reports_the_stack_s_status() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner.clone(), false).await;
    let id = c.exported_session().await;
    let (err, _, text) = c.call("detect_drift", json!({"session_id": id})).await;
    assert!(
        err && text.contains("no Resource Manager stack yet")
            && text.contains("run_terraform_plan"),
        "{text}"
    );
    let (_, plan, _) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    let token = plan["plan_token"].as_str().expect("token");
    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token}),
        )
        .await;
    assert!(!err, "{text}");
    let (err, drift, text) = c.call("detect_drift", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    assert_eq!(drift["drift_status"], "IN_SYNC");
    assert_eq!(drift["stack_id"], "ocid1.ormstack.oc1..fake");
    assert_eq!(drift["drifted_resources"], json!([]));
    assert!(
        drift["checked_at"].as_u64().is_some_and(|t| t > 0),
        "{drift}"
    );
}

#[tokio::test]
async fn update_terraform_file_discards_the_plan_and_refuses_traversal() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner.clone(), false).await;
    let id = c.exported_session().await;
    let (_, plan, _) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    let token = plan["plan_token"].as_str().expect("token").to_string();
    let (err, upd, text) = c
        .call(
            "update_terraform_file",
            json!({"session_id": id, "file_path": "extra.tf", "new_content": "# x\n"}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(upd["plan_invalidated"], true);
    let (err, _, text) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token}),
        )
        .await;
    assert!(err && text.contains("no reviewed plan"), "{text}");

    for bad in [
        "../session.json",
        "/etc/passwd",
        "a/../../x.tf",
        ".terraform/x",
    ] {
        let (err, _, text) = c
            .call(
                "update_terraform_file",
                json!({"session_id": id, "file_path": bad, "new_content": "x"}),
            )
            .await;
        assert!(err && text.contains("is refused"), "{bad}: {text}");
    }
    let (err, _, text) = c
        .call(
            "update_terraform_file",
            json!({"session_id": "../../etc", "file_path": "x.tf", "new_content": "x"}),
        )
        .await;
    assert!(err && text.contains("is not valid"), "{text}");
    let session_json = c
        ._dir
        .path()
        .join("sessions")
        .join(&id)
        .join("session.json");
    assert!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(session_json).unwrap()).is_ok(),
        "session.json intact"
    );
}

#[tokio::test]
async fn destroy_needs_a_destroy_preview_token() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner.clone(), false).await;
    let id = c.exported_session().await;
    let (_, plan, _) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    let apply_token = plan["plan_token"].as_str().expect("token").to_string();
    let (err, _, text) = c
        .call(
            "run_terraform_destroy",
            json!({"session_id": id, "plan_token": apply_token}),
        )
        .await;
    assert!(err && text.contains("not a destroy plan"), "{text}");
    let (err, _, text) = c
        .call("run_terraform_destroy", json!({"session_id": id}))
        .await;
    assert!(err && text.contains("destroy=true"), "{text}");

    let (err, preview, text) = c
        .call(
            "run_terraform_plan",
            json!({"session_id": id, "destroy": true}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(preview["operation"], "destroy_preview");
    let token = preview["plan_token"].as_str().expect("token").to_string();
    // The destroy preview's token does not apply.
    let (err, _, _) = c
        .call(
            "run_terraform_apply",
            json!({"session_id": id, "plan_token": token}),
        )
        .await;
    assert!(err);
    let (err, done, text) = c
        .call(
            "run_terraform_destroy",
            json!({"session_id": id, "plan_token": token}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(done["operation"], "destroy");
    assert_eq!(runner.destroys.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_heavy_operation_is_refused_and_cancellation_stops_the_first() {
    let runner = Arc::new(ScriptedRunner {
        block: true,
        ..Default::default()
    });
    let mut c = Client::start(runner.clone(), false).await;
    let id = c.exported_session().await;
    let first = c
        .start_request("tools/call", json!({"name": "run_terraform_plan", "arguments": {"session_id": id}, "_meta": {"progressToken": "p1"}}))
        .await;
    // Wait until the run is under way (its progress arrives).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !c
        .notifications
        .iter()
        .any(|n| n["method"] == "notifications/progress")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress notification"
        );
        let line = tokio::time::timeout(Duration::from_secs(10), c.lines.next_line())
            .await
            .expect("in time")
            .expect("read")
            .expect("line");
        c.notifications
            .push(serde_json::from_str(&line).expect("json"));
    }
    let progress: Vec<&Value> = c
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress[0]["params"]["progressToken"], "p1");
    assert_eq!(progress[0]["params"]["message"], "Initializing...");

    let (err, _, text) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    assert!(err && text.contains("already has a plan running"), "{text}");
    // Design tools still work meanwhile.
    let (err, _, _) = c.call("get_session", json!({"session_id": id})).await;
    assert!(!err);

    c.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": first, "reason": "user"}})).await;
    // The run stops and releases the session: a new plan is accepted (and blocks again, so
    // cancel it too).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let id2 = c
            .start_request(
                "tools/call",
                json!({"name": "run_terraform_plan", "arguments": {"session_id": id}}),
            )
            .await;
        let r = tokio::time::timeout(Duration::from_millis(500), c.response(id2)).await;
        match r {
            Ok(v) if v["result"]["isError"] == json!(true) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "session never released"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Either it is running (no response yet) or it answered without error: released.
            _ => {
                c.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id2}})).await;
                break;
            }
        }
    }
}

#[tokio::test]
async fn read_only_mode_does_not_offer_apply_or_destroy() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner.clone(), true).await;
    let list = c.request("tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"run_terraform_plan"));
    assert!(
        !names.contains(&"run_terraform_apply")
            && !names.contains(&"run_terraform_destroy")
            && !names.contains(&"build_app_image"),
        "{names:?}"
    );
    assert!(names.contains(&"write_app_file"), "{names:?}");
    let r = c.request("tools/call", json!({"name": "run_terraform_apply", "arguments": {"session_id": "s-aaaaaaaaaaaa", "plan_token": "x"}})).await;
    assert!(
        r.get("error").is_some() || r["result"]["isError"] == json!(true),
        "{r}"
    );
    assert_eq!(runner.applies.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_tool_has_annotations_and_an_output_schema() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner, false).await;
    let list = c.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 27);
    for t in tools {
        let name = t["name"].as_str().unwrap_or_default();
        assert!(t["outputSchema"].is_object(), "{name} has no outputSchema");
        assert!(
            t["annotations"]["readOnlyHint"].is_boolean(),
            "{name} lacks readOnlyHint"
        );
        assert!(
            t["annotations"]["destructiveHint"].is_boolean(),
            "{name} lacks destructiveHint"
        );
        assert!(
            t["description"].as_str().is_some_and(|d| d.len() > 30),
            "{name} description too thin"
        );
    }
    let ro = |n: &str| {
        tools
            .iter()
            .find(|t| t["name"] == n)
            .map(|t| t["annotations"]["readOnlyHint"] == json!(true))
    };
    assert_eq!(ro("get_session"), Some(true));
    assert_eq!(ro("run_terraform_apply"), Some(false));
    assert_eq!(ro("list_app_templates"), Some(true));
    assert_eq!(ro("build_app_image"), Some(false));
    // The scaffold tool's description names every shipped template.
    let scaffold = tools
        .iter()
        .find(|t| t["name"] == "scaffold_app_from_template")
        .expect("scaffold tool");
    for t in crate::app::templates() {
        assert!(
            scaffold["description"]
                .as_str()
                .is_some_and(|d| d.contains(t.name)),
            "{} missing from {scaffold}",
            t.name
        );
    }
    assert_eq!(ro("detect_drift"), Some(true));
}

#[tokio::test]
async fn export_refuses_terraform_names_that_collide_and_writes_nothing() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner, false).await;
    let (_, s, _) = c.call("create_session", json!({})).await;
    let id = s["id"].as_str().expect("id").to_string();
    // Distinct display names, one Terraform variable: `k` + `_node_shape` = `k node` + `_shape`.
    let (err, _, text) = c
        .call(
            "save_architecture",
            json!({
                "session_id": id,
                "components": [
                    {"id": "net", "service_type": "vcn", "display_name": "net"},
                    {"id": "apps", "service_type": "subnet", "display_name": "apps"},
                    {"id": "oke-k", "service_type": "oke", "display_name": "k"},
                    {"id": "vm-kn", "service_type": "compute", "display_name": "k node"}
                ],
                "connections": [
                    {"source_id": "apps", "target_id": "net"},
                    {"source_id": "oke-k", "target_id": "apps"},
                    {"source_id": "vm-kn", "target_id": "apps"}
                ]
            }),
        )
        .await;
    assert!(!err, "{text}");
    let (_, report, _) = c
        .call("validate_architecture", json!({"session_id": id}))
        .await;
    let finding = report["errors"]
        .as_array()
        .and_then(|e| e.iter().find(|f| f["rule_id"] == "terraform-names-unique"))
        .unwrap_or_else(|| panic!("no collision finding: {report}"));
    assert_eq!(finding["component_ids"], json!(["oke-k", "vm-kn"]));
    let (err, _, text) = c.call("export_iac", json!({"session_id": id})).await;
    assert!(
        err && text.contains("k_node_shape") && text.contains("oke-k") && text.contains("vm-kn"),
        "{text}"
    );
    let stack = c._dir.path().join("sessions").join(&id).join("terraform");
    assert_eq!(
        std::fs::read_dir(stack).unwrap().count(),
        0,
        "nothing written"
    );
}

/// The required answers of the shipped question set, for a web application.
fn web_answers() -> Value {
    json!({
        "purpose": "an online shop",
        "workload_type": "web_app",
        "expected_load": "medium",
        "availability": "high",
        "data_store": "relational",
        "exposure": "internet",
        "region": "ap-tokyo-1"
    })
}

#[tokio::test]
async fn the_hearing_checks_answers_completes_and_seeds_the_design() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner, false).await;
    let (_, s, _) = c.call("create_session", json!({})).await;
    let id = s["id"].as_str().expect("id").to_string();

    let (err, q, text) = c
        .call("get_hearing_questions", json!({"session_id": id}))
        .await;
    assert!(!err, "{text}");
    assert!(q["phases"].as_array().is_some_and(|p| p.len() >= 4));
    assert_eq!(
        q["progress"]["missing_required"].as_array().map(Vec::len),
        Some(7)
    );

    // A bad choice: the error names the question and lists the valid values.
    let (err, _, text) = c
        .call(
            "save_answer",
            json!({"session_id": id, "question_id": "availability", "answer": "always"}),
        )
        .await;
    assert!(
        err && text.contains("availability") && text.contains("standard") && text.contains("high"),
        "{text}"
    );
    // A batch with one bad answer saves nothing.
    let (err, _, text) = c
        .call(
            "save_answers_batch",
            json!({"session_id": id, "answers": {"purpose": "shop", "region": "moon-1"}}),
        )
        .await;
    assert!(
        err && text.contains("region")
            && text.contains("ap-tokyo-1")
            && text.contains("nothing was saved"),
        "{text}"
    );
    let (_, s, _) = c.call("get_session", json!({"session_id": id})).await;
    assert!(s["answers"].get("purpose").is_none(), "nothing saved: {s}");

    // Incomplete: refused with the missing questions named.
    let (err, saved, text) = c
        .call(
            "save_answer",
            json!({"session_id": id, "question_id": "purpose", "answer": "an online shop"}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(
        saved["progress"]["missing_required"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    let (err, _, text) = c.call("complete_hearing", json!({"session_id": id})).await;
    assert!(
        err && text.contains("workload_type")
            && text.contains("exposure")
            && !text.contains("- purpose"),
        "{text}"
    );
    let (err, _, text) = c
        .call("get_hearing_result", json!({"session_id": id}))
        .await;
    assert!(err && text.contains("complete_hearing"), "{text}");

    let (err, _, text) = c
        .call(
            "save_answers_batch",
            json!({"session_id": id, "answers": web_answers()}),
        )
        .await;
    assert!(!err, "{text}");
    let (err, result, text) = c.call("complete_hearing", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    assert_eq!(result["settings"]["region"], "ap-tokyo-1");
    assert_eq!(result["config_defaults"]["compute"]["ocpus"], 2);
    let (_, got, _) = c
        .call("get_hearing_result", json!({"session_id": id}))
        .await;
    assert_eq!(got, result);

    // The design starts from the hearing.
    let (err, s, text) = c
        .call(
            "save_architecture",
            json!({"session_id": id, "use_suggested_architecture": true}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(
        s["architecture"]["components"],
        result["suggested_architecture"]["components"]
    );
    let (_, report, _) = c
        .call("validate_architecture", json!({"session_id": id}))
        .await;
    assert_eq!(report["valid"], true, "{report}");
    let (err, added, text) = c
        .call("add_component", json!({"session_id": id, "service_type": "compute", "display_name": "worker", "config": {"memory_in_gbs": 8}, "connect_to": ["app-subnet"], "apply_hearing_defaults": true}))
        .await;
    assert!(!err, "{text}");
    assert_eq!(
        added["component"]["config"],
        json!({"ocpus": 2, "memory_in_gbs": 8})
    );
    let (_, plain, _) = c
        .call("add_component", json!({"session_id": id, "service_type": "compute", "display_name": "plain", "connect_to": ["app-subnet"]}))
        .await;
    assert_eq!(plain["component"]["config"], json!({}));

    // Changing an answer reopens the hearing.
    let (_, saved, _) = c
        .call(
            "save_answer",
            json!({"session_id": id, "question_id": "expected_load", "answer": "large"}),
        )
        .await;
    assert_eq!(saved["hearing_reopened"], true);
    let (err, _, text) = c
        .call("add_component", json!({"session_id": id, "service_type": "nosql", "display_name": "t2", "apply_hearing_defaults": true}))
        .await;
    assert!(err && text.contains("complete_hearing"), "{text}");
}

#[tokio::test]
async fn the_diagram_summary_resources_and_prompts_show_a_session() {
    let runner = Arc::new(ScriptedRunner::default());
    let mut c = Client::start(runner, false).await;
    let (_, s, _) = c.call("create_session", json!({})).await;
    let id = s["id"].as_str().expect("id").to_string();
    let fixture: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/full-architecture.json"))
            .expect("fixture");
    let (err, _, text) = c
        .call("save_architecture", json!({"session_id": id, "components": fixture["components"], "connections": fixture["connections"]}))
        .await;
    assert!(!err, "{text}");
    let (err, d, text) = c.call("export_diagram", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    let svg = d["svg"].as_str().expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains(">orders-db<") && svg.contains(">front-lb<"));
    assert!(
        d["mermaid"]
            .as_str()
            .is_some_and(|m| m.starts_with("flowchart TB"))
    );
    assert_eq!(d["components"], 20);
    let (err, sum, text) = c.call("export_summary", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    assert!(
        sum["markdown"]
            .as_str()
            .is_some_and(|m| m.contains("## Placement") && m.contains("unknown"))
    );
    assert!(
        sum["unknown_cost"]
            .as_array()
            .is_some_and(|u| u.contains(&json!("db")))
    );

    // Resources: listed, templated, readable; the diagram resource is the tool's SVG.
    let list = c.request("resources/list", json!({})).await;
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .collect();
    let design = format!("galley://sessions/{id}/design");
    assert!(
        uris.contains(&design.as_str()) && uris.contains(&"galley://hearing/questions"),
        "{uris:?}"
    );
    let templates = c.request("resources/templates/list", json!({})).await;
    assert!(
        templates["result"]["resourceTemplates"]
            .as_array()
            .is_some_and(|t| t
                .iter()
                .any(|t| t["uriTemplate"] == "galley://sessions/{session_id}/diagram.svg"))
    );
    let read = |r: &Value| {
        r["result"]["contents"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/diagram.svg")}),
        )
        .await;
    assert_eq!(read(&r), svg);
    assert_eq!(r["result"]["contents"][0]["mimeType"], "image/svg+xml");
    let r = c.request("resources/read", json!({"uri": design})).await;
    let view: Value = serde_json::from_str(&read(&r)).expect("json");
    assert_eq!(
        view["architecture"]["components"].as_array().map(Vec::len),
        Some(20)
    );
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/last-run")}),
        )
        .await;
    assert!(read(&r).contains("\"last_run\": null"), "{r}");
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/nope")}),
        )
        .await;
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("design") && m.contains("diagram.svg")),
        "{r}"
    );
    let r = c
        .request(
            "resources/read",
            json!({"uri": "galley://sessions/s-aaaaaaaaaaaa/design"}),
        )
        .await;
    assert!(r.get("error").is_some(), "{r}");

    // Stack files after export; a path outside the listing is refused.
    let (err, _, text) = c.call("export_iac", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/stack")}),
        )
        .await;
    assert!(
        read(&r).contains(&format!("galley://sessions/{id}/stack/main.tf")),
        "{r}"
    );
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/stack/main.tf")}),
        )
        .await;
    assert!(
        read(&r).contains("variable \"region\"") || read(&r).contains("provider \"oci\""),
        "{r}"
    );
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/stack/../session.json")}),
        )
        .await;
    assert!(r.get("error").is_some(), "{r}");

    // The last run after a plan.
    let (err, _, text) = c
        .call("run_terraform_plan", json!({"session_id": id}))
        .await;
    assert!(!err, "{text}");
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/last-run")}),
        )
        .await;
    let run: Value = serde_json::from_str(&read(&r)).expect("json");
    assert_eq!(
        (run["operation"].as_str(), run["success"].as_bool()),
        (Some("plan"), Some(true))
    );

    // Prompts: listed with arguments, filled in, a missing required argument named.
    let list = c.request("prompts/list", json!({})).await;
    let names: Vec<&str> = list["result"]["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["build_infrastructure", "build_full_stack", "clean_up"]
    );
    let p = c
        .request(
            "prompts/get",
            json!({"name": "clean_up", "arguments": {"session_id": id}}),
        )
        .await;
    let text = p["result"]["messages"][0]["content"]["text"]
        .as_str()
        .expect("text");
    assert!(
        text.contains(&id) && text.contains("run_terraform_destroy"),
        "{text}"
    );
    let p = c
        .request("prompts/get", json!({"name": "clean_up", "arguments": {}}))
        .await;
    assert!(
        p["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("session_id")),
        "{p}"
    );
    let p = c
        .request(
            "prompts/get",
            json!({"name": "build_infrastructure", "arguments": {"goal": "a shop"}}),
        )
        .await;
    let text = p["result"]["messages"][0]["content"]["text"]
        .as_str()
        .expect("text");
    assert!(
        text.contains("a shop") && text.contains("complete_hearing") && text.contains("plan_token"),
        "{text}"
    );
}

/// Lists of the 2026-07-28 revision carry `ttlMs` and `cacheScope` (resource lists and reads,
/// prompt lists, as tool lists do): always stale, since sessions change under them; the older
/// revision's do not.
#[tokio::test]
async fn lists_carry_caching_hints_only_on_the_2026_revision() {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let methods = [
        ("tools/list", json!({})),
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("prompts/list", json!({})),
        (
            "resources/read",
            json!({"uri": "galley://hearing/questions"}),
        ),
    ];
    let mut modern = Client::connect(Arc::new(ScriptedRunner::default()), false).await;
    for (method, params) in &methods {
        let mut params = params.clone();
        params["_meta"] = meta.clone();
        let r = modern.request(method, params).await;
        assert_eq!(r["result"]["ttlMs"], 0, "{method}: {r}");
        // The tool list is the same for every client (the SDK says so); lists and reads of
        // resources hold sessions' data, and the rest keep the conservative default.
        let scope = if *method == "tools/list" {
            "public"
        } else {
            "private"
        };
        assert_eq!(r["result"]["cacheScope"], scope, "{method}: {r}");
        assert_eq!(r["result"]["resultType"], "complete", "{method}: {r}");
    }
    let mut legacy = Client::start(Arc::new(ScriptedRunner::default()), false).await;
    for (method, params) in &methods {
        let r = legacy.request(method, params.clone()).await;
        assert!(r["result"].is_object(), "{method}: {r}");
        assert!(
            r["result"].get("ttlMs").is_none() && r["result"].get("cacheScope").is_none(),
            "{method}: {r}"
        );
    }
}

/// A builder that checks what a build would upload (the app directory written for it) and
/// answers like `galley_build`: a digest, or exit code 1 when the app holds a `FAIL` file.
#[derive(Default)]
struct ScriptedBuilder {
    builds: AtomicUsize,
}

impl crate::runner::build::Builder for ScriptedBuilder {
    fn image_uri(&self, name: &str, tag: &str) -> Result<String, String> {
        Ok(format!("registry.example/ns/{name}:{tag}"))
    }

    fn build(
        &self,
        req: crate::runner::build::BuildRequest,
        events: Events,
        _cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<crate::runner::build::BuildOutcome, RunnerError>> {
        let n = self.builds.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let app = req.work_dir.join("app");
            let dockerfile = std::fs::read_to_string(app.join("Dockerfile")).unwrap_or_default();
            assert!(
                dockerfile.contains("FROM "),
                "the app directory was written"
            );
            let _ = events.send(RunEvent::Log("galley_build.app: Creating...".into()));
            if app.join("FAIL").exists() {
                return Ok(crate::runner::build::BuildOutcome {
                    exit_code: Some(1),
                    output_tail: vec!["ERROR: failed to solve".into()],
                    errors: vec!["Build failed with exit code 1".into()],
                    ..Default::default()
                });
            }
            Ok(crate::runner::build::BuildOutcome {
                success: true,
                exit_code: Some(0),
                image_digest: Some(format!("sha256:{n:064}")),
                source_sha256: Some("ab".repeat(32)),
                output_tail: vec!["v1: digest: sha256:... size: 1570".into()],
                ..Default::default()
            })
        })
    }
}

#[tokio::test]
async fn an_app_from_a_template_is_built_and_its_image_exported() {
    let builder = Arc::new(ScriptedBuilder::default());
    let mut c = Client::connect_with(
        Arc::new(ScriptedRunner::default()),
        false,
        Some(builder.clone()),
    )
    .await;
    c.request("initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})).await;
    let (_, s, _) = c.call("create_session", json!({})).await;
    let id = s["id"].as_str().expect("id").to_string();

    let (err, _, text) = c.call("build_app_image", json!({"session_id": id})).await;
    assert!(err && text.contains("no application files"), "{text}");
    let (err, _, text) = c
        .call(
            "scaffold_app_from_template",
            json!({"session_id": id, "template": "rest-api-cobol"}),
        )
        .await;
    assert!(
        err && text.contains("rest-api-python") && text.contains("rest-api-node"),
        "{text}"
    );
    let (err, out, text) = c
        .call(
            "scaffold_app_from_template",
            json!({"session_id": id, "template": "rest-api-python"}),
        )
        .await;
    assert!(!err, "{text}");
    assert_eq!(
        out["app_files"],
        json!(["Dockerfile", "README.md", "app.py"])
    );
    let (err, _, text) = c
        .call(
            "write_app_file",
            json!({"session_id": id, "file_path": "../escape.py", "content": "x"}),
        )
        .await;
    assert!(err && text.contains("`..`"), "{text}");

    // Before a build, a container running "app" cannot be exported.
    let (err, _, text) = c
        .call(
            "save_architecture",
            json!({
                "session_id": id,
                "components": [
                    {"id": "vcn", "service_type": "vcn", "display_name": "net"},
                    {"id": "sn", "service_type": "subnet", "display_name": "apps"},
                    {"id": "ci", "service_type": "container_instance", "display_name": "api", "config": {"image": "app"}}
                ],
                "connections": [
                    {"source_id": "sn", "target_id": "vcn", "connection_type": "placement"},
                    {"source_id": "ci", "target_id": "sn", "connection_type": "placement"}
                ]
            }),
        )
        .await;
    assert!(!err, "{text}");
    let (err, _, text) = c.call("export_iac", json!({"session_id": id})).await;
    assert!(err && text.contains("build_app_image"), "{text}");

    let (err, built, text) = c.call("build_app_image", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    let uri = built["image_uri"].as_str().expect("uri");
    assert!(uri.starts_with("registry.example/ns/app:"), "{built}");
    let reference = built["image_reference"]
        .as_str()
        .expect("reference")
        .to_string();
    assert_eq!(
        reference,
        format!("{uri}@{}", built["image_digest"].as_str().unwrap())
    );
    assert_eq!(built["exit_code"], 0);

    let (err, _, text) = c.call("export_iac", json!({"session_id": id})).await;
    assert!(!err, "{text}");
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/stack/variables.tf")}),
        )
        .await;
    let vars = r["result"]["contents"][0]["text"]
        .as_str()
        .expect("variables.tf");
    assert!(
        vars.contains(&format!("default     = \"{reference}\"")),
        "{vars}"
    );
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/app")}),
        )
        .await;
    let app: Value =
        serde_json::from_str(r["result"]["contents"][0]["text"].as_str().expect("app"))
            .expect("json");
    assert_eq!(app["last_build"]["image_reference"], json!(reference));
    assert_eq!(app["files"].as_array().map(Vec::len), Some(3));

    // A failing build is an error result with the exit code and the output; the last good
    // image stays what the stack runs.
    let (err, _, text) = c
        .call(
            "write_app_file",
            json!({"session_id": id, "file_path": "FAIL", "content": "\n"}),
        )
        .await;
    assert!(!err, "{text}");
    let (err, failed, text) = c.call("build_app_image", json!({"session_id": id})).await;
    assert!(err, "{text}");
    assert_eq!(failed["exit_code"], 1);
    assert_eq!(failed["success"], false);
    assert!(
        text.contains("exited with code 1")
            && text.contains("ERROR: failed to solve")
            && text.contains("write_app_file"),
        "{text}"
    );
    let (_, s, _) = c.call("get_session", json!({"session_id": id})).await;
    assert_eq!(s["status"], "exported", "{s}");
    let r = c
        .request(
            "resources/read",
            json!({"uri": format!("galley://sessions/{id}/app")}),
        )
        .await;
    let app: Value =
        serde_json::from_str(r["result"]["contents"][0]["text"].as_str().expect("app"))
            .expect("json");
    assert_eq!(app["last_build"]["image_reference"], json!(reference));
    assert_eq!(builder.builds.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_build_without_a_builder_or_a_dockerfile_says_what_to_do() {
    let mut c = Client::start(Arc::new(ScriptedRunner::default()), false).await;
    let (_, s, _) = c.call("create_session", json!({})).await;
    let id = s["id"].as_str().expect("id").to_string();
    let (err, _, text) = c
        .call(
            "write_app_file",
            json!({"session_id": id, "file_path": "src/main.py", "content": "print(1)\n"}),
        )
        .await;
    assert!(!err, "{text}");
    let (err, _, text) = c.call("build_app_image", json!({"session_id": id})).await;
    assert!(err && text.contains("GALLEY_BUILD_"), "{text}");

    let builder = Arc::new(ScriptedBuilder::default());
    let mut c = Client::connect_with(
        Arc::new(ScriptedRunner::default()),
        false,
        Some(builder.clone()),
    )
    .await;
    c.request("initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})).await;
    let (_, s, _) = c.call("create_session", json!({})).await;
    let id = s["id"].as_str().expect("id").to_string();
    c.call(
        "write_app_file",
        json!({"session_id": id, "file_path": "src/main.py", "content": "print(1)\n"}),
    )
    .await;
    let (err, _, text) = c.call("build_app_image", json!({"session_id": id})).await;
    assert!(err && text.contains("no Dockerfile"), "{text}");
    let (err, _, text) = c
        .call(
            "build_app_image",
            json!({"session_id": id, "image_name": "Bad Name"}),
        )
        .await;
    assert!(err && text.contains("no Dockerfile"), "{text}");
    assert_eq!(builder.builds.load(Ordering::SeqCst), 0);
}
