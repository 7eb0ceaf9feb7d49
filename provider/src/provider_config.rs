//! The `provider "galley"` block: its schema and the typed configuration Configure produces.
//!
//! The attributes are the ones oracle/oci users already know, plus an `endpoints` block for
//! pointing services elsewhere (a local engine, a private endpoint). Nothing here talks to OCI:
//! authentication is resolved only when an OCI-backed resource needs it, so a configuration that
//! uses only `esb_resources` needs no OCI set-up at all.

use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::schema::{Attribute, Block, NestedBlock, Nesting, Presence, Schema};

/// The authentication methods `auth` accepts, spelt as in the oracle/oci provider.
pub const AUTH_METHODS: &[&str] = &[
    "ApiKey",
    "InstancePrincipal",
    "ResourcePrincipal",
    "SecurityToken",
];

pub fn schema() -> Schema {
    let s = |name, description: &str| {
        Attribute::new(name, Type::String, Presence::Optional, description)
    };
    Schema {
        version: 0,
        block: Block {
            description: "The Galley provider. Only `galley_session` and `galley_build` talk to \
                OCI; they authenticate the way the oracle/oci provider does. `esb_resources` \
                needs none of these settings."
                .into(),
            attributes: vec![
                s(
                    "auth",
                    &format!(
                        "How to authenticate to OCI: one of {}. Default `ApiKey` (from the \
                     arguments below or the OCI config file). Environment: `OCI_AUTH`.",
                        AUTH_METHODS
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                s(
                    "config_file_profile",
                    "Profile of the OCI config file (`~/.oci/config`, or \
                    `OCI_CONFIG_FILE`) to read. Default `DEFAULT`. Environment: \
                    `OCI_CONFIG_FILE_PROFILE`.",
                ),
                s(
                    "region",
                    "OCI region, for example `us-ashburn-1` or its short code `iad`. \
                    Environment: `OCI_REGION`.",
                ),
                s(
                    "tenancy_ocid",
                    "OCID of the tenancy (API key auth). Environment: \
                    `OCI_TENANCY_OCID`.",
                ),
                s(
                    "user_ocid",
                    "OCID of the user (API key auth). Environment: `OCI_USER_OCID`.",
                ),
                s(
                    "fingerprint",
                    "Fingerprint of the API signing key. Environment: \
                    `OCI_FINGERPRINT`.",
                ),
                s(
                    "private_key_path",
                    "Path to the PEM private key of the API signing key. \
                    Environment: `OCI_PRIVATE_KEY_PATH`.",
                ),
                s(
                    "private_key",
                    "The PEM private key itself, instead of `private_key_path`. \
                    Environment: `OCI_PRIVATE_KEY`.",
                )
                .sensitive(),
                s(
                    "private_key_password",
                    "Pass phrase of an encrypted private key. \
                    Environment: `OCI_PRIVATE_KEY_PASSWORD`.",
                )
                .sensitive(),
            ],
            blocks: vec![NestedBlock {
                type_name: "endpoints",
                nesting: Nesting::List,
                min_items: 0,
                max_items: 1,
                block: Block {
                    description: "Service endpoints that replace the ones derived from `region` \
                        (a local OCI engine, a private endpoint)."
                        .into(),
                    attributes: vec![
                        s(
                            "resource_manager",
                            "Resource Manager base URL, for example \
                            `http://127.0.0.1:8080/20180917`. Environment: \
                            `GALLEY_RESOURCE_MANAGER_ENDPOINT`.",
                        ),
                        s(
                            "instance_agent",
                            "Compute Instance Agent base URL, for example \
                            `http://127.0.0.1:8080/20180530`. Environment: \
                            `GALLEY_INSTANCE_AGENT_ENDPOINT`.",
                        ),
                        s(
                            "object_storage",
                            "Object Storage base URL, for example \
                            `http://127.0.0.1:8080`. Environment: \
                            `GALLEY_OBJECT_STORAGE_ENDPOINT`.",
                        ),
                    ],
                    ..Default::default()
                },
            }],
            deprecated: false,
        },
    }
}

/// Per-service endpoint overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub resource_manager: Option<String>,
    pub instance_agent: Option<String>,
    pub object_storage: Option<String>,
}

/// The provider block after Configure. Secrets are held but never printed: `Debug` redacts them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    pub auth: Option<String>,
    pub config_file_profile: Option<String>,
    pub region: Option<String>,
    pub tenancy_ocid: Option<String>,
    pub user_ocid: Option<String>,
    pub fingerprint: Option<String>,
    pub private_key_path: Option<String>,
    pub private_key: Option<String>,
    pub private_key_password: Option<String>,
    pub endpoints: Endpoints,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ProviderConfig")
            .field("auth", &self.auth)
            .field("config_file_profile", &self.config_file_profile)
            .field("region", &self.region)
            .field("tenancy_ocid", &self.tenancy_ocid)
            .field("user_ocid", &self.user_ocid)
            .field("fingerprint", &self.fingerprint)
            .field("private_key_path", &self.private_key_path)
            .field("private_key", &redact(&self.private_key))
            .field("private_key_password", &redact(&self.private_key_password))
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

fn string_attr(v: &Value, name: &str) -> Option<String> {
    v.get_attr(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

/// Checks that do not need values to be known (PrepareProviderConfig).
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(auth) = string_attr(config, "auth") {
        if !AUTH_METHODS.iter().any(|m| m.eq_ignore_ascii_case(&auth)) {
            diags.push(
                Diagnostic::error(
                    "Unsupported authentication method",
                    format!(
                        "auth = {auth:?} is not one of {}. Set auth to one of them, or leave it \
                         unset for API key authentication.",
                        AUTH_METHODS.join(", ")
                    ),
                )
                .at("auth"),
            );
        }
    }
    if string_attr(config, "private_key").is_some()
        && string_attr(config, "private_key_path").is_some()
    {
        diags.push(
            Diagnostic::error(
                "Conflicting private key settings",
                "Set either private_key or private_key_path, not both.",
            )
            .at("private_key"),
        );
    }
    for (field, value) in endpoint_values(config) {
        if let Some(url) = value {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                diags.push(
                    Diagnostic::error(
                        "Invalid endpoint URL",
                        format!(
                            "endpoints.{field} = {url:?} must be an absolute http:// or \
                             https:// URL."
                        ),
                    )
                    .at_path(vec![
                        PathStep::Attr("endpoints".into()),
                        PathStep::Index(0),
                        PathStep::Attr(field.into()),
                    ]),
                );
            }
        }
    }
    diags
}

fn endpoint_values(config: &Value) -> Vec<(&'static str, Option<String>)> {
    let block = config
        .get_attr("endpoints")
        .and_then(|l| l.as_elements())
        .and_then(|items| items.first());
    ["resource_manager", "instance_agent", "object_storage"]
        .into_iter()
        .map(|field| (field, block.and_then(|b| string_attr(b, field))))
        .collect()
}

/// Builds the typed configuration. Unset attributes fall back to the environment variables the
/// oracle/oci provider documents (`OCI_*`), so existing set-ups keep working.
pub fn configure(config: &Value, env: impl Fn(&str) -> Option<String>) -> ProviderConfig {
    let pick = |attr: &str, var: &str| {
        string_attr(config, attr).or_else(|| env(var).filter(|s| !s.is_empty()))
    };
    let endpoints = endpoint_values(config);
    let endpoint = |i: usize, var: &str| {
        endpoints[i]
            .1
            .clone()
            .or_else(|| env(var).filter(|s| !s.is_empty()))
    };
    ProviderConfig {
        auth: pick("auth", "OCI_AUTH"),
        config_file_profile: pick("config_file_profile", "OCI_CONFIG_FILE_PROFILE"),
        region: pick("region", "OCI_REGION"),
        tenancy_ocid: pick("tenancy_ocid", "OCI_TENANCY_OCID"),
        user_ocid: pick("user_ocid", "OCI_USER_OCID"),
        fingerprint: pick("fingerprint", "OCI_FINGERPRINT"),
        private_key_path: pick("private_key_path", "OCI_PRIVATE_KEY_PATH"),
        private_key: pick("private_key", "OCI_PRIVATE_KEY"),
        private_key_password: pick("private_key_password", "OCI_PRIVATE_KEY_PASSWORD"),
        endpoints: Endpoints {
            resource_manager: endpoint(0, "GALLEY_RESOURCE_MANAGER_ENDPOINT"),
            instance_agent: endpoint(1, "GALLEY_INSTANCE_AGENT_ENDPOINT"),
            object_storage: endpoint(2, "GALLEY_OBJECT_STORAGE_ENDPOINT"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)], endpoints: Option<Value>) -> Value {
        let schema = schema();
        let Type::Object { attrs, .. } = schema.block.value_type() else {
            unreachable!()
        };
        Value::Object(
            attrs
                .keys()
                .map(|k| {
                    let v = pairs
                        .iter()
                        .find(|(name, _)| name == k)
                        .map(|(_, v)| v.clone())
                        .or_else(|| (k == "endpoints").then(|| endpoints.clone()).flatten())
                        .unwrap_or(Value::Null);
                    (k.clone(), v)
                })
                .collect(),
        )
    }

    #[test]
    fn empty_configuration_is_valid_and_needs_no_credentials() {
        let c = config(&[], None);
        assert!(validate(&c).0.is_empty());
        let cfg = configure(&c, |_| None);
        assert_eq!(cfg, ProviderConfig::default());
    }

    #[test]
    fn unknown_auth_method_names_the_attribute() {
        let c = config(&[("auth", Value::string("Password"))], None);
        let diags = validate(&c);
        assert_eq!(diags.0.len(), 1);
        assert_eq!(diags.0[0].path, vec![PathStep::Attr("auth".into())]);
        assert!(diags.0[0].detail.contains("InstancePrincipal"));
    }

    #[test]
    fn environment_fills_unset_attributes_but_config_wins() {
        let c = config(&[("region", Value::string("us-phoenix-1"))], None);
        let cfg = configure(&c, |k| match k {
            "OCI_REGION" => Some("eu-frankfurt-1".into()),
            "OCI_TENANCY_OCID" => Some("ocid1.tenancy.oc1..t".into()),
            "GALLEY_RESOURCE_MANAGER_ENDPOINT" => Some("http://127.0.0.1:9/20180917".into()),
            _ => None,
        });
        assert_eq!(cfg.region.as_deref(), Some("us-phoenix-1"));
        assert_eq!(cfg.tenancy_ocid.as_deref(), Some("ocid1.tenancy.oc1..t"));
        assert_eq!(
            cfg.endpoints.resource_manager.as_deref(),
            Some("http://127.0.0.1:9/20180917")
        );
    }

    #[test]
    fn debug_output_redacts_keys() {
        let cfg = ProviderConfig {
            private_key: Some("-----BEGIN PRIVATE KEY-----secret".into()),
            private_key_password: Some("hunter2".into()),
            ..Default::default()
        };
        let text = format!("{cfg:?}");
        assert!(
            !text.contains("secret") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("<redacted>"));
    }
}
