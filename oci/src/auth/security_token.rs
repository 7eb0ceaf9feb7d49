//! Security-token profiles (`oci session authenticate`): the profile's `security_token_file`
//! holds a session token, `key_file` the key it is bound to; requests are signed with
//! `ST$<token>`.
//!
//! The CLI (`oci session refresh`) rewrites the token file in place, so the file is read again
//! when the cached token has expired and after a 401.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::api_key::load_private_key;
use super::config_file::Profile;
use super::jwt::SessionToken;
use super::{AuthError, Env, Secret};
use crate::signing::{Credentials, KeyId, KeyProvider, PrivateKey, ProviderError, ProviderFuture};

const PROVIDER: &str = "security-token";

/// Signs with the token in a file and the key beside it.
pub struct SecurityTokenFileProvider {
    token_path: PathBuf,
    profile: String,
    key: Arc<PrivateKey>,
    token: Mutex<SessionToken>,
}

impl fmt::Debug for SecurityTokenFileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityTokenFileProvider")
            .field("token_path", &self.token_path)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SecurityTokenFileProvider {
    /// From a profile with `security_token_file` and `key_file` (and optional `pass_phrase`).
    pub fn from_profile(profile: &Profile, env: Env<'_>) -> Result<Self, AuthError> {
        let missing = |key| AuthError::MissingKey {
            path: profile.path().to_owned(),
            profile: profile.name().to_owned(),
            key,
        };
        let token_path = profile
            .path_value("security_token_file", env)?
            .ok_or_else(|| missing("security_token_file"))?;
        let key_file = profile
            .path_value("key_file", env)?
            .ok_or_else(|| missing("key_file"))?;
        let passphrase = profile.get("pass_phrase").map(Secret::from);
        let origin = format!(
            "key_file of profile [{}] in {}",
            profile.name(),
            profile.path().display()
        );
        let key = load_private_key(None, Some(&key_file), passphrase.as_ref(), &origin)?;
        Self::new(token_path, key, profile.name())
    }

    /// From a token file and its key; `profile` only names the source in messages.
    pub fn new(token_path: PathBuf, key: PrivateKey, profile: &str) -> Result<Self, AuthError> {
        let token = read_token(&token_path)?;
        Ok(Self {
            token_path,
            profile: profile.to_owned(),
            key: Arc::new(key),
            token: Mutex::new(token),
        })
    }

    /// The tenancy the token was issued for (`tenant` claim), when present.
    pub fn tenancy_id(&self) -> Option<String> {
        self.lock().ok()?.claim_str("tenant").map(str::to_owned)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, SessionToken>, ProviderError> {
        self.token
            .lock()
            .map_err(|_| ProviderError::new(PROVIDER, "the token cache lock was poisoned"))
    }

    fn current(&self) -> Result<Credentials, ProviderError> {
        let mut token = self.lock()?;
        let now = SystemTime::now();
        if token.is_expired(now) {
            // The CLI may have refreshed the file since it was read.
            *token = read_token(&self.token_path).map_err(|e| ProviderError::new(PROVIDER, e))?;
            if token.is_expired(now) {
                let expired_at = token
                    .expires_at()
                    .map(httpdate::fmt_http_date)
                    .unwrap_or_default();
                return Err(ProviderError::new(
                    PROVIDER,
                    AuthError::TokenExpired {
                        origin: self.token_path.display().to_string(),
                        expired_at,
                        hint: format!(
                            "run `oci session refresh --profile {}` (or `oci session authenticate`)",
                            self.profile
                        ),
                    },
                ));
            }
        }
        Ok(Credentials::from_shared(
            KeyId::session_token(token.as_str()),
            Arc::clone(&self.key),
        ))
    }
}

fn read_token(path: &Path) -> Result<SessionToken, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::ReadFile {
        what: "security token file",
        path: path.to_owned(),
        source,
    })?;
    SessionToken::parse(&text).map_err(|e| match e {
        AuthError::InvalidToken { reason } => AuthError::InvalidToken {
            reason: format!("{}: {reason}", path.display()),
        },
        other => other,
    })
}

impl KeyProvider for SecurityTokenFileProvider {
    fn credentials(&self) -> ProviderFuture<'_, Credentials> {
        Box::pin(async move { self.current() })
    }

    fn refresh(&self) -> ProviderFuture<'_, ()> {
        Box::pin(async move {
            let fresh =
                read_token(&self.token_path).map_err(|e| ProviderError::new(PROVIDER, e))?;
            *self.lock()? = fresh;
            Ok(())
        })
    }
}
