//! OCI set-up: from the settings a program was given (auth, region, per-service endpoint
//! overrides) to the Resource Manager, Instance Agent and Object Storage clients, the canonical
//! region and the tenancy when known.
//!
//! The Galley provider (its `provider "galley"` block, else the environment) and the sidecar
//! (the environment only) read the same settings and must reach the same place as the same
//! principal. This module owns what they share: the names of the environment variables
//! ([`env`]), the inputs ([`SetupInputs`]), the one reading of an endpoint override
//! ([`override_root`]), the one error ([`OciSetupError`], which says where each setting comes
//! from and what to change) and [`build_clients`].
//!
//! It does not own caching (the provider keeps clients per process, the sidecar per server),
//! nor turning errors into a program's own reporting (diagnostics, tool errors).

use std::fmt;

use crate::auth::{self, AuthError, AuthMethod, AuthSettings, Env, Secret};
use crate::client::{BuildError, Client};
use crate::endpoints::{EndpointError, Endpoints, Service};
use crate::instance_agent::InstanceAgentClient;
use crate::object_storage::ObjectStorageClient;
use crate::resource_manager::ResourceManagerClient;

/// The environment variables OCI set-up reads, each named once.
///
/// The `OCI_*` settings are the ones the oracle/oci provider documents; the provider block's
/// attributes take precedence over them. The `GALLEY_*_ENDPOINT` overrides are Galley's.
pub mod env {
    use crate::auth::{config_file, resource_principal};

    /// `auth`: ApiKey, InstancePrincipal, ResourcePrincipal or SecurityToken.
    pub const AUTH: &str = "OCI_AUTH";
    /// The OCI config file used instead of `~/.oci/config`.
    pub const CONFIG_FILE: &str = config_file::CONFIG_FILE_ENV;
    /// `config_file_profile`.
    pub const CONFIG_FILE_PROFILE: &str = "OCI_CONFIG_FILE_PROFILE";
    /// `region`.
    pub const REGION: &str = "OCI_REGION";
    /// `tenancy_ocid`.
    pub const TENANCY_OCID: &str = "OCI_TENANCY_OCID";
    /// `user_ocid`.
    pub const USER_OCID: &str = "OCI_USER_OCID";
    /// `fingerprint`.
    pub const FINGERPRINT: &str = "OCI_FINGERPRINT";
    /// `private_key_path`.
    pub const PRIVATE_KEY_PATH: &str = "OCI_PRIVATE_KEY_PATH";
    /// `private_key` (a secret).
    pub const PRIVATE_KEY: &str = "OCI_PRIVATE_KEY";
    /// `private_key_password` (a secret).
    pub const PRIVATE_KEY_PASSWORD: &str = "OCI_PRIVATE_KEY_PASSWORD";

    /// `endpoints.resource_manager`.
    pub const RESOURCE_MANAGER_ENDPOINT: &str = "GALLEY_RESOURCE_MANAGER_ENDPOINT";
    /// `endpoints.instance_agent`.
    pub const INSTANCE_AGENT_ENDPOINT: &str = "GALLEY_INSTANCE_AGENT_ENDPOINT";
    /// `endpoints.object_storage`.
    pub const OBJECT_STORAGE_ENDPOINT: &str = "GALLEY_OBJECT_STORAGE_ENDPOINT";

    /// Where `~` in the config file path and its `key_file` points.
    pub const HOME: [&str; 2] = config_file::HOME_ENV;

    /// Every variable OCI set-up reads: a program that hands its OCI settings to another
    /// (the sidecar to the Terraform it runs) passes these.
    pub const ALL: [&str; 20] = [
        AUTH,
        CONFIG_FILE,
        CONFIG_FILE_PROFILE,
        REGION,
        TENANCY_OCID,
        USER_OCID,
        FINGERPRINT,
        PRIVATE_KEY_PATH,
        PRIVATE_KEY,
        PRIVATE_KEY_PASSWORD,
        // What resource principal auth reads (the container or function sets them).
        resource_principal::VERSION_ENV,
        resource_principal::RPST_ENV,
        resource_principal::PRIVATE_PEM_ENV,
        resource_principal::PRIVATE_PEM_PASSPHRASE_ENV,
        resource_principal::REGION_ENV,
        RESOURCE_MANAGER_ENDPOINT,
        INSTANCE_AGENT_ENDPOINT,
        OBJECT_STORAGE_ENDPOINT,
        HOME[0],
        HOME[1],
    ];

