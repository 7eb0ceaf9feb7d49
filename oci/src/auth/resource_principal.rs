//! Resource principal 2.2, how a Container Instance (or a Function) authenticates: the platform
//! puts a resource principal session token (RPST) and a private key in the environment, either
//! as values or as absolute paths of files it rewrites when it rotates them.
//!
//! There is no token exchange: requests are signed with `ST$<rpst>` and that key. In path mode
//! the files are read again when the token nears expiry and after a 401.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::api_key::load_private_key;
use super::jwt::SessionToken;
use super::{AuthError, AuthMethod, Env, Secret};
use crate::endpoints::canonical_region_name;
use crate::signing::{Credentials, KeyId, KeyProvider, PrivateKey, ProviderError, ProviderFuture};

pub const VERSION_ENV: &str = "OCI_RESOURCE_PRINCIPAL_VERSION";
pub const RPST_ENV: &str = "OCI_RESOURCE_PRINCIPAL_RPST";
pub const PRIVATE_PEM_ENV: &str = "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM";
pub const PRIVATE_PEM_PASSPHRASE_ENV: &str = "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE";
pub const REGION_ENV: &str = "OCI_RESOURCE_PRINCIPAL_REGION";

/// The only version implemented.
pub const SUPPORTED_VERSION: &str = "2.2";

const PROVIDER: &str = "resource-principal";

/// A value given inline or as the absolute path of a file holding it (the SDKs' rule).
#[derive(Clone)]
enum Source {
    Inline(Secret),
    File(PathBuf),
}

impl Source {
    fn from_value(value: &str) -> Self {
        let trimmed = value.trim();
        if Path::new(trimmed).is_absolute() {
            Source::File(PathBuf::from(trimmed))
        } else {
            Source::Inline(Secret::new(value))
        }
    }

    fn read(&self, what: &'static str) -> Result<Secret, AuthError> {
        match self {
            Source::Inline(value) => Ok(value.clone()),
            Source::File(path) => {
                std::fs::read_to_string(path)
                    .map(Secret::new)
                    .map_err(|source| AuthError::ReadFile {
                        what,
                        path: path.clone(),
                        source,
                    })
            }
        }
    }

    fn describe(&self, env_name: &str) -> String {
        match self {
            Source::Inline(_) => format!("{env_name} (inline)"),
            Source::File(path) => format!("{} (from {env_name})", path.display()),
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Inline(_) => f.write_str("Inline(<redacted>)"),
            Source::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

struct State {
    token: SessionToken,
    key: Arc<PrivateKey>,
    obtained_at: SystemTime,
}

/// Resource principal 2.2 credentials.
pub struct ResourcePrincipalProvider {
    rpst: Source,
    pem: Source,
    passphrase: Option<Source>,
    region: Option<String>,
    state: Mutex<State>,
}

impl fmt::Debug for ResourcePrincipalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourcePrincipalProvider")
            .field("rpst", &self.rpst)
            .field("pem", &self.pem)
            .field("region", &self.region)
            .field("tenancy_id", &self.tenancy_id())
            .finish_non_exhaustive()
    }
}

impl ResourcePrincipalProvider {
    /// Reads `OCI_RESOURCE_PRINCIPAL_VERSION` (must be 2.2), `_RPST`, `_PRIVATE_PEM`, optional
    /// `_PRIVATE_PEM_PASSPHRASE` and `_REGION`.
    pub fn from_env(env: Env<'_>) -> Result<Self, AuthError> {
        let get = |name: &'static str| env(name).filter(|v| !v.trim().is_empty());
        let missing = |name| AuthError::MissingSetting {
            method: AuthMethod::ResourcePrincipal,
            name,
        };
        let version = get(VERSION_ENV).ok_or_else(|| missing(VERSION_ENV))?;
        if version.trim() != SUPPORTED_VERSION {
            return Err(AuthError::InvalidSetting {
                method: AuthMethod::ResourcePrincipal,
                reason: format!(
                    "{VERSION_ENV} is {:?}; only {SUPPORTED_VERSION} is supported",
                    version.trim()
                ),
            });
        }
        let rpst = get(RPST_ENV).ok_or_else(|| missing(RPST_ENV))?;
        let pem = get(PRIVATE_PEM_ENV).ok_or_else(|| missing(PRIVATE_PEM_ENV))?;
        let passphrase = get(PRIVATE_PEM_PASSPHRASE_ENV);
        let region = get(REGION_ENV);
        Self::new(&rpst, &pem, passphrase.as_deref(), region.as_deref())
    }

