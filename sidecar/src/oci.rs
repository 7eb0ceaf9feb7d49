//! The sidecar's own Resource Manager access (a job's state, the resources a stack deployed),
//! authenticated the way the Galley provider that runs the stacks is: the same OCI set-up
//! (`galley_oci::setup`), from the same environment variables. This module owns the snapshot of
//! those variables taken at start-up (the runner hands the same values to Terraform, so the
//! provider and the sidecar always talk to the same place as the same principal) and the lazily
//! built client.

use std::collections::BTreeMap;
use std::sync::Arc;

use galley_contract::env::{LEGACY_COMPARTMENT_OCID, WORK_COMPARTMENT_ID};
use galley_oci::client::OciError;
use galley_oci::object_storage::ObjectStorageClient;
use galley_oci::resource_manager::{
    DetectStackDriftDetails, Job, ListJobsRequest, ListResourceDriftRequest, ListStacksRequest,
    ResourceManagerClient, StackLifecycleState, WorkRequestStatus,
};
use galley_oci::setup::{self, OciClients, OciSetupError, SetupInputs, env};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The variables the sidecar reads for OCI and hands to the Terraform it runs: every variable
/// of OCI set-up (the provider block's `OCI_*` settings, resource principal, endpoint
/// overrides, the home folder) and the work compartment of the stacks.
pub fn provider_env() -> impl Iterator<Item = &'static str> {
    env::ALL.into_iter().chain([WORK_COMPARTMENT_ID])
}

fn is_provider_env(name: &str) -> bool {
    provider_env().any(|k| k == name)
}

/// A snapshot of [`provider_env`] taken at start-up.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OciSettings {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for OciSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .vars
            .iter()
            .map(|(k, v)| {
                let v = if env::is_secret(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("OciSettings").field("vars", &shown).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RmError {
    #[error("failed to set up OCI access: {0}")]
    Setup(#[from] OciSetupError),
    #[error(
        "Resource Manager has no {what} {id}: a destroy deletes the stack together with its jobs; otherwise check the id (the runs of this sidecar return it)"
    )]
    NotFound { what: &'static str, id: String },
    #[error("failed to ask Resource Manager: {0}")]
    Api(#[source] OciError),
    #[error("failed to read the Terraform state of stack {stack}: {reason}")]
    BadState { stack: String, reason: String },
    #[error(
        "failed to detect the drift of stack {stack} (work request {work_request}): {reason}; try detect_drift again"
    )]
    Drift {
        stack: String,
        work_request: String,
        reason: String,
    },
    #[error(
        "Resource Manager detects drift only on a stack whose last job is an apply; the last job of stack {stack} is {operation} job {job}. Apply the reviewed plan (run_terraform_apply with its plan_token, or plan and apply), then call detect_drift again"
    )]
    DriftNotReady {
        stack: String,
        job: String,
        operation: String,
    },
}

impl OciSettings {
    /// Takes [`provider_env`] from `env`; empty values count as unset. The earlier name of the
    /// work compartment variable ([`LEGACY_COMPARTMENT_OCID`]) stands in for
    /// [`WORK_COMPARTMENT_ID`] when that is not set.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut vars: BTreeMap<String, String> = provider_env()
            .filter_map(|k| set(k).map(|v| (k.to_string(), v)))
            .collect();
        if !vars.contains_key(WORK_COMPARTMENT_ID)
            && let Some(c) = set(LEGACY_COMPARTMENT_OCID)
        {
            vars.insert(WORK_COMPARTMENT_ID.to_string(), c);
        }
        OciSettings { vars }
    }

    /// Settings from explicit pairs (tests, embedders).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        OciSettings {
            vars: pairs
                .into_iter()
                .filter(|(k, _)| is_provider_env(k))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The variables to give a Terraform run so the provider sees these settings.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether a variable of [`provider_env`] is a secret.
    pub fn is_secret(name: &str) -> bool {
        env::is_secret(name)
    }

    /// The OCI set-up inputs these settings give: what the provider block's attributes would
    /// be with all of them left to the environment.
    pub fn inputs(&self) -> SetupInputs {
        SetupInputs::from_env(|k| self.get(k).map(str::to_string))
    }

    /// The Object Storage client of these settings (the bucket store's), with `retry` and
    /// `timeout` for every call.
    pub async fn object_storage(
        &self,
        retry: galley_oci::client::RetryPolicy,
        timeout: std::time::Duration,
    ) -> Result<ObjectStorageClient, OciSetupError> {
        let os = self.clients().await?.object_storage;
        let client = os.client().with_retry_policy(retry).with_timeout(timeout);
        Ok(os.with_client(client))
    }

    /// Authenticates and builds the clients, reading files through the snapshot (`HOME`,
    /// `OCI_CONFIG_FILE`) rather than the live environment.
    async fn clients(&self) -> Result<OciClients, OciSetupError> {
        let lookup = |k: &str| self.get(k).map(str::to_string);
        let user_agent = format!("galley-sidecar/{}", env!("CARGO_PKG_VERSION"));
        setup::build_clients(&self.inputs(), &lookup, &user_agent).await
    }
}

