//! go-plugin's side services: `GRPCController` (Terraform asks the plugin to exit),
//! `GRPCStdio` and `GRPCBroker` (opened by the client; this provider sends nothing on them).
//!
//! Without `Shutdown`, Terraform kills the process after about two seconds; the streams only
//! need to stay open quietly until the server stops.

use std::pin::Pin;

use futures::Stream;
use galley_proto::plugin as pb;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

/// Ends the server when Terraform calls `Shutdown`.
pub struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _req: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        tracing::debug!("Shutdown received");
        self.shutdown.cancel();
        Ok(Response::new(pb::Empty {}))
    }
}

type QuietStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A stream that yields nothing and ends when the server shuts down.
fn quiet_until<T: Send + 'static>(shutdown: CancellationToken) -> QuietStream<T> {
    Box::pin(
        futures::stream::once(async move {
            shutdown.cancelled_owned().await;
        })
        .filter_map(|_| async { None }),
    )
}

use futures::StreamExt as _;

pub struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = QuietStream<pb::StdioData>;

    async fn stream_stdio(
        &self,
        _req: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(quiet_until(self.shutdown.clone())))
    }
}

pub struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl pb::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = QuietStream<pb::ConnInfo>;

    async fn start_stream(
        &self,
        _req: Request<Streaming<pb::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Ok(Response::new(quiet_until(self.shutdown.clone())))
    }
}
