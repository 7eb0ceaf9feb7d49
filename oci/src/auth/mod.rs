//! Who the client signs as: the four OCI auth methods, each a [`KeyProvider`] for the phase-one
//! [`Signer`](crate::signing::Signer), and [`from_settings`], which picks one from the
//! provider-block-like [`AuthSettings`] plus the environment.
//!
//! - [`config_file`]: the INI file and its profiles.
//! - [`api_key`]: user API keys, from explicit values or a profile.
//! - [`security_token`]: `security_token_file` profiles (`oci session authenticate`).
//! - [`resource_principal`]: resource principal 2.2 from `OCI_RESOURCE_PRINCIPAL_*` (Container
//!   Instances, Functions).
//! - [`instance_principal`]: the instance metadata service plus x509 federation.
//! - [`jwt`]: unverified session-token claims and the renewal rule.
//!
//! Secrets (keys, pass phrases, tokens) never appear in `Debug` output, errors or logs.

pub mod api_key;
pub mod config_file;
pub mod instance_principal;
pub mod jwt;
pub mod resource_principal;
pub mod security_token;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::endpoints::canonical_region_name;
use crate::signing::{KeyError, KeyProvider};

pub use api_key::ApiKeyValues;
pub use config_file::{ConfigFile, Profile};
pub use instance_principal::{InstancePrincipalConfig, InstancePrincipalProvider};
pub use jwt::SessionToken;
pub use resource_principal::ResourcePrincipalProvider;
pub use security_token::SecurityTokenFileProvider;

/// Looks up an environment variable. Injected so tests and embedders control the environment.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// The real process environment, for [`Env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A secret string (key PEM, pass phrase): redacted in `Debug`, wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// Why credentials could not be set up or renewed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("failed to read the OCI config file {path}: {source}")]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse the OCI config file {path} at line {line}: {reason}")]
    ConfigSyntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "failed to find profile [{profile}] in the OCI config file {path} (profiles there: {available})"
    )]
    ProfileNotFound {
        path: PathBuf,
        profile: String,
        available: String,
    },
    #[error("failed to use profile [{profile}] of the OCI config file {path}: `{key}` is not set")]
    MissingKey {
        path: PathBuf,
        profile: String,
        key: &'static str,
    },
    #[error("failed to expand ~ in {path:?}: neither HOME nor USERPROFILE is set")]
    NoHome { path: String },
    #[error("failed to read the {what} {path}: {source}")]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to load the private key {origin}: {source}")]
    Key {
        origin: String,
        #[source]
        source: KeyError,
    },
    #[error("failed to configure {method} auth: {name} is not set")]
    MissingSetting {
        method: AuthMethod,
        name: &'static str,
    },
    #[error("failed to configure {method} auth: {reason}")]
    InvalidSetting { method: AuthMethod, reason: String },
    #[error(
        "failed to parse the auth method {0:?}: expected ApiKey, InstancePrincipal, ResourcePrincipal or SecurityToken"
    )]
    UnknownMethod(String),
    #[error("failed to read the session token: {reason}")]
    InvalidToken { reason: String },
    #[error("failed to use the session token from {origin}: it expired at {expired_at}; {hint}")]
    TokenExpired {
        origin: String,
        expired_at: String,
        hint: String,
    },
    #[error("failed to call the instance metadata service at {url}: {reason}")]
    Metadata { url: String, reason: String },
    #[error(
        "failed to obtain an instance principal token from {url}: {status} {code}: {message} (opc-request-id {opc_request_id})"
    )]
    Federation {
        url: String,
        status: u16,
        code: String,
        message: String,
        opc_request_id: String,
    },
    #[error("failed to obtain an instance principal token from {url}: {reason}")]
    FederationTransport { url: String, reason: String },
    #[error("failed to read the instance certificate: {reason}")]
    Certificate { reason: String },
    #[error("failed to determine the region: {reason}")]
    Region { reason: String },
}

impl AuthError {
    pub(crate) fn key(origin: impl Into<String>, source: KeyError) -> Self {
        Self::Key {
            origin: origin.into(),
            source,
        }
    }
}

/// The auth methods the provider's `auth` attribute names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A user's API signing key (explicit values, else the config file profile).
    #[default]
    ApiKey,
    /// The instance metadata service and x509 federation.
    InstancePrincipal,
    /// Resource principal 2.2 from the environment.
    ResourcePrincipal,
    /// A config file profile with `security_token_file` (`oci session authenticate`).
    SecurityToken,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::ApiKey => "ApiKey",
            AuthMethod::InstancePrincipal => "InstancePrincipal",
            AuthMethod::ResourcePrincipal => "ResourcePrincipal",
            AuthMethod::SecurityToken => "SecurityToken",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AuthMethod {
    type Err = AuthError;

    /// Case-insensitive; underscores and dashes are ignored (`api_key`, `InstancePrincipal`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "apikey" => Ok(AuthMethod::ApiKey),
            "instanceprincipal" => Ok(AuthMethod::InstancePrincipal),
            "resourceprincipal" => Ok(AuthMethod::ResourcePrincipal),
            "securitytoken" => Ok(AuthMethod::SecurityToken),
            _ => Err(AuthError::UnknownMethod(s.to_owned())),
        }
    }
}

