//! `export_iac`: turns a session's architecture into a Resource-Manager-compatible Terraform
//! stack (`main.tf`, `variables.tf`, `components.tf`, `outputs.tf`, `terraform.tfvars.example`).
//! This module owns naming, shared data sources and file assembly; each service type's HCL lives
//! in its own module beside it. Components refer to each other through real resource attributes,
//! so a missing dependency is an error here, not a comment in the output.

mod adb;
mod apigateway;
mod compute;
mod container_instance;
mod functions;
mod gateways;
mod loadbalancer;
mod nosql;
mod objectstorage;
mod oke;
mod route_table;
mod security_list;
mod streaming;
mod subnet;
mod vcn;

use std::collections::{BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::catalog;
use crate::echo;
use crate::hcl::{self, Block, Expr, Item, Number};
use crate::model::{Architecture, Component};

mod check;
mod names;

pub use names::NameCollision;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExportError {
    #[error("{}", catalog::unknown_type_message(.0))]
    UnknownType(String),
    #[error(
        "component {id:?} ({service_type}) needs a connection to a {needs}; add the {needs} and connect them with save_architecture or add_component's connect_to"
    )]
    MissingConnection {
        id: String,
        service_type: String,
        needs: String,
    },
    #[error("component {id:?}: config key {key:?} must be {expected}, got {got}")]
    BadConfig {
        id: String,
        key: String,
        expected: &'static str,
        got: String,
    },
    #[error(
        "the architecture has no components; add some with save_architecture or add_component first"
    )]
    Empty,
    #[error(
        "component {id:?} ({service_type}) runs image \"app\", the session's application, but no image of it was built yet; call build_app_image first (scaffold_app_from_template or write_app_file give the app), then export_iac again, or set config key image to a full image reference"
    )]
    NoAppImage { id: String, service_type: String },
    #[error("{0}")]
    NameCollision(Box<NameCollision>),
    /// The generated configuration failed the load check: a bug of this generator, never written.
    #[error(
        "the generated {file} would not load in Terraform ({problem}); nothing was written. This is a bug in the sidecar's export: report it with the design (get_session)"
    )]
    DoesNotLoad { file: String, problem: String },
}

/// Data sources several components share; each is declared once in `components.tf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SharedData {
    AvailabilityDomains,
    ObjectStorageNamespace,
    CoreServices,
}

impl SharedData {
    fn block(self) -> Block {
        match self {
            SharedData::AvailabilityDomains => {
                Block::new("data", &["oci_identity_availability_domains", "ads"])
                    .attr("compartment_id", Expr::raw("var.tenancy_ocid"))
            }
            SharedData::ObjectStorageNamespace => {
                Block::new("data", &["oci_objectstorage_namespace", "ns"])
                    .attr("compartment_id", Expr::raw("var.tenancy_ocid"))
            }
            // The "All <region> Services In Oracle Services Network" entry, not just Object
            // Storage, so the service gateway reaches every Oracle service.
            SharedData::CoreServices => Block::new("data", &["oci_core_services", "all"]).block(
                Block::new("filter", &[])
                    .attr("name", Expr::str("name"))
                    .attr(
                        "values",
                        Expr::List(vec![Expr::str(
                            "All .* Services In Oracle Services Network",
                        )]),
                    )
                    .attr("regex", true),
            ),
        }
    }
}

/// A per-component input variable.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub type_: &'static str,
    pub description: String,
    pub default: Option<Expr>,
    pub sensitive: bool,
}

/// What one component contributes to the stack.
#[derive(Debug, Default)]
pub struct Rendered {
    pub resources: Vec<Block>,
    pub variables: Vec<Variable>,
    /// (output name, description, value expression)
    pub outputs: Vec<(String, String, String)>,
    pub data: BTreeSet<SharedData>,
}

impl Rendered {
    fn var(
        &mut self,
        name: String,
        type_: &'static str,
        description: String,
        default: Expr,
    ) -> Expr {
        let r = Expr::raw(format!("var.{name}"));
        self.variables.push(Variable {
            name,
            type_,
            description,
            default: Some(default),
            sensitive: false,
        });
        r
    }
    fn output(&mut self, name: String, description: String, value: String) {
        self.outputs.push((name, description, value));
    }
}

