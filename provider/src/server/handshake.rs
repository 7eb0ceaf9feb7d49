//! The go-plugin handshake: what Terraform puts in the environment, and the single line the
//! provider answers with on stdout.
//!
//! This module owns reading the handshake environment and formatting the handshake line. It does
//! not open sockets or build TLS: it only decides and describes.

use base64::Engine as _;

/// The cookie every Terraform plugin client sets; without it the binary was run by hand.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's own handshake protocol version (the first field of the line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol this provider speaks.
pub const APP_PROTOCOL_VERSION: u32 = 5;

/// What the provider prints when started by a person instead of by Terraform.
pub const RUN_BY_HAND_MESSAGE: &str = "\
This is terraform-provider-galley, a Terraform provider plugin. It is not meant to be run by
hand: Terraform starts it when a configuration uses the galley provider.

  Use it:    terraform init && terraform apply   (in a directory whose configuration uses it)
  Debug it:  terraform-provider-galley --debug   (serves without Terraform and prints the
             TF_REATTACH_PROVIDERS value to use)
  Version:   terraform-provider-galley --version
";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("started without Terraform's magic cookie")]
    NotLaunchedByTerraform,
    #[error(
        "Terraform offered plugin protocol versions {offered:?}, but this provider speaks only \
         version 5: use Terraform 0.12 or later"
    )]
    NoCommonProtocol { offered: String },
}

/// The handshake facts taken from the environment Terraform set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeEnv {
    /// PEM of the certificate Terraform will present; `None` means plaintext was asked for.
    pub client_cert_pem: Option<String>,
    /// Where to create the Unix socket (`PLUGIN_UNIX_SOCKET_DIR`), else the temp dir.
    pub socket_dir: Option<String>,
}

impl HandshakeEnv {
    /// Reads and checks the environment through `get`, so tests need not mutate the process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, HandshakeError> {
        if get(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NotLaunchedByTerraform);
        }
        // Old clients (and go-plugin's default) do not set the list: version 5 is then implied.
        if let Some(offered) = get("PLUGIN_PROTOCOL_VERSIONS").filter(|s| !s.trim().is_empty()) {
            let speaks_five = offered
                .split(',')
                .any(|v| v.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION));
            if !speaks_five {
                return Err(HandshakeError::NoCommonProtocol { offered });
            }
        }
        Ok(Self {
            client_cert_pem: get("PLUGIN_CLIENT_CERT").filter(|s| !s.trim().is_empty()),
            socket_dir: get("PLUGIN_UNIX_SOCKET_DIR").filter(|s| !s.is_empty()),
        })
    }
}

/// Where the gRPC server listens, as go-plugin spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Unix(String),
    Tcp(std::net::SocketAddr),
}

impl ListenAddr {
    pub fn network(&self) -> &'static str {
        match self {
            ListenAddr::Unix(_) => "unix",
            ListenAddr::Tcp(_) => "tcp",
        }
    }
    pub fn address(&self) -> String {
        match self {
            ListenAddr::Unix(path) => path.clone(),
            ListenAddr::Tcp(addr) => addr.to_string(),
        }
    }
}

/// `CORE|APP|NETWORK|ADDR|grpc|CERT` where CERT is the server certificate's DER in standard
/// base64 without padding, and is left off when TLS is not used.
pub fn handshake_line(addr: &ListenAddr, server_cert_der: Option<&[u8]>) -> String {
    let mut line = format!(
        "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{}|{}|grpc|",
        addr.network(),
        addr.address()
    );
    if let Some(der) = server_cert_der {
        line.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(der));
    }
    line.push('\n');
    line
}

/// The `TF_REATTACH_PROVIDERS` value for a provider served in debug mode.
pub fn reattach_config(source_address: &str, pid: u32, addr: &ListenAddr) -> String {
    serde_json::json!({
        source_address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": addr.network(), "String": addr.address() },
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_or_wrong_cookie_means_run_by_hand() {
        assert_eq!(
            HandshakeEnv::from_lookup(env(&[])),
            Err(HandshakeError::NotLaunchedByTerraform)
        );
        assert_eq!(
            HandshakeEnv::from_lookup(env(&[(MAGIC_COOKIE_KEY, "nope")])),
            Err(HandshakeError::NotLaunchedByTerraform)
        );
    }

    #[test]
    fn protocol_five_must_be_offered() {
        let err = HandshakeEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "6"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("only version 5"), "{err}");
        let ok = HandshakeEnv::from_lookup(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
            ("PLUGIN_CLIENT_CERT", "-----BEGIN CERTIFICATE-----"),
        ]))
        .unwrap();
        assert_eq!(
            ok.client_cert_pem.as_deref(),
            Some("-----BEGIN CERTIFICATE-----")
        );
    }

    #[test]
    fn handshake_line_matches_go_plugin_format() {
        let addr = ListenAddr::Unix("/tmp/plugin123/p.sock".into());
        assert_eq!(
            handshake_line(&addr, Some(&[0xfb, 0xff])),
            "1|5|unix|/tmp/plugin123/p.sock|grpc|+/8\n"
        );
        let tcp = ListenAddr::Tcp("127.0.0.1:4000".parse().unwrap());
        assert_eq!(handshake_line(&tcp, None), "1|5|tcp|127.0.0.1:4000|grpc|\n");
    }

    #[test]
    fn reattach_config_names_the_provider_and_socket() {
        let addr = ListenAddr::Unix("/tmp/x.sock".into());
        let v: serde_json::Value = serde_json::from_str(&reattach_config(
            "registry.terraform.io/galley-dev/galley",
            42,
            &addr,
        ))
        .unwrap();
        let p = &v["registry.terraform.io/galley-dev/galley"];
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["ProtocolVersion"], 5);
        assert_eq!(p["Addr"]["Network"], "unix");
        assert_eq!(p["Addr"]["String"], "/tmp/x.sock");
    }
}
