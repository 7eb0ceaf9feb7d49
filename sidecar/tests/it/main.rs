//! Integration tests of galley-sidecar: generated Terraform checked by real `terraform fmt` and
//! against the oracle/oci provider schema, the binary driven by real MCP clients over stdio and
//! Streamable HTTP, deploying for real on the local OCI engine, and the deployment image built
//! and run with podman.

mod attack_files;
mod attack_http;
mod attack_stdio;
mod build;
mod clients;
mod container;
mod deploy;
mod deploy_stack;
mod diagram;
mod durable;
mod export;
mod http;
mod journey;
mod local_engine;
mod reviewed;
mod runner;
mod store;
mod tfstate;
mod util;
