//! The accept loop: HTTP/1.1 with keep-alive, the client address passed to handlers (the
//! admin endpoints answer loopback only), connections dropped on request by fault injection,
//! timeouts and the connection limit ([`crate::connections`]), and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::connections::{
    Admission, ConnectionLimits, Registry, TrackedBody, TrackedIo, busy_response,
};
use crate::faults::DropConnection;

/// How long open connections get to finish their request after shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Returned to hyper instead of a response so that it closes the connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Serves `router` on `listener` with the default [`ConnectionLimits`] until `shutdown`
/// completes, then lets open connections finish (up to a few seconds).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, router, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] with explicit timeouts and connection limit (see [`crate::connections`]).
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let registry = Arc::new(Registry::new(&limits));
    tracing::debug!(
        max_connections = registry.capacity(),
        header_read_timeout_ms = limits.header_read_timeout.as_millis() as u64,
        idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
        request_timeout_ms = limits.request_timeout.as_millis() as u64,
        "connection limits"
    );
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors: close the longest-idle connection to make room,
                    // else back off instead of spinning.
                    if registry.shed_one() {
                        tracing::debug!(error = %e, "accept failed; closed an idle connection to make room");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        tracing::warn!(error = %e, "failed to accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let tracker = match registry.admit() {
            Admission::Admit(t) => t,
            Admission::Refuse => {
                tracing::warn!(%remote, max_connections = registry.capacity(), "every connection is busy; refusing a new one with 503");
                let answer = busy_response(registry.capacity());
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&answer))
                        .await;
                });
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let on_request = Arc::clone(&tracker);
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            on_request.on_request();
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            let router = router.clone();
            let tracker = Arc::clone(&on_request);
            async move {
                let resp = match router.oneshot(req.map(Body::new)).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                if resp.extensions().get::<DropConnection>().is_some() {
                    Err(Dropped)
                } else {
                    Ok(resp.map(|body| Body::new(TrackedBody::new(body, tracker))))
                }
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(
                TokioIo::new(TrackedIo::new(stream, Arc::clone(&tracker))),
                service,
            );
        let conn = graceful.watch(conn);
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            tokio::select! {
                ended = conn => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, %remote, "connection ended with an error");
                    }
                }
                reason = tracker.expired(&limits) => {
                    tracing::debug!(%remote, reason, "closing a connection");
                }
            }
            registry.remove(&tracker);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("some connections were still open at shutdown");
        }
    }
    Ok(())
}
