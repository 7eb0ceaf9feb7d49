//! The service types the sidecar knows: what each is, where it must be placed, and which config
//! keys it understands (with defaults). Export and validation both read this list; it owns no
//! HCL and no rules.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

/// Where a component of a type lives in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Regional, outside any VCN (object storage, NoSQL, streaming).
    Regional,
    /// The VCN itself.
    Network,
    /// Attached to a VCN (gateways, route tables, security lists, subnets).
    InVcn,
    /// Runs in a subnet (instances, clusters, load balancers...).
    InSubnet,
    /// May optionally be placed in a subnet (Autonomous Database private endpoint).
    OptionalSubnet,
}

/// One config key of a service type.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConfigKey {
    pub name: &'static str,
    pub description: &'static str,
    pub default: Value,
}

/// One service type.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceType {
    pub service_type: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    pub placement: Placement,
    /// The OCI Terraform resource types its export writes.
    pub terraform_resources: Vec<&'static str>,
    pub config: Vec<ConfigKey>,
}

fn key(name: &'static str, description: &'static str, default: Value) -> ConfigKey {
    ConfigKey {
        name,
        description,
        default,
    }
}

/// Every known service type, in a stable order. Built once: validation and export look types up
/// for every component.
pub fn service_types() -> &'static [ServiceType] {
    static CATALOG: std::sync::LazyLock<Vec<ServiceType>> = std::sync::LazyLock::new(build);
    &CATALOG
}

