//! The plugin protocol itself: run by hand, the handshake line, AutoMTLS (the right certificate
//! in, a wrong one out), Shutdown, debug mode with reattach, and logs Terraform can read.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use galley_proto::plugin::grpc_controller_client::GrpcControllerClient;
use galley_proto::tfplugin5::provider_client::ProviderClient;
use galley_tests::terraform::TfVersion;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

use crate::util::*;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

#[test]
fn run_by_hand_explains_and_exits_1() {
    let out = Command::new(provider_bin())
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout belongs to the handshake");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not meant to be run by") && err.contains("--debug"),
        "{err}"
    );
}

/// A client certificate shaped like Terraform's: self-signed P-521 with CA:TRUE.
fn terraform_like_cert() -> (String, Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), cert.der().to_vec(), key.serialize_der())
}

struct Plugin {
    child: std::process::Child,
    socket: String,
    server_cert: Vec<u8>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_plugin(client_cert_pem: &str) -> (Plugin, Duration) {
    start_plugin_command(Command::new(provider_bin()), client_cert_pem)
}

/// Starts a provider with `command` (the binary, or an emulator running it) as Terraform does
/// and reads its handshake line.
fn start_plugin_command(mut command: Command, client_cert_pem: &str) -> (Plugin, Duration) {
    let started = Instant::now();
    let mut child = command
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", client_cert_pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let elapsed = started.elapsed();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line: {line:?}");
    assert_eq!(&fields[..3], ["1", "5", "unix"]);
    assert_eq!(fields[4], "grpc");
    assert!(
        !fields[5].ends_with('='),
        "certificate must be unpadded base64"
    );
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .expect("certificate is base64");
    (
        Plugin {
            child,
            socket: fields[3].to_string(),
            server_cert,
        },
        elapsed,
    )
}

