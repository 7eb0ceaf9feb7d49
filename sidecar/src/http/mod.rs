//! The Streamable HTTP transport: an axum app with the MCP endpoint at `/mcp` (rmcp's tower
//! service behind the `security` checks, then `messages`) and `GET /health`, served by
//! `listener` with its timeouts and connection limit. `serve` runs it on a listener until
//! shutdown, so tests run it in-process.
//!
//! - `listener`: accepting, timeouts, the connection limit.
//! - `messages`: body size and time limits, JSON-RPC checks and errors on `/mcp`.
//! - `sessions`: the limits on MCP sessions and on the streams of each.

mod listener;
mod messages;
mod sessions;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use listener::effective_max_connections;
pub use messages::{SERVER_BUSY, SESSION_NOT_FOUND};
pub use sessions::{LimitError, LimitedSessions};

use crate::limits::Limits;
use crate::security::{self, Policy};
use crate::server::Sidecar;

/// Builds the app. `shutdown` also ends open MCP streams.
pub fn app(
    sidecar: Sidecar,
    policy: Policy,
    limits: &Limits,
    shutdown: CancellationToken,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown)
        .with_sse_keep_alive(Some(std::time::Duration::from_secs(15)))
        .with_max_request_body_bytes(limits.max_message_bytes);
    // Our own middleware checks Host and Origin first with clear refusals; the SDK's checks stay
    // on with the same lists as a second line.
    config = match policy.hosts() {
        Some(hosts) => config.with_allowed_hosts(hosts.iter().cloned()),
        None => config.disable_allowed_hosts(),
    };
    let sessions = Arc::new(LimitedSessions::new(
        limits.http.max_sessions,
        limits.http.max_streams_per_session,
        limits.http.session_idle,
    ));
    let mcp: StreamableHttpService<Sidecar, LimitedSessions> =
        StreamableHttpService::new(move || Ok(sidecar.clone()), sessions.clone(), config);
    let checks = Arc::new(messages::Checks {
        sessions,
        max_message_bytes: limits.max_message_bytes,
        request_timeout: limits.http.request_timeout,
    });
    let mcp = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            checks,
            messages::check,
        ))
        .service(mcp);
    let policy = Arc::new(policy);
    Router::new()
        .nest_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn_with_state(
            policy,
            security::guard,
        ))
        .route("/health", get(health))
        .fallback(not_found)
}

async fn not_found() -> axum::response::Response {
    security::refusal(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "nothing here: MCP is served at /mcp (POST, and GET for the event stream), health at GET /health",
    )
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(
        serde_json::json!({ "status": "ok", "name": "galley-sidecar", "version": env!("CARGO_PKG_VERSION") }),
    )
}

/// Connections the kernel queues for `accept`: a burst of connections (an attack shed by the
/// listener reconnecting at once) must not crowd out a real client's connection attempt.
const BACKLOG: u32 = 4096;

/// Listens on `addr` (address reuse on, a deep accept queue).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `app` on `listener` with the HTTP limits until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve(listener, app, limits.http.clone(), shutdown).await
}