fn build() -> Vec<ServiceType> {
    use Placement::*;
    vec![
        ServiceType {
            service_type: "vcn",
            category: "network",
            description: "Virtual Cloud Network: the private network every subnet and gateway belongs to.",
            placement: Network,
            terraform_resources: vec!["oci_core_vcn"],
            config: vec![key("cidr", "IPv4 CIDR of the VCN", json!("10.0.0.0/16"))],
        },
        ServiceType {
            service_type: "subnet",
            category: "network",
            description: "Subnet of a VCN; connect it to a vcn, optionally to a route_table and a security_list.",
            placement: InVcn,
            terraform_resources: vec!["oci_core_subnet"],
            config: vec![
                key(
                    "cidr",
                    "IPv4 CIDR inside the VCN's CIDR",
                    json!("10.0.1.0/24"),
                ),
                key(
                    "public",
                    "true for a public subnet (instances may get public IPs)",
                    json!(false),
                ),
            ],
        },
        ServiceType {
            service_type: "internet_gateway",
            category: "network",
            description: "Internet gateway of a VCN: inbound and outbound internet for public subnets. Connect it to a vcn and to a route_table.",
            placement: InVcn,
            terraform_resources: vec!["oci_core_internet_gateway"],
            config: vec![],
        },
        ServiceType {
            service_type: "nat_gateway",
            category: "network",
            description: "NAT gateway of a VCN: outbound-only internet for private subnets. Connect it to a vcn and to a route_table.",
            placement: InVcn,
            terraform_resources: vec!["oci_core_nat_gateway"],
            config: vec![],
        },
        ServiceType {
            service_type: "service_gateway",
            category: "network",
            description: "Service gateway of a VCN: private access to Oracle services (Object Storage...). Connect it to a vcn and to a route_table.",
            placement: InVcn,
            terraform_resources: vec!["oci_core_service_gateway"],
            config: vec![],
        },
        ServiceType {
            service_type: "route_table",
            category: "network",
            description: "Route table of a VCN; connect it to the vcn, to the gateways it routes to and to the subnets that use it.",
            placement: InVcn,
            terraform_resources: vec!["oci_core_route_table"],
            config: vec![],
        },
        ServiceType {
            service_type: "security_list",
            category: "network",
            description: "Security list (stateful firewall rules) of a VCN; connect it to the vcn and to the subnets that use it.",
            placement: InVcn,
            terraform_resources: vec!["oci_core_security_list"],
            config: vec![
                key(
                    "ingress_tcp_ports",
                    "TCP ports open for ingress",
                    json!([22]),
                ),
                key(
                    "ingress_source",
                    "CIDR allowed to reach those ports",
                    json!("0.0.0.0/0"),
                ),
            ],
        },
        ServiceType {
            service_type: "compute",
            category: "compute",
            description: "Compute instance (VM). Connect it to exactly one subnet.",
            placement: InSubnet,
            terraform_resources: vec!["oci_core_instance"],
            config: vec![
                key("shape", "Instance shape", json!("VM.Standard.E4.Flex")),
                key("ocpus", "OCPUs of a flexible shape", json!(1)),
                key("memory_in_gbs", "Memory of a flexible shape", json!(16)),
                key("image_id", "OCID of the boot image", json!("")),
            ],
        },
        ServiceType {
            service_type: "container_instance",
            category: "containers",
            description: "Container Instance running one container image, no servers to manage. Connect it to exactly one subnet. image \"app\" runs the session's application as build_app_image last built it.",
            placement: InSubnet,
            terraform_resources: vec!["oci_container_instances_container_instance"],
            config: vec![
                key(
                    "image",
                    "Image to run: \"app\" for the session's built application, or a full image reference",
                    json!("app"),
                ),
                key(
                    "shape",
                    "Container instance shape",
                    json!("CI.Standard.E4.Flex"),
                ),
                key("ocpus", "OCPUs", json!(1)),
                key("memory_in_gbs", "Memory", json!(4)),
            ],
        },
        ServiceType {
            service_type: "oke",
            category: "containers",
            description: "Container Engine for Kubernetes cluster with one node pool. Connect it to a subnet (its VCN is the subnet's).",
            placement: InSubnet,
            terraform_resources: vec![
                "oci_containerengine_cluster",
                "oci_containerengine_node_pool",
            ],
            config: vec![
                key("kubernetes_version", "Kubernetes version", json!("v1.31.1")),
                key(
                    "node_shape",
                    "Shape of the worker nodes",
                    json!("VM.Standard.E4.Flex"),
                ),
                key("node_count", "Number of worker nodes", json!(3)),
                key("node_image_id", "OCID of the worker node image", json!("")),
            ],
        },
        ServiceType {
            service_type: "adb",
            category: "database",
            description: "Autonomous Database. Optionally connect it to a (private) subnet for a private endpoint.",
            placement: OptionalSubnet,
            terraform_resources: vec!["oci_database_autonomous_database"],
            config: vec![
                key("db_workload", "OLTP, DW, AJD or APEX", json!("OLTP")),
                key("compute_count", "ECPUs", json!(2)),
                key("data_storage_size_in_tbs", "Storage in TB", json!(1)),
            ],
        },
        ServiceType {
            service_type: "objectstorage",
            category: "storage",
            description: "Object Storage bucket (regional; reach it privately through a service_gateway).",
            placement: Regional,
            terraform_resources: vec!["oci_objectstorage_bucket"],
            config: vec![
                key(
                    "access_type",
                    "NoPublicAccess, ObjectRead or ObjectReadWithoutList",
                    json!("NoPublicAccess"),
                ),
                key("versioning", "Enabled or Disabled", json!("Disabled")),
            ],
        },
        ServiceType {
            service_type: "loadbalancer",
            category: "network",
            description: "Flexible load balancer in a subnet; connect it to compute instances to make them its backends.",
            placement: InSubnet,
            terraform_resources: vec![
                "oci_load_balancer_load_balancer",
                "oci_load_balancer_backend_set",
                "oci_load_balancer_backend",
            ],
            config: vec![
                key("min_bandwidth_mbps", "Minimum bandwidth", json!(10)),
                key("max_bandwidth_mbps", "Maximum bandwidth", json!(100)),
                key("backend_port", "Port of the backends", json!(80)),
            ],
        },
        ServiceType {
            service_type: "apigateway",
            category: "integration",
            description: "API Gateway in a subnet.",
            placement: InSubnet,
            terraform_resources: vec!["oci_apigateway_gateway"],
            config: vec![key("endpoint_type", "PUBLIC or PRIVATE", json!("PUBLIC"))],
        },
        ServiceType {
            service_type: "functions",
            category: "serverless",
            description: "Functions application (the container for functions), in a subnet.",
            placement: InSubnet,
            terraform_resources: vec!["oci_functions_application"],
            config: vec![key(
                "shape",
                "GENERIC_X86, GENERIC_ARM or GENERIC_X86_ARM",
                json!("GENERIC_X86"),
            )],
        },
        ServiceType {
            service_type: "streaming",
            category: "integration",
            description: "Stream (Kafka-compatible) with its stream pool (regional).",
            placement: Regional,
            terraform_resources: vec!["oci_streaming_stream_pool", "oci_streaming_stream"],
            config: vec![
                key("partitions", "Number of partitions", json!(1)),
                key("retention_in_hours", "Message retention", json!(24)),
            ],
        },
        ServiceType {
            service_type: "nosql",
            category: "database",
            description: "NoSQL Database table (regional).",
            placement: Regional,
            terraform_resources: vec!["oci_nosql_table"],
            config: vec![
                key("max_read_units", "Provisioned read units", json!(10)),
                key("max_write_units", "Provisioned write units", json!(10)),
                key("max_storage_in_gbs", "Provisioned storage", json!(1)),
            ],
        },
    ]
}

/// The type named `name`, if known.
pub fn find(name: &str) -> Option<&'static ServiceType> {
    service_types().iter().find(|t| t.service_type == name)
}

/// Names of all known types, comma separated, for error messages.
pub fn known_names() -> String {
    service_types()
        .iter()
        .map(|t| t.service_type)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Error text for an unknown service type: names the known ones so a model can correct itself.
pub fn unknown_type_message(name: &str) -> String {
    format!(
        "unknown service type {}; known service types are: {}",
        crate::echo::quoted(name),
        known_names()
    )
}
