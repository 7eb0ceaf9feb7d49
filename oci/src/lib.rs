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
//! - [`client`]: the transport every call goes through: signing, JSON, `opc-request-id`,
//!   [`client::OciError`], the retry policy with `opc-retry-token`, timeouts and cancellation.
//! - [`resource_manager`], [`instance_agent`], [`object_storage`]: typed calls and models, one
//!   module per service, field names as in the official SDKs; [`model`] holds what they share
//!   (string enums tolerant of new values, [`model::Reply`]).

pub mod auth;
pub mod client;
pub mod endpoints;
pub mod instance_agent;
pub mod model;
pub mod object_storage;
pub mod resource_manager;
pub mod signing;
