//! Where OCI services live: region short codes to names, region to realm to domain, each
//! service's base URL, and per-service overrides (the provider's `endpoints` block, or a local
//! engine on loopback).
//!
//! Owns URL roots only; paths below a service's API version belong to the service modules.

mod regions;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use regions::{REALM_DOMAINS, REGION_REALMS, REGION_SHORT_CODES};

/// The realm assumed for a region missing from the table, as the SDKs do.
pub const DEFAULT_REALM: &str = "oc1";

/// Domain of the commercial realm.
pub const DEFAULT_DOMAIN: &str = "oraclecloud.com";

/// Why an endpoint could not be worked out.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("failed to resolve the {service} endpoint: no region is set")]
    NoRegion { service: Service },
    #[error(
        "failed to resolve the {service} endpoint: region {region:?} is not a region name (such as us-ashburn-1) nor a short code (such as iad)"
    )]
    InvalidRegion { service: Service, region: String },
    #[error("failed to use the {service} endpoint override {url:?}: {reason}")]
    InvalidOverride {
        service: Service,
        url: String,
        reason: &'static str,
    },
    #[error(
        "failed to parse the service name {0:?}: expected resourcemanager, iaas, objectstorage or auth"
    )]
    UnknownService(String),
}

/// A region: its canonical name, realm and second-level domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    name: String,
    realm: String,
    domain: String,
}

impl Region {
    /// Resolves a region name or short code (case-insensitive): `iad` and `US-Ashburn-1` both
    /// give `us-ashburn-1` in `oc1`. Names missing from the table are taken as they are, in the
    /// commercial realm.
    pub fn resolve(input: &str) -> Option<Self> {
        let name = canonical_region_name(input)?;
        let realm = REGION_REALMS
            .iter()
            .find(|(region, _)| *region == name)
            .map_or(DEFAULT_REALM, |(_, realm)| realm);
        let domain = realm_domain(realm).unwrap_or(DEFAULT_DOMAIN);
        Some(Self {
            realm: realm.to_owned(),
            domain: domain.to_owned(),
            name,
        })
    }

    /// A region whose realm domain is known from elsewhere (the metadata service's
    /// `regionInfo`), for regions the table does not list yet.
    pub fn with_domain(name: &str, realm: &str, domain: &str) -> Option<Self> {
        let name = canonical_region_name(name)?;
        Some(Self {
            name,
            realm: realm.to_ascii_lowercase(),
            domain: domain.trim_matches('.').to_ascii_lowercase(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Second-level domain, such as `oraclecloud.com`.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `iad` -> `us-ashburn-1`; a full name is lowercased and kept. `None` for text that cannot be
/// a region (empty, or characters other than letters, digits and dashes).
pub fn canonical_region_name(input: &str) -> Option<String> {
    let lower = input.trim().to_ascii_lowercase();
    if lower.is_empty() || !lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    Some(
        REGION_SHORT_CODES
            .iter()
            .find(|(code, _)| *code == lower)
            .map_or(lower, |(_, name)| (*name).to_owned()),
    )
}

/// The second-level domain of a realm key such as `oc1` or `oc19`.
pub fn realm_domain(realm: &str) -> Option<&'static str> {
    let realm = realm.trim().to_ascii_lowercase();
    REALM_DOMAINS
        .iter()
        .find(|(key, _)| *key == realm)
        .map(|(_, domain)| *domain)
}

/// The services this crate calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// Resource Manager, API version 20180917.
    ResourceManager,
    /// Core services (`iaas`), which serve the Compute Instance Agent run-command API, 20180530.
    InstanceAgent,
    /// Object Storage, whose paths carry no version prefix.
    ObjectStorage,
    /// The identity federation endpoint instance principals exchange certificates at.
    Auth,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::ResourceManager,
        Service::InstanceAgent,
        Service::ObjectStorage,
        Service::Auth,
    ];

    /// The name used in endpoint overrides and messages.
    pub fn name(self) -> &'static str {
        match self {
            Service::ResourceManager => "resourcemanager",
            Service::InstanceAgent => "iaas",
            Service::ObjectStorage => "objectstorage",
            Service::Auth => "auth",
        }
    }

    /// The API version path appended to the host root (empty for Object Storage and auth).
    pub fn version_path(self) -> &'static str {
        match self {
            Service::ResourceManager => "/20180917",
            Service::InstanceAgent => "/20180530",
            Service::ObjectStorage | Service::Auth => "",
        }
    }