    /// From the four values, each inline or an absolute file path as in the environment.
    /// The pass phrase is read from a file only when the key is (path mode).
    pub fn new(
        rpst: &str,
        private_pem: &str,
        passphrase: Option<&str>,
        region: Option<&str>,
    ) -> Result<Self, AuthError> {
        let rpst = Source::from_value(rpst);
        let pem = Source::from_value(private_pem);
        let passphrase = passphrase.map(|p| match (&pem, Source::from_value(p)) {
            (Source::File(_), file @ Source::File(_)) => file,
            _ => Source::Inline(Secret::new(p)),
        });
        let region = match region {
            Some(r) => Some(
                canonical_region_name(r).ok_or_else(|| AuthError::InvalidSetting {
                    method: AuthMethod::ResourcePrincipal,
                    reason: format!("{REGION_ENV} {r:?} is not a region name or short code"),
                })?,
            ),
            None => None,
        };
        let state = load(&rpst, &pem, passphrase.as_ref())?;
        Ok(Self {
            rpst,
            pem,
            passphrase,
            region,
            state: Mutex::new(state),
        })
    }

    /// The canonical region from `OCI_RESOURCE_PRINCIPAL_REGION`.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// `res_tenant` of the current token.
    pub fn tenancy_id(&self) -> Option<String> {
        self.claim("res_tenant")
    }

    /// `res_compartment` of the current token (resources move between compartments, so this
    /// may change after a reload).
    pub fn compartment_id(&self) -> Option<String> {
        self.claim("res_compartment")
    }

    fn claim(&self, name: &str) -> Option<String> {
        self.state
            .lock()
            .ok()?
            .token
            .claim_str(name)
            .map(str::to_owned)
    }

    fn path_mode(&self) -> bool {
        matches!(self.rpst, Source::File(_)) || matches!(self.pem, Source::File(_))
    }

    fn reload(&self) -> Result<(), AuthError> {
        let fresh = load(&self.rpst, &self.pem, self.passphrase.as_ref())?;
        if let Ok(mut state) = self.state.lock() {
            *state = fresh;
        }
        tracing::debug!("resource principal token and key reloaded");
        Ok(())
    }

    fn current(&self) -> Result<Credentials, ProviderError> {
        let now = SystemTime::now();
        let due = {
            let state = self
                .state
                .lock()
                .map_err(|_| ProviderError::new(PROVIDER, "the token cache lock was poisoned"))?;
            state.token.needs_refresh(now, state.obtained_at)
        };
        if due && self.path_mode() {
            // The platform rotates the files; a failed read keeps the old token while it lasts.
            if let Err(e) = self.reload() {
                tracing::warn!(error = %e, "failed to reload the resource principal files");
            }
        }
        let state = self
            .state
            .lock()
            .map_err(|_| ProviderError::new(PROVIDER, "the token cache lock was poisoned"))?;
        if state.token.is_expired(now) {
            let expired_at = state
                .token
                .expires_at()
                .map(httpdate::fmt_http_date)
                .unwrap_or_default();
            return Err(ProviderError::new(
                PROVIDER,
                AuthError::TokenExpired {
                    origin: self.rpst.describe(RPST_ENV),
                    expired_at,
                    hint: if self.path_mode() {
                        "the platform has not written a fresh token to the file".into()
                    } else {
                        "an inline token cannot be renewed; give file paths so a rotated token is picked up".into()
                    },
                },
            ));
        }
        Ok(Credentials::from_shared(
            KeyId::session_token(state.token.as_str()),
            Arc::clone(&state.key),
        ))
    }
}

fn load(rpst: &Source, pem: &Source, passphrase: Option<&Source>) -> Result<State, AuthError> {
    let token_text = rpst.read("resource principal token file")?;
    let token = SessionToken::parse(token_text.expose()).map_err(|e| match e {
        AuthError::InvalidToken { reason } => AuthError::InvalidToken {
            reason: format!("{}: {reason}", rpst.describe(RPST_ENV)),
        },
        other => other,
    })?;
    let pem_text = pem.read("resource principal private key file")?;
    let passphrase = match passphrase {
        Some(source) => Some(Secret::new(
            source
                .read("resource principal pass phrase file")?
                .expose()
                .trim_end_matches(['\r', '\n']),
        )),
        None => None,
    };
    let key = load_private_key(
        Some(&pem_text),
        None,
        passphrase.as_ref(),
        &pem.describe(PRIVATE_PEM_ENV),
    )?;
    Ok(State {
        token,
        key: Arc::new(key),
        obtained_at: SystemTime::now(),
    })
}

impl KeyProvider for ResourcePrincipalProvider {
    fn credentials(&self) -> ProviderFuture<'_, Credentials> {
        Box::pin(async move { self.current() })
    }

    fn refresh(&self) -> ProviderFuture<'_, ()> {
        Box::pin(async move {
            if self.path_mode() {
                self.reload().map_err(|e| ProviderError::new(PROVIDER, e))?;
            }
            Ok(())
        })
    }
}
