//! Following long remote operations: Resource Manager jobs ([`job`]) and instance agent
//! commands ([`command`]), on the poll schedules of [`poll`], reading Terraform's console
//! output with [`tf_log`].
//!
//! Knows the OCI calls (through small traits, so benchmarks and tests can simulate them) and
//! nothing about Terraform's protocol or resource schemas.

pub mod command;
pub mod job;
pub mod poll;
pub mod tf_log;
