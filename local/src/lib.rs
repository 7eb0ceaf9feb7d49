//! `galley-local`: Oracle Cloud's Resource Manager, Compute Instance Agent (run command) and
//! Object Storage APIs served on loopback, with the same paths, JSON shapes, status codes,
//! headers and error bodies, so clients (the Galley provider, the OCI SDKs) can be tested
//! without a tenancy.
//!
//! Every request is signature-checked against trusted public keys, Resource Manager jobs run
//! the real `terraform` CLI, agent commands run real scripts in a sandbox directory, and
//! everything lives in a data directory so nothing is lost across a restart.
//!
//! # Layout
//!
//! - [`config`]: engine settings (data directory, namespace, terraform binary, opt-ins).
//! - [`trust`]: the public keys whose signatures are accepted (OCI config profiles, PEM files).
//! - [`app`]: [`AppState`] (opening the data directory, recovery after a restart) and
//!   [`app()`], the router with its middleware stack.
//! - [`serve`]: [`serve()`], the HTTP/1 accept loop (graceful shutdown, dropped-connection
//!   faults), separate from `main` so tests run the server in-process.
//! - [`connections`]: per-connection timeouts (header read, idle, request) and the connection
//!   limit that sheds idle connections first.
//! - [`auth`]: the middleware verifying request signatures with `galley_oci::signing`.
//! - [`faults`]: fault injection for tests (`/_galley/faults`) and the health endpoint.
//! - [`api`]: OCI's error shape, request ids, JSON and paging helpers shared by the services.
//! - [`rm`]: Resource Manager 20180917: stacks, jobs, logs, state; the terraform job runner.
//! - [`agent`]: Compute Instance Agent 20180530: commands and executions; the script runner.
//! - [`objectstorage`]: namespace, buckets, objects and pre-authenticated requests.
//! - [`store`], [`clock`], [`ids`], [`retry`], [`process`]: atomic JSON files, timestamps,
//!   OCIDs, `opc-retry-token` idempotency, child process groups.

pub mod agent;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod connections;
pub mod faults;
pub mod ids;
pub mod objectstorage;
pub mod process;
pub mod retry;
pub mod rm;
pub mod serve;
pub mod store;
pub mod trust;

pub use app::{AppState, OpenError, app};
pub use config::Config;
pub use serve::{serve, serve_with};
pub use trust::TrustStore;