    /// The variables of [`ALL`] whose values are secrets: never logged, never shown.
    pub const SECRETS: [&str; 5] = [
        PRIVATE_KEY,
        PRIVATE_KEY_PASSWORD,
        resource_principal::RPST_ENV,
        resource_principal::PRIVATE_PEM_ENV,
        resource_principal::PRIVATE_PEM_PASSPHRASE_ENV,
    ];

    /// Whether `name` holds a secret.
    pub fn is_secret(name: &str) -> bool {
        SECRETS.contains(&name)
    }
}

/// One endpoint override: the service, the provider block attribute inside `endpoints`, and
/// the environment variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointSetting {
    pub service: Service,
    pub attribute: &'static str,
    pub env: &'static str,
}

/// The services whose endpoint can be overridden, in the provider block's order.
pub const ENDPOINT_SETTINGS: [EndpointSetting; 3] = [
    EndpointSetting {
        service: Service::ResourceManager,
        attribute: "resource_manager",
        env: env::RESOURCE_MANAGER_ENDPOINT,
    },
    EndpointSetting {
        service: Service::InstanceAgent,
        attribute: "instance_agent",
        env: env::INSTANCE_AGENT_ENDPOINT,
    },
    EndpointSetting {
        service: Service::ObjectStorage,
        attribute: "object_storage",
        env: env::OBJECT_STORAGE_ENDPOINT,
    },
];

fn endpoint_setting(service: Service) -> Option<&'static EndpointSetting> {
    ENDPOINT_SETTINGS.iter().find(|s| s.service == service)
}

/// Per-service endpoint overrides as the user wrote them (see [`override_root`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub resource_manager: Option<String>,
    pub instance_agent: Option<String>,
    pub object_storage: Option<String>,
}

impl EndpointOverrides {
    /// The override written for `service`, if any.
    pub fn get(&self, service: Service) -> Option<&str> {
        match service {
            Service::ResourceManager => self.resource_manager.as_deref(),
            Service::InstanceAgent => self.instance_agent.as_deref(),
            Service::ObjectStorage => self.object_storage.as_deref(),
            Service::Auth => None,
        }
    }

    /// The overrides as galley-oci resolves them; a blank value is no override.
    pub fn to_endpoints(&self) -> Result<Endpoints, EndpointError> {
        let mut endpoints = Endpoints::new();
        for setting in &ENDPOINT_SETTINGS {
            if let Some(root) = self
                .get(setting.service)
                .and_then(|url| override_root(setting.service, url))
            {
                endpoints.set(setting.service, root)?;
            }
        }
        Ok(endpoints)
    }
}

/// The host root an endpoint override names. The provider's documentation shows base URLs
/// with the API version (`http://127.0.0.1:8080/20180917`) while galley-oci appends the version
/// itself, so surrounding blanks and trailing slashes are dropped and one trailing version path
/// is taken off: both spellings reach the same URL. `None` for a blank value (no override).
pub fn override_root(service: Service, url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let url = url.trim_end_matches('/');
    let version = service.version_path();
    Some(
        url.strip_suffix(version)
            .filter(|_| !version.is_empty())
            .unwrap_or(url),
    )
}

/// What OCI set-up starts from: the provider block's attributes, or the same settings read from
/// the environment ([`SetupInputs::from_env`]). Unset is `None`; `Debug` redacts the secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupInputs {
    /// The auth method's name; unset is `ApiKey`.
    pub auth: Option<String>,
    pub config_file_profile: Option<String>,
    /// Region name or short code; unset leaves it to what the auth method finds.
    pub region: Option<String>,
    pub tenancy_ocid: Option<String>,
    pub user_ocid: Option<String>,
    pub fingerprint: Option<String>,
    pub private_key_path: Option<String>,
    pub private_key: Option<Secret>,
    pub private_key_password: Option<Secret>,
    pub endpoints: EndpointOverrides,
}

