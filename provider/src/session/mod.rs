//! Sessions: a Terraform configuration deployed as an OCI Resource Manager stack, with its
//! PLAN, APPLY and DESTROY jobs run and followed. This is the engine behind the
//! `galley_session` resource and the `galley_stack` data source; it knows nothing about
//! Terraform's protocol or values (no cty, no attribute names beyond the `timeouts` knob named
//! in a timed-out job's message).
//!
//! # Layout
//! - [`source`]: the configuration directory: its Terraform files, digest and zip.
//! - [`stack`]: what a session wants of its stack ([`StackSpec`]), what the stack is
//!   ([`StackView`]), and creating, reading, updating and deleting it.
//! - [`custom_provider`]: the stack's provider bucket and the third-party provider sourcing
//!   Resource Manager requires before a stack names one.
//! - [`jobs`]: the PLAN job, the APPLY job of that plan, the DESTROY job, followed through
//!   `crate::remote::job` (whose job events the sidecar reads).
//! - [`failure`]: a job that did not succeed, rendered for people ([`JobFailure`]).
//! - [`state`]: what the stack's Terraform state says: its outputs, whether it holds resources.
//! - [`describe`]: an existing stack read whole by OCID, for import and the data source.
//! - [`reviewed`]: the plan job a session is told to apply, checked against what it would
//!   deploy (from Resource Manager's record of the job).
//! - [`drift`]: Resource Manager's drift detection of the stack, followed to its result.
//! - [`error`]: [`SessionError`], every way the engine fails.

pub mod custom_provider;
pub mod describe;
pub mod drift;
pub mod error;
pub mod failure;
pub mod jobs;
pub mod reviewed;
pub mod source;
pub mod stack;
pub mod state;

pub use describe::{Described, describe, is_stack_ocid};
pub use drift::DriftReport;
pub use error::{Call, SessionError};
pub use failure::JobFailure;
pub use jobs::{JobKind, JobRun, JobTimeouts, Jobs, JobsReport};
pub use source::SourceError;
pub use stack::{CustomProvider, StackSpec, StackUpdate, StackView};
pub use state::Outputs;
