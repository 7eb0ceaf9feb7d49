//! Compiles the plugin protocol's .proto files into Rust at build time.
//!
//! protox parses the files in pure Rust, so building needs no system `protoc`; tonic-prost-build
//! then turns the descriptors into prost messages plus tonic server and client code in OUT_DIR.

use std::path::PathBuf;

/// Files relative to the crate root, which is also the only include directory.
const PROTOS: &[&str] = &[
    "tfplugin5.proto",
    "plugin/grpc_controller.proto",
    "plugin/grpc_stdio.proto",
    "plugin/grpc_broker.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }

    // google/protobuf/{timestamp,empty}.proto are bundled with protox.
    let fds = protox::compile(PROTOS, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
