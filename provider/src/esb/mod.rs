//! ESB resources: DynamoDB tables and S3 buckets declared in ESB's `resources.yml`, created,
//! adopted, updated and deleted idempotently against local DynamoDB- and S3-compatible servers.
//! This is the engine behind the `esb_resources` Terraform resource; it knows nothing about
//! Terraform.
//!
//! # Layout
//! - [`spec`]: the file's two shapes, typed and validated (no I/O).
//! - [`connection`]: endpoints, region, keys, timeouts; defaults from the environment.
//! - `transport` (private): SigV4 signing, timeouts and retries shared by both clients.
//! - [`dynamodb`]: the DynamoDB JSON 1.0 calls the engine needs.
//! - [`s3`]: the S3 REST (path-style) calls the engine needs.
//! - [`reconcile`]: observe, plan, check, apply and destroy.
//! - [`error`]: [`EsbError`], shared by the clients and the engine.

pub mod connection;
pub mod dynamodb;
pub mod error;
pub mod reconcile;
pub mod s3;
pub mod spec;
mod transport;

pub use connection::{Connection, Timeouts};
pub use error::{EsbError, Service};
pub use reconcile::{
    Action, ApplyFailure, ApplyOutcome, ChangeProblem, Observed, Owned, Plan, PlannedNames, apply,
    check_changes, destroy, existing, observe, plan, plan_names,
};
pub use spec::{EsbSpec, SpecError, SpecProblem};
