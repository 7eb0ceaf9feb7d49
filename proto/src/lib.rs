//! Terraform plugin protocol 5 (as Terraform 1.15 publishes it) and hashicorp/go-plugin's helper
//! services, as Rust types.
//!
//! This crate owns the wire contract only: the `.proto` files next to this crate are compiled at
//! build time (pure Rust, no system `protoc`) into prost messages and tonic server and client
//! code. It holds no provider logic.
//!
//! # Layout
//! - [`tfplugin5`]: package `tfplugin5`. The `Provider` service is
//!   [`tfplugin5::provider_server::Provider`] (trait) served by
//!   [`tfplugin5::provider_server::ProviderServer`], with
//!   [`tfplugin5::provider_client::ProviderClient`] for callers such as tests. Messages nest as in
//!   the protocol: `GetProviderSchema.Response` is [`tfplugin5::get_provider_schema::Response`].
//! - [`plugin`]: package `plugin`, the go-plugin services Terraform expects next to the provider:
//!   `GRPCController` ([`plugin::grpc_controller_server`]), `GRPCStdio`
//!   ([`plugin::grpc_stdio_server`]) and `GRPCBroker` ([`plugin::grpc_broker_server`]).
//!
//! `prost_types` is re-exported because some messages carry `google.protobuf.Timestamp`.
//!
//! Servers keep tonic's defaults; Terraform sends schemas and states far above tonic's 4 MiB
//! decoding limit, so wrap with `ProviderServer::new(p).max_decoding_message_size(..)`.

pub use prost_types;

/// Package `tfplugin5`: Terraform plugin protocol 5, generated from `tfplugin5.proto`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    reason = "generated code: its shape follows the protocol, not our lints"
)]
pub mod tfplugin5 {
    tonic::include_proto!("tfplugin5");
}

/// Package `plugin`: go-plugin's controller, stdio and broker services.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    reason = "generated code: its shape follows the protocol, not our lints"
)]
pub mod plugin {
    tonic::include_proto!("plugin");
}