/// What `get_rm_job_status` reports of a job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct JobStatus {
    pub job_id: String,
    /// ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELING or CANCELED.
    pub state: String,
    /// PLAN, APPLY, DESTROY or IMPORT_TF_STATE.
    pub operation: String,
    pub stack_id: String,
    /// The session whose stack the job belongs to, when it is one of this sidecar's.
    pub session_id: Option<String>,
    pub time_created: Option<String>,
    pub time_finished: Option<String>,
    /// Why the job failed (`code: message`), when it did.
    pub failure: Option<String>,
}

impl JobStatus {
    fn from_job(job: &Job) -> Self {
        JobStatus {
            job_id: job.id.clone(),
            state: job.lifecycle_state.as_str().to_string(),
            operation: job.operation.to_string(),
            stack_id: job.stack_id.clone(),
            session_id: None,
            time_created: job.time_created.clone(),
            time_finished: job.time_finished.clone(),
            failure: job
                .failure_details
                .as_ref()
                .map(|f| format!("{}: {}", f.code, f.message)),
        }
    }
}

/// Resource Manager calls of the sidecar. The client is built on first use (auth may read files
/// or call the metadata service) and kept; a failed set-up is retried on the next call.
#[derive(Debug, Clone)]
pub struct ResourceManager {
    settings: OciSettings,
    client: Arc<tokio::sync::OnceCell<ResourceManagerClient>>,
}

impl ResourceManager {
    pub fn new(settings: OciSettings) -> Self {
        ResourceManager {
            settings,
            client: Arc::default(),
        }
    }

    pub fn settings(&self) -> &OciSettings {
        &self.settings
    }

    async fn client(&self) -> Result<&ResourceManagerClient, OciSetupError> {
        self.client
            .get_or_try_init(|| async { Ok(self.settings.clients().await?.resource_manager) })
            .await
    }

    /// GetJob.
    pub async fn job(&self, job_id: &str) -> Result<JobStatus, RmError> {
        let rm = self.client().await?;
        match rm.get_job(job_id).await {
            Ok(reply) => Ok(JobStatus::from_job(&reply.value)),
            Err(e) if e.is_not_found() => Err(RmError::NotFound {
                what: "job",
                id: job_id.to_string(),
            }),
            Err(e) => Err(RmError::Api(e)),
        }
    }

