//! Integration tests of galley-sidecar: generated Terraform checked by real `terraform fmt` and
//! against the oracle/oci provider schema, and the binary driven by real MCP clients over stdio
//! and Streamable HTTP.

mod clients;
mod deploy;
mod export;
mod http;
mod runner;
mod util;
