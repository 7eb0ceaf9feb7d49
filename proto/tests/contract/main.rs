//! Contract tests for the generated protocol code: the whole wire contract compared with the
//! published protocol's table, field numbers and enum values checked through hand-written wire
//! bytes, and every RPC path reached through a real gRPC server and client.
//!
//! The numbers asserted here are the ones Terraform 1.15 (protocol 5, file version 5.10) and
//! go-plugin put on the wire; a renumbered or renamed field or RPC in the .proto files makes these
//! tests fail.

mod descriptor;
mod services;
mod wire_format;
