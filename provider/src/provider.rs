//! The provider as a whole: its resources and data sources (each registered once, with its
//! schema), its configuration once Configure has run, and the Stop signal shared by in-flight
//! calls.
//!
//! This module owns provider-wide state. It knows nothing about gRPC; `server::rpc` drives it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::cty::Type;
use crate::data_source::DataSource;
use crate::provider_config::{self, ProviderConfig};
use crate::resource::{Ctx, Resource};
use crate::schema::Schema;
use crate::{data_sources, resources};

/// The address users write in `required_providers`.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/galley-dev/galley";

/// A registered resource with its schema computed once: GetProviderSchema is called on every
/// provider start, and Terraform starts the provider about three times per plan.
pub struct Registered {
    pub resource: Arc<dyn Resource>,
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
    pub schema: Schema,
    pub config_type: Type,
    config: RwLock<Arc<ProviderConfig>>,
    stop: Mutex<CancellationToken>,
}

impl Provider {
    /// The provider with every resource and data source it serves.
    pub fn new() -> Self {
        Self::with(resources::all(), data_sources::all())
    }

    /// A provider serving exactly these (tests build one with their own).
    pub fn with(
        resource_list: Vec<Arc<dyn Resource>>,
        data_source_list: Vec<Arc<dyn DataSource>>,
    ) -> Self {
        let resources = resource_list
            .into_iter()
            .map(|resource| {
                let schema = resource.schema();
                let value_type = schema.block.value_type();
                (
                    resource.type_name(),
                    Registered {
                        resource,
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
            schema,
            config_type,
            config: RwLock::new(Arc::new(ProviderConfig::default())),
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

    pub fn set_config(&self, config: ProviderConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// The context for one resource call.
    pub fn ctx(&self) -> Ctx {
        Ctx {
            config: self
                .config
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            stop: self.stop.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
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
