//! Logs at TRACE, every crate's events, carry no key material: no key id (which names the
//! tenancy, user and key fingerprint), no fingerprint, no session token and no signature,
//! whatever the client does (signing, retrying, refreshing after a 401, warning about a wrong
//! fingerprint).

use std::sync::{Arc, Mutex};

use galley_oci::auth::{ApiKeyValues, Secret};
use galley_oci::client::Client;
use galley_oci::resource_manager::ResourceManagerClient;
use galley_oci::signing::{KeyId, StaticKeyProvider, parse_authorization};

use crate::stand_in::{Canned, serve};
use crate::{fast_retries, util};

/// Everything a TRACE subscriber writes, kept for inspection.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn stack(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "compartmentId": "c", "lifecycleState": "ACTIVE"})
}

#[tokio::test]
async fn trace_logs_carry_no_key_id_fingerprint_token_or_signature() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::trace!(probe = "capture-works", "the capture sees TRACE events");

    // A retried call with an API key: 500, then the answer.
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let server = serve(move |_| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Canned::error(500, "InternalServerError", "once")
        } else {
            Canned::json(200, stack("ocid1.ormstack.oc1..s"))
        }
    })
    .await;
    let rm =
        ResourceManagerClient::new(crate::api_key_client(), format!("{}/20180917", server.base));
    rm.get_stack("ocid1.ormstack.oc1..s").await.unwrap();

    // A session token that gets a 401 and is refreshed.
    const TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJjYW5hcnkiOiJ0cmFjZSJ9.c2lnbmF0dXJlLWNhbmFyeQ";
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let st_server = serve(move |_| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Canned::error(401, "NotAuthenticated", "token rotated")
        } else {
            Canned::json(200, stack("ocid1.ormstack.oc1..t"))
        }
    })
    .await;
    let provider = StaticKeyProvider::new(KeyId::session_token(TOKEN), util::test_key());
    let client = Client::builder(Arc::new(provider))
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", st_server.base));
    let _ = rm.get_stack("ocid1.ormstack.oc1..t").await;

    // An API key whose configured fingerprint is wrong: warned about, not shown.
    let wrong = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99";
    let pem = util::fixture(util::TEST_KEY_FILE);
    ApiKeyValues {
        tenancy: util::TENANCY.into(),
        user: util::USER.into(),
        fingerprint: wrong.into(),
        private_key_pem: Some(Secret::from(pem.as_str())),
        ..ApiKeyValues::default()
    }
    .into_provider()
    .unwrap();

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("capture-works"), "the capture is not working");
    assert!(logs.contains("fingerprint does not match"), "{logs}");
    let mut secrets = vec![
        crate::api_key_id().as_str().to_owned(),
        util::FINGERPRINT.to_owned(),
        wrong.to_owned(),
        TOKEN.to_owned(),
        "keyId=".to_owned(),
    ];
    for request in server.requests().iter().chain(st_server.requests().iter()) {
        let header = request.header("authorization").expect("signed");
        secrets.push(parse_authorization(&header).unwrap().signature);
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret} is in the TRACE logs:\n{logs}"
        );
    }
}