    /// The default host root for `region`, as the current SDKs build it.
    pub fn default_root(self, region: &Region) -> String {
        let (name, domain) = (region.name(), region.domain());
        match self {
            Service::ResourceManager => format!("https://resourcemanager.{name}.{domain}"),
            Service::InstanceAgent => format!("https://iaas.{name}.oci.{domain}"),
            Service::ObjectStorage => format!("https://objectstorage.{name}.{domain}"),
            Service::Auth => format!("https://auth.{name}.{domain}"),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = EndpointError;

    /// Accepts the override names with or without underscores, plus a few aliases
    /// (`resource_manager`, `instance_agent`, `core`, `object_storage`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect();
        match key.as_str() {
            "resourcemanager" | "rm" => Ok(Service::ResourceManager),
            "iaas" | "core" | "compute" | "instanceagent" | "computeinstanceagent" => {
                Ok(Service::InstanceAgent)
            }
            "objectstorage" | "os" => Ok(Service::ObjectStorage),
            "auth" | "identityfederation" => Ok(Service::Auth),
            _ => Err(EndpointError::UnknownService(s.to_owned())),
        }
    }
}

/// Per-service host roots that replace the region-derived ones.
///
/// An override is a host root such as `http://127.0.0.1:8080` (optionally with a path prefix),
/// and the service's API version path is still appended, as the SDKs do with their
/// `service_endpoint` argument: a local engine serves the same paths as OCI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    overrides: BTreeMap<Service, String>,
}

impl Endpoints {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the override for `service`, checking that it is an absolute http(s) URL without
    /// query or fragment. A trailing slash is dropped.
    pub fn set(&mut self, service: Service, root: &str) -> Result<(), EndpointError> {
        let root = root.trim();
        let invalid = |reason| EndpointError::InvalidOverride {
            service,
            url: root.to_owned(),
            reason,
        };
        let uri: http::Uri = root.parse().map_err(|_| invalid("it is not a valid URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(invalid("it must start with http:// or https://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        if uri.query().is_some() || root.contains('#') {
            return Err(invalid("it must not have a query or fragment"));
        }
        self.overrides
            .insert(service, root.trim_end_matches('/').to_owned());
        Ok(())
    }

    /// Overrides from `(service name, root)` pairs, as the provider's `endpoints` block holds
    /// them; an empty root is skipped.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, EndpointError> {
        let mut endpoints = Self::new();
        for (name, root) in pairs {
            if root.trim().is_empty() {
                continue;
            }
            endpoints.set(name.parse()?, root)?;
        }
        Ok(endpoints)
    }

    /// Builder form of [`Endpoints::set`].
    pub fn with(mut self, service: Service, root: &str) -> Result<Self, EndpointError> {
        self.set(service, root)?;
        Ok(self)
    }

    /// The override for `service`, if any.
    pub fn override_for(&self, service: Service) -> Option<&str> {
        self.overrides.get(&service).map(String::as_str)
    }

    /// The host root for `service`: the override, else derived from `region`.
    pub fn root(&self, service: Service, region: Option<&Region>) -> Result<String, EndpointError> {
        if let Some(root) = self.overrides.get(&service) {
            return Ok(root.clone());
        }
        let region = region.ok_or(EndpointError::NoRegion { service })?;
        Ok(service.default_root(region))
    }

    /// The base URL requests to `service` start with: host root plus API version path.
    pub fn base_url(
        &self,
        service: Service,
        region: Option<&Region>,
    ) -> Result<String, EndpointError> {
        Ok(format!(
            "{}{}",
            self.root(service, region)?,
            service.version_path()
        ))
    }

    /// [`Endpoints::base_url`] from a region name or short code.
    pub fn base_url_for(&self, service: Service, region: &str) -> Result<String, EndpointError> {
        if self.overrides.contains_key(&service) {
            return self.base_url(service, None);
        }
        let resolved = Region::resolve(region).ok_or_else(|| EndpointError::InvalidRegion {
            service,
            region: region.to_owned(),
        })?;
        self.base_url(service, Some(&resolved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for (code, name) in REGION_SHORT_CODES {
            assert!(
                REGION_REALMS.iter().any(|(r, _)| r == name),
                "{code} -> {name} has no realm"
            );
        }
        for (region, realm) in REGION_REALMS {
            assert!(
                realm_domain(realm).is_some(),
                "{region} is in {realm}, which has no domain"
            );
        }
    }
}
