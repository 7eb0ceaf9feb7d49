//! Every RPC of the generated services, reached over a real gRPC connection.
//!
//! `StubProvider` implements the generated `Provider` trait method by method: it compiles only if
//! the trait has exactly these 28 RPCs, so it doubles as the list of the protocol's RPCs. The
//! tests then call each RPC by its wire path (`/tfplugin5.Provider/GetSchema`, ...), which fails
//! if a service or RPC name drifts from what Terraform and go-plugin send.

use std::net::SocketAddr;
use std::pin::Pin;

use galley_proto::plugin::{
    self, ConnInfo, StdioData,
    grpc_broker_client::GrpcBrokerClient,
    grpc_broker_server::{GrpcBroker, GrpcBrokerServer},
    grpc_controller_client::GrpcControllerClient,
    grpc_controller_server::{GrpcController, GrpcControllerServer},
    grpc_stdio_client::GrpcStdioClient,
    grpc_stdio_server::{GrpcStdio, GrpcStdioServer},
};
use galley_proto::tfplugin5::{
    self as tf,
    provider_client::ProviderClient,
    provider_server::{Provider, ProviderServer},
};
use tokio_stream::{Stream, StreamExt, wrappers::TcpListenerStream};
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status, Streaming};

type Rpc<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The answer of every RPC the stub does not implement; the message names the RPC so a test can
/// tell "reached the method" from the router's answer for an unknown path.
fn unimplemented<T>(rpc: &str) -> Rpc<T> {
    Err(Status::unimplemented(format!("stub {rpc}")))
}

/// The whole `Provider` service. Two RPCs answer for real to exercise the typed client; the rest
/// say which method was reached.
struct StubProvider;

#[tonic::async_trait]
impl Provider for StubProvider {
    async fn get_metadata(
        &self,
        _: Request<tf::get_metadata::Request>,
    ) -> Rpc<tf::get_metadata::Response> {
        unimplemented("GetMetadata")
    }

