//! Integration tests of galley-sidecar: generated Terraform checked by real `terraform fmt` and
//! against the oracle/oci provider schema, and the binary driven by real MCP clients over stdio
//! and Streamable HTTP, deploying for real on the local OCI engine.

mod attack_files;
mod attack_http;
mod attack_stdio;
mod clients;
mod deploy;
mod durable;
mod export;
mod http;
mod local_engine;
mod runner;
mod store;
mod tfstate;
mod util;