/// Trusts exactly the certificate the handshake line announced, as go-plugin's client does
/// (webpki would refuse it: go-plugin certificates are CA certificates used as leaves).
#[derive(Debug)]
struct PinnedServer {
    der: Vec<u8>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the announced certificate".into(),
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn tls_client(
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    server_cert: &[u8],
) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PinnedServer {
        der: server_cert.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(
            vec![CertificateDer::from(cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn grpc_channel(
    socket: String,
    connector: tokio_rustls::TlsConnector,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            let connector = connector.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(&socket).await?;
                let tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), stream)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

/// GetSchema through the handshake's socket and certificate, then Shutdown: a provider that
/// answers both completed the handshake as Terraform runs it.
async fn schema_then_shutdown(mut plugin: Plugin, der: Vec<u8>, key: Vec<u8>) {
    let channel = grpc_channel(
        plugin.socket.clone(),
        tls_client(der, key, &plugin.server_cert),
    )
    .await
    .expect("TLS with the pinned certificate");
    let schema = ProviderClient::new(channel.clone())
        .get_schema(galley_proto::tfplugin5::get_provider_schema::Request {})
        .await
        .expect("GetSchema")
        .into_inner();
    for resource in ["esb_resources", "galley_session", "galley_build"] {
        assert!(schema.resource_schemas.contains_key(resource), "{resource}");
    }
    GrpcControllerClient::new(channel)
        .shutdown(galley_proto::plugin::Empty {})
        .await
        .expect("Shutdown");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after Shutdown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The linux_arm64 release binary, run under qemu-user, completes the handshake: AutoMTLS,
/// GetSchema, Shutdown.
#[tokio::test]
async fn the_arm64_release_completes_the_handshake_under_qemu() {
    let release = galley_tests::release::release();
    let binary = release.binary("linux_arm64");
    assert_eq!(
        galley_tests::release::elf_platform(&binary),
        Some("linux_arm64")
    );
    let qemu = which("qemu-aarch64").unwrap_or_else(|| {
        panic!("qemu-aarch64 is missing: run tests/setup.sh (it installs Debian's qemu-user)")
    });
    // The cross toolchain the release script installs brings the arm64 C library here.
    let sysroot = std::path::Path::new("/usr/aarch64-linux-gnu");
    assert!(
        sysroot.join("lib").is_dir(),
        "{} is missing: deploy/package-provider.sh installs it (libc6-dev-arm64-cross)",
        sysroot.display()
    );
    let mut command = Command::new(qemu);
    command.arg("-L").arg(sysroot).arg(&binary);
    let (pem, der, key) = terraform_like_cert();
    let (plugin, took) = start_plugin_command(command, &pem);
    eprintln!("arm64 handshake under qemu-user: {took:?}");
    schema_then_shutdown(plugin, der, key).await;
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

#[tokio::test]
async fn mtls_accepts_terraforms_certificate_and_refuses_others() {
    let (pem, der, key) = terraform_like_cert();
    let (plugin, _) = start_plugin(&pem);

    // The announced certificate is the one served, and it names localhost.
    let channel = grpc_channel(
        plugin.socket.clone(),
        tls_client(der, key, &plugin.server_cert),
    )
    .await
    .expect("TLS with the pinned certificate");
    let mut client = ProviderClient::new(channel.clone());
    let schema = client
        .get_schema(galley_proto::tfplugin5::get_provider_schema::Request {})
        .await
        .expect("GetSchema")
        .into_inner();
    assert!(schema.resource_schemas.contains_key("esb_resources"));
    let provider_attrs: Vec<_> = schema
        .provider
        .unwrap()
        .block
        .unwrap()
        .attributes
        .into_iter()
        .map(|a| a.name)
        .collect();
    for name in [
        "auth",
        "config_file_profile",
        "region",
        "private_key",
        "private_key_password",
    ] {
        assert!(provider_attrs.contains(&name.to_string()), "{name} missing");
    }

    // Another certificate, even of the same shape, is refused during the TLS handshake.
    let (_, other_der, other_key) = terraform_like_cert();
    let refused = async {
        let stream = tokio::net::UnixStream::connect(&plugin.socket).await?;
        let mut tls = tls_client(other_der, other_key, &plugin.server_cert)
            .connect(ServerName::try_from("localhost").unwrap(), stream)
            .await?;
        // TLS 1.3 reports a refused client certificate on the first read.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
        let mut buf = [0u8; 64];
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        Ok::<_, std::io::Error>(())
    }
    .await;
    assert!(
        refused.is_err(),
        "a foreign client certificate must be refused"
    );

    // Shutdown ends the process and removes the socket.
    let mut plugin = plugin;
    GrpcControllerClient::new(channel)
        .shutdown(galley_proto::plugin::Empty {})
        .await
        .expect("Shutdown");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "provider still running 5 s after Shutdown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !std::path::Path::new(&plugin.socket).exists(),
        "socket left behind"
    );
}

#[test]
fn debug_mode_serves_terraform_through_reattach() {
    let mut child = Command::new(provider_bin())
        .arg("--debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut reattach = None;
    for _ in 0..10 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            reattach = Some(rest.trim_end_matches('\'').to_string());
            break;
        }
    }
    let reattach = reattach.expect("debug mode prints TF_REATTACH_PROVIDERS");
    let mut wd = workdir(TfVersion::Latest);
    wd.env("TF_REATTACH_PROVIDERS", &reattach);
    wd.write(
        "main.tf",
        r#"
terraform {
  required_providers {
    galley = { source = "galley-dev/galley" }
  }
}
resource "esb_resources" "empty" {
  provider       = galley
  resources_yaml = "S3: []"
}
output "id" { value = esb_resources.empty.source_sha256 }
"#,
    );
    // `command` clears TF_REATTACH_PROVIDERS for other tests; put it back for this one.
    let out = wd
        .command(&["plan", "-no-color"])
        .env("TF_REATTACH_PROVIDERS", &reattach)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("esb_resources.empty will be created"),
        "{text}"
    );
}

#[test]
fn terraform_debug_log_shows_provider_lines_with_levels() {
    let wd = workdir(TfVersion::Latest);
    wd.write(
        "main.tf",
        r#"
terraform {
  required_providers {
    galley = { source = "galley-dev/galley" }
  }
}
provider "galley" {
  private_key = "-----BEGIN PRIVATE KEY-----not-a-real-key"
}
resource "esb_resources" "empty" {
  provider       = galley
  resources_yaml = "S3: []"
}
"#,
    );
    let out = wd
        .command(&["plan", "-no-color"])
        .env("TF_LOG", "DEBUG")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("provider configured"))
        .unwrap_or_else(|| panic!("no provider log line in:\n{log}"));
    assert!(line.contains("[DEBUG]"), "level lost: {line}");
    assert!(!log.contains("not-a-real-key"), "a secret reached the log");
}
