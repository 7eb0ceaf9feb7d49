//! The Galley Terraform provider: a tfplugin5 server and the resources it serves.
//!
//! # Layout
//! - `server`: the plugin protocol: handshake, AutoMTLS, the tfplugin5 service, go-plugin's
//!   side services. Knows nothing about what a resource does.
//! - `cty`: Terraform's value model and its msgpack and JSON encodings.
//! - `schema`, `diagnostics`, `resource`: the contract every resource implements, in typed
//!   values, without gRPC.
//! - `provider`, `provider_config`: the resource registry, the provider block and Configure.
//! - `resources`: one file per resource type.
//! - `esb`: the engine behind `esb_resources` (resources.yml, DynamoDB and S3 clients, the
//!   idempotent reconcile).
//! - `packaging`: the file list of a directory (ignore rules), its digest, and the zip and
//!   tar.gz built from it.
//! - `build_script`: the script `galley_build` runs on the build instance.
//! - `oci_clients`: the provider block turned into OCI clients (through `galley_oci::setup`),
//!   lazily, once per process.
//! - `compartment`: the compartment an OCI-backed resource goes in when none is configured.
//! - `remote`: following Resource Manager jobs and instance agent commands (poll schedules,
//!   job logs, cancellation).
//! - `timeouts`: the `timeouts` block of the OCI-backed resources.
//! - `logging`: JSON log lines on stderr in go-plugin's format.

pub mod build_script;
pub mod compartment;
pub mod cty;
pub mod diagnostics;
pub mod docs;
pub mod esb;
pub mod logging;
pub mod oci_clients;
pub mod packaging;
pub mod provider;
pub mod provider_config;
pub mod remote;
pub mod resource;
pub mod resources;
pub mod schema;
pub mod server;
pub mod timeouts;
