//! The bucket a Resource Manager stack names as its `customTerraformProvider`: how its objects
//! are named ([`ProviderObject`], [`Platform`]) and uploading a directory in that layout to it
//! ([`upload`]).
//!
//! Resource Manager's documentation fixes the layout: a folder per platform at the bucket root
//! (`linux_amd64/`, `linux_arm64/`) holding raw executables named
//! `terraform-provider-<TYPE>_v<MAJOR.MINOR.PATCH>`, optionally followed by `_<SUFFIX>` (such as
//! `_x5`), and nothing else ("keep only Terraform files in that bucket"). The uploader, the
//! local engine that installs from such a bucket, and the provider's error messages all read
//! the names through this module.
//!
//! It does not own how a job's Terraform addresses an installed binary: that is the installing
//! engine's reading (see [`DEFAULT_SOURCE_NAMESPACE`]).

pub mod upload;

use std::fmt;

/// The `required_providers` namespace under which a bucket binary is served to the job's
/// Terraform: `registry.terraform.io/hashicorp/<TYPE>`. Resource Manager does not document
/// it; a file name carries no namespace, Terraform's default for a bare type is `hashicorp`,
/// and Resource Manager serves its own OCI provider from a local directory under exactly that
/// address (its job logs print `Installed hashicorp/oci ... (unauthenticated)`). The evidence
/// is in `examples/rm-custom-provider/README.md`.
pub const DEFAULT_SOURCE_NAMESPACE: &str = "hashicorp";

/// The registry host of [`DEFAULT_SOURCE_NAMESPACE`] addresses.
pub const DEFAULT_SOURCE_HOST: &str = "registry.terraform.io";

/// Prefix of every provider executable.
pub const BINARY_PREFIX: &str = "terraform-provider-";

/// A platform folder of the bucket: Resource Manager runs `linux_amd64` jobs (and
/// `linux_arm64` on Arm runners).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    LinuxAmd64,
    LinuxArm64,
}

impl Platform {
    /// Every platform a bucket may hold.
    pub const ALL: [Platform; 2] = [Platform::LinuxAmd64, Platform::LinuxArm64];

    /// The folder name, Terraform's `OS_ARCH`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "linux_amd64",
            Platform::LinuxArm64 => "linux_arm64",
        }
    }

    /// The platform of a folder name.
    pub fn parse(folder: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == folder)
    }

    /// The platform this program was built for, when it is one a bucket may hold.
    pub const fn current() -> Option<Platform> {
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            Some(Platform::LinuxAmd64)
        } else if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
            Some(Platform::LinuxArm64)
        } else {
            None
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One provider executable of the bucket: `<platform>/terraform-provider-<TYPE>_v<VERSION>[_<SUFFIX>]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderObject {
    pub platform: Platform,
    /// The provider's type name (`galley`), the last part of its source address.
    pub type_name: String,
    /// `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// What follows the version after `_`, such as `x5`.
    pub suffix: Option<String>,
}

impl ProviderObject {
    /// A binary without suffix.
    pub fn new(platform: Platform, type_name: &str, version: &str) -> Self {
        Self {
            platform,
            type_name: type_name.to_owned(),
            version: version.to_owned(),
            suffix: None,
        }
    }

    /// Reads an object name of the layout; `None` for anything else.
    pub fn parse(object_name: &str) -> Option<Self> {
        let (folder, file) = object_name.split_once('/')?;
        let platform = Platform::parse(folder)?;
        let (type_name, version, suffix) = parse_file_name(file)?;
        Some(Self {
            platform,
            type_name,
            version,
            suffix,
        })
    }

    /// The executable's file name, `terraform-provider-<TYPE>_v<VERSION>[_<SUFFIX>]`.
    pub fn file_name(&self) -> String {
        let mut name = format!("{BINARY_PREFIX}{}_v{}", self.type_name, self.version);
        if let Some(suffix) = &self.suffix {
            name.push('_');
            name.push_str(suffix);
        }
        name
    }

    /// The object name, `<platform>/<file name>`.
    pub fn object_name(&self) -> String {
        format!("{}/{}", self.platform, self.file_name())
    }

