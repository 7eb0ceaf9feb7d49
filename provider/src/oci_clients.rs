//! The provider's OCI clients: the provider block's OCI settings handed to
//! `galley_oci::setup`, the result kept for the life of the process, and a set-up failure
//! turned into a diagnostic.
//!
//! Resolved lazily, the first time an OCI-backed resource needs them (Terraform starts one
//! provider process per provider configuration, so one cache entry is the normal case; a
//! different configuration replaces it). Configurations that use only `esb_resources` never
//! reach this module and need no OCI set-up. What the settings are, how endpoints are read and
//! what a failure says belong to `galley_oci::setup`, which the sidecar uses too.

use std::sync::Arc;

use galley_oci::auth::{self, Env};
use galley_oci::setup;

pub use galley_oci::setup::{OciClients, OciSetupError};

use crate::diagnostics::Diagnostic;
use crate::provider_config::ProviderConfig;

/// What the transport identifies itself as.
fn user_agent() -> String {
    format!("terraform-provider-galley/{}", env!("CARGO_PKG_VERSION"))
}

/// A set-up failure as Terraform shows it.
pub trait SetupDiagnostic {
    fn diagnostic(&self) -> Diagnostic;
}

impl SetupDiagnostic for OciSetupError {
    /// The message already names the failing setting, where it comes from and what to change.
    fn diagnostic(&self) -> Diagnostic {
        Diagnostic::error("OCI is not configured", self.to_string())
    }
}

/// Builds the clients from `config`, reading files and the environment through `env`.
pub async fn resolve(config: &ProviderConfig, env: Env<'_>) -> Result<OciClients, OciSetupError> {
    setup::build_clients(&config.oci, env, &user_agent()).await
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

    use galley_oci::setup::{EndpointOverrides, SetupInputs};

    use super::*;

    fn key_file() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../oci/tests/fixtures/pkcs8.pem")
    }

    /// Complete API key settings with the test key, and `endpoints`.
    fn api_key_config(endpoints: EndpointOverrides) -> ProviderConfig {
        ProviderConfig {
            oci: SetupInputs {
                region: Some("iad".into()),
                tenancy_ocid: Some("ocid1.tenancy.oc1..t".into()),
                user_ocid: Some("ocid1.user.oc1..u".into()),
                fingerprint: Some("aa:bb".into()),
                private_key_path: Some(key_file().display().to_string()),
                endpoints,
                ..Default::default()
            },
        }
    }

    #[tokio::test]
    async fn resolves_api_key_settings_and_reports_missing_ones() {
        let config = api_key_config(EndpointOverrides {
            object_storage: Some("http://127.0.0.1:9/".into()),
            ..Default::default()
        });
        let no_env = |_: &str| None;
        let clients = resolve(&config, &no_env).await.unwrap();
        assert_eq!(clients.region, "us-ashburn-1");
        assert_eq!(clients.tenancy_id.as_deref(), Some("ocid1.tenancy.oc1..t"));
        assert_eq!(
            clients.resource_manager.base_url(),
            "https://resourcemanager.us-ashburn-1.oraclecloud.com/20180917"
        );
        assert_eq!(clients.object_storage.base_url(), "http://127.0.0.1:9");

        // No key and no config file: the message says which setting is missing and how to set
        // it.
        let home = tempfile::tempdir().unwrap();
        let home_path = home.path().display().to_string();
        let env = move |k: &str| (k == "HOME").then(|| home_path.clone());
        let err = resolve(&ProviderConfig::default(), &env).await.unwrap_err();
        let diag = err.diagnostic();
        assert_eq!(diag.summary, "OCI is not configured");
        assert!(
            diag.detail.starts_with("failed to configure ApiKey auth"),
            "{}",
            diag.detail
        );
        assert!(diag.detail.contains(".oci/config"), "{}", diag.detail);
        assert!(
            diag.detail.contains("`config_file_profile`"),
            "{}",
            diag.detail
        );
    }

    #[tokio::test]
    async fn a_bad_endpoint_names_its_attribute() {
        let config = api_key_config(EndpointOverrides {
            resource_manager: Some("ftp://127.0.0.1:9".into()),
            ..Default::default()
        });
        let env = |_: &str| None;
        let diag = resolve(&config, &env).await.unwrap_err().diagnostic();
        assert!(
            diag.detail.contains("`endpoints.resource_manager`"),
            "{}",
            diag.detail
        );
    }
}
