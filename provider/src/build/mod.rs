//! Container image builds on an OCI build instance: the build context packaged here and
//! uploaded to Object Storage, a script sent through the Instance Agent's run command that
//! fetches it through short-lived pre-authenticated URLs, builds and pushes, and what the
//! command left. This is the engine behind the `galley_build` Terraform resource; it knows
//! nothing about Terraform (no schema, no attribute, no diagnostic) and returns typed results
//! and [`BuildError`]s.
//!
//! The registry token is an input of [`run()`] only, as a [`Login`]: it reaches Object Storage
//! as a scratch object the script reads once, and never a command, an output, a log line or a
//! `Debug` print.
//!
//! # Layout
//! - [`context`]: the build context on this machine: scanned, checked for its Dockerfile,
//!   digested, packaged.
//! - [`scratch`]: the build's objects in Object Storage: the uploaded context, and per build
//!   the registry token object and the pre-authenticated URLs, removed when it ends.
//! - [`script`]: the script the instance runs.
//! - [`mod@run`]: one build: the script sent, followed through `crate::remote::command` (which
//!   cancels it on Stop or at a timeout), the scratch removed; finding a build command again.
//! - [`outcome`]: what a command left (exit code, output tail, the pushed digest) and, when it
//!   pushed no image, why.
//! - [`error`]: [`BuildError`], what every step above can fail with.

pub mod context;
pub mod error;
pub mod outcome;
pub mod run;
pub mod scratch;
pub mod script;

pub use context::ContextError;
pub use error::BuildError;
pub use galley_oci::auth::Secret;
pub use outcome::{Failed, Failure, Record};
pub use run::{Build, Found, Login, Timeouts, find, run};
pub use scratch::{Uploaded, object_name};