/// The primary Terraform resource type of a service type (what `<type>.<label>.id` refers to).
pub fn primary_resource(service_type: &str) -> Option<&'static str> {
    Some(match service_type {
        "vcn" => "oci_core_vcn",
        "subnet" => "oci_core_subnet",
        "internet_gateway" => "oci_core_internet_gateway",
        "nat_gateway" => "oci_core_nat_gateway",
        "service_gateway" => "oci_core_service_gateway",
        "route_table" => "oci_core_route_table",
        "security_list" => "oci_core_security_list",
        "compute" => "oci_core_instance",
        "container_instance" => "oci_container_instances_container_instance",
        "oke" => "oci_containerengine_cluster",
        "adb" => "oci_database_autonomous_database",
        "objectstorage" => "oci_objectstorage_bucket",
        "loadbalancer" => "oci_load_balancer_load_balancer",
        "apigateway" => "oci_apigateway_gateway",
        "functions" => "oci_functions_application",
        "streaming" => "oci_streaming_stream",
        "nosql" => "oci_nosql_table",
        _ => return None,
    })
}

/// Turns a display name into a Terraform identifier: lower case, `_` for anything else.
pub fn label_for(display_name: &str) -> String {
    let mut out = String::new();
    for c in display_name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let mut label = trimmed.to_string();
    if label.is_empty() {
        label = "component".to_string();
    }
    if label.starts_with(|c: char| c.is_ascii_digit()) {
        label.insert_str(0, "c_");
    }
    label
}

/// What an export knows beside the architecture.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// The session's last built image (`uri@digest`): what a container's `image = "app"` runs.
    pub app_image: Option<&'a str>,
}

/// What a service type's module sees: the architecture, labels, and config access.
pub struct Ctx<'a> {
    pub arch: &'a Architecture,
    labels: HashMap<&'a str, String>,
    pub options: Options<'a>,
}

impl<'a> Ctx<'a> {
    /// Labels in component order; a label already taken gets the first free `_<n>` suffix, so
    /// labels are unique even when a suffixed one matches another component's name (`logs`,
    /// `Logs`, `logs 2`).
    fn new(arch: &'a Architecture, options: Options<'a>) -> Self {
        let mut labels = HashMap::new();
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        for c in &arch.components {
            let base = label_for(&c.display_name);
            let mut label = base.clone();
            let mut n = 2;
            while taken.contains(&label) {
                label = format!("{base}_{n}");
                n += 1;
            }
            taken.insert(label.clone());
            labels.insert(c.id.as_str(), label);
        }
        Ctx {
            arch,
            labels,
            options,
        }
    }

    /// The Terraform label of a component.
    pub fn label(&self, c: &Component) -> &str {
        self.labels
            .get(c.id.as_str())
            .map_or("component", |s| s.as_str())
    }

    /// `<primary resource>.<label>.<attr>` of a component.
    pub fn attr(&self, c: &Component, attr: &str) -> Expr {
        let kind = primary_resource(&c.service_type).unwrap_or("unknown");
        Expr::raw(format!("{kind}.{}.{attr}", self.label(c)))
    }

    /// The one connected component of `service_type`, or the error telling what to add.
    pub fn require(
        &self,
        c: &'a Component,
        service_type: &str,
    ) -> Result<&'a Component, ExportError> {
        self.arch
            .neighbours(&c.id)
            .find(|n| n.service_type == service_type)
            .ok_or_else(|| ExportError::MissingConnection {
                id: c.id.clone(),
                service_type: c.service_type.clone(),
                needs: service_type.to_string(),
            })
    }

    pub fn connected(&self, c: &'a Component, service_type: &'a str) -> Vec<&'a Component> {
        self.arch.neighbours_of_type(&c.id, service_type).collect()
    }

    /// The VCN a subnet-placed component ends up in (through its subnet).
    pub fn vcn_via_subnet(
        &self,
        c: &'a Component,
    ) -> Result<(&'a Component, &'a Component), ExportError> {
        let subnet = self.require(c, "subnet")?;
        let vcn = self.require(subnet, "vcn")?;
        Ok((subnet, vcn))
    }

    fn value(&self, c: &Component, key: &str) -> Value {
        c.config.get(key).cloned().unwrap_or_else(|| {
            catalog::find(&c.service_type)
                .and_then(|t| t.config.iter().find(|k| k.name == key))
                .map_or(Value::Null, |k| k.default.clone())
        })
    }

    fn bad(&self, c: &Component, key: &str, expected: &'static str, v: &Value) -> ExportError {
        ExportError::BadConfig {
            id: c.id.clone(),
            key: key.to_string(),
            expected,
            got: echo::value(v),
        }
    }

    pub fn cfg_str(&self, c: &Component, key: &str) -> Result<String, ExportError> {
        match self.value(c, key) {
            Value::String(s) => Ok(s),
            v => Err(self.bad(c, key, "a string", &v)),
        }
    }

    /// A number setting, written in Terraform's number syntax (see [`Number`]).
    pub fn cfg_num(&self, c: &Component, key: &str) -> Result<Expr, ExportError> {
        let v = self.value(c, key);
        let n = match &v {
            Value::Number(n) => Number::parse(&n.to_string()),
            Value::String(s) => Number::parse(s),
            _ => None,
        };
        n.map(Expr::Num).ok_or_else(|| {
            self.bad(
                c,
                key,
                "a number (digits with an optional sign, fraction and exponent, like 2, -1, 0.5 or 1e3)",
                &v,
            )
        })
    }

    pub fn cfg_bool(&self, c: &Component, key: &str) -> Result<bool, ExportError> {
        match self.value(c, key) {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
            v => Err(self.bad(c, key, "true or false", &v)),
        }
    }

    pub fn cfg_ports(&self, c: &Component, key: &str) -> Result<Vec<u16>, ExportError> {
        let v = self.value(c, key);
        let arr = v
            .as_array()
            .ok_or_else(|| self.bad(c, key, "a list of port numbers", &v))?;
        arr.iter()
            .map(|p| {
                p.as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| self.bad(c, key, "a list of port numbers 1-65535", &v))
            })
            .collect()
    }

    /// A resource block of `kind` labelled for `c`, starting with its compartment.
    pub fn resource(&self, kind: &str, label: &str) -> Block {
        Block::new("resource", &[kind, label])
            .attr("compartment_id", Expr::raw("var.compartment_ocid"))
    }

    /// A DNS label (letters and digits, starting with a letter, at most 15) for a VCN or subnet.
    pub fn dns_label(&self, c: &Component) -> String {
        let mut s: String = self
            .label(c)
            .chars()
            .filter(|ch| ch.is_ascii_alphanumeric())
            .collect();
        if !s.starts_with(|ch: char| ch.is_ascii_alphabetic()) {
            s.insert(0, 'n');
        }
        s.truncate(15);
        s
    }
}