    /// The stacks of `compartment` (deleted ones aside) whose free-form tag `key` is `value`.
    pub async fn stacks_tagged(
        &self,
        compartment: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, RmError> {
        let rm = self.client().await?;
        let stacks = rm
            .list_all_stacks(&ListStacksRequest {
                compartment_id: Some(compartment.to_string()),
                ..ListStacksRequest::default()
            })
            .await
            .map_err(RmError::Api)?;
        Ok(stacks
            .into_iter()
            .filter(|s| {
                !matches!(
                    s.lifecycle_state,
                    StackLifecycleState::Deleted | StackLifecycleState::Deleting
                )
            })
            .filter(|s| {
                s.freeform_tags
                    .as_ref()
                    .and_then(|t| t.get(key))
                    .is_some_and(|v| v == value)
            })
            .map(|s| s.id)
            .collect())
    }

    /// Cancels the jobs of `stack_id` that have not ended (a run that died left them) and
    /// waits up to `limit` for them to end; returns each with the state it reached.
    pub async fn finish_jobs(
        &self,
        stack_id: &str,
        limit: std::time::Duration,
    ) -> Result<Vec<(String, String)>, RmError> {
        let rm = self.client().await?;
        let jobs = rm
            .list_all_jobs(&ListJobsRequest {
                stack_id: Some(stack_id.to_string()),
                ..ListJobsRequest::default()
            })
            .await
            .map_err(RmError::Api)?;
        let running: Vec<String> = jobs
            .into_iter()
            .filter(|j| !j.lifecycle_state.is_terminal())
            .map(|j| j.id)
            .collect();
        for id in &running {
            if let Err(e) = rm.cancel_job(id, false).await {
                // Ended or already cancelling in the meantime: what follows reads its state.
                tracing::warn!(job = %id, error = %e, "failed to cancel a job left running");
            }
        }
        let deadline = tokio::time::Instant::now() + limit;
        let mut out = Vec::with_capacity(running.len());
        for id in running {
            let state = loop {
                let state = rm
                    .get_job(&id)
                    .await
                    .map_err(RmError::Api)?
                    .value
                    .lifecycle_state;
                if state.is_terminal() || tokio::time::Instant::now() >= deadline {
                    break state;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            };
            out.push((id, state.as_str().to_string()));
        }
        Ok(out)
    }

    /// The addresses of the resource instances the stack's Terraform state holds: what a
    /// DESTROY job would remove. A stack without state has deployed nothing.
    pub async fn deployed_resources(&self, stack_id: &str) -> Result<Vec<String>, RmError> {
        let rm = self.client().await?;
        match rm.get_stack_tf_state(stack_id).await {
            Ok(reply) => state_addresses(&reply.value).map_err(|reason| RmError::BadState {
                stack: stack_id.to_string(),
                reason,
            }),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(RmError::Api(e)),
        }
    }
}

impl ResourceManager {
    /// DetectStackDrift on `stack_id`, its work request followed until it ends (quick polls
    /// first: a small stack's refresh takes well under a second), then the drifted resources
    /// listed for it. Waits at most `limit`; `cancel` stops waiting.
    pub async fn detect_drift(
        &self,
        stack_id: &str,
        limit: std::time::Duration,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<crate::runner::DriftReport, RmError> {
        let rm = self.client().await?;
        // Asked first because Resource Manager answers a stack whose last job is not an apply
        // with a 409 that clients retry for a long while before giving up.
        let jobs = rm
            .list_all_jobs(&ListJobsRequest {
                stack_id: Some(stack_id.to_string()),
                ..ListJobsRequest::default()
            })
            .await
            .map_err(RmError::Api)?;
        if let Some(last) = jobs
            .iter()
            .max_by(|a, b| a.time_created.cmp(&b.time_created))
            && !matches!(last.operation.as_str(), "APPLY" | "IMPORT_TF_STATE")
        {
            return Err(RmError::DriftNotReady {
                stack: stack_id.to_string(),
                job: last.id.clone(),
                operation: last.operation.to_string(),
            });
        }
        let id = match rm
            .detect_stack_drift(stack_id, &DetectStackDriftDetails::default())
            .await
        {
            Ok(reply) => reply.value,
            Err(e) if e.is_not_found() => {
                return Err(RmError::NotFound {
                    what: "stack",
                    id: stack_id.to_string(),
                });
            }
            Err(e) => return Err(RmError::Api(e)),
        };
        let failed = |reason: String| RmError::Drift {
            stack: stack_id.to_string(),
            work_request: id.clone(),
            reason,
        };
        let deadline = tokio::time::Instant::now() + limit;
        let mut delay = std::time::Duration::from_millis(50);
        let status = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(failed("cancelled while waiting for it".into())),
                _ = tokio::time::sleep(delay) => {}
            }
            let wr = rm.get_work_request(&id).await.map_err(RmError::Api)?.value;
            if wr.status.is_terminal() {
                break wr.status;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(failed(format!(
                    "it did not finish within {}s; it is {} and may still be running",
                    limit.as_secs(),
                    wr.status
                )));
            }
            delay = (delay * 3 / 2).min(std::time::Duration::from_secs(5));
        };
        if status != WorkRequestStatus::Succeeded {
            let errors = rm.list_work_request_errors(&id).await.unwrap_or_default();
            let reason: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.code, e.message))
                .collect();
            return Err(failed(format!("it ended {status} {}", reason.join("; "))));
        }
        let items = rm
            .list_all_stack_resource_drift_details(
                stack_id,
                &ListResourceDriftRequest {
                    work_request_id: Some(id.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(RmError::Api)?;
        let mut drifted: Vec<crate::runner::DriftedResource> = items
            .iter()
            .filter_map(|d| {
                let status = d.resource_drift_status.clone()?;
                status.is_drifted().then(|| crate::runner::DriftedResource {
                    address: d.address(),
                    status: status.as_str().to_string(),
                })
            })
            .collect();
        drifted.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(crate::runner::DriftReport {
            drift_status: if drifted.is_empty() {
                "IN_SYNC".into()
            } else {
                "DRIFTED".into()
            },
            drifted_resources: drifted,
            work_request_id: id,
        })
    }
}

/// Managed resource instance addresses of a Terraform state file (`module.m.type.name[key]`).
pub fn state_addresses(state: &[u8]) -> Result<Vec<String>, String> {
    if state.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let v: serde_json::Value =
        serde_json::from_slice(state).map_err(|e| format!("the state is not JSON: {e}"))?;
    let mut out = Vec::new();
    for r in v["resources"].as_array().into_iter().flatten() {
        if r["mode"].as_str() != Some("managed") {
            continue;
        }
        let (Some(ty), Some(name)) = (r["type"].as_str(), r["name"].as_str()) else {
            continue;
        };
        let base = match r["module"].as_str() {
            Some(m) => format!("{m}.{ty}.{name}"),
            None => format!("{ty}.{name}"),
        };
        for inst in r["instances"].as_array().into_iter().flatten() {
            match &inst["index_key"] {
                serde_json::Value::Number(n) => out.push(format!("{base}[{n}]")),
                serde_json::Value::String(s) => out.push(format!("{base}[{s:?}]")),
                _ => out.push(base.clone()),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_only_provider_variables_and_hide_secrets() {
        let s = OciSettings::from_env(|k| match k {
            env::CONFIG_FILE => Some("/etc/oci/config".into()),
            env::PRIVATE_KEY => Some("-----BEGIN PRIVATE KEY-----".into()),
            env::REGION => Some("  ".into()),
            "PATH" => Some("/bin".into()),
            _ => None,
        });
        let names: Vec<&str> = s.vars().map(|(k, _)| k).collect();
        assert_eq!(names, [env::CONFIG_FILE, env::PRIVATE_KEY]);
        let shown = format!("{s:?}");
        assert!(shown.contains("/etc/oci/config"), "{shown}");
        assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
    }

    #[test]
    fn every_oci_setup_variable_and_the_work_compartment_are_handed_on() {
        let s = OciSettings::from_env(|k| Some(format!("value of {k}")));
        for name in env::ALL.into_iter().chain([WORK_COMPARTMENT_ID]) {
            assert_eq!(s.get(name), Some(format!("value of {name}").as_str()));
        }
        assert_eq!(s.vars().count(), env::ALL.len() + 1);
    }

    #[test]
    fn the_earlier_compartment_setting_still_works() {
        let s = OciSettings::from_env(|k| (k == LEGACY_COMPARTMENT_OCID).then(|| "c1".into()));
        assert_eq!(s.get(WORK_COMPARTMENT_ID), Some("c1"));
        let s = OciSettings::from_env(|k| match k {
            LEGACY_COMPARTMENT_OCID => Some("old".into()),
            WORK_COMPARTMENT_ID => Some("new".into()),
            _ => None,
        });
        assert_eq!(s.get(WORK_COMPARTMENT_ID), Some("new"));
    }

    /// The sidecar used to read only the Resource Manager override (with its own copy of the
    /// normalisation), and an empty value given to it failed as an invalid URL; it now reads
    /// all three as the provider does.
    #[test]
    fn endpoint_overrides_are_read_as_the_provider_reads_them() {
        use galley_oci::endpoints::Service;
        for url in ["http://127.0.0.1:9/20180917", "http://127.0.0.1:9/"] {
            let s = OciSettings::from_pairs([
                (env::RESOURCE_MANAGER_ENDPOINT, url),
                (env::INSTANCE_AGENT_ENDPOINT, "http://127.0.0.1:8/20180530/"),
                (env::OBJECT_STORAGE_ENDPOINT, ""),
            ]);
            let endpoints = s.inputs().endpoints.to_endpoints().unwrap();
            assert_eq!(
                endpoints
                    .base_url_for(Service::ResourceManager, "iad")
                    .unwrap(),
                "http://127.0.0.1:9/20180917"
            );
            assert_eq!(
                endpoints
                    .base_url_for(Service::InstanceAgent, "iad")
                    .unwrap(),
                "http://127.0.0.1:8/20180530"
            );
            assert_eq!(
                endpoints
                    .base_url_for(Service::ObjectStorage, "iad")
                    .unwrap(),
                "https://objectstorage.us-ashburn-1.oraclecloud.com"
            );
        }
    }

    #[test]
    fn state_addresses_list_managed_instances() {
        let state = br#"{"resources": [
            {"mode": "managed", "type": "terraform_data", "name": "a", "instances": [{}]},
            {"mode": "data", "type": "oci_x", "name": "d", "instances": [{}]},
            {"mode": "managed", "module": "module.net", "type": "t", "name": "n",
             "instances": [{"index_key": 0}, {"index_key": "k"}]}
        ]}"#;
        assert_eq!(
            state_addresses(state).unwrap(),
            [
                "terraform_data.a",
                "module.net.t.n[0]",
                "module.net.t.n[\"k\"]"
            ]
        );
        assert_eq!(state_addresses(b"").unwrap(), Vec::<String>::new());
        assert!(state_addresses(b"nope").is_err());
    }

    #[tokio::test]
    async fn missing_credentials_say_what_to_set() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let rm = ResourceManager::new(OciSettings::from_pairs([(env::HOME[0], h.as_str())]));
        let err = rm.job("ocid1.ormjob.oc1..x").await.unwrap_err().to_string();
        assert!(err.starts_with("failed to set up OCI access: "), "{err}");
        assert!(err.contains(env::CONFIG_FILE), "{err}");
    }
}