    async fn get_schema(
        &self,
        _: Request<tf::get_provider_schema::Request>,
    ) -> Rpc<tf::get_provider_schema::Response> {
        let thing = tf::Schema {
            version: 1,
            block: Some(tf::schema::Block {
                attributes: vec![tf::schema::Attribute {
                    name: "id".into(),
                    r#type: br#""string""#.to_vec(),
                    computed: true,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        Ok(Response::new(tf::get_provider_schema::Response {
            provider: Some(tf::Schema::default()),
            resource_schemas: [("galley_thing".to_string(), thing)].into(),
            server_capabilities: Some(tf::ServerCapabilities {
                plan_destroy: true,
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn prepare_provider_config(
        &self,
        _: Request<tf::prepare_provider_config::Request>,
    ) -> Rpc<tf::prepare_provider_config::Response> {
        unimplemented("PrepareProviderConfig")
    }

    async fn validate_resource_type_config(
        &self,
        _: Request<tf::validate_resource_type_config::Request>,
    ) -> Rpc<tf::validate_resource_type_config::Response> {
        unimplemented("ValidateResourceTypeConfig")
    }

    async fn validate_data_source_config(
        &self,
        _: Request<tf::validate_data_source_config::Request>,
    ) -> Rpc<tf::validate_data_source_config::Response> {
        unimplemented("ValidateDataSourceConfig")
    }

    async fn upgrade_resource_state(
        &self,
        _: Request<tf::upgrade_resource_state::Request>,
    ) -> Rpc<tf::upgrade_resource_state::Response> {
        unimplemented("UpgradeResourceState")
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<tf::get_resource_identity_schemas::Request>,
    ) -> Rpc<tf::get_resource_identity_schemas::Response> {
        unimplemented("GetResourceIdentitySchemas")
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<tf::upgrade_resource_identity::Request>,
    ) -> Rpc<tf::upgrade_resource_identity::Response> {
        unimplemented("UpgradeResourceIdentity")
    }

    async fn configure(&self, _: Request<tf::configure::Request>) -> Rpc<tf::configure::Response> {
        unimplemented("Configure")
    }

    async fn read_resource(
        &self,
        _: Request<tf::read_resource::Request>,
    ) -> Rpc<tf::read_resource::Response> {
        unimplemented("ReadResource")
    }

    async fn plan_resource_change(
        &self,
        _: Request<tf::plan_resource_change::Request>,
    ) -> Rpc<tf::plan_resource_change::Response> {
        unimplemented("PlanResourceChange")
    }

    async fn apply_resource_change(
        &self,
        _: Request<tf::apply_resource_change::Request>,
    ) -> Rpc<tf::apply_resource_change::Response> {
        unimplemented("ApplyResourceChange")
    }

    async fn import_resource_state(
        &self,
        _: Request<tf::import_resource_state::Request>,
    ) -> Rpc<tf::import_resource_state::Response> {
        unimplemented("ImportResourceState")
    }

    async fn move_resource_state(
        &self,
        _: Request<tf::move_resource_state::Request>,
    ) -> Rpc<tf::move_resource_state::Response> {
        unimplemented("MoveResourceState")
    }

    async fn read_data_source(
        &self,
        _: Request<tf::read_data_source::Request>,
    ) -> Rpc<tf::read_data_source::Response> {
        unimplemented("ReadDataSource")
    }

    async fn generate_resource_config(
        &self,
        _: Request<tf::generate_resource_config::Request>,
    ) -> Rpc<tf::generate_resource_config::Response> {
        unimplemented("GenerateResourceConfig")
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _: Request<tf::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<tf::validate_ephemeral_resource_config::Response> {
        unimplemented("ValidateEphemeralResourceConfig")
    }

    async fn open_ephemeral_resource(
        &self,
        _: Request<tf::open_ephemeral_resource::Request>,
    ) -> Rpc<tf::open_ephemeral_resource::Response> {
        unimplemented("OpenEphemeralResource")
    }

    async fn renew_ephemeral_resource(
        &self,
        _: Request<tf::renew_ephemeral_resource::Request>,
    ) -> Rpc<tf::renew_ephemeral_resource::Response> {
        unimplemented("RenewEphemeralResource")
    }

    async fn close_ephemeral_resource(
        &self,
        _: Request<tf::close_ephemeral_resource::Request>,
    ) -> Rpc<tf::close_ephemeral_resource::Response> {
        unimplemented("CloseEphemeralResource")
    }

    type ListResourceStream = BoxStream<tf::list_resource::Event>;

    async fn list_resource(
        &self,
        request: Request<tf::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        // One event per requested result, so the test sees the request's limit round-trip.
        let limit = request.into_inner().limit;
        let events = (0..limit).map(|i| {
            Ok(tf::list_resource::Event {
                display_name: format!("thing {i}"),
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn validate_list_resource_config(
        &self,
        _: Request<tf::validate_list_resource_config::Request>,
    ) -> Rpc<tf::validate_list_resource_config::Response> {
        unimplemented("ValidateListResourceConfig")
    }

    async fn get_functions(
        &self,
        _: Request<tf::get_functions::Request>,
    ) -> Rpc<tf::get_functions::Response> {
        unimplemented("GetFunctions")
    }

    async fn call_function(
        &self,
        _: Request<tf::call_function::Request>,
    ) -> Rpc<tf::call_function::Response> {
        unimplemented("CallFunction")
    }

    async fn plan_action(
        &self,
        _: Request<tf::plan_action::Request>,
    ) -> Rpc<tf::plan_action::Response> {
        unimplemented("PlanAction")
    }

    type InvokeActionStream = BoxStream<tf::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _: Request<tf::invoke_action::Request>,
    ) -> Rpc<Self::InvokeActionStream> {
        unimplemented("InvokeAction")
    }

    async fn validate_action_config(
        &self,
        _: Request<tf::validate_action_config::Request>,
    ) -> Rpc<tf::validate_action_config::Response> {
        unimplemented("ValidateActionConfig")
    }

    async fn stop(&self, _: Request<tf::stop::Request>) -> Rpc<tf::stop::Response> {
        unimplemented("Stop")
    }
}

/// go-plugin's services as a provider serves them: shutdown acknowledged, one stderr chunk,
/// and a broker that echoes what it is sent.
struct StubGoPlugin;

#[tonic::async_trait]
impl GrpcController for StubGoPlugin {
    async fn shutdown(&self, _: Request<plugin::Empty>) -> Rpc<plugin::Empty> {
        Ok(Response::new(plugin::Empty {}))
    }
}

#[tonic::async_trait]
impl GrpcStdio for StubGoPlugin {
    type StreamStdioStream = BoxStream<StdioData>;

    async fn stream_stdio(&self, _: Request<()>) -> Rpc<Self::StreamStdioStream> {
        let chunk = StdioData {
            channel: plugin::stdio_data::Channel::Stderr as i32,
            data: b"hello".to_vec(),
        };
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(chunk)))))
    }
}

#[tonic::async_trait]
impl GrpcBroker for StubGoPlugin {
    type StartStreamStream = BoxStream<ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Rpc<Self::StartStreamStream> {
        Ok(Response::new(Box::pin(request.into_inner())))
    }
}

/// Serves all four services on a loopback port and returns a connected channel.
async fn serve() -> Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr: SocketAddr = listener.local_addr().expect("local addr");
    let server = Server::builder()
        .add_service(ProviderServer::new(StubProvider))
        .add_service(GrpcControllerServer::new(StubGoPlugin))
        .add_service(GrpcStdioServer::new(StubGoPlugin))
        .add_service(GrpcBrokerServer::new(StubGoPlugin))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect to the test server")
}

/// The RPCs of the protocol as Terraform names them on the wire, in the order of the published
/// file, and whether each streams.
const PROVIDER_RPCS: [(&str, bool); 28] = [
    ("GetMetadata", false),
    ("GetSchema", false),
    ("PrepareProviderConfig", false),
    ("ValidateResourceTypeConfig", false),
    ("ValidateDataSourceConfig", false),
    ("UpgradeResourceState", false),
    ("GetResourceIdentitySchemas", false),
    ("UpgradeResourceIdentity", false),
    ("Configure", false),
    ("ReadResource", false),
    ("PlanResourceChange", false),
    ("ApplyResourceChange", false),
    ("ImportResourceState", false),
    ("MoveResourceState", false),
    ("ReadDataSource", false),
    ("GenerateResourceConfig", false),
    ("ValidateEphemeralResourceConfig", false),
    ("OpenEphemeralResource", false),
    ("RenewEphemeralResource", false),
    ("CloseEphemeralResource", false),
    ("ListResource", true),
    ("ValidateListResourceConfig", false),
    ("GetFunctions", false),
    ("CallFunction", false),
    ("PlanAction", false),
    ("InvokeAction", true),
    ("ValidateActionConfig", false),
    ("Stop", false),
];

/// Calls `path` with an empty request message (valid for every request type) and returns the
/// status, `Ok` when the method answered.
async fn call_raw(channel: &Channel, path: &str, streaming: bool) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let path = http::uri::PathAndQuery::try_from(path).expect("valid path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let result = if streaming {
        match grpc.server_streaming(Request::new(()), path, codec).await {
            Ok(resp) => {
                let mut stream = resp.into_inner();
                while let Some(item) = stream.next().await {
                    if let Err(status) = item {
                        return status;
                    }
                }
                Ok(())
            }
            Err(status) => Err(status),
        }
    } else {
        grpc.unary(Request::new(()), path, codec).await.map(|_| ())
    };
    match result {
        Ok(()) => Status::ok(""),
        Err(status) => status,
    }
}

#[tokio::test]
async fn every_provider_rpc_is_served_under_its_wire_name() {
    let channel = serve().await;
    for (rpc, streaming) in PROVIDER_RPCS {
        let status = call_raw(&channel, &format!("/tfplugin5.Provider/{rpc}"), streaming).await;
        let reached = status.code() == tonic::Code::Ok || status.message() == format!("stub {rpc}");
        assert!(reached, "{rpc}: not routed to the method: {status:?}");
    }

    // Control: a name that is not in the protocol is refused by the router, not by a method.
    let status = call_raw(&channel, "/tfplugin5.Provider/GetProviderSchema", false).await;
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(!status.message().starts_with("stub"), "{status:?}");
}

#[tokio::test]
async fn go_plugin_rpcs_are_served_under_their_wire_names() {
    let channel = serve().await;
    assert_eq!(
        call_raw(&channel, "/plugin.GRPCController/Shutdown", false)
            .await
            .code(),
        tonic::Code::Ok
    );
    assert_eq!(
        call_raw(&channel, "/plugin.GRPCStdio/StreamStdio", true)
            .await
            .code(),
        tonic::Code::Ok
    );
    // StartStream is bidirectional; its typed test is below. The path must at least be routed.
    assert_ne!(
        call_raw(&channel, "/plugin.GRPCBroker/StartStream", true)
            .await
            .code(),
        tonic::Code::Unimplemented
    );
}

#[test]
fn service_names_match_the_protocol() {
    assert_eq!(tf::provider_server::SERVICE_NAME, "tfplugin5.Provider");
    assert_eq!(
        tf::provisioner_server::SERVICE_NAME,
        "tfplugin5.Provisioner"
    );
    assert_eq!(
        plugin::grpc_controller_server::SERVICE_NAME,
        "plugin.GRPCController"
    );
    assert_eq!(plugin::grpc_stdio_server::SERVICE_NAME, "plugin.GRPCStdio");
    assert_eq!(
        plugin::grpc_broker_server::SERVICE_NAME,
        "plugin.GRPCBroker"
    );
}

#[tokio::test]
async fn typed_provider_client_round_trips_schema_and_stream() {
    let mut client = ProviderClient::new(serve().await);

    let schema = client
        .get_schema(tf::get_provider_schema::Request {})
        .await
        .expect("GetSchema answers")
        .into_inner();
    let thing = &schema.resource_schemas["galley_thing"];
    assert_eq!(thing.version, 1);
    let attr = &thing.block.as_ref().expect("block").attributes[0];
    assert_eq!((attr.name.as_str(), attr.computed), ("id", true));
    assert!(
        schema
            .server_capabilities
            .expect("capabilities")
            .plan_destroy
    );

    let request = tf::list_resource::Request {
        type_name: "galley_thing".into(),
        limit: 3,
        ..Default::default()
    };
    let names: Vec<String> = client
        .list_resource(request)
        .await
        .expect("ListResource answers")
        .into_inner()
        .map(|event| event.expect("event").display_name)
        .collect()
        .await;
    assert_eq!(names, ["thing 0", "thing 1", "thing 2"]);

    let status = client
        .stop(tf::stop::Request {})
        .await
        .expect_err("Stop is a stub");
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::Unimplemented, "stub Stop")
    );
}

#[tokio::test]
async fn typed_go_plugin_clients_round_trip() {
    let channel = serve().await;

    GrpcControllerClient::new(channel.clone())
        .shutdown(plugin::Empty {})
        .await
        .expect("Shutdown answers");

    let chunks: Vec<StdioData> = GrpcStdioClient::new(channel.clone())
        .stream_stdio(())
        .await
        .expect("StreamStdio answers")
        .into_inner()
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].channel(), plugin::stdio_data::Channel::Stderr);
    assert_eq!(chunks[0].data, b"hello");

    let sent = ConnInfo {
        service_id: 7,
        network: "unix".into(),
        address: "/tmp/x".into(),
        knock: None,
    };
    let echoed: Vec<ConnInfo> = GrpcBrokerClient::new(channel)
        .start_stream(tokio_stream::iter([sent.clone()]))
        .await
        .expect("StartStream answers")
        .into_inner()
        .map(|info| info.expect("conn info"))
        .collect()
        .await;
    assert_eq!(echoed, [sent]);
}
