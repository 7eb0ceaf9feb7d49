//! The `provider "galley"` block: its schema and the typed configuration Configure produces.
//!
//! The attributes are the ones oracle/oci users already know, plus an `endpoints` block for
//! pointing services elsewhere (a local engine, a private endpoint). Nothing here talks to OCI:
//! authentication is resolved only when an OCI-backed resource needs it, so a configuration that
//! uses only `esb_resources` needs no OCI set-up at all.

use galley_oci::auth::Secret;
use galley_oci::endpoints::Service;
use galley_oci::setup::{ENDPOINT_SETTINGS, EndpointOverrides, SetupInputs, env};

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
                         arguments below or the OCI config file). Environment: `{}`.",
                        AUTH_METHODS
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        env::AUTH,
                    ),
                ),
                s(
                    "config_file_profile",
                    &format!(
                        "Profile of the OCI config file (`~/.oci/config`, or `{}`) to read. \
                         Default `DEFAULT`. Environment: `{}`.",
                        env::CONFIG_FILE,
                        env::CONFIG_FILE_PROFILE,
                    ),
                ),
                s(
                    "region",
                    &format!(
                        "OCI region, for example `us-ashburn-1` or its short code `iad`. \
                         Environment: `{}`.",
                        env::REGION
                    ),
                ),
                s(
                    "tenancy_ocid",
                    &format!(
                        "OCID of the tenancy (API key auth). Environment: `{}`.",
                        env::TENANCY_OCID
                    ),
                ),
                s(
                    "user_ocid",
                    &format!(
                        "OCID of the user (API key auth). Environment: `{}`.",
                        env::USER_OCID
                    ),
                ),
                s(
                    "fingerprint",
                    &format!(
                        "Fingerprint of the API signing key. Environment: `{}`.",
                        env::FINGERPRINT
                    ),
                ),
                s(
                    "private_key_path",
                    &format!(
                        "Path to the PEM private key of the API signing key. Environment: `{}`.",
                        env::PRIVATE_KEY_PATH
                    ),
                ),
                s(
                    "private_key",
                    &format!(
                        "The PEM private key itself, instead of `private_key_path`. \
                         Environment: `{}`.",
                        env::PRIVATE_KEY
                    ),
                )
                .sensitive(),
                s(
                    "private_key_password",
                    &format!(
                        "Pass phrase of an encrypted private key. Environment: `{}`.",
                        env::PRIVATE_KEY_PASSWORD
                    ),
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
                    attributes: ENDPOINT_SETTINGS
                        .iter()
                        .map(|setting| {
                            s(
                                setting.attribute,
                                &format!(
                                    "{} base URL, for example `http://127.0.0.1:8080{}`. \
                                     Environment: `{}`.",
                                    endpoint_title(setting.service),
                                    setting.service.version_path(),
                                    setting.env,
                                ),
                            )
                        })
                        .collect(),
                    ..Default::default()
                },
            }],
            deprecated: false,
        },
    }
}

/// How the documentation names each service whose endpoint can be overridden.
fn endpoint_title(service: Service) -> &'static str {
    match service {
        Service::ResourceManager => "Resource Manager",
        Service::InstanceAgent => "Compute Instance Agent",
        Service::ObjectStorage => "Object Storage",
        Service::Auth => "Identity federation",
    }
}

/// The provider block after Configure. Secrets are held but never printed: `Debug` redacts them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The OCI settings, each from its attribute, else its environment variable.
    pub oci: SetupInputs,
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
    ENDPOINT_SETTINGS
        .iter()
        .map(|setting| {
            (
                setting.attribute,
                block.and_then(|b| string_attr(b, setting.attribute)),
            )
        })
        .collect()
}

/// Builds the typed configuration. Unset attributes fall back to the environment variables the
/// oracle/oci provider documents (`OCI_*`, see `galley_oci::setup::env`), so existing set-ups
/// keep working.
pub fn configure(config: &Value, env: impl Fn(&str) -> Option<String>) -> ProviderConfig {
    let from_env = SetupInputs::from_env(env);
    let attr = |name: &str| string_attr(config, name);
    let endpoints = endpoint_values(config);
    let endpoint = |i: usize, fallback: Option<String>| endpoints[i].1.clone().or(fallback);
    ProviderConfig {
        oci: SetupInputs {
            auth: attr("auth").or(from_env.auth),
            config_file_profile: attr("config_file_profile").or(from_env.config_file_profile),
            region: attr("region").or(from_env.region),
            tenancy_ocid: attr("tenancy_ocid").or(from_env.tenancy_ocid),
            user_ocid: attr("user_ocid").or(from_env.user_ocid),
            fingerprint: attr("fingerprint").or(from_env.fingerprint),
            private_key_path: attr("private_key_path").or(from_env.private_key_path),
            private_key: attr("private_key")
                .map(Secret::from)
                .or(from_env.private_key),
            private_key_password: attr("private_key_password")
                .map(Secret::from)
                .or(from_env.private_key_password),
            endpoints: EndpointOverrides {
                resource_manager: endpoint(0, from_env.endpoints.resource_manager),
                instance_agent: endpoint(1, from_env.endpoints.instance_agent),
                object_storage: endpoint(2, from_env.endpoints.object_storage),
            },
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
            env::REGION => Some("eu-frankfurt-1".into()),
            env::TENANCY_OCID => Some("ocid1.tenancy.oc1..t".into()),
            env::RESOURCE_MANAGER_ENDPOINT => Some("http://127.0.0.1:9/20180917".into()),
            _ => None,
        })
        .oci;
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
            oci: SetupInputs {
                private_key: Some("-----BEGIN PRIVATE KEY-----secret".into()),
                private_key_password: Some("hunter2".into()),
                ..Default::default()
            },
        };
        let text = format!("{cfg:?}");
        assert!(
            !text.contains("secret") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(text.contains("redacted"), "{text}");
    }
}
