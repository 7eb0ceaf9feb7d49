//! The client library against loopback stand-ins: auth providers, endpoint resolution, the
//! retrying transport, and the typed service calls, each checked on the wire (paths, headers,
//! bodies and signatures).

#[path = "../util/mod.rs"]
mod util;

mod config_file;
mod endpoints;
mod instance_principal;
mod logs;
mod models;
mod provider_upload;
mod resource_principal;
mod retry;
mod services;
mod setup;
mod stand_in;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use galley_oci::client::{Client, RetryPolicy};
use galley_oci::signing::{KeyId, KeyProvider, PublicKey, StaticKeyProvider};

/// The API key id of the shared test key.
pub fn api_key_id() -> KeyId {
    util::vector_key_id()
}

pub fn api_key_provider() -> Arc<dyn KeyProvider> {
    Arc::new(StaticKeyProvider::new(api_key_id(), util::test_key()))
}

pub fn test_public_key() -> PublicKey {
    util::test_key().public_key()
}

/// Fast retries so tests do not wait on real backoff.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_elapsed: Duration::from_secs(20),
        max_retry_after: Duration::from_secs(2),
    }
}

pub fn api_key_client() -> Client {
    Client::builder(api_key_provider())
        .retry_policy(fast_retries())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The public key for the shared test key's id, for [`stand_in::Recorded::verify`].
pub fn api_key_lookup(key_id: &KeyId) -> Option<PublicKey> {
    (*key_id == api_key_id()).then(test_public_key)
}
