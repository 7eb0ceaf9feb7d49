//! The OCI config file (`~/.oci/config`): locating it, parsing its INI profiles, and reading a
//! profile's values with errors that name the file, the profile and the key.
//!
//! Follows the SDKs' reading: `[DEFAULT]` values are inherited by every other profile, keys are
//! case-insensitive, `#` and `;` start comment lines, values are trimmed and not unquoted.
//! Turning a profile into credentials belongs to the `api_key` and `security_token` modules.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{AuthError, Env};

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "DEFAULT";

/// Environment variable naming a config file to use instead of `~/.oci/config`.
pub const CONFIG_FILE_ENV: &str = "OCI_CONFIG_FILE";

/// Where `~` points, in the order they are tried (`USERPROFILE` is Windows' name).
pub const HOME_ENV: [&str; 2] = ["HOME", "USERPROFILE"];

/// A parsed config file.
#[derive(Clone)]
pub struct ConfigFile {
    path: PathBuf,
    /// Sections in file order; a section repeated later adds to the first.
    sections: Vec<(String, BTreeMap<String, String>)>,
}

impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values include pass phrases: list only the profile names.
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("profiles", &self.profile_names())
            .finish()
    }
}

impl ConfigFile {
    /// Where the config file is: `OCI_CONFIG_FILE` when set, else `~/.oci/config`.
    pub fn default_path(env: Env<'_>) -> Result<PathBuf, AuthError> {
        if let Some(path) = env(CONFIG_FILE_ENV).filter(|p| !p.trim().is_empty()) {
            return expand_home(path.trim(), env);
        }
        expand_home("~/.oci/config", env)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is used in messages and to resolve relative key files.
    pub fn parse(text: &str, path: &Path) -> Result<Self, AuthError> {
        let mut sections: Vec<(String, BTreeMap<String, String>)> = Vec::new();
        let mut current: Option<usize> = None;
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let trimmed = line.trim().trim_start_matches('\u{feff}');
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| AuthError::ConfigSyntax {
                        path: path.to_owned(),
                        line: line_no,
                        reason: "a profile header must look like [NAME]".into(),
                    })?;
                current = Some(match sections.iter().position(|(n, _)| n == name) {
                    Some(existing) => existing,
                    None => {
                        sections.push((name.to_owned(), BTreeMap::new()));
                        sections.len() - 1
                    }
                });
                continue;
            }
            let Some((key, value)) = trimmed.split_once(['=', ':']) else {
                return Err(AuthError::ConfigSyntax {
                    path: path.to_owned(),
                    line: line_no,
                    reason: "expected `key=value`".into(),
                });
            };
            let Some(section) = current else {
                return Err(AuthError::ConfigSyntax {
                    path: path.to_owned(),
                    line: line_no,
                    reason: "a value comes before any [PROFILE] header".into(),
                });
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(AuthError::ConfigSyntax {
                    path: path.to_owned(),
                    line: line_no,
                    reason: "the key before `=` is empty".into(),
                });
            }
            sections[section].1.insert(key, value.trim().to_owned());
        }
        Ok(Self {
            path: path.to_owned(),
            sections,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Profile names in file order.
    pub fn profile_names(&self) -> Vec<&str> {
        self.sections.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The named profile with `[DEFAULT]` values filled in underneath. Profile names are
    /// case-sensitive, as in the SDKs.
    pub fn profile(&self, name: &str) -> Result<Profile, AuthError> {
        let defaults = self
            .sections
            .iter()
            .find(|(n, _)| n == DEFAULT_PROFILE)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let values = if name == DEFAULT_PROFILE {
            self.sections
                .iter()
                .find(|(n, _)| n == DEFAULT_PROFILE)
                .map(|(_, v)| v.clone())
        } else {
            self.sections
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, own)| {
                    let mut merged = defaults;
                    merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
                    merged
                })
        };
        let values = values.ok_or_else(|| AuthError::ProfileNotFound {
            path: self.path.clone(),
            profile: name.to_owned(),
            available: self.profile_names().join(", "),
        })?;
        Ok(Profile {
            path: self.path.clone(),
            name: name.to_owned(),
            values,
        })
    }
}

/// One profile's values (with `[DEFAULT]` inherited).
#[derive(Clone)]
pub struct Profile {
    path: PathBuf,
    name: String,
    values: BTreeMap<String, String>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Profile {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The config file the profile came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A value, `None` when missing or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A value that must be present.
    pub fn require(&self, key: &'static str) -> Result<&str, AuthError> {
        self.get(key).ok_or_else(|| AuthError::MissingKey {
            path: self.path.clone(),
            profile: self.name.clone(),
            key,
        })
    }

    /// A path value with `~` expanded; a relative path is taken relative to the config file's
    /// folder, which is what a user who wrote `key_file=key.pem` beside the config means.
    pub fn path_value(&self, key: &str, env: Env<'_>) -> Result<Option<PathBuf>, AuthError> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        let expanded = expand_home(raw, env)?;
        Ok(Some(if expanded.is_relative() {
            self.path
                .parent()
                .map_or(expanded.clone(), |dir| dir.join(&expanded))
        } else {
            expanded
        }))
    }
}

/// Expands a leading `~` (alone or followed by a separator) to the home folder (`HOME`, else
/// `USERPROFILE`).
pub fn expand_home(path: &str, env: Env<'_>) -> Result<PathBuf, AuthError> {
    let rest = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\') => rest,
        _ => return Ok(PathBuf::from(path)),
    };
    let home = HOME_ENV
        .iter()
        .find_map(|name| env(name))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| AuthError::NoHome {
            path: path.to_owned(),
        })?;
    let rest = rest.trim_start_matches(['/', '\\']);
    Ok(if rest.is_empty() {
        PathBuf::from(home)
    } else {
        Path::new(&home).join(rest)
    })
}