fn render_component(ctx: &Ctx, c: &Component) -> Result<Rendered, ExportError> {
    let mut r = Rendered::default();
    match c.service_type.as_str() {
        "vcn" => vcn::render(ctx, c, &mut r)?,
        "subnet" => subnet::render(ctx, c, &mut r)?,
        "internet_gateway" | "nat_gateway" | "service_gateway" => gateways::render(ctx, c, &mut r)?,
        "route_table" => route_table::render(ctx, c, &mut r)?,
        "security_list" => security_list::render(ctx, c, &mut r)?,
        "compute" => compute::render(ctx, c, &mut r)?,
        "container_instance" => container_instance::render(ctx, c, &mut r)?,
        "oke" => oke::render(ctx, c, &mut r)?,
        "adb" => adb::render(ctx, c, &mut r)?,
        "objectstorage" => objectstorage::render(ctx, c, &mut r)?,
        "loadbalancer" => loadbalancer::render(ctx, c, &mut r)?,
        "apigateway" => apigateway::render(ctx, c, &mut r)?,
        "functions" => functions::render(ctx, c, &mut r)?,
        "streaming" => streaming::render(ctx, c, &mut r)?,
        "nosql" => nosql::render(ctx, c, &mut r)?,
        other => return Err(ExportError::UnknownType(other.to_string())),
    }
    Ok(r)
}

/// One generated file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportedFile {
    pub path: String,
    pub content: String,
}

/// The generated stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub files: Vec<ExportedFile>,
    /// `type.label` of every resource written.
    pub resources: Vec<String>,
}

fn root_variables() -> Vec<Variable> {
    let v = |name: &str, description: &str| Variable {
        name: name.to_string(),
        type_: "string",
        description: description.to_string(),
        default: None,
        sensitive: false,
    };
    vec![
        v(
            "tenancy_ocid",
            "OCID of the tenancy (Resource Manager fills it in).",
        ),
        v(
            "compartment_ocid",
            "OCID of the compartment to create everything in (Resource Manager fills it in).",
        ),
        v(
            "region",
            "OCI region, for example us-ashburn-1 (Resource Manager fills it in).",
        ),
    ]
}

fn variable_block(v: &Variable) -> Block {
    let mut b = Block::new("variable", &[&v.name])
        .attr("description", Expr::str(&v.description))
        .attr("type", Expr::raw(v.type_));
    if let Some(d) = &v.default {
        b = b.attr("default", d.clone());
    }
    if v.sensitive {
        b = b.attr("sensitive", true);
    }
    b
}

fn example_value(v: &Variable) -> Expr {
    match (&v.default, v.name.as_str()) {
        (Some(d), _) => d.clone(),
        (None, "tenancy_ocid") => Expr::str("ocid1.tenancy.oc1..example"),
        (None, "compartment_ocid") => Expr::str("ocid1.compartment.oc1..example"),
        (None, "region") => Expr::str("us-ashburn-1"),
        (None, _) => Expr::str(""),
    }
}

