//! The keys whose signatures the engine accepts, each under the `keyId` clients sign with.
//!
//! Keys come from an OCI config profile (the profile's `key_file`, trusted under
//! `tenancy/user/fingerprint`, which is what an SDK using that profile sends) or from PEM
//! files given with an explicit key id. A PEM file may hold a public key or a private key (its
//! public half is used). Session tokens (`ST$...`) are not supported: there is no token
//! service to vouch for them.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use galley_oci::signing::{KeyError, KeyId, PrivateKey, PublicKey};

/// Why a trusted key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to load the key in {path}: {source}")]
    Key { path: PathBuf, source: KeyError },
    #[error("failed to find profile [{profile}] in the OCI config file {path}")]
    NoProfile { path: PathBuf, profile: String },
    #[error("failed to use profile [{profile}] of {path}: it has no {key}")]
    MissingKey {
        path: PathBuf,
        profile: String,
        key: &'static str,
    },
    #[error("failed to parse the trusted key {0:?}: expected KEYID=PEMFILE")]
    BadSpec(String),
}

/// Public keys by key id.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: HashMap<String, PublicKey>,
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` for signatures made under `key_id`.
    pub fn trust(&mut self, key_id: KeyId, key: PublicKey) {
        self.keys.insert(key_id.as_str().to_owned(), key);
    }

    /// The key trusted under `key_id`.
    pub fn get(&self, key_id: &KeyId) -> Option<PublicKey> {
        self.keys.get(key_id.as_str()).cloned()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The trusted key ids, for the start-up log.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// `--trust-key KEYID=PEMFILE`.
    pub fn trust_spec(&mut self, spec: &str) -> Result<(), TrustError> {
        // Key ids never contain `=`; file names may.
        let (key_id, file) = spec
            .split_once('=')
            .filter(|(k, f)| !k.is_empty() && !f.is_empty())
            .ok_or_else(|| TrustError::BadSpec(spec.to_owned()))?;
        self.trust_pem_file(KeyId::from_raw(key_id), Path::new(file), None)
    }

    /// Trusts the key in a PEM file (public key, or private key whose public half is used).
    pub fn trust_pem_file(
        &mut self,
        key_id: KeyId,
        path: &Path,
        passphrase: Option<&[u8]>,
    ) -> Result<(), TrustError> {
        let pem = fs::read_to_string(path).map_err(|source| TrustError::Read {
            path: path.to_owned(),
            source,
        })?;
        let key = public_key_from_pem(&pem, passphrase).map_err(|source| TrustError::Key {
            path: path.to_owned(),
            source,
        })?;
        self.trust(key_id, key);
        Ok(())
    }

    /// `--trust-profile PROFILE`: trusts the key of `profile` in the OCI config file `path`.
    /// Returns the key id trusted.
    pub fn trust_profile(&mut self, path: &Path, profile: &str) -> Result<KeyId, TrustError> {
        let text = fs::read_to_string(path).map_err(|source| TrustError::Read {
            path: path.to_owned(),
            source,
        })?;
        let values = profile_values(&text, profile).ok_or_else(|| TrustError::NoProfile {
            path: path.to_owned(),
            profile: profile.to_owned(),
        })?;
        let get = |key: &'static str| {
            values
                .get(key)
                .cloned()
                .ok_or_else(|| TrustError::MissingKey {
                    path: path.to_owned(),
                    profile: profile.to_owned(),
                    key,
                })
        };
        let fingerprint = get("fingerprint")?;
        let key_id = KeyId::api_key(&get("tenancy")?, &get("user")?, &fingerprint);
        let key_file = expand_home(&get("key_file")?);
        let passphrase = values.get("pass_phrase").map(|p| p.as_bytes().to_vec());
        self.trust_pem_file(key_id.clone(), &key_file, passphrase.as_deref())?;
        // Clients sign with the configured fingerprint, right or wrong; a mismatch is worth a
        // warning because OCI itself would reject that profile.
        if let Some(actual) = self.get(&key_id).and_then(|k| k.fingerprint().ok())
            && actual != fingerprint
        {
            tracing::warn!(profile, configured = %fingerprint, actual = %actual, "the profile's fingerprint does not match its key");
        }
        Ok(key_id)
    }
}

fn public_key_from_pem(pem: &str, passphrase: Option<&[u8]>) -> Result<PublicKey, KeyError> {
    if pem.contains("PRIVATE KEY-----") {
        Ok(PrivateKey::from_pem(pem, passphrase)?.public_key())
    } else {
        PublicKey::from_pem(pem)
    }
}

/// The values of `profile` in an OCI config file, with `[DEFAULT]` values inherited as the
/// SDKs do. `None` when the profile is absent.
pub fn profile_values(text: &str, profile: &str) -> Option<HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    let own = sections.get(profile)?.clone();
    let mut values = sections.get("DEFAULT").cloned().unwrap_or_default();
    values.extend(own);
    Some(values)
}

/// The default OCI config file: `OCI_CONFIG_FILE`, else `~/.oci/config`.
pub fn default_config_path() -> PathBuf {
    std::env::var_os(galley_oci::setup::env::CONFIG_FILE)
        .map(PathBuf::from)
        .unwrap_or_else(|| expand_home("~/.oci/config"))
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_inherit_default_values() {
        let text =
            "[DEFAULT]\nregion = us-phoenix-1\ntenancy=t\n\n# c\n[DEV]\nuser = u\ntenancy = t2\n";
        let dev = profile_values(text, "DEV").unwrap();
        assert_eq!(dev["region"], "us-phoenix-1");
        assert_eq!(dev["tenancy"], "t2");
        assert_eq!(dev["user"], "u");
        assert!(profile_values(text, "PROD").is_none());
    }

    #[test]
    fn trusts_a_profile_key_under_its_api_key_id() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate(2048).unwrap();
        let pem = key.public_key().to_pem().unwrap();
        let key_path = dir.path().join("k.pem");
        fs::write(&key_path, pem).unwrap();
        let config = dir.path().join("config");
        fs::write(
            &config,
            format!(
                "[P]\ntenancy=ocid1.tenancy.oc1..t\nuser=ocid1.user.oc1..u\nfingerprint=aa:bb\nkey_file={}\n",
                key_path.display()
            ),
        )
        .unwrap();
        let mut store = TrustStore::new();
        let id = store.trust_profile(&config, "P").unwrap();
        assert_eq!(id.as_str(), "ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb");
        assert_eq!(store.get(&id), Some(key.public_key()));
        assert!(matches!(
            store.trust_profile(&config, "Q"),
            Err(TrustError::NoProfile { .. })
        ));
        assert!(matches!(
            store.trust_spec("no-equals"),
            Err(TrustError::BadSpec(_))
        ));
    }
}
