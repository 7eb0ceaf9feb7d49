//! The sidecar's own Resource Manager access (a job's state, the resources a stack deployed),
//! authenticated the way the Galley provider that runs the stacks is: the same `OCI_*`
//! variables, OCI config file and profile, and `GALLEY_*_ENDPOINT` overrides. This module owns
//! that set of variables (the runner hands the same values to Terraform, so the provider and the
//! sidecar always talk to the same place as the same principal) and the lazily built client.

use std::collections::BTreeMap;
use std::sync::Arc;

use galley_oci::auth::{self, AuthError, AuthMethod, AuthSettings, Secret};
use galley_oci::client::{BuildError, Client, OciError};
use galley_oci::endpoints::{EndpointError, Endpoints, Service};
use galley_oci::resource_manager::{Job, ResourceManagerClient};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The variables the provider reads for its `provider "galley" {}` block (see its
/// documentation), plus what auth needs to find files (`HOME`) and the resource principal set.
pub const PROVIDER_ENV: &[&str] = &[
    "OCI_AUTH",
    "OCI_CONFIG_FILE",
    "OCI_CONFIG_FILE_PROFILE",
    "OCI_REGION",
    "OCI_TENANCY_OCID",
    "OCI_USER_OCID",
    "OCI_FINGERPRINT",
    "OCI_PRIVATE_KEY_PATH",
    "OCI_PRIVATE_KEY",
    "OCI_PRIVATE_KEY_PASSWORD",
    "OCI_RESOURCE_PRINCIPAL_VERSION",
    "OCI_RESOURCE_PRINCIPAL_RPST",
    "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
    "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE",
    "OCI_RESOURCE_PRINCIPAL_REGION",
    "GALLEY_RESOURCE_MANAGER_ENDPOINT",
    "GALLEY_INSTANCE_AGENT_ENDPOINT",
    "GALLEY_OBJECT_STORAGE_ENDPOINT",
    "GALLEY_WORK_COMPARTMENT_ID",
    "HOME",
];

/// The compartment the provider puts stacks in when a configuration names none.
const WORK_COMPARTMENT: &str = "GALLEY_WORK_COMPARTMENT_ID";
/// The earlier sidecar setting for the same.
const LEGACY_COMPARTMENT: &str = "GALLEY_COMPARTMENT_OCID";

/// Variables whose values are secrets: never logged, redacted in `Debug`.
const SECRET_ENV: &[&str] = &[
    "OCI_PRIVATE_KEY",
    "OCI_PRIVATE_KEY_PASSWORD",
    "OCI_RESOURCE_PRINCIPAL_RPST",
    "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
    "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE",
];

/// A snapshot of [`PROVIDER_ENV`] taken at start-up.
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
                let v = if SECRET_ENV.contains(&k.as_str()) {
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
pub enum OciSetupError {
    #[error(
        "failed to set up OCI access: {0}. The sidecar authenticates like the Galley provider: \
         an OCI config file profile (OCI_CONFIG_FILE, OCI_CONFIG_FILE_PROFILE) or OCI_AUTH with \
         OCI_REGION, OCI_TENANCY_OCID, OCI_USER_OCID, OCI_FINGERPRINT and OCI_PRIVATE_KEY_PATH"
    )]
    Auth(#[from] AuthError),
    #[error(
        "failed to set up OCI access: {0}. GALLEY_RESOURCE_MANAGER_ENDPOINT overrides the Resource Manager URL"
    )]
    Endpoint(#[from] EndpointError),
    #[error("failed to set up OCI access: {0}")]
    Client(#[from] BuildError),
}

#[derive(Debug, thiserror::Error)]
pub enum RmError {
    #[error(transparent)]
    Setup(#[from] OciSetupError),
    #[error(
        "Resource Manager has no {what} {id}: a destroy deletes the stack together with its jobs; otherwise check the id (the runs of this sidecar return it)"
    )]
    NotFound { what: &'static str, id: String },
    #[error("failed to ask Resource Manager: {0}")]
    Api(#[source] OciError),
    #[error("failed to read the Terraform state of stack {stack}: {reason}")]
    BadState { stack: String, reason: String },
}

impl OciSettings {
    /// Takes [`PROVIDER_ENV`] from `env`; empty values count as unset. `GALLEY_COMPARTMENT_OCID`,
    /// the sidecar's earlier name for the stacks' compartment, stands in for
    /// `GALLEY_WORK_COMPARTMENT_ID` when that is not set.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut vars: BTreeMap<String, String> = PROVIDER_ENV
            .iter()
            .filter_map(|k| set(k).map(|v| (k.to_string(), v)))
            .collect();
        if !vars.contains_key(WORK_COMPARTMENT)
            && let Some(c) = set(LEGACY_COMPARTMENT)
        {
            vars.insert(WORK_COMPARTMENT.to_string(), c);
        }
        OciSettings { vars }
    }

    /// Settings from explicit pairs (tests, embedders).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        OciSettings {
            vars: pairs
                .into_iter()
                .filter(|(k, _)| PROVIDER_ENV.contains(k))
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

    /// Whether a variable of [`PROVIDER_ENV`] is a secret.
    pub fn is_secret(name: &str) -> bool {
        SECRET_ENV.contains(&name)
    }

    /// The provider block's auth attributes, all left to their environment defaults.
    fn auth_settings(&self) -> Result<AuthSettings, AuthError> {
        let s = |k: &str| self.get(k).map(str::to_string);
        Ok(AuthSettings {
            method: match self.get("OCI_AUTH") {
                Some(m) => m.parse()?,
                None => AuthMethod::default(),
            },
            config_file: None,
            profile: s("OCI_CONFIG_FILE_PROFILE"),
            region: s("OCI_REGION"),
            tenancy_ocid: s("OCI_TENANCY_OCID"),
            user_ocid: s("OCI_USER_OCID"),
            fingerprint: s("OCI_FINGERPRINT"),
            private_key: s("OCI_PRIVATE_KEY").map(Secret::from),
            private_key_path: s("OCI_PRIVATE_KEY_PATH"),
            private_key_password: s("OCI_PRIVATE_KEY_PASSWORD").map(Secret::from),
            metadata_base_url: None,
            federation_base_url: None,
        })
    }

    /// The Resource Manager override. Like the provider, a base URL with the API version
    /// (`http://host:port/20180917`) and a bare root are both accepted.
    fn endpoints(&self) -> Result<Endpoints, EndpointError> {
        let mut endpoints = Endpoints::new();
        if let Some(url) = self.get("GALLEY_RESOURCE_MANAGER_ENDPOINT") {
            let service = Service::ResourceManager;
            let url = url.trim().trim_end_matches('/');
            let root = url.strip_suffix(service.version_path()).unwrap_or(url);
            endpoints.set(service, root)?;
        }
        Ok(endpoints)
    }

    async fn resource_manager(&self) -> Result<ResourceManagerClient, OciSetupError> {
        let settings = self.auth_settings()?;
        let lookup = |k: &str| self.get(k).map(str::to_string);
        let authenticated = auth::from_settings(&settings, &lookup).await?;
        let client = Client::builder(authenticated.provider.clone())
            .user_agent(format!("galley-sidecar/{}", env!("CARGO_PKG_VERSION")))
            .build()?;
        let endpoints = self.endpoints()?;
        Ok(ResourceManagerClient::for_region(
            client,
            &endpoints,
            &authenticated.region,
        )?)
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
            .get_or_try_init(|| self.settings.resource_manager())
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
            "OCI_CONFIG_FILE" => Some("/etc/oci/config".into()),
            "OCI_PRIVATE_KEY" => Some("-----BEGIN PRIVATE KEY-----".into()),
            "OCI_REGION" => Some("  ".into()),
            "PATH" => Some("/bin".into()),
            _ => None,
        });
        let names: Vec<&str> = s.vars().map(|(k, _)| k).collect();
        assert_eq!(names, ["OCI_CONFIG_FILE", "OCI_PRIVATE_KEY"]);
        let shown = format!("{s:?}");
        assert!(shown.contains("/etc/oci/config"), "{shown}");
        assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
    }

    #[test]
    fn the_earlier_compartment_setting_still_works() {
        let s = OciSettings::from_env(|k| (k == "GALLEY_COMPARTMENT_OCID").then(|| "c1".into()));
        assert_eq!(s.get("GALLEY_WORK_COMPARTMENT_ID"), Some("c1"));
        let s = OciSettings::from_env(|k| match k {
            "GALLEY_COMPARTMENT_OCID" => Some("old".into()),
            "GALLEY_WORK_COMPARTMENT_ID" => Some("new".into()),
            _ => None,
        });
        assert_eq!(s.get("GALLEY_WORK_COMPARTMENT_ID"), Some("new"));
    }

    #[test]
    fn endpoint_override_accepts_a_versioned_base_url() {
        for url in ["http://127.0.0.1:9/20180917", "http://127.0.0.1:9/"] {
            let s = OciSettings::from_pairs([("GALLEY_RESOURCE_MANAGER_ENDPOINT", url)]);
            assert_eq!(
                s.endpoints()
                    .unwrap()
                    .base_url_for(Service::ResourceManager, "iad")
                    .unwrap(),
                "http://127.0.0.1:9/20180917"
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
        let rm = ResourceManager::new(OciSettings::from_pairs([("HOME", h.as_str())]));
        let err = rm.job("ocid1.ormjob.oc1..x").await.unwrap_err().to_string();
        assert!(err.contains("OCI_CONFIG_FILE"), "{err}");
    }
}
