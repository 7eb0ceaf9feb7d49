//! Test support shared by the workspace's integration tests.
//!
//! # Layout
//! - [`servers`]: local DynamoDB and S3 servers (moto, dynalite, SeaweedFS) started on free
//!   loopback ports and stopped when their guards are dropped.

pub mod servers;
