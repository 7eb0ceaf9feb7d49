//! User API signing keys: `<tenancy>/<user>/<fingerprint>` with the user's RSA key, from
//! explicit values (the provider block), from a config file profile, or both (explicit values
//! win, the profile fills the gaps).

use std::path::Path;
use std::sync::Arc;

use super::config_file::Profile;
use super::security_token::SecurityTokenFileProvider;
use super::{AuthError, AuthMethod, AuthSettings, Env, Secret, config_file, load_profile};
use crate::signing::{KeyId, KeyProvider, PrivateKey, StaticKeyProvider};

/// The values an API key is made of.
#[derive(Clone, Debug, Default)]
pub struct ApiKeyValues {
    pub tenancy: String,
    pub user: String,
    pub fingerprint: String,
    /// PEM text; takes precedence over `private_key_path`.
    pub private_key_pem: Option<Secret>,
    pub private_key_path: Option<std::path::PathBuf>,
    pub passphrase: Option<Secret>,
}

impl ApiKeyValues {
    /// Loads the key and builds the provider.
    pub fn into_provider(self) -> Result<StaticKeyProvider, AuthError> {
        let key = load_private_key(
            self.private_key_pem.as_ref(),
            self.private_key_path.as_deref(),
            self.passphrase.as_ref(),
            "given in the provider settings",
        )?;
        check_fingerprint(&key, &self.fingerprint);
        Ok(StaticKeyProvider::new(
            KeyId::api_key(&self.tenancy, &self.user, &self.fingerprint),
            key,
        ))
    }
}

/// Loads a private key from PEM text or a file. `origin` completes messages ("given in ...").
pub fn load_private_key(
    pem: Option<&Secret>,
    path: Option<&Path>,
    passphrase: Option<&Secret>,
    origin: &str,
) -> Result<PrivateKey, AuthError> {
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .map(|p| p.expose().as_bytes());
    if let Some(pem) = pem.filter(|p| !p.is_empty()) {
        return PrivateKey::from_pem(pem.expose(), passphrase)
            .map_err(|e| AuthError::key(format!("PEM {origin}"), e));
    }
    let Some(path) = path else {
        return Err(AuthError::Key {
            origin: origin.to_owned(),
            source: crate::signing::KeyError::NoPemBlock {
                expected: "a private key (neither PEM text nor a key file is set)",
            },
        });
    };
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::ReadFile {
        what: "private key file",
        path: path.to_owned(),
        source,
    })?;
    let text = zeroize::Zeroizing::new(text);
    PrivateKey::from_pem(&text, passphrase)
        .map_err(|e| AuthError::key(format!("{} ({origin})", path.display()), e))
}

/// A wrong fingerprint gets a bare 401 from OCI; say which setting is wrong before that happens.
/// Neither fingerprint is logged: logs carry no key id material.
fn check_fingerprint(key: &PrivateKey, configured: &str) {
    if let Ok(actual) = key.public_key().fingerprint()
        && !actual.eq_ignore_ascii_case(configured.trim())
    {
        tracing::warn!(
            "the configured API key fingerprint does not match the private key; OCI will answer \
             401: set fingerprint to the output of `openssl rsa -pubout -outform DER -in KEY_FILE \
             | openssl md5 -c`"
        );
    }
}

/// An API key provider from a profile (`user`, `fingerprint`, `key_file`, `tenancy`, optional
/// `pass_phrase`).
pub fn from_profile(profile: &Profile, env: Env<'_>) -> Result<StaticKeyProvider, AuthError> {
    let tenancy = profile.require("tenancy")?;
    let user = profile.require("user")?;
    let fingerprint = profile.require("fingerprint")?;
    let key_file = profile
        .path_value("key_file", env)?
        .ok_or_else(|| AuthError::MissingKey {
            path: profile.path().to_owned(),
            profile: profile.name().to_owned(),
            key: "key_file",
        })?;
    let passphrase = profile.get("pass_phrase").map(Secret::from);
    let origin = format!(
        "key_file of profile [{}] in {}",
        profile.name(),
        profile.path().display()
    );
    let key = load_private_key(None, Some(&key_file), passphrase.as_ref(), &origin)?;
    check_fingerprint(&key, fingerprint);
    Ok(StaticKeyProvider::new(
        KeyId::api_key(tenancy, user, fingerprint),
        key,
    ))
}