impl SetupInputs {
    /// The inputs the [`env`] variables give; a blank value counts as unset.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        SetupInputs {
            auth: get(env::AUTH),
            config_file_profile: get(env::CONFIG_FILE_PROFILE),
            region: get(env::REGION),
            tenancy_ocid: get(env::TENANCY_OCID),
            user_ocid: get(env::USER_OCID),
            fingerprint: get(env::FINGERPRINT),
            private_key_path: get(env::PRIVATE_KEY_PATH),
            private_key: get(env::PRIVATE_KEY).map(Secret::from),
            private_key_password: get(env::PRIVATE_KEY_PASSWORD).map(Secret::from),
            endpoints: EndpointOverrides {
                resource_manager: get(env::RESOURCE_MANAGER_ENDPOINT),
                instance_agent: get(env::INSTANCE_AGENT_ENDPOINT),
                object_storage: get(env::OBJECT_STORAGE_ENDPOINT),
            },
        }
    }

    /// The auth settings these inputs describe (the config file itself is found through the
    /// environment: [`env::CONFIG_FILE`], else `~/.oci/config`).
    pub fn auth_settings(&self) -> Result<AuthSettings, AuthError> {
        let method = match self.auth.as_deref().filter(|m| !m.trim().is_empty()) {
            Some(m) => m.parse()?,
            None => AuthMethod::default(),
        };
        Ok(AuthSettings {
            method,
            config_file: None,
            profile: self.config_file_profile.clone(),
            region: self.region.clone(),
            tenancy_ocid: self.tenancy_ocid.clone(),
            user_ocid: self.user_ocid.clone(),
            fingerprint: self.fingerprint.clone(),
            private_key: self.private_key.clone(),
            private_key_path: self.private_key_path.clone(),
            private_key_password: self.private_key_password.clone(),
            metadata_base_url: None,
            federation_base_url: None,
        })
    }
}

/// The clients every OCI caller uses. Their transports retry transient failures; callers add
/// cancellation where an operation may be interrupted (`with_client`).
#[derive(Clone, Debug)]
pub struct OciClients {
    /// Canonical region name (`us-ashburn-1`).
    pub region: String,
    /// The tenancy OCID when the auth method knows it.
    pub tenancy_id: Option<String>,
    pub resource_manager: ResourceManagerClient,
    pub instance_agent: InstanceAgentClient,
    pub object_storage: ObjectStorageClient,
}

/// Authenticates as `inputs` say (reading files and the environment through `lookup`) and
/// builds the three clients, identified to OCI as `user_agent`.
///
/// Instance principal auth calls the metadata service here; callers cache the result.
pub async fn build_clients(
    inputs: &SetupInputs,
    lookup: Env<'_>,
    user_agent: &str,
) -> Result<OciClients, OciSetupError> {
    let settings = inputs.auth_settings()?;
    let authenticated = auth::from_settings(&settings, lookup).await?;
    let endpoints = inputs.endpoints.to_endpoints()?;
    let client = Client::builder(authenticated.provider.clone())
        .user_agent(user_agent)
        .build()?;
    let region = authenticated.region;
    Ok(OciClients {
        resource_manager: ResourceManagerClient::for_region(client.clone(), &endpoints, &region)?,
        instance_agent: InstanceAgentClient::for_region(client.clone(), &endpoints, &region)?,
        object_storage: ObjectStorageClient::for_region(client, &endpoints, &region)?,
        tenancy_id: authenticated.tenancy_id,
        region,
    })
}

