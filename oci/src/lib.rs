//! Oracle Cloud Infrastructure wire layer shared by the Terraform provider, the sidecar and the
//! local engine.
//!
//! The same code signs requests on the client side and checks signatures on the engine side, so
//! one set of test vectors covers both directions.
//!
//! # Layout
//!
//! - [`signing`]: draft-cavage HTTP signatures as OCI uses them (rsa-sha256): which headers are
//!   signed, the signing string, RSA key loading (PKCS#1, PKCS#8, encrypted PEM), the client
//!   [`signing::Signer`] fed by a [`signing::KeyProvider`], and the verifying helpers an engine
//!   uses to answer `401 NotAuthenticated` precisely.
//! - [`auth`]: the key providers (API key and config file, security token file, resource
//!   principal 2.2, instance principal) and [`auth::from_settings`], which picks one.
//! - [`endpoints`]: region codes, realms and domains, service base URLs and overrides.
//! - [`echo`]: bounded quoting of untrusted text in errors and logs.
//! - [`client`]: the transport every call goes through: signing, JSON, `opc-request-id`,
//!   [`client::OciError`], the retry policy with `opc-retry-token`, timeouts and cancellation.
//! - [`setup`]: the settings a program is given (auth, region, endpoint overrides, and the
//!   names of their environment variables) turned into the three service clients, with one
//!   error that says where each setting comes from.
//! - [`resource_manager`], [`instance_agent`], [`object_storage`]: typed calls and models, one
//!   module per service, field names as in the official SDKs; [`model`] holds what they share
//!   (string enums tolerant of new values, [`model::Reply`]).
//! - [`provider_bucket`]: the bucket layout of Resource Manager's custom providers
//!   (`linux_amd64/terraform-provider-<TYPE>_v<X.Y.Z>`) and uploading a directory in it; the
//!   `galley-upload-providers` binary is a thin command line over it.

/// The constructor and accessors every typed service client shares: a transport and a base URL
/// (`new`), a region resolved through `Endpoints` overrides (`for_region`), and the same endpoint
/// through another transport (`with_client`, for example one with a cancellation token).
macro_rules! service_client {
    ($client:ident, $service:expr) => {
        impl $client {
            /// A client for `base_url`: the service root as `endpoints::base_url_for` builds it.
            pub fn new(client: Client, base_url: impl Into<String>) -> Self {
                Self {
                    client,
                    base_url: base_url.into().trim_end_matches('/').to_owned(),
                }
            }

            /// The client for `region` (name or short code), honouring `endpoints` overrides.
            pub fn for_region(
                client: Client,
                endpoints: &Endpoints,
                region: &str,
            ) -> Result<Self, EndpointError> {
                Ok(Self::new(client, endpoints.base_url_for($service, region)?))
            }

            pub fn base_url(&self) -> &str {
                &self.base_url
            }

            pub fn client(&self) -> &Client {
                &self.client
            }

            /// The same endpoint through another transport.
            pub fn with_client(&self, client: Client) -> Self {
                Self {
                    client,
                    base_url: self.base_url.clone(),
                }
            }
        }
    };
}

pub mod auth;
pub mod client;
pub mod echo;
pub mod endpoints;
pub mod instance_agent;
pub mod model;
pub mod object_storage;
pub mod provider_bucket;
pub mod resource_manager;
pub mod setup;
pub mod signing;
