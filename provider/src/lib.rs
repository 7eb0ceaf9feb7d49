//! The Galley Terraform provider: a tfplugin5 server and the resources it serves.
//!
//! # Layout
//! - `server`: the plugin protocol: handshake, AutoMTLS, the tfplugin5 service (`rpc`, with
//!   the one panic guard every call into provider code goes through), go-plugin's side
//!   services, and every conversion to and from the wire (`toproto`, `fromproto`). Knows
//!   nothing about what a resource does.
//! - `cty`: Terraform's value model and its msgpack and JSON encodings.
//! - `schema`, `diagnostics`, `resource`, `data_source`: the contracts every resource and data
//!   source implements, in typed values, without gRPC or `galley_proto`.
//! - `attrs`: reading and writing a resource's attributes, with one meaning of null and
//!   unknown.
//! - `provider`, `provider_config`: the resource and data source registries, the provider
//!   block and Configure.
//! - `resources`, `data_sources`: one file per resource type and per data source type, each
//!   registered in its folder's one list.
//! - `esb`: the engine behind `esb_resources` (resources.yml, DynamoDB and S3 clients, the
//!   idempotent reconcile).
//! - `session`: the engine behind `galley_session` and `galley_stack` (the configuration's
//!   digest and zip, the stack, its PLAN/APPLY/DESTROY jobs, job failures, outputs, reading an
//!   existing stack by OCID).
//! - `packaging`: the file list of a directory (ignore rules), its digest, and the zip and
//!   tar.gz built from it.
//! - `build`: the engine behind `galley_build` (the build context packaged and uploaded, the
//!   scratch objects and pre-authenticated URLs, the script run through the Instance Agent,
//!   what the command left).
//! - `oci_clients`: the provider block turned into OCI clients (through `galley_oci::setup`),
//!   lazily, once per process.
//! - `compartment`: the compartment an OCI-backed resource goes in when none is configured.
//! - `remote`: following Resource Manager jobs and instance agent commands (poll schedules,
//!   job logs, cancellation).
//! - `timeouts`: the `timeouts` block of the OCI-backed resources.
//! - `logging`: JSON log lines on stderr in go-plugin's format.

pub mod attrs;
pub mod build;
pub mod compartment;
pub mod cty;
pub mod data_source;
pub mod data_sources;
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
pub mod session;
pub mod timeouts;
