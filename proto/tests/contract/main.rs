//! Contract tests for the generated protocol code: field numbers and enum values checked through
//! hand-written wire bytes, and every RPC path reached through a real gRPC server and client.
//!
//! The numbers asserted here are the ones Terraform 1.14 (protocol 5.10) and go-plugin put on the
//! wire; a renumbered or renamed field or RPC in the .proto files makes these tests fail.

mod services;
mod wire_format;