/// Why the clients could not be set up. The message quotes the cause, then says where the
/// settings involved come from and what to change: every program that sets up OCI shows it
/// as it is.
#[derive(Debug, thiserror::Error)]
pub enum OciSetupError {
    #[error("{0}. {hint}", hint = AuthHint)]
    Auth(#[from] AuthError),
    #[error("{0}. {hint}", hint = EndpointHint(.0))]
    Endpoint(#[from] EndpointError),
    #[error("{0}")]
    Client(#[from] BuildError),
}

/// Where auth settings come from.
struct AuthHint;

impl fmt::Display for AuthHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OCI settings come from the galley provider block or, for what it leaves unset (and \
             always for the sidecar), the environment: `auth` ({auth}: ApiKey, \
             InstancePrincipal, ResourcePrincipal or SecurityToken; default ApiKey), `region` \
             ({region}), and for an API key `tenancy_ocid` ({tenancy}), `user_ocid` ({user}), \
             `fingerprint` ({fingerprint}) and `private_key_path` ({key_path}) or \
             `private_key` ({key}). API key values left unset are read from a profile of the \
             OCI config file (~/.oci/config, or {config_file}; `config_file_profile` or \
             {profile} picks the profile, default DEFAULT). Set the missing values in one of \
             these places, or choose another auth method",
            auth = env::AUTH,
            region = env::REGION,
            tenancy = env::TENANCY_OCID,
            user = env::USER_OCID,
            fingerprint = env::FINGERPRINT,
            key_path = env::PRIVATE_KEY_PATH,
            key = env::PRIVATE_KEY,
            config_file = env::CONFIG_FILE,
            profile = env::CONFIG_FILE_PROFILE,
        )
    }
}

/// What to change for an endpoint error: the override that is wrong, or the region.
struct EndpointHint<'a>(&'a EndpointError);

