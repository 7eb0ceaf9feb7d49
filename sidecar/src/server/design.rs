//! Design tools: edit a session's architecture, list the service types, validate against the
//! rules. None of them touches the generated Terraform.

use std::collections::{BTreeMap, HashSet};

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sessions::{SessionIdArgs, SessionSummary};
use super::{Sidecar, fail};
use crate::catalog::{self, ServiceType};
use crate::echo;
use crate::hearing::HearingResult;
use crate::limits::DesignLimits;
use crate::model::{Architecture, Component, Connection, Session, SessionStatus, SessionView};
use crate::rules::ValidationReport;
use crate::store::{Durability, Edit, UpdateError};

/// Longest display name stored: names become Terraform names, OCI display names and parts of
/// every message about the component.
const MAX_DISPLAY_NAME_CHARS: usize = 255;
/// Largest config of one component, as JSON: the service types read a handful of short keys.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SaveArchitectureArgs {
    pub session_id: String,
    /// Every component; replaces the session's components. May be left out with
    /// `use_suggested_architecture`.
    #[serde(default)]
    pub components: Vec<Component>,
    /// Every connection; replaces the session's connections. Placement (instance in subnet,
    /// subnet in VCN, gateway in VCN) is a connection too.
    #[serde(default)]
    pub connections: Vec<Connection>,
    /// True to save the completed hearing's suggested architecture (components and
    /// connections must then be left out).
    #[serde(default)]
    pub use_suggested_architecture: bool,
    /// True to fill the config keys a component leaves unset from the completed hearing's
    /// config defaults for its service type.
    #[serde(default)]
    pub apply_hearing_defaults: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddComponentArgs {
    pub session_id: String,
    /// One of the types list_available_services returns.
    pub service_type: String,
    pub display_name: String,
    /// Settings; keys per type in list_available_services. Missing keys take their defaults.
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// Id to give the component; derived from the display name when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Ids of existing components to connect the new one to (for example its subnet).
    #[serde(default)]
    pub connect_to: Vec<String>,
    /// True to fill the config keys not given from the completed hearing's config defaults for
    /// this service type (get_hearing_result shows them).
    #[serde(default)]
    pub apply_hearing_defaults: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RemoveComponentArgs {
    pub session_id: String,
    pub component_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConfigureComponentArgs {
    pub session_id: String,
    pub component_id: String,
    /// Keys to set; a `null` value removes the key (back to its default).
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// New display name, if it should change.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// One component changed: the component, and the session in short (a 50-component session in
/// full on every edit would cost the client and the model far more than the edit).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ComponentResult {
    pub component: Component,
    pub session: SessionSummary,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceType>,
}

fn valid_component_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Checks what must hold for an architecture to be stored at all; rule violations are allowed
/// (validate_architecture reports them), broken structure is not. The size limits keep one
/// session's validation and export cheap whatever a client sends.
pub(crate) fn check_structure(arch: &Architecture, limits: &DesignLimits) -> Result<(), String> {
    if arch.components.len() > limits.max_components {
        return Err(format!(
            "the design has {} components; at most {} are allowed per session (GALLEY_MAX_DESIGN_COMPONENTS)",
            arch.components.len(),
            limits.max_components
        ));
    }
    if arch.connections.len() > limits.max_connections {
        return Err(format!(
            "the design has {} connections; at most {} are allowed per session (GALLEY_MAX_DESIGN_CONNECTIONS)",
            arch.connections.len(),
            limits.max_connections
        ));
    }
    let mut ids = HashSet::new();
    for c in &arch.components {
        if !valid_component_id(&c.id) {
            return Err(format!(
                "component id {} is not valid: use 1-64 letters, digits, `_`, `-` or `.`, starting with a letter or digit",
                echo::quoted(&c.id)
            ));
        }
        if !ids.insert(c.id.as_str()) {
            return Err(format!(
                "component id {:?} is used twice; ids must be unique",
                c.id
            ));
        }
        if catalog::find(&c.service_type).is_none() {
            return Err(format!(
                "component {:?}: {}",
                c.id,
                catalog::unknown_type_message(&c.service_type)
            ));
        }
        if c.display_name.trim().is_empty() {
            return Err(format!("component {:?} has an empty display_name", c.id));
        }
        check_display_name(&c.id, &c.display_name)?;
        check_config_size(c)?;
    }
    for conn in &arch.connections {
        for end in [&conn.source_id, &conn.target_id] {
            if !ids.contains(end.as_str()) {
                return Err(format!(
                    "connection {} -> {} names component {}, which is not in the architecture",
                    echo::quoted(&conn.source_id),
                    echo::quoted(&conn.target_id),
                    echo::quoted(end)
                ));
            }
        }
        if conn.connection_type.chars().count() > 64 || conn.description.chars().count() > 1024 {
            return Err(format!(
                "connection {} -> {}: connection_type is limited to 64 characters and description to 1024",
                conn.source_id, conn.target_id
            ));
        }
        if conn.source_id == conn.target_id {
            return Err(format!(
                "connection {0} -> {0} connects a component to itself",
                conn.source_id
            ));
        }
    }
    Ok(())
}

/// Fills the config keys `c` leaves unset from the hearing's defaults for its type.
fn apply_defaults(c: &mut Component, h: &HearingResult) {
    if let Some(defaults) = h.config_defaults.get(&c.service_type) {
        for (k, v) in defaults {
            c.config.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

fn check_config_size(c: &Component) -> Result<(), String> {
    let bytes = serde_json::to_vec(&c.config).map_or(0, |v| v.len());
    if bytes > MAX_CONFIG_BYTES {
        return Err(format!(
            "component {:?}: its config is {bytes} bytes of JSON; at most {MAX_CONFIG_BYTES} are allowed (list_available_services shows the keys each type uses)",
            c.id
        ));
    }
    Ok(())
}

fn check_display_name(id: &str, name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "component {id:?}: display_name has {n} characters; at most {MAX_DISPLAY_NAME_CHARS} are allowed"
        ));
    }
    Ok(())
}

impl Sidecar {
    /// Loads, changes and saves a session under its update lock.
    pub(crate) async fn update_session<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Session) -> Result<T, String>,
    ) -> Result<(T, Session), String> {
        self.update_session_with(id, Durability::Atomic, |s, _| f(s))
            .await
    }

    /// Loads, changes and saves a session (and the stack files `f` queues) as one step, under
    /// its lock, with the given durability; a change that raced another is refused.
    pub(crate) async fn update_session_with<T>(
        &self,
        id: &str,
        durability: Durability,
        f: impl FnOnce(&mut Session, &mut Edit<'_>) -> Result<T, String>,
    ) -> Result<(T, Session), String> {
        self.inner
            .store
            .update(id, durability, f)
            .await
            .map_err(|e| match e {
                UpdateError::Refused(message) => message,
                UpdateError::Store(e) => fail(e),
            })
    }
}

#[tool_router(router = design_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Replace a session's whole architecture with the given components and connections. Each component needs a unique id, a service_type from list_available_services and a display_name; connections link component ids (placement counts: connect an instance to its subnet, a subnet to its vcn). After complete_hearing, use_suggested_architecture: true saves the hearing's suggested architecture instead, and apply_hearing_defaults: true fills unset config keys from the hearing. Rule problems are allowed here; call validate_architecture to see them.",
        annotations(
            title = "Save architecture",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn save_architecture(
        &self,
        Parameters(args): Parameters<SaveArchitectureArgs>,
    ) -> Result<Json<SessionView>, String> {
        let mut arch = Architecture {
            components: args.components,
            connections: args.connections,
        };
        let hearing = if args.use_suggested_architecture || args.apply_hearing_defaults {
            let s = self.load_session(&args.session_id).await?;
            Some(self.hearing_result_of(&s)?)
        } else {
            None
        };
        if let Some(h) = &hearing {
            if args.use_suggested_architecture {
                if !arch.components.is_empty() || !arch.connections.is_empty() {
                    return Err("use_suggested_architecture saves the hearing's suggested architecture: leave components and connections out, or set it to false to save your own".into());
                }
                arch = h.suggested_architecture.clone();
            }
            if args.apply_hearing_defaults {
                for c in &mut arch.components {
                    apply_defaults(c, h);
                }
            }
        }
        check_structure(&arch, &self.inner.design_limits)?;
        let (_, s) = self
            .update_session(&args.session_id, |s| {
                s.architecture = arch;
                s.status = SessionStatus::Designing;
                Ok(())
            })
            .await?;
        Ok(Json(SessionView::from(&s)))
    }

    #[tool(
        description = "Add one component to a session's architecture, optionally connected to existing components (connect_to: their ids). With apply_hearing_defaults: true, config keys not given take the completed hearing's defaults for the type. Returns the component and a summary of the session (get_session shows all of it).",
        annotations(
            title = "Add component",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn add_component(
        &self,
        Parameters(args): Parameters<AddComponentArgs>,
    ) -> Result<Json<ComponentResult>, String> {
        if catalog::find(&args.service_type).is_none() {
            return Err(catalog::unknown_type_message(&args.service_type));
        }
        let hearing = if args.apply_hearing_defaults {
            let s = self.load_session(&args.session_id).await?;
            Some(self.hearing_result_of(&s)?)
        } else {
            None
        };
        let (component, s) = self
            .update_session(&args.session_id, |s| {
                let arch = &mut s.architecture;
                let id = match args.id {
                    Some(id) => id,
                    None => {
                        // Ids are at most 64 characters; room is left for a `-<n>` suffix.
                        let base: String = crate::export::label_for(&args.display_name)
                            .replace('_', "-")
                            .chars()
                            .take(56)
                            .collect();
                        let mut id = base.clone();
                        let mut n = 2;
                        while arch.component(&id).is_some() {
                            id = format!("{base}-{n}");
                            n += 1;
                        }
                        id
                    }
                };
                let mut component = Component {
                    id: id.clone(),
                    service_type: args.service_type,
                    display_name: args.display_name,
                    config: args.config,
                };
                if let Some(h) = &hearing {
                    apply_defaults(&mut component, h);
                }
                let mut next = arch.clone();
                next.components.push(component.clone());
                for target in args.connect_to {
                    next.connections.push(Connection {
                        source_id: id.clone(),
                        target_id: target,
                        connection_type: "network".into(),
                        description: String::new(),
                    });
                }
                check_structure(&next, &self.inner.design_limits)?;
                *arch = next;
                s.status = SessionStatus::Designing;
                Ok(component)
            })
            .await?;
        Ok(Json(ComponentResult {
            component,
            session: SessionSummary::from(&s),
        }))
    }

    #[tool(
        description = "Remove a component and every connection to or from it.",
        annotations(
            title = "Remove component",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn remove_component(
        &self,
        Parameters(args): Parameters<RemoveComponentArgs>,
    ) -> Result<Json<SessionView>, String> {
        let (_, s) = self
            .update_session(&args.session_id, |s| {
                let arch = &mut s.architecture;
                let before = arch.components.len();
                arch.components.retain(|c| c.id != args.component_id);
                if arch.components.len() == before {
                    let ids: Vec<_> = arch.components.iter().map(|c| c.id.as_str()).collect();
                    return Err(format!(
                        "component {} is not in session {}; its components are: {}",
                        echo::quoted(&args.component_id),
                        s.id,
                        ids.join(", ")
                    ));
                }
                arch.connections.retain(|c| {
                    c.source_id != args.component_id && c.target_id != args.component_id
                });
                s.status = SessionStatus::Designing;
                Ok(())
            })
            .await?;
        Ok(Json(SessionView::from(&s)))
    }

    #[tool(
        description = "Change a component's settings (merged into its config; a null value resets a key to its default) and optionally its display_name. Returns the component and a summary of the session (get_session shows all of it).",
        annotations(
            title = "Configure component",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn configure_component(
        &self,
        Parameters(args): Parameters<ConfigureComponentArgs>,
    ) -> Result<Json<ComponentResult>, String> {
        let (component, s) = self
            .update_session(&args.session_id, |s| {
                let sid = s.id.clone();
                let c = s
                    .architecture
                    .components
                    .iter_mut()
                    .find(|c| c.id == args.component_id)
                    .ok_or_else(|| format!("component {} is not in session {sid}; call get_session to see its components", echo::quoted(&args.component_id)))?;
                for (k, v) in args.config {
                    if v.is_null() {
                        c.config.remove(&k);
                    } else {
                        c.config.insert(k, v);
                    }
                }
                if let Some(name) = args.display_name {
                    if name.trim().is_empty() {
                        return Err("display_name must not be empty".into());
                    }
                    check_display_name(&c.id, &name)?;
                    c.display_name = name;
                }
                check_config_size(c)?;
                let out = c.clone();
                s.status = SessionStatus::Designing;
                Ok(out)
            })
            .await?;
        Ok(Json(ComponentResult {
            component,
            session: SessionSummary::from(&s),
        }))
    }

    #[tool(
        description = "List the service types components can have, with what each is, where it must be placed (which connections it needs), the Terraform resources it becomes, and its config keys with defaults.",
        annotations(
            title = "List available services",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_available_services(&self) -> Json<ServiceList> {
        Json(ServiceList {
            services: catalog::service_types().to_vec(),
        })
    }

    #[tool(
        description = "Check a session's architecture against the design rules (required connections, same-VCN placement, subnet placement, naming). Returns errors (which block export) and warnings, each with the component ids and a recommendation.",
        annotations(
            title = "Validate architecture",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn validate_architecture(
        &self,
        Parameters(args): Parameters<SessionIdArgs>,
    ) -> Result<Json<ValidationReport>, String> {
        let s = self.load_session(&args.session_id).await?;
        Ok(Json(self.inner.rules.validate(&s.architecture)))
    }
}
