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
//! - `job_event`: structured events about the jobs the provider follows (`job_started`,
//!   `job_state_changed`, `job_log`, `job_error`, `job_cancelling`, `job_finished`): their
//!   names, field names and types, how the provider emits them, how a reader rebuilds them.
//! - `log_line`: those events on the wire: the encoding of field values, and the parsers of a
//!   line as the provider writes it (go-plugin JSON) and as Terraform re-renders it in its log
//!   (`TF_LOG_PROVIDER`), which is what the sidecar reads. Neither looks at the message.
//! - `tf_output`: Terraform's console output as job logs hold it: the plan summary (one type,
//!   `u64` counts), `Error:` entries with their `on FILE line N` location, end-of-run lines.
//!
//! This crate holds names, types and pure parsers only: no I/O, no OCI client, no gRPC. Events
//! are written through the `tracing` facade, so where they go is the provider's choice.

pub mod env;
pub mod job_event;
pub mod log_line;
pub mod rm;
pub mod tf_output;