/// Terraform names two components would both declare (a variable, an output, or a resource of
/// one type), each with the two components; empty when every name is unique. Components that do
/// not render (a missing connection, a bad setting) are left out: export reports those itself.
pub fn name_collisions(arch: &Architecture) -> Vec<NameCollision> {
    // A stand-in image: the names do not depend on it, and a design not built yet still counts.
    let options = Options {
        app_image: Some("app"),
    };
    let ctx = Ctx::new(arch, options);
    let rendered: Vec<_> = arch
        .components
        .iter()
        .filter_map(|c| render_component(&ctx, c).ok().map(|r| (c, r)))
        .collect();
    names::collisions(&rendered, &root_variables())
}

/// Renders the whole stack. Components are written in the architecture's order; Terraform
/// orders creation by references, so the order only affects readability. The result has unique
/// Terraform names and passed the load check (`check`): it parses, every reference resolves,
/// every variable default is a literal.
pub fn export(arch: &Architecture) -> Result<Stack, ExportError> {
    export_with(arch, &Options::default())
}

/// [`export`] with what the session knows beside its architecture (its built image).
pub fn export_with(arch: &Architecture, options: &Options) -> Result<Stack, ExportError> {
    if arch.components.is_empty() {
        return Err(ExportError::Empty);
    }
    for c in &arch.components {
        if primary_resource(&c.service_type).is_none() {
            return Err(ExportError::UnknownType(c.service_type.clone()));
        }
    }
    let ctx = Ctx::new(arch, *options);
    let mut rendered = Vec::with_capacity(arch.components.len());
    for c in &arch.components {
        rendered.push((c, render_component(&ctx, c)?));
    }
    if let Some(first) = names::collisions(&rendered, &root_variables())
        .into_iter()
        .next()
    {
        return Err(ExportError::NameCollision(Box::new(first)));
    }
    let mut data = BTreeSet::new();
    let mut resources = Vec::new();
    let mut variables = root_variables();
    let mut outputs = Vec::new();
    let mut names = Vec::new();
    for (_, r) in rendered {
        data.extend(r.data);
        for b in &r.resources {
            names.push(b.labels.join("."));
        }
        resources.extend(r.resources);
        variables.extend(r.variables);
        outputs.extend(r.outputs);
    }

    let main_tf = hcl::render(&[
        Item::Comment("Generated by galley-sidecar. Resource Manager fills in tenancy_ocid, compartment_ocid and region.".into()),
        Item::Block(
            Block::new("terraform", &[])
                .attr("required_version", Expr::str(">= 1.0.0"))
                .block(Block::new("required_providers", &[]).attr(
                    "oci",
                    Expr::Object(vec![("source".into(), Expr::str("oracle/oci"))]),
                )),
        ),
        Item::Block(Block::new("provider", &["oci"]).attr("region", Expr::raw("var.region"))),
    ]);

    let mut comp_items: Vec<Item> = data.iter().map(|d| Item::Block(d.block())).collect();
    comp_items.extend(resources.into_iter().map(Item::Block));
    let components_tf = hcl::render(&comp_items);

    let variables_tf = hcl::render(
        &variables
            .iter()
            .map(|v| Item::Block(variable_block(v)))
            .collect::<Vec<_>>(),
    );

    let outputs_tf = hcl::render(
        &outputs
            .iter()
            .map(|(name, desc, value)| {
                Item::Block(
                    Block::new("output", &[name])
                        .attr("description", Expr::str(desc))
                        .attr("value", Expr::raw(value)),
                )
            })
            .collect::<Vec<_>>(),
    );

    let mut example = vec![Item::Comment(
        "Copy to terraform.tfvars for a run outside Resource Manager and fill in real values."
            .into(),
    )];
    example.extend(
        variables
            .iter()
            .filter(|v| !v.sensitive)
            .map(|v| Item::Attr(v.name.clone(), example_value(v))),
    );
    let tfvars = hcl::render(&example);

    let file = |path: &str, content: String| ExportedFile {
        path: path.to_string(),
        content,
    };
    let stack = Stack {
        files: vec![
            file("main.tf", main_tf),
            file("variables.tf", variables_tf),
            file("components.tf", components_tf),
            file("outputs.tf", outputs_tf),
            file("terraform.tfvars.example", tfvars),
        ],
        resources: names,
    };
    check::loads(&stack.files)?;
    Ok(stack)
}

#[cfg(test)]
mod tests;
