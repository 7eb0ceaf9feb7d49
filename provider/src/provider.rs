//! The provider as a whole: its resources, data sources and list resources (each registered
//! once, with its schemas), its configuration and the client's capabilities once Configure has
//! run, and the Stop signal shared by in-flight calls.
//!
//! This module owns provider-wide state. It knows nothing about gRPC; `server::rpc` drives it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::cty::Type;
use crate::data_source::DataSource;
use crate::identity::IdentitySchema;
use crate::list_resource::ListResource;
use crate::provider_config::{self, ProviderConfig};
use crate::resource::{ClientCapabilities, Ctx, Resource};
use crate::schema::Schema;
use crate::{data_sources, list_resources, resources};

/// The address users write in `required_providers`.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/galley-dev/galley";

/// A registered resource with its schema computed once: GetProviderSchema is called on every
/// provider start, and Terraform starts the provider about three times per plan.
pub struct Registered {
    pub resource: Arc<dyn Resource>,
    pub schema: Schema,
    pub value_type: Type,
    /// The identity schema, for a resource that declares one.
    pub identity: Option<RegisteredIdentity>,
}

pub struct RegisteredIdentity {
    pub schema: IdentitySchema,
    pub value_type: Type,
}

/// A registered list resource with its `config` schema computed once.
pub struct RegisteredListResource {
    pub list_resource: Arc<dyn ListResource>,
    pub schema: Schema,
    pub value_type: Type,
}

/// A registered data source with its schema computed once, for the same reason.
pub struct RegisteredDataSource {
    pub data_source: Arc<dyn DataSource>,
    pub schema: Schema,
    pub value_type: Type,
}

pub struct Provider {
    resources: BTreeMap<&'static str, Registered>,
    data_sources: BTreeMap<&'static str, RegisteredDataSource>,
    list_resources: BTreeMap<&'static str, RegisteredListResource>,
    pub schema: Schema,
    pub config_type: Type,
    config: RwLock<Arc<ProviderConfig>>,
    client: RwLock<ClientCapabilities>,
    stop: Mutex<CancellationToken>,
}

impl Provider {
    /// The provider with every resource, data source and list resource it serves.
    pub fn new() -> Self {
        Self::with(resources::all(), data_sources::all(), list_resources::all())
    }

    /// A provider serving exactly these (tests build one with their own).
    pub fn with(
        resource_list: Vec<Arc<dyn Resource>>,
        data_source_list: Vec<Arc<dyn DataSource>>,
        list_resource_list: Vec<Arc<dyn ListResource>>,
    ) -> Self {
        let resources = resource_list
            .into_iter()
            .map(|resource| {
                let schema = resource.schema();
                let value_type = schema.block.value_type();
                let identity = resource.identity_schema().map(|schema| RegisteredIdentity {
                    value_type: schema.value_type(),
                    schema,
                });
                (
                    resource.type_name(),
                    Registered {
                        resource,
                        schema,
                        value_type,
                        identity,
                    },
                )
            })
            .collect();
        let list_resources = list_resource_list
            .into_iter()
            .map(|list_resource| {
                let schema = list_resource.schema();
                let value_type = schema.block.value_type();
                (
                    list_resource.type_name(),
                    RegisteredListResource {
                        list_resource,
                        schema,
                        value_type,
                    },
                )
            })
            .collect();
        let data_sources = data_source_list
            .into_iter()
            .map(|data_source| {
                let schema = data_source.schema();
                let value_type = schema.block.value_type();
                (
                    data_source.type_name(),
                    RegisteredDataSource {
                        data_source,
                        schema,
                        value_type,
                    },
                )
            })
            .collect();
        let schema = provider_config::schema();
        let config_type = schema.block.value_type();
        Self {
            resources,
            data_sources,
            list_resources,
            schema,
            config_type,
            config: RwLock::new(Arc::new(ProviderConfig::default())),
            client: RwLock::new(ClientCapabilities::default()),
            stop: Mutex::new(CancellationToken::new()),
        }
    }

    pub fn resource(&self, type_name: &str) -> Option<&Registered> {
        self.resources.get(type_name)
    }

    pub fn resources(&self) -> impl Iterator<Item = (&&'static str, &Registered)> {
        self.resources.iter()
    }

    pub fn data_source(&self, type_name: &str) -> Option<&RegisteredDataSource> {
        self.data_sources.get(type_name)
    }

    pub fn data_sources(&self) -> impl Iterator<Item = (&&'static str, &RegisteredDataSource)> {
        self.data_sources.iter()
    }

    pub fn list_resource(&self, type_name: &str) -> Option<&RegisteredListResource> {
        self.list_resources.get(type_name)
    }

    pub fn list_resources(&self) -> impl Iterator<Item = (&&'static str, &RegisteredListResource)> {
        self.list_resources.iter()
    }

    /// Configure's result: the provider block, and what the client said it supports (the
    /// capabilities of calls whose request carries none, such as ApplyResourceChange).
    pub fn set_config(&self, config: ProviderConfig, client: ClientCapabilities) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = client;
    }

    /// The context for one resource call; `client` is the request's own capabilities when it
    /// carries them.
    pub fn ctx(&self, client: Option<ClientCapabilities>) -> Ctx {
        Ctx {
            config: self
                .config
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            stop: self.stop.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            client: client
                .unwrap_or_else(|| *self.client.read().unwrap_or_else(|e| e.into_inner())),
        }
    }

    /// What is wrong with the registries as Terraform would see them, one sentence per problem:
    /// schema rules (write-only attributes outside managed resources, identity types) and list
    /// resources without a managed resource that has an identity.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |kind: &str, name: &str, problems: Vec<String>| {
            out.extend(problems.into_iter().map(|p| format!("{kind} {name}: {p}")));
        };
        add("provider", "block", self.schema.block.problems(false));
        for (name, r) in &self.resources {
            add("resource", name, r.schema.block.problems(true));
            if let Some(identity) = &r.identity {
                add("resource", name, identity.schema.problems());
            }
        }
        for (name, d) in &self.data_sources {
            add("data source", name, d.schema.block.problems(false));
        }
        for (name, l) in &self.list_resources {
            add("list resource", name, l.schema.block.problems(false));
            match self.resources.get(name) {
                Some(r) if r.identity.is_some() => {}
                Some(_) => add(
                    "list resource",
                    name,
                    vec!["its managed resource declares no identity schema".into()],
                ),
                None => add(
                    "list resource",
                    name,
                    vec!["there is no managed resource of this type".into()],
                ),
            }
        }
        out
    }

    /// Terraform's Stop: cancels every call in flight. Calls that start afterwards get a fresh
    /// token, because Terraform may still ask for state to be written.
    pub fn stop(&self) {
        let mut token = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        token.cancel();
        *token = CancellationToken::new();
    }
}

impl Default for Provider {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_schema_follows_terraforms_rules() {
        let problems = Provider::new().problems();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn problems_name_the_type_and_the_attribute() {
        use crate::list_resources::testing::{self, Widgets};

        // A list resource whose managed resource is missing.
        let lonely = Provider::with(Vec::new(), Vec::new(), vec![Arc::new(Widgets::default())]);
        assert_eq!(
            lonely.problems(),
            [format!(
                "list resource {}: there is no managed resource of this type",
                testing::TYPE_NAME
            )]
        );
        let whole = Provider::with(
            vec![Arc::new(testing::Widget::default())],
            Vec::new(),
            vec![Arc::new(Widgets::default())],
        );
        assert_eq!(whole.problems(), Vec::<String>::new());
    }
}
