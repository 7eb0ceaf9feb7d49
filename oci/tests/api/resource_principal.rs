//! Resource principal 2.2 from the environment: inline values, file paths, claims, and the
//! reload after a 401 when the platform has rotated the files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use galley_oci::auth::jwt::encode_unverified;
use galley_oci::auth::{self, AuthError, AuthMethod, AuthSettings, ResourcePrincipalProvider};
use galley_oci::client::{Client, RetryPolicy};
use galley_oci::resource_manager::ResourceManagerClient;
use galley_oci::signing::{KeyId, KeyProvider, PrivateKey};
use serde_json::json;

use crate::stand_in::{Canned, serve};
use crate::util::{TEST_KEY_FILE, fixture};

fn rpst(n: u32, compartment: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    encode_unverified(&json!({
        "iat": now, "exp": now + 3600, "n": n,
        "res_tenant": "ocid1.tenancy.oc1..rptenant",
        "res_compartment": compartment,
    }))
}

fn env_map(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> + Send + Sync {
    let map: HashMap<&'static str, String> = vars.into_iter().collect();
    move |name: &str| map.get(name).cloned()
}

#[tokio::test]
async fn inline_token_and_pem() {
    let token = rpst(1, "ocid1.compartment.oc1..one");
    let env = env_map(vec![
        ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2".into()),
        ("OCI_RESOURCE_PRINCIPAL_RPST", token.clone()),
        ("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", fixture(TEST_KEY_FILE)),
        ("OCI_RESOURCE_PRINCIPAL_REGION", "iad".into()),
    ]);
    let settings = AuthSettings {
        method: AuthMethod::ResourcePrincipal,
        ..AuthSettings::default()
    };
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    assert_eq!(auth.region, "us-ashburn-1");
    assert_eq!(
        auth.tenancy_id.as_deref(),
        Some("ocid1.tenancy.oc1..rptenant")
    );
    let credentials = auth.provider.credentials().await.unwrap();
    assert_eq!(credentials.key_id(), &KeyId::session_token(&token));
    assert_eq!(
        credentials.key().public_key(),
        crate::util::test_key().public_key()
    );

    let provider = ResourcePrincipalProvider::from_env(&env).unwrap();
    assert_eq!(
        provider.compartment_id().as_deref(),
        Some("ocid1.compartment.oc1..one")
    );
    let debug = format!("{provider:?}");
    assert!(
        !debug.contains(&token) && !debug.contains("PRIVATE KEY"),
        "{debug}"
    );
}

#[tokio::test]
async fn encrypted_key_with_a_passphrase_and_settings_region_wins() {
    let env = env_map(vec![
        ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2".into()),
        ("OCI_RESOURCE_PRINCIPAL_RPST", rpst(1, "c")),
        (
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
            fixture("legacy-aes128.pem"),
        ),
        (
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM_PASSPHRASE",
            "galley-test-pass".into(),
        ),
        ("OCI_RESOURCE_PRINCIPAL_REGION", "us-ashburn-1".into()),
    ]);
    let settings = AuthSettings {
        method: AuthMethod::ResourcePrincipal,
        region: Some("fra".into()),
        ..AuthSettings::default()
    };
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    assert_eq!(auth.region, "eu-frankfurt-1");
}

#[tokio::test]
async fn missing_or_unsupported_environment_is_named() {
    let env = env_map(vec![("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2".into())]);
    let err = ResourcePrincipalProvider::from_env(&env).unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::MissingSetting {
                name: "OCI_RESOURCE_PRINCIPAL_RPST",
                ..
            }
        ),
        "{err}"
    );
    let env = env_map(vec![("OCI_RESOURCE_PRINCIPAL_VERSION", "1.1".into())]);
    let message = ResourcePrincipalProvider::from_env(&env)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("\"1.1\"") && message.contains("2.2"),
        "{message}"
    );
    let env = env_map(vec![
        ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2".into()),
        ("OCI_RESOURCE_PRINCIPAL_RPST", "not-a-jwt".into()),
        ("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", fixture(TEST_KEY_FILE)),
    ]);
    let message = ResourcePrincipalProvider::from_env(&env)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("OCI_RESOURCE_PRINCIPAL_RPST") && message.contains("JWT"),
        "{message}"
    );
}

#[tokio::test]
async fn path_mode_reloads_rotated_files_after_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("rpst");
    let key_path = dir.path().join("key.pem");
    let first = rpst(1, "ocid1.compartment.oc1..before");
    std::fs::write(&token_path, &first).unwrap();
    std::fs::write(&key_path, fixture(TEST_KEY_FILE)).unwrap();
    let env = env_map(vec![
        ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2".into()),
        (
            "OCI_RESOURCE_PRINCIPAL_RPST",
            token_path.to_str().unwrap().into(),
        ),
        (
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
            key_path.to_str().unwrap().into(),
        ),
        ("OCI_RESOURCE_PRINCIPAL_REGION", "us-phoenix-1".into()),
    ]);
    let provider = Arc::new(ResourcePrincipalProvider::from_env(&env).unwrap());
    let credentials = provider.credentials().await.unwrap();
    assert_eq!(
        credentials.key_id().session_token_value(),
        Some(first.as_str())
    );

    // The platform rotates both files: new token, new key.
    let second = rpst(2, "ocid1.compartment.oc1..after");
    let new_key_pem = fixture("leaf-rsa2048.pem");
    std::fs::write(&token_path, &second).unwrap();
    std::fs::write(&key_path, &new_key_pem).unwrap();
    let new_public = PrivateKey::from_pem(&new_key_pem, None)
        .unwrap()
        .public_key();

    // The service accepts only the rotated token signed with the rotated key.
    let accepted: Arc<Mutex<(String, galley_oci::signing::PublicKey)>> =
        Arc::new(Mutex::new((second.clone(), new_public)));
    let service = {
        let accepted = Arc::clone(&accepted);
        serve(move |request| {
            let (token, key) = accepted.lock().unwrap().clone();
            let lookup = |id: &KeyId| {
                (id.session_token_value() == Some(token.as_str())).then(|| key.clone())
            };
            match request.verify(false, lookup) {
                Ok(_) => Canned::json(200, json!({"id": "s"})),
                Err(e) => Canned::error(401, "NotAuthenticated", &e.to_string()),
            }
        })
        .await
    };
    let client = Client::builder(provider.clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", service.base));
    rm.get_stack("s").await.unwrap();
    let requests = service.requests();
    assert_eq!(
        requests.len(),
        2,
        "the first attempt used the old token and got 401"
    );
    assert!(
        requests[0]
            .header("authorization")
            .unwrap()
            .contains(&first)
    );
    assert!(
        requests[1]
            .header("authorization")
            .unwrap()
            .contains(&second)
    );
    assert_eq!(
        provider.compartment_id().as_deref(),
        Some("ocid1.compartment.oc1..after")
    );
}