/// A provider with the region and tenancy its source named, if any.
pub(crate) type Found = (Arc<dyn KeyProvider>, Option<String>, Option<String>);

/// `ApiKey` auth for [`super::from_settings`]: explicit values when complete, else the profile
/// with explicit values on top. A profile with `security_token_file` and no `user` signs with
/// its session token, as the SDKs do.
pub(crate) fn from_settings(settings: &AuthSettings, env: Env<'_>) -> Result<Found, AuthError> {
    let set = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let tenancy = set(&settings.tenancy_ocid);
    let user = set(&settings.user_ocid);
    let fingerprint = set(&settings.fingerprint);
    let key_pem = settings.private_key.clone().filter(|k| !k.is_empty());
    let key_path = match set(&settings.private_key_path) {
        Some(p) => Some(config_file::expand_home(&p, env)?),
        None => None,
    };
    let has_key = key_pem.is_some() || key_path.is_some();

    if let (Some(tenancy), Some(user), Some(fingerprint), true) =
        (&tenancy, &user, &fingerprint, has_key)
    {
        let provider = ApiKeyValues {
            tenancy: tenancy.clone(),
            user: user.clone(),
            fingerprint: fingerprint.clone(),
            private_key_pem: key_pem,
            private_key_path: key_path,
            passphrase: settings.private_key_password.clone(),
        }
        .into_provider()?;
        // The profile may still supply the region; a missing file is not an error here.
        let region = load_profile(settings, env)
            .ok()
            .and_then(|p| p.get("region").map(str::to_owned));
        return Ok((Arc::new(provider), region, Some(tenancy.clone())));
    }

    let profile = load_profile(settings, env).map_err(|e| match e {
        AuthError::ConfigRead { path, source } if settings.tenancy_ocid.is_none() => {
            AuthError::InvalidSetting {
                method: AuthMethod::ApiKey,
                reason: format!(
                    "tenancy_ocid, user_ocid, fingerprint and a private key are not all set, and the OCI config file {} could not be read: {source}",
                    path.display()
                ),
            }
        }
        other => other,
    })?;
    let region = profile.get("region").map(str::to_owned);

    if user.is_none()
        && profile.get("user").is_none()
        && profile.get("security_token_file").is_some()
    {
        let provider = SecurityTokenFileProvider::from_profile(&profile, env)?;
        let tenancy = tenancy.or_else(|| profile.get("tenancy").map(str::to_owned));
        return Ok((Arc::new(provider), region, tenancy));
    }

    let pick = |explicit: Option<String>, key: &'static str| -> Result<String, AuthError> {
        match explicit {
            Some(v) => Ok(v),
            None => profile.require(key).map(str::to_owned),
        }
    };
    let tenancy = pick(tenancy, "tenancy")?;
    let user = pick(user, "user")?;
    let fingerprint = pick(fingerprint, "fingerprint")?;
    let (key_pem, key_path, passphrase, origin) = if has_key {
        (
            key_pem,
            key_path,
            settings.private_key_password.clone(),
            "given in the provider settings".to_owned(),
        )
    } else {
        let key_file =
            profile
                .path_value("key_file", env)?
                .ok_or_else(|| AuthError::MissingKey {
                    path: profile.path().to_owned(),
                    profile: profile.name().to_owned(),
                    key: "key_file",
                })?;
        (
            None,
            Some(key_file),
            settings
                .private_key_password
                .clone()
                .or_else(|| profile.get("pass_phrase").map(Secret::from)),
            format!(
                "key_file of profile [{}] in {}",
                profile.name(),
                profile.path().display()
            ),
        )
    };
    let key = load_private_key(
        key_pem.as_ref(),
        key_path.as_deref(),
        passphrase.as_ref(),
        &origin,
    )?;
    check_fingerprint(&key, &fingerprint);
    let provider = StaticKeyProvider::new(KeyId::api_key(&tenancy, &user, &fingerprint), key);
    Ok((Arc::new(provider), region, Some(tenancy)))
}
