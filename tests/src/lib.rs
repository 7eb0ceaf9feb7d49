//! Test support shared by the workspace's integration tests.
//!
//! # Layout
//! - [`tools`]: where `tests/setup.sh` installed the tools, and a boto3 probe for independent
//!   checks of DynamoDB/S3 servers.
//! - [`servers`]: local DynamoDB and S3 servers (moto, dynalite, SeaweedFS) started on free
//!   loopback ports and stopped when their guards are dropped.
//! - [`terraform`]: a Terraform working directory wired to the provider under test.
//! - [`local`]: the local OCI engine (`galley-local`) with a generated API key, and the
//!   environment that points Terraform and SDKs at it.
//! - [`release`]: the provider's release (`deploy/package-provider.sh`), built once for the
//!   tests that need it, and the `galley-upload-providers` command.

pub mod local;
pub mod release;
pub mod servers;
pub mod terraform;
pub mod tools;
