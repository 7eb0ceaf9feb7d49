//! Environment variables read by both the provider and the sidecar. The sidecar hands its own
//! values to the Terraform it runs, so both always see the same settings.

/// The compartment a `galley_session` stack goes in when its configuration names none.
pub const WORK_COMPARTMENT_ID: &str = "GALLEY_WORK_COMPARTMENT_ID";

/// An earlier name of [`WORK_COMPARTMENT_ID`] (what `deploy/` sets on the container); read only
/// when the current name is unset.
pub const LEGACY_COMPARTMENT_OCID: &str = "GALLEY_COMPARTMENT_OCID";
