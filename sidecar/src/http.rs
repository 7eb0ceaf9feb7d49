//! The Streamable HTTP transport: an axum app with the MCP endpoint at `/mcp` (rmcp's tower
//! service behind the `security` checks) and `GET /health`. `serve` runs it on a listener until
//! shutdown, so tests run it in-process.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::security::{self, Policy};
use crate::server::Sidecar;

/// Builds the app. `shutdown` also ends open MCP streams.
pub fn app(sidecar: Sidecar, policy: Policy, shutdown: CancellationToken) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown)
        .with_sse_keep_alive(Some(std::time::Duration::from_secs(15)));
    // Our own middleware checks Host and Origin first with clear refusals; the SDK's checks stay
    // on with the same lists as a second line.
    config = match policy.hosts() {
        Some(hosts) => config.with_allowed_hosts(hosts.iter().cloned()),
        None => config.disable_allowed_hosts(),
    };
    let mcp: StreamableHttpService<Sidecar, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(sidecar.clone()), Arc::default(), config);
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

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
