//! `setup::build_clients` on the wire: inputs read from the environment, a config file profile,
//! and one endpoint override per service written the ways users write them, then one signed
//! call through each client.

use std::collections::HashMap;

use galley_oci::setup::{self, SetupInputs, env};
use galley_oci::signing::{KeyId, PrivateKey};
use serde_json::json;

use crate::stand_in::{Canned, serve};
use crate::util::fixture;

const TENANCY: &str = "ocid1.tenancy.oc1..setup";
const USER: &str = "ocid1.user.oc1..setup";

#[tokio::test]
async fn the_three_clients_reach_their_overrides_signed_as_the_profile() {
    let key = PrivateKey::from_pem(&fixture("pkcs8.pem"), None).unwrap();
    let fingerprint = key.public_key().fingerprint().unwrap();
    let key_id = KeyId::api_key(TENANCY, USER, &fingerprint);
    let public = key.public_key();
    let expected_id = key_id.clone();
    let server = serve(move |r| {
        if let Err(e) = r.verify(false, |id| (*id == expected_id).then(|| public.clone())) {
            return Canned::error(401, "NotAuthenticated", &e.to_string());
        }
        match r.path() {
            "/20180917/jobs/ocid1.ormjob.oc1..j" => Canned::json(
                200,
                json!({"id": "ocid1.ormjob.oc1..j", "lifecycleState": "SUCCEEDED"}),
            ),
            "/20180530/instanceAgentCommands/ocid1.command.oc1..c" => {
                Canned::json(200, json!({"id": "ocid1.command.oc1..c"}))
            }
            "/n" => Canned::json(200, json!("galleyns")),
            other => Canned::error(404, "NotFound", other),
        }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    std::fs::write(&key_path, fixture("pkcs8.pem")).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nregion=iad\n[work]\ntenancy={TENANCY}\nuser={USER}\nfingerprint={fingerprint}\nkey_file={}\n",
            key_path.display()
        ),
    )
    .unwrap();
    let vars: HashMap<&str, String> = [
        (env::CONFIG_FILE, config.display().to_string()),
        (env::CONFIG_FILE_PROFILE, "work".to_string()),
        // The base URL as the provider documents it, a bare root, and one with a slash.
        (
            env::RESOURCE_MANAGER_ENDPOINT,
            format!("{}/20180917", server.base),
        ),
        (env::INSTANCE_AGENT_ENDPOINT, server.base.clone()),
        (env::OBJECT_STORAGE_ENDPOINT, format!("{}/", server.base)),
    ]
    .into_iter()
    .collect();
    let lookup = move |k: &str| vars.get(k).cloned();
    let inputs = SetupInputs::from_env(&lookup);
    let clients = setup::build_clients(&inputs, &lookup, "galley-setup-test/1")
        .await
        .unwrap();

    assert_eq!(clients.region, "us-ashburn-1");
    assert_eq!(clients.tenancy_id.as_deref(), Some(TENANCY));
    let job = clients
        .resource_manager
        .get_job("ocid1.ormjob.oc1..j")
        .await
        .unwrap();
    assert_eq!(job.value.id, "ocid1.ormjob.oc1..j");
    let command = clients
        .instance_agent
        .get_instance_agent_command("ocid1.command.oc1..c")
        .await
        .unwrap();
    assert_eq!(command.value.id, "ocid1.command.oc1..c");
    let namespace = clients.object_storage.get_namespace(None).await.unwrap();
    assert_eq!(namespace.value, "galleyns");

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(
            r.header("user-agent").as_deref(),
            Some("galley-setup-test/1")
        );
    }
}

#[tokio::test]
async fn missing_credentials_say_where_settings_come_from() {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().display().to_string();
    let lookup = move |k: &str| (k == "HOME").then(|| home_path.clone());
    let err = setup::build_clients(&SetupInputs::default(), &lookup, "t")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("failed to configure ApiKey auth"), "{err}");
    for named in [
        ".oci/config",
        env::CONFIG_FILE,
        env::TENANCY_OCID,
        "`tenancy_ocid`",
    ] {
        assert!(err.contains(named), "{named} missing from: {err}");
    }
}
