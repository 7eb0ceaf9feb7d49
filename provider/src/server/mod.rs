//! The plugin server: listener, TLS, the gRPC services Terraform talks to, and shutdown.
//!
//! `serve` runs on a listener it is given (tests pass their own); `run_plugin` and `run_debug`
//! are the two ways the binary starts it. Nothing here knows what a resource does.

pub mod fromproto;
pub mod handshake;
pub mod plugin_services;
pub mod rpc;
pub mod tls;
pub mod toproto;

use std::io::Write as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use galley_proto::plugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use galley_proto::tfplugin5::provider_server::ProviderServer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::provider::{Provider, SOURCE_ADDRESS};
use handshake::{HandshakeEnv, ListenAddr};

/// Terraform's Go side accepts messages far above tonic's 4 MiB default; so does this server
/// (terraform-plugin-go's limit).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("failed to create the plugin socket in {dir}: {source}")]
    Socket { dir: String, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("failed to serve gRPC: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("failed to write the handshake line to stdout: {0}")]
    Stdout(std::io::Error),
}

/// Serves the provider on `listener` until `shutdown` is cancelled (by Terraform's `Shutdown`
/// call or by the caller). With `tls`, every connection must complete mutual TLS first.
pub async fn serve(
    provider: Arc<Provider>,
    listener: UnixListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let incoming = accept_loop(listener, tls, shutdown.clone());
    let provider_service = ProviderServer::new(rpc::ProviderService::new(provider))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let server = tonic::transport::Server::builder()
        .add_service(provider_service)
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(plugin_services::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(plugin_services::Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcBrokerServer::new(plugin_services::Broker {
            shutdown: shutdown.clone(),
        }))
        .serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());

    // Graceful shutdown waits for open streams; Terraform may keep its connection open, so give
    // it a moment and then stop regardless.
    tokio::select! {
        r = server => r?,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(Duration::from_secs(2)).await } => {
            debug!("connections still open after shutdown; exiting anyway");
        }
    }
    Ok(())
}

/// Accepts connections and completes TLS handshakes off the accept path, so one slow or hostile
/// client cannot hold up the next.
fn accept_loop(
    listener: UnixListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> tokio_stream::wrappers::ReceiverStream<Result<Io, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                a = listener.accept() => a,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "failed to accept a connection");
                    continue;
                }
            };
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let io = match acceptor {
                    None => Io(Box::new(stream)),
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls_stream) => Io(Box::new(tls_stream)),
                        Err(e) => {
                            // A client without Terraform's certificate ends here.
                            warn!(error = %e, "refused a connection: TLS handshake failed");
                            return;
                        }
                    },
                };
                let _ = tx.send(Ok(io)).await;
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

trait ReadWrite: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ReadWrite for T {}

/// One accepted connection, plain or TLS, in the shape tonic's server accepts.
pub struct Io(Box<dyn ReadWrite>);

impl tonic::transport::server::Connected for Io {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// A private directory holding the plugin socket; removed when dropped.
pub struct SocketDir {
    dir: PathBuf,
}

impl SocketDir {
    pub fn create(parent: Option<&str>) -> Result<Self, ServeError> {
        let parent = parent.map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let mut last_err = None;
        for attempt in 0..16u32 {
            let name = format!(
                "galley-plugin-{}-{}",
                std::process::id(),
                random_suffix(attempt)
            );
            let dir = parent.join(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    use std::os::unix::fs::PermissionsExt as _;
                    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
                    return Ok(Self { dir });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => {
                    return Err(ServeError::Socket {
                        dir: parent.display().to_string(),
                        source: e,
                    });
                }
            }
        }
        Err(ServeError::Socket {
            dir: parent.display().to_string(),
            source: last_err.unwrap_or_else(|| std::io::Error::other("no free name")),
        })
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("plugin.sock")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn random_suffix(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}",
        nanos.wrapping_mul(2_654_435_761).wrapping_add(attempt)
    )
}

fn bind(dir: &SocketDir) -> Result<(UnixListener, ListenAddr), ServeError> {
    let path = dir.socket_path();
    let listener = UnixListener::bind(&path).map_err(|e| ServeError::Socket {
        dir: path.display().to_string(),
        source: e,
    })?;
    Ok((listener, ListenAddr::Unix(path.display().to_string())))
}

/// Started by Terraform: handshake on stdout, mutual TLS when Terraform asked for it, serve
/// until `Shutdown`.
pub async fn run_plugin(env: HandshakeEnv) -> Result<(), ServeError> {
    let dir = SocketDir::create(env.socket_dir.as_deref())?;
    let (listener, addr) = bind(&dir)?;
    let tls = env
        .client_cert_pem
        .as_deref()
        .map(tls::server_tls)
        .transpose()?;
    let line = handshake::handshake_line(&addr, tls.as_ref().map(|t| t.server_cert_der.as_slice()));
    {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes()).map_err(ServeError::Stdout)?;
        out.flush().map_err(ServeError::Stdout)?;
    }
    debug!(address = %addr.address(), tls = tls.is_some(), "plugin server listening");

    let shutdown = CancellationToken::new();
    ignore_interrupts(shutdown.clone());
    stop_on_terminate(shutdown.clone());
    serve(
        Arc::new(Provider::new()),
        listener,
        tls.map(|t| t.config),
        shutdown,
    )
    .await
}

/// `--debug`: serve without TLS and print how to attach Terraform to this process.
pub async fn run_debug() -> Result<(), ServeError> {
    let dir = SocketDir::create(None)?;
    let (listener, addr) = bind(&dir)?;
    let reattach = handshake::reattach_config(SOURCE_ADDRESS, std::process::id(), &addr);
    // In debug mode stdout is the person's terminal, not a handshake channel.
    println!(
        "Provider started. To attach Terraform, set TF_REATTACH_PROVIDERS in the shell where \
         you run it:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n\nPress Ctrl-C to stop."
    );
    let _ = std::io::stdout().flush();
    let shutdown = CancellationToken::new();
    let on_interrupt = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_interrupt.cancel();
    });
    stop_on_terminate(shutdown.clone());
    serve(Arc::new(Provider::new()), listener, None, shutdown).await
}

/// Ctrl-C reaches every process in the terminal's group. Terraform answers it by calling Stop,
/// so the provider must survive the signal itself.
fn ignore_interrupts(shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::signal::ctrl_c() => {
                    if r.is_err() { break; }
                    debug!("interrupt received; waiting for Terraform's Stop");
                }
            }
        }
    });
}

fn stop_on_terminate(shutdown: CancellationToken) {
    tokio::spawn(async move {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
            shutdown.cancel();
        }
    });
}