/// The provider block's auth attributes. Unset fields are `None`; `Debug` redacts secrets.
#[derive(Clone, Debug, Default)]
pub struct AuthSettings {
    pub method: AuthMethod,
    /// Config file path; default `OCI_CONFIG_FILE`, else `~/.oci/config`.
    pub config_file: Option<PathBuf>,
    /// Config file profile; default `DEFAULT`.
    pub profile: Option<String>,
    /// Region name or short code; overrides what the method finds.
    pub region: Option<String>,
    pub tenancy_ocid: Option<String>,
    pub user_ocid: Option<String>,
    pub fingerprint: Option<String>,
    /// Private key PEM text.
    pub private_key: Option<Secret>,
    /// Private key file (`~` expanded).
    pub private_key_path: Option<String>,
    /// Pass phrase of an encrypted private key.
    pub private_key_password: Option<Secret>,
    /// Instance principal only: metadata service base URL (default
    /// [`instance_principal::DEFAULT_METADATA_BASE_URL`]).
    pub metadata_base_url: Option<String>,
    /// Instance principal only: federation base URL (default `https://auth.<region>.<domain>`).
    pub federation_base_url: Option<String>,
}

/// What [`from_settings`] returns.
#[derive(Clone)]
pub struct Authenticated {
    /// Signs requests; hand it to [`crate::client::ClientBuilder::new`].
    pub provider: Arc<dyn KeyProvider>,
    /// Canonical region name (`us-ashburn-1`), from the settings or found by the method.
    pub region: String,
    /// The tenancy OCID when the method knows it (all but some security-token profiles).
    pub tenancy_id: Option<String>,
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("region", &self.region)
            .field("tenancy_id", &self.tenancy_id)
            .finish_non_exhaustive()
    }
}

/// Sets up the auth method `settings.method` names, reading files and the environment through
/// `env`, and works out the region (settings first, then what the method finds).
///
/// Instance principal contacts the metadata and federation services here, so a broken setup
/// fails at configuration time with a message that says which call failed.
pub async fn from_settings(
    settings: &AuthSettings,
    env: Env<'_>,
) -> Result<Authenticated, AuthError> {
    let method = settings.method;
    let explicit_region = settings
        .region
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            canonical_region_name(r).ok_or_else(|| AuthError::InvalidSetting {
                method,
                reason: format!("region {r:?} is not a region name or short code"),
            })
        })
        .transpose()?;

    let (provider, found_region, tenancy_id): (Arc<dyn KeyProvider>, Option<String>, _) =
        match method {
            AuthMethod::ApiKey => {
                let (provider, region, tenancy) = api_key::from_settings(settings, env)?;
                (provider, region, tenancy)
            }
            AuthMethod::SecurityToken => {
                let profile = load_profile(settings, env)?;
                let provider = SecurityTokenFileProvider::from_profile(&profile, env)?;
                let tenancy = profile.get("tenancy").map(str::to_owned);
                (
                    Arc::new(provider),
                    profile.get("region").map(str::to_owned),
                    tenancy,
                )
            }
            AuthMethod::ResourcePrincipal => {
                let provider = ResourcePrincipalProvider::from_env(env)?;
                let region = provider.region().map(str::to_owned);
                let tenancy = provider.tenancy_id();
                (Arc::new(provider), region, tenancy)
            }
            AuthMethod::InstancePrincipal => {
                let mut config = InstancePrincipalConfig::default();
                if let Some(url) = &settings.metadata_base_url {
                    config.metadata_base_url = url.clone();
                }
                config.federation_base_url = settings.federation_base_url.clone();
                let provider = InstancePrincipalProvider::new(config).await?;
                let region = Some(provider.region().name().to_owned());
                let tenancy = Some(provider.tenancy_id().to_owned());
                (Arc::new(provider), region, tenancy)
            }
        };

    let region = match explicit_region {
        Some(region) => region,
        None => found_region
            .as_deref()
            .and_then(canonical_region_name)
            .ok_or_else(|| AuthError::Region {
                reason: format!(
                    "{method} auth found none; set `region` in the provider block{}",
                    match method {
                        AuthMethod::ApiKey | AuthMethod::SecurityToken =>
                            " or `region` in the config file profile".to_owned(),
                        AuthMethod::ResourcePrincipal =>
                            format!(" or {}", resource_principal::REGION_ENV),
                        AuthMethod::InstancePrincipal => String::new(),
                    }
                ),
            })?,
    };
    tracing::debug!(%method, %region, "OCI auth configured");
    Ok(Authenticated {
        provider,
        region,
        tenancy_id,
    })
}

/// The profile the settings name, from the file they name.
pub(crate) fn load_profile(settings: &AuthSettings, env: Env<'_>) -> Result<Profile, AuthError> {
    let path = match &settings.config_file {
        Some(path) => config_file::expand_home(&path.to_string_lossy(), env)?,
        None => ConfigFile::default_path(env)?,
    };
    let file = ConfigFile::load(&path)?;
    let name = settings
        .profile
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or(config_file::DEFAULT_PROFILE);
    file.profile(name.trim())
}