    /// The same binary for another platform.
    pub fn for_platform(&self, platform: Platform) -> Self {
        Self {
            platform,
            ..self.clone()
        }
    }

    /// The source address the installing engine serves it under
    /// (`registry.terraform.io/hashicorp/<TYPE>`).
    pub fn source_address(&self) -> String {
        format!(
            "{DEFAULT_SOURCE_HOST}/{DEFAULT_SOURCE_NAMESPACE}/{}",
            self.type_name
        )
    }
}

impl fmt::Display for ProviderObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.object_name())
    }
}

/// The pattern of an object name, for messages: `linux_amd64/terraform-provider-<TYPE>_v<X.Y.Z>`.
pub fn object_name_pattern(platform: Platform) -> String {
    format!("{platform}/{BINARY_PREFIX}<TYPE>_v<MAJOR.MINOR.PATCH>[_<SUFFIX>]")
}

/// `(type, version, suffix)` of `terraform-provider-<TYPE>_v<X.Y.Z>[_<SUFFIX>]`.
fn parse_file_name(file: &str) -> Option<(String, String, Option<String>)> {
    let rest = file.strip_prefix(BINARY_PREFIX)?;
    // The type ends at the last `_v` followed by a version: types may hold `_` or `-`.
    let mut search = rest.len();
    while let Some(at) = rest[..search].rfind("_v") {
        let type_name = &rest[..at];
        let after = &rest[at + 2..];
        let (version, suffix) = match after.split_once('_') {
            Some((v, s)) => (v, Some(s)),
            None => (after, None),
        };
        if valid_type(type_name)
            && valid_version(version)
            && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(is_name_byte))
        {
            return Some((
                type_name.to_owned(),
                version.to_owned(),
                suffix.map(str::to_owned),
            ));
        }
        search = at;
    }
    None
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Terraform provider type names: letters, digits, dashes (and underscores, which older
/// names used), starting with a letter.
fn valid_type(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

/// `MAJOR.MINOR.PATCH`, digits only (Resource Manager's documented form).
fn valid_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_documented_layout_parse_and_print_back() {
        for (name, type_name, version, suffix) in [
            (
                "linux_amd64/terraform-provider-galley_v0.1.0",
                "galley",
                "0.1.0",
                None,
            ),
            (
                "linux_arm64/terraform-provider-null_v2.1.2_x4",
                "null",
                "2.1.2",
                Some("x4"),
            ),
            (
                "linux_amd64/terraform-provider-my_type_v10.20.30",
                "my_type",
                "10.20.30",
                None,
            ),
        ] {
            let o = ProviderObject::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(o.type_name, type_name);
            assert_eq!(o.version, version);
            assert_eq!(o.suffix.as_deref(), suffix);
            assert_eq!(o.object_name(), name);
        }
        let o = ProviderObject::parse("linux_amd64/terraform-provider-galley_v0.1.0").unwrap();
        assert_eq!(o.source_address(), "registry.terraform.io/hashicorp/galley");
        assert_eq!(
            o.for_platform(Platform::LinuxArm64).object_name(),
            "linux_arm64/terraform-provider-galley_v0.1.0"
        );
    }

    #[test]
    fn other_names_are_not_provider_binaries() {
        for name in [
            "terraform-provider-galley_v0.1.0",
            "darwin_arm64/terraform-provider-galley_v0.1.0",
            "linux_amd64/terraform-provider-galley_0.1.0",
            "linux_amd64/terraform-provider-galley_v0.1",
            "linux_amd64/terraform-provider-galley_v0.1.0.zip",
            "linux_amd64/terraform-provider-galley_v0.1.0_",
            "linux_amd64/terraform-provider-_v0.1.0",
            "linux_amd64/terraform-provider-galley_v0.1.0-beta",
            "linux_amd64/README.md",
            "linux_amd64/sub/terraform-provider-galley_v0.1.0",
        ] {
            assert_eq!(ProviderObject::parse(name), None, "{name}");
        }
    }
}
