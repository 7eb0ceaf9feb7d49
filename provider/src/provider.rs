//! The provider as a whole: its resources (registered once, here), its configuration once
//! Configure has run, and the Stop signal shared by in-flight calls.
//!
//! This module owns provider-wide state. It knows nothing about gRPC; `server::rpc` drives it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use crate::cty::Type;
use crate::provider_config::{self, ProviderConfig};
use crate::resource::{Ctx, Resource};
use crate::resources;
use crate::schema::Schema;

/// The address users write in `required_providers`.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/galley-dev/galley";

/// A registered resource with its schema computed once: GetProviderSchema is called on every
/// provider start, and Terraform starts the provider about three times per plan.
pub struct Registered {
    pub resource: Arc<dyn Resource>,
    pub schema: Schema,
    pub value_type: Type,
}

pub struct Provider {
    resources: BTreeMap<&'static str, Registered>,
    pub schema: Schema,
    pub config_type: Type,
    config: RwLock<Arc<ProviderConfig>>,
    stop: Mutex<CancellationToken>,
}

impl Provider {
    /// The provider with every resource it serves.
    pub fn new() -> Self {
        Self::with_resources(resources::all())
    }

    pub fn with_resources(list: Vec<Arc<dyn Resource>>) -> Self {
        let resources = list
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
        let schema = provider_config::schema();
        let config_type = schema.block.value_type();
        Self {
            resources,
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
