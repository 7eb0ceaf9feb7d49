//! The root module's Terraform state, read where Terraform keeps it (the local
//! `terraform.tfstate`, or the `http` backend the sidecar serves) without running Terraform:
//! the `galley_session` resource's values (stack id, last job, plan summary, outputs, taint).
//!
//! State files have had the same layout (format version 4) from Terraform 0.12 through 1.15:
//! `resources[]` of `{mode, type, name, instances[]}`, each instance with `attributes` and, when
//! its create failed, `status = "tainted"`.

use std::collections::BTreeMap;

use base64::Engine as _;
use http_body_util::{BodyExt, Empty};
use serde_json::Value;

use super::RemoteState;
use super::output::PlanSummary;

/// The address of the one resource the root module declares.
pub const ADDRESS: &str = "galley_session.this";

/// What the state says about the session's stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionState {
    pub stack_id: Option<String>,
    pub last_job_id: Option<String>,
    pub last_job_state: Option<String>,
    pub plan_summary: Option<PlanSummary>,
    pub outputs: BTreeMap<String, String>,
    pub log_tail: Option<String>,
    pub operation: Option<String>,
    pub plan_job_id: Option<String>,
    pub drift_status: Option<String>,
    /// Terraform marks a resource whose create failed as tainted: the next plan replaces it.
    pub tainted: bool,
}

/// The resource in a state file; `None` when it is not in state.
pub fn session_state(state: &Value) -> Option<SessionState> {
    let r = state["resources"].as_array()?.iter().find(|r| {
        r["mode"].as_str() == Some("managed")
            && r["type"].as_str() == Some("galley_session")
            && r["name"].as_str() == Some("this")
            && r.get("module").is_none()
    })?;
    let inst = r["instances"].as_array()?.first()?;
    let v = &inst["attributes"];
    let s = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let n = |k: &str| v["plan_summary"][k].as_u64();
    let plan_summary = v["plan_summary"].is_object().then(|| PlanSummary {
        add: n("add").unwrap_or(0),
        change: n("change").unwrap_or(0),
        destroy: n("destroy").unwrap_or(0),
    });
    let outputs = v["outputs"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(SessionState {
        stack_id: s("id"),
        last_job_id: s("last_job_id"),
        last_job_state: s("last_job_state"),
        plan_summary,
        outputs,
        log_tail: s("log_tail"),
        operation: s("operation"),
        plan_job_id: s("plan_job_id"),
        drift_status: s("drift_status"),
        tainted: inst["status"].as_str() == Some("tainted"),
    })
}

/// The state's bytes: the local file in `work_dir`, or what the `http` backend answers
/// (`None`: no state yet).
pub async fn read(
    work_dir: &std::path::Path,
    remote: Option<&RemoteState>,
) -> Result<Option<Vec<u8>>, String> {
    let Some(remote) = remote else {
        return match std::fs::read(work_dir.join("terraform.tfstate")) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("failed to read terraform.tfstate: {e}")),
        };
    };
    get(remote).await
}

/// GET of the state from the `http` backend, as Terraform's backend does it.
async fn get(remote: &RemoteState) -> Result<Option<Vec<u8>>, String> {
    let uri: http::Uri = remote
        .address
        .parse()
        .map_err(|e| format!("the state address is not a URL: {e}"))?;
    let authority = uri
        .authority()
        .ok_or("the state address has no host")?
        .to_string();
    let fail =
        |e: &dyn std::fmt::Display| format!("failed to read the state from its backend: {e}");
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| fail(&e))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| fail(&e))?;
    tokio::spawn(conn);
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", remote.username, remote.password));
    let req = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, &authority)
        .header(http::header::AUTHORIZATION, format!("Basic {credentials}"))
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| fail(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| fail(&e))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| fail(&e))?
        .to_bytes();
    match status {
        http::StatusCode::NOT_FOUND | http::StatusCode::NO_CONTENT => Ok(None),
        s if s.is_success() => Ok((!body.is_empty()).then(|| body.to_vec())),
        s => Err(fail(&format!("the backend answered {s}"))),
    }
}

/// The session resource of the state in `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Option<SessionState>, String> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the runner's state is not JSON: {e}"))?;
    Ok(session_state(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_session_resource_of_a_state_file() {
        let state = json!({"version": 4, "resources": [
            {"mode": "data", "type": "galley_session", "name": "this", "instances": []},
            {"mode": "managed", "type": "galley_session", "name": "this", "provider": "x",
             "instances": [{"schema_version": 0, "attributes": {
                "id": "ocid1.ormstack.oc1..s", "last_job_id": "ocid1.ormjob.oc1..j",
                "last_job_state": "SUCCEEDED", "operation": "plan", "log_tail": "Plan: 2 to add",
                "plan_summary": {"add": 2, "change": 0, "destroy": 1},
                "outputs": {"greeting": "hello"}, "plan_job_id": null
             }}]}
        ]});
        let s = session_state(&state).unwrap();
        assert_eq!(s.stack_id.as_deref(), Some("ocid1.ormstack.oc1..s"));
        assert_eq!(s.last_job_id.as_deref(), Some("ocid1.ormjob.oc1..j"));
        assert_eq!(s.last_job_state.as_deref(), Some("SUCCEEDED"));
        assert_eq!(s.operation.as_deref(), Some("plan"));
        assert_eq!(s.plan_job_id, None);
        assert_eq!(
            s.plan_summary,
            Some(PlanSummary {
                add: 2,
                change: 0,
                destroy: 1
            })
        );
        assert_eq!(s.outputs["greeting"], "hello");
        assert!(!s.tainted);
        assert_eq!(session_state(&json!({"version": 4, "resources": []})), None);
        assert_eq!(session_state(&json!({})), None);
    }

    #[test]
    fn a_failed_create_is_tainted() {
        let state = json!({"resources": [{"mode": "managed", "type": "galley_session",
            "name": "this", "instances": [{"status": "tainted", "attributes": {"id": "s"}}]}]});
        assert!(session_state(&state).unwrap().tainted);
    }

    #[tokio::test]
    async fn no_local_state_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), None).await.unwrap(), None);
        std::fs::write(dir.path().join("terraform.tfstate"), b"{}").unwrap();
        assert_eq!(read(dir.path(), None).await.unwrap().unwrap(), b"{}");
    }
}
