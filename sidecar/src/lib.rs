//! galley-sidecar: an MCP server that lets an AI assistant design an OCI architecture in a
//! session, validate it against shipped rules, export it as Resource-Manager-compatible Terraform,
//! and run that Terraform through the Galley provider's `galley_session` resource.
//!
//! # Layout
//! - `config`: settings from the command line and `GALLEY_*` environment variables; `limits`:
//!   the limits and timeouts (their own flags and variables).
//! - `model`: the session document; `store`: where sessions live, a directory or an Object
//!   Storage bucket behind one interface (ids, conditional updates, safe paths, the stack
//!   digest, the lease of heavy operations); `tfstate`: the Terraform `http` backend the runner
//!   keeps its state in with the bucket store.
//! - `catalog`: the service types; `rules`: the YAML design rules and their evaluation;
//!   `hearing`: the requirements interview (YAML questions) and the design defaults it implies.
//! - `view`: the design seen: placement, the diagram (SVG drawn here, and Mermaid), the Markdown
//!   summary with the shipped price table.
//! - `hcl`: a small HCL writer in `terraform fmt` layout; `export`: one module per service type.
//! - `app`: a session's application directory (the shipped templates, path and size checks).
//! - `runner`: the `Runner` trait and the Terraform CLI implementation; `oci`: the OCI settings
//!   it passes on and the sidecar's own Resource Manager calls.
//! - `server`: the MCP tools (sessions, design, stack, infra, app) on the `rmcp` SDK.
//! - `http`: Streamable HTTP at `/mcp` plus `/health`, behind `security` (token and Origin),
//!   with its listener's timeouts and limits; `stdio`: the stdio transport; `jsonrpc`: the
//!   checks of incoming messages and the JSON-RPC errors both transports answer with.
//! - `echo`: bounded quotes of client input in messages.

pub mod app;
pub mod catalog;
pub mod config;
pub mod echo;
pub mod export;
pub mod hcl;
pub mod hearing;
pub mod http;
pub mod jsonrpc;
pub mod limits;
pub mod model;
pub mod oci;
pub mod rules;
pub mod runner;
pub mod security;
pub mod server;
pub mod stdio;
pub mod store;
pub mod tfstate;
pub mod view;
