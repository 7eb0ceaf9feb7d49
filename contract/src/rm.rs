//! Resource Manager facts the provider and the sidecar both rely on.

/// Variables Resource Manager sets itself on every job. A stack must declare them to use them;
/// values given for them are never sent as stack variables.
pub const INJECTED_VARIABLES: &[&str] = &[
    "region",
    "compartment_ocid",
    "tenancy_ocid",
    "current_user_ocid",
];

/// Whether Resource Manager sets `name` itself.
pub fn is_injected(name: &str) -> bool {
    INJECTED_VARIABLES.contains(&name)
}
