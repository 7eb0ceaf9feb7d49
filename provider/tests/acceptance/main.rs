//! Acceptance tests: the provider binary driven by real Terraform builds, against real
//! DynamoDB- and S3-compatible servers and the local OCI engine, started on free loopback ports,
//! and the schema as Terraform loads it (`schema`).
//!
//! One test binary; helpers in `util`, fixtures in `tests/fixtures/` of the workspace.

mod build;
mod esb;
mod examples;
mod galley_stack;
mod generate_config;
mod oci_util;
mod plugin;
mod release;
mod rm_custom_provider;
mod schema;
mod session;
mod session_features;
mod util;
