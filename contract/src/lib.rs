//! The contract between the Galley provider and the Galley sidecar.
//!
//! The sidecar runs Terraform with the provider and must know what the provider did (which
//! Resource Manager job started, how it ended, what it planned) without reading the provider's
//! human wording. Everything one program relies on from the other lives here, once: a rewording
//! of a log message or a diagnostic must never break the other side.
//!
//! # Layout
//! - `env`: the environment variables both programs read.
//! - `rm`: Resource Manager facts both rely on (the variables it injects into every job).
//!
//! This crate holds names, types and pure parsers only: no I/O, no OCI client, no gRPC.

pub mod env;
pub mod rm;
