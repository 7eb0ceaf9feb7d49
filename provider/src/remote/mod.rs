//! Following long remote operations: Resource Manager jobs ([`job`]) and instance agent
//! commands ([`command`]), on the poll schedules of [`poll`], keeping the last lines of their
//! output with [`tf_log`]. A job's log is read with `galley_contract::tf_output` and reported
//! as the contract's job events.
//!
//! Knows the OCI calls (through small traits, so benchmarks and tests can simulate them) and
//! nothing about Terraform's protocol or resource schemas.

pub mod command;
pub mod job;
pub mod poll;
pub mod tf_log;
