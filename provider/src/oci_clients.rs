//! The OCI clients of the provider: the provider block turned into credentials and one
//! Resource Manager, Instance Agent and Object Storage client each.
//!
//! Resolved lazily, the first time an OCI-backed resource needs them, and cached for the life
//! of the process (Terraform starts one provider process per provider configuration, so one
//! cache entry is the normal case; a different configuration replaces it). Configurations that
//! use only `esb_resources` never reach this module and need no OCI set-up.

use std::sync::Arc;

use galley_oci::auth::{self, AuthError, AuthMethod, AuthSettings, Env, Secret};
use galley_oci::client::{BuildError, Client};
use galley_oci::endpoints::{EndpointError, Endpoints, Service};
use galley_oci::instance_agent::InstanceAgentClient;
use galley_oci::object_storage::ObjectStorageClient;
use galley_oci::resource_manager::ResourceManagerClient;

use crate::diagnostics::Diagnostic;
use crate::provider_config::ProviderConfig;

/// The clients every OCI-backed resource uses. Their transports retry transient failures;
/// callers add cancellation where an operation may be interrupted.
#[derive(Clone, Debug)]
pub struct OciClients {
    /// Canonical region name.
    pub region: String,
    /// The tenancy OCID when the auth method knows it.
    pub tenancy_id: Option<String>,
    pub resource_manager: ResourceManagerClient,
    pub instance_agent: InstanceAgentClient,
    pub object_storage: ObjectStorageClient,
}

/// Why the clients could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OciSetupError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Client(#[from] BuildError),
}

impl OciSetupError {
    /// The diagnostic a user sees: what failed and where the settings come from.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::error(
            "OCI is not configured",
            format!(
                "{self}. The galley provider authenticates like the oracle/oci provider: set \
                 `auth`, `region` and the API key attributes in the provider block, or use a \
                 profile of the OCI config file (`~/.oci/config`, or OCI_CONFIG_FILE; \
                 `config_file_profile` picks the profile). Service endpoints can be pointed \
                 elsewhere with the `endpoints` block or GALLEY_*_ENDPOINT."
            ),
        )
    }
}

/// What the transport identifies itself as.
fn user_agent() -> String {
    format!("terraform-provider-galley/{}", env!("CARGO_PKG_VERSION"))
}

/// The auth settings the provider block describes.
pub fn auth_settings(config: &ProviderConfig) -> Result<AuthSettings, AuthError> {
    let method = match config.auth.as_deref() {
        Some(m) => m.parse()?,
        None => AuthMethod::default(),
    };
    Ok(AuthSettings {
        method,
        config_file: None,
        profile: config.config_file_profile.clone(),
        region: config.region.clone(),
        tenancy_ocid: config.tenancy_ocid.clone(),
        user_ocid: config.user_ocid.clone(),
        fingerprint: config.fingerprint.clone(),
        private_key: config.private_key.clone().map(Secret::from),
        private_key_path: config.private_key_path.clone(),
        private_key_password: config.private_key_password.clone().map(Secret::from),
        metadata_base_url: None,
        federation_base_url: None,
    })
}

/// The endpoint overrides of the provider block. Its documentation shows base URLs with the
/// API version (`http://host:port/20180917`) while galley-oci appends the version itself, so a
/// trailing version path is taken off; both spellings work.
pub fn endpoints(config: &ProviderConfig) -> Result<Endpoints, EndpointError> {
    let mut endpoints = Endpoints::new();
    let overrides = [
        (Service::ResourceManager, &config.endpoints.resource_manager),
        (Service::InstanceAgent, &config.endpoints.instance_agent),
        (Service::ObjectStorage, &config.endpoints.object_storage),
    ];
    for (service, url) in overrides {
        let Some(url) = url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            continue;
        };
        let url = url.trim_end_matches('/');
        let root = url
            .strip_suffix(service.version_path())
            .filter(|_| !service.version_path().is_empty())
            .unwrap_or(url);
        endpoints.set(service, root)?;
    }
    Ok(endpoints)
}