impl fmt::Display for EndpointHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            EndpointError::InvalidOverride { service, .. } => match endpoint_setting(*service) {
                Some(s) => write!(
                    f,
                    "The override comes from `endpoints.{attribute}` in the galley provider \
                     block or {env}: set it to an http:// or https:// URL such as \
                     http://127.0.0.1:8080{version}, or unset it to use the region's endpoint",
                    attribute = s.attribute,
                    env = s.env,
                    version = service.version_path(),
                ),
                None => f.write_str("Fix or remove the override"),
            },
            EndpointError::NoRegion { .. } | EndpointError::InvalidRegion { .. } => write!(
                f,
                "Set `region` in the galley provider block or {region} to a region name (such \
                 as us-ashburn-1) or short code (such as iad), or set an endpoint override \
                 ({overrides})",
                region = env::REGION,
                overrides = ENDPOINT_SETTINGS.map(|s| s.env).join(", "),
            ),
            EndpointError::UnknownService(_) => write!(
                f,
                "The services that take an override are {}",
                ENDPOINT_SETTINGS.map(|s| s.attribute).join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_listed_once() {
        let mut all = env::ALL.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), env::ALL.len());
        for secret in env::SECRETS {
            assert!(env::ALL.contains(&secret), "{secret}");
        }
        for setting in ENDPOINT_SETTINGS {
            assert!(env::ALL.contains(&setting.env), "{}", setting.env);
        }
        assert!(env::is_secret(env::PRIVATE_KEY) && !env::is_secret(env::REGION));
    }

    fn base_url(overrides: &EndpointOverrides, service: Service) -> String {
        overrides
            .to_endpoints()
            .unwrap()
            .base_url_for(service, "phx")
            .unwrap()
    }

    /// The provider and the sidecar each had a copy of this reading. The provider's: every
    /// service, a blank value is no override. The sidecar's: Resource Manager only (its
    /// Instance Agent and Object Storage overrides were never read), and a blank value given
    /// to it was passed on and failed as "not a valid URL". The provider's is the one kept.
    #[test]
    fn overrides_accept_roots_and_versioned_base_urls_for_every_service() {
        for (service, written, expected) in [
            (
                Service::ResourceManager,
                "http://127.0.0.1:9/20180917",
                "http://127.0.0.1:9/20180917",
            ),
            (
                Service::ResourceManager,
                " http://127.0.0.1:9/20180917/ ",
                "http://127.0.0.1:9/20180917",
            ),
            (
                Service::ResourceManager,
                "http://127.0.0.1:9/",
                "http://127.0.0.1:9/20180917",
            ),
            (
                Service::InstanceAgent,
                "http://127.0.0.1:9/20180530",
                "http://127.0.0.1:9/20180530",
            ),
            (
                Service::InstanceAgent,
                "http://127.0.0.1:9",
                "http://127.0.0.1:9/20180530",
            ),
            (
                Service::ObjectStorage,
                "http://127.0.0.1:9/",
                "http://127.0.0.1:9",
            ),
            (
                Service::ObjectStorage,
                "https://os.example/prefix",
                "https://os.example/prefix",
            ),
            // Another service's version is a path prefix, not this service's version.
            (
                Service::ResourceManager,
                "http://h/20180530",
                "http://h/20180530/20180917",
            ),
        ] {
            let mut overrides = EndpointOverrides::default();
            let slot = match service {
                Service::ResourceManager => &mut overrides.resource_manager,
                Service::InstanceAgent => &mut overrides.instance_agent,
                _ => &mut overrides.object_storage,
            };
            *slot = Some(written.to_owned());
            assert_eq!(
                base_url(&overrides, service),
                expected,
                "{service} {written:?}"
            );
        }
    }

    #[test]
    fn a_blank_override_is_no_override() {
        let overrides = EndpointOverrides {
            resource_manager: Some("  ".into()),
            instance_agent: Some(String::new()),
            object_storage: None,
        };
        assert_eq!(
            base_url(&overrides, Service::ResourceManager),
            "https://resourcemanager.us-phoenix-1.oraclecloud.com/20180917"
        );
        assert_eq!(
            base_url(&overrides, Service::InstanceAgent),
            "https://iaas.us-phoenix-1.oci.oraclecloud.com/20180530"
        );
        assert_eq!(
            base_url(&overrides, Service::ObjectStorage),
            "https://objectstorage.us-phoenix-1.oraclecloud.com"
        );
    }

    #[test]
    fn a_bad_override_names_its_attribute_and_variable() {
        let overrides = EndpointOverrides {
            instance_agent: Some("127.0.0.1:9".into()),
            ..Default::default()
        };
        let err = OciSetupError::from(overrides.to_endpoints().unwrap_err()).to_string();
        assert!(
            err.starts_with("failed to use the iaas endpoint override"),
            "{err}"
        );
        assert!(
            err.contains("`endpoints.instance_agent`")
                && err.contains(env::INSTANCE_AGENT_ENDPOINT),
            "{err}"
        );
        assert!(err.contains("http://127.0.0.1:8080/20180530"), "{err}");
    }

    #[test]
    fn inputs_from_the_environment_skip_blank_values() {
        let inputs = SetupInputs::from_env(|k| match k {
            env::AUTH => Some(" ".into()),
            env::REGION => Some("fra".into()),
            env::PRIVATE_KEY => Some("-----BEGIN PRIVATE KEY-----".into()),
            env::OBJECT_STORAGE_ENDPOINT => Some("http://127.0.0.1:9".into()),
            _ => None,
        });
        assert_eq!(inputs.auth, None);
        assert_eq!(inputs.region.as_deref(), Some("fra"));
        assert_eq!(
            inputs.private_key.as_ref().map(Secret::expose),
            Some("-----BEGIN PRIVATE KEY-----")
        );
        assert_eq!(
            inputs.endpoints.object_storage.as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert!(!format!("{inputs:?}").contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn auth_method_names_parse_and_unknown_ones_fail() {
        let inputs = |auth: &str| SetupInputs {
            auth: Some(auth.into()),
            ..Default::default()
        };
        assert_eq!(
            inputs("InstancePrincipal").auth_settings().unwrap().method,
            AuthMethod::InstancePrincipal
        );
        assert_eq!(
            SetupInputs::default().auth_settings().unwrap().method,
            AuthMethod::ApiKey
        );
        let err = OciSetupError::from(inputs("Password").auth_settings().unwrap_err()).to_string();
        assert!(
            err.starts_with("failed to parse the auth method \"Password\""),
            "{err}"
        );
        // The hint says where the settings come from: attribute and variable.
        for named in [
            "`auth`",
            env::AUTH,
            env::CONFIG_FILE,
            env::CONFIG_FILE_PROFILE,
        ] {
            assert!(err.contains(named), "{named} missing from: {err}");
        }
    }

    #[test]
    fn a_region_error_says_how_to_set_the_region() {
        let err = OciSetupError::from(EndpointError::InvalidRegion {
            service: Service::ResourceManager,
            region: "moon".into(),
        })
        .to_string();
        assert!(err.contains(env::REGION), "{err}");
        assert!(err.contains(env::RESOURCE_MANAGER_ENDPOINT), "{err}");
    }
}