/// Builds the clients from `config`, reading files and the environment through `env`.
pub async fn resolve(config: &ProviderConfig, env: Env<'_>) -> Result<OciClients, OciSetupError> {
    let settings = auth_settings(config)?;
    let authenticated = auth::from_settings(&settings, env).await?;
    let endpoints = endpoints(config)?;
    let client = Client::builder(authenticated.provider.clone())
        .user_agent(user_agent())
        .build()?;
    let region = authenticated.region.clone();
    Ok(OciClients {
        resource_manager: ResourceManagerClient::for_region(client.clone(), &endpoints, &region)?,
        instance_agent: InstanceAgentClient::for_region(client.clone(), &endpoints, &region)?,
        object_storage: ObjectStorageClient::for_region(client, &endpoints, &region)?,
        tenancy_id: authenticated.tenancy_id,
        region,
    })
}

type Cached = Option<(ProviderConfig, Arc<OciClients>)>;

static CACHE: tokio::sync::Mutex<Cached> = tokio::sync::Mutex::const_new(None);

/// The clients for `config`, resolved on first use and then shared. Concurrent first calls
/// resolve once (instance principal auth contacts the metadata service; it is done once).
pub async fn clients(config: &ProviderConfig) -> Result<Arc<OciClients>, OciSetupError> {
    let mut cache = CACHE.lock().await;
    if let Some((cached_for, clients)) = cache.as_ref() {
        if cached_for == config {
            return Ok(clients.clone());
        }
    }
    let resolved = Arc::new(resolve(config, &auth::process_env).await?);
    *cache = Some((config.clone(), resolved.clone()));
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::provider_config::Endpoints as ConfigEndpoints;

    fn key_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../oci/tests/fixtures/pkcs8.pem")
    }

    #[test]
    fn endpoint_overrides_accept_roots_and_versioned_base_urls() {
        let config = ProviderConfig {
            endpoints: ConfigEndpoints {
                resource_manager: Some("http://127.0.0.1:9/20180917".into()),
                instance_agent: Some("http://127.0.0.1:9/".into()),
                object_storage: Some("http://127.0.0.1:9".into()),
            },
            ..Default::default()
        };
        let e = endpoints(&config).unwrap();
        assert_eq!(
            e.base_url_for(Service::ResourceManager, "iad").unwrap(),
            "http://127.0.0.1:9/20180917"
        );
        assert_eq!(
            e.base_url_for(Service::InstanceAgent, "iad").unwrap(),
            "http://127.0.0.1:9/20180530"
        );
        assert_eq!(
            e.base_url_for(Service::ObjectStorage, "iad").unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            endpoints(&ProviderConfig::default())
                .unwrap()
                .base_url_for(Service::ResourceManager, "phx")
                .unwrap(),
            "https://resourcemanager.us-phoenix-1.oraclecloud.com/20180917"
        );
    }

    #[tokio::test]
    async fn resolves_api_key_settings_and_reports_missing_ones() {
        let config = ProviderConfig {
            region: Some("iad".into()),
            tenancy_ocid: Some("ocid1.tenancy.oc1..t".into()),
            user_ocid: Some("ocid1.user.oc1..u".into()),
            fingerprint: Some("aa:bb".into()),
            private_key_path: Some(key_file().display().to_string()),
            ..Default::default()
        };
        let no_env = |_: &str| None;
        let clients = resolve(&config, &no_env).await.unwrap();
        assert_eq!(clients.region, "us-ashburn-1");
        assert_eq!(clients.tenancy_id.as_deref(), Some("ocid1.tenancy.oc1..t"));
        assert_eq!(
            clients.resource_manager.base_url(),
            "https://resourcemanager.us-ashburn-1.oraclecloud.com/20180917"
        );

        // No key and no config file: the message says which setting is missing and how to set
        // it.
        let home = tempfile::tempdir().unwrap();
        let home_path = home.path().display().to_string();
        let env = move |k: &str| (k == "HOME").then(|| home_path.clone());
        let err = resolve(&ProviderConfig::default(), &env).await.unwrap_err();
        let diag = err.diagnostic();
        assert!(
            diag.detail.starts_with("failed to configure ApiKey auth"),
            "{}",
            diag.detail
        );
        assert!(diag.detail.contains(".oci/config"), "{}", diag.detail);
    }

    #[test]
    fn an_unknown_auth_method_is_an_error() {
        let config = ProviderConfig {
            auth: Some("Password".into()),
            ..Default::default()
        };
        assert!(auth_settings(&config).is_err());
        let config = ProviderConfig {
            auth: Some("InstancePrincipal".into()),
            ..Default::default()
        };
        assert_eq!(
            auth_settings(&config).unwrap().method,
            AuthMethod::InstancePrincipal
        );
    }
}
