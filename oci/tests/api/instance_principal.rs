//! Instance principal against loopback stand-ins for the metadata service, the federation
//! endpoint (which verifies the x509 request signature with the leaf certificate's key, as the
//! real one does) and a service (which verifies the `ST$` signature with the session key).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use galley_oci::auth::instance_principal::{FEDERATION_SIGNED_HEADERS, sha256_fingerprint};
use galley_oci::auth::jwt::encode_unverified;
use galley_oci::auth::{self, AuthMethod, AuthSettings};
use galley_oci::client::Client;
use galley_oci::resource_manager::ResourceManagerClient;
use galley_oci::signing::{
    MAX_CLOCK_SKEW, PublicKey, check_body, check_date, header_map_lookup, parse_authorization,
    signing_string, verify,
};
use http::Method;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_RSA_SHA256};
use serde_json::json;
use x509_parser::prelude::FromDer;

use crate::fast_retries;
use crate::stand_in::{Canned, Recorded, serve};
use crate::util::fixture;

const TENANCY: &str = "ocid1.tenancy.oc1..aaaaaaaainstanceprincipaltenancy";

fn certificate(common_name: &str, tenant_ou: Option<&str>) -> String {
    let key = KeyPair::from_pem_and_sign_algo(&fixture("leaf-rsa2048.pem"), &PKCS_RSA_SHA256)
        .expect("rcgen loads the RSA fixture");
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "opc-certtype:instance");
    if let Some(ou) = tenant_ou {
        name.push(DnType::OrganizationalUnitName, ou);
    }
    params.distinguished_name = name;
    params.self_signed(&key).unwrap().pem()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the federation stand-in issued last.
#[derive(Default)]
struct Issued {
    token: String,
    session_key: Option<PublicKey>,
    session_keys_seen: Vec<Vec<u8>>,
}

/// The federation endpoint's check of the x509 request, step by step as a service does it.
fn verify_federation_request(request: &Recorded) -> Result<(String, Vec<u8>), String> {
    if request.method != Method::POST || request.path() != "/v1/x509" {
        return Err(format!("unexpected {} {}", request.method, request.path()));
    }
    let lookup = header_map_lookup(&request.headers);
    let authorization = lookup("authorization").ok_or("no authorization header")?;
    let params = parse_authorization(&authorization).map_err(|e| e.to_string())?;
    if params.header_names() != FEDERATION_SIGNED_HEADERS {
        return Err(format!("signed headers {:?}", params.headers));
    }
    check_date(&params, &lookup, SystemTime::now(), MAX_CLOCK_SKEW).map_err(|e| e.to_string())?;
    check_body(&lookup, &request.body).map_err(|e| e.to_string())?;

    let body = request.json();
    let cert_der = STANDARD
        .decode(body["certificate"].as_str().ok_or("no certificate")?)
        .map_err(|e| format!("certificate is not bare base64: {e}"))?;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&cert_der)
        .map_err(|e| e.to_string())?;
    let expected_key_id = format!(
        "{TENANCY}/fed-x509-sha256/{}",
        sha256_fingerprint(&cert_der)
    );
    if params.key_id.as_str() != expected_key_id {
        return Err(format!(
            "keyId {} != {expected_key_id}",
            params.key_id.as_str()
        ));
    }
    if body["fingerprintAlgorithm"] != "SHA256" {
        return Err("fingerprintAlgorithm is not SHA256".into());
    }
    let intermediates = body["intermediateCertificates"]
        .as_array()
        .ok_or("no intermediateCertificates")?;
    if intermediates.len() != 1
        || intermediates[0]
            .as_str()
            .is_none_or(|c| c.contains('\n') || c.contains("BEGIN"))
    {
        return Err(format!("intermediateCertificates {intermediates:?}"));
    }
    let leaf_public = PublicKey::from_der(cert.public_key().raw).map_err(|e| e.to_string())?;
    let to_verify = signing_string(
        &request.method,
        &request.path_and_query,
        &lookup,
        &params.header_names(),
    )
    .map_err(|e| e.to_string())?;
    verify(&params, &to_verify, &leaf_public).map_err(|e| e.to_string())?;

    let session_der = STANDARD
        .decode(body["publicKey"].as_str().ok_or("no publicKey")?)
        .map_err(|e| format!("publicKey is not bare base64: {e}"))?;
    Ok((params.key_id.as_str().to_owned(), session_der))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federates_signs_with_the_session_key_and_renews_an_expiring_token() {
    let leaf_pem = certificate(
        "ocid1.instance.oc1.phx.i",
        Some(&format!("opc-tenant:{TENANCY}")),
    );
    let intermediate_pem = certificate("intermediate", None);
    let metadata = serve(move |request| {
        if request.header("authorization").as_deref() != Some("Bearer Oracle") {
            return Canned::error(401, "NotAuthenticated", "Bearer Oracle required");
        }
        match request.path() {
            "/opc/v2/instance/regionInfo" => Canned::json(
                200,
                json!({"realmKey": "oc1", "realmDomainComponent": "oraclecloud.com",
                       "regionKey": "PHX", "regionIdentifier": "us-phoenix-1"}),
            ),
            "/opc/v2/identity/cert.pem" => Canned::bytes(200, "text/plain", leaf_pem.as_bytes()),
            "/opc/v2/identity/key.pem" => {
                Canned::bytes(200, "text/plain", fixture("leaf-rsa2048.pem").as_bytes())
            }
            "/opc/v2/identity/intermediate.pem" => {
                Canned::bytes(200, "text/plain", intermediate_pem.as_bytes())
            }
            _ => Canned::error(404, "NotFound", "no such metadata"),
        }
    })
    .await;

    let issued: Arc<Mutex<Issued>> = Arc::default();
    // The first token lives 20 s, inside the renewal margin, so the first use renews it.
    let lifetime = Arc::new(AtomicU64::new(20));
    let federation = {
        let issued = Arc::clone(&issued);
        let lifetime = Arc::clone(&lifetime);
        serve(move |request| match verify_federation_request(request) {
            Ok((_key_id, session_der)) => {
                let now = now_secs();
                let mut issued = issued.lock().unwrap();
                let n = issued.session_keys_seen.len() + 1;
                let token = encode_unverified(&json!({
                    "iat": now, "exp": now + lifetime.swap(3600, Ordering::SeqCst),
                    "res_tenant": TENANCY, "n": n,
                }));
                issued.token = token.clone();
                issued.session_key = Some(PublicKey::from_der(&session_der).unwrap());
                issued.session_keys_seen.push(session_der);
                Canned::json(200, json!({"token": token}))
            }
            Err(reason) => Canned::error(401, "NotAuthenticated", &reason),
        })
        .await
    };

    let service = {
        let issued = Arc::clone(&issued);
        serve(move |request| {
            let issued = issued.lock().unwrap();
            let accepted = |id: &galley_oci::signing::KeyId| {
                (id.session_token_value() == Some(issued.token.as_str()))
                    .then(|| issued.session_key.clone())
                    .flatten()
            };
            match request.verify(false, accepted) {
                Ok(_) => Canned::json(200, json!({"id": "s", "lifecycleState": "ACTIVE"})),
                Err(e) => Canned::error(401, "NotAuthenticated", &e.to_string()),
            }
        })
        .await
    };

    let settings = AuthSettings {
        method: AuthMethod::InstancePrincipal,
        metadata_base_url: Some(format!("{}/opc/v2", metadata.base)),
        federation_base_url: Some(federation.base.clone()),
        ..AuthSettings::default()
    };
    let env = |_: &str| None;
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    assert_eq!(auth.region, "us-phoenix-1");
    assert_eq!(auth.tenancy_id.as_deref(), Some(TENANCY));
    assert_eq!(federation.count(), 1, "one token at start-up");
    assert!(
        metadata
            .requests()
            .iter()
            .all(|r| r.header("authorization").as_deref() == Some("Bearer Oracle"))
    );

    let client = Client::builder(auth.provider.clone())
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let rm = ResourceManagerClient::new(client, format!("{}/20180917", service.base));
    rm.get_stack("s").await.unwrap();
    assert_eq!(
        federation.count(),
        2,
        "the 20-second token was renewed before use"
    );
    let sent = service.requests()[0].clone();
    let authorization = sent.header("authorization").unwrap();
    let params = parse_authorization(&authorization).unwrap();
    let token = params.key_id.session_token_value().unwrap().to_owned();
    assert_eq!(token, issued.lock().unwrap().token);

    // A long-lived token is reused; each renewal made a fresh session key.
    rm.get_stack("s").await.unwrap();
    assert_eq!(federation.count(), 2);
    let keys = issued.lock().unwrap().session_keys_seen.clone();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    let session_bits = PublicKey::from_der(&keys[1]).unwrap();
    assert!(
        format!("{session_bits:?}").contains("bits: 2048"),
        "{session_bits:?}"
    );

    // After a forced refresh (what the transport does on a 401) a new token is used.
    auth.provider.refresh().await.unwrap();
    assert_eq!(federation.count(), 3);
    rm.get_stack("s").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_failing_call() {
    // No tenancy in the certificate subject.
    let leaf_pem = certificate("ocid1.instance.oc1.phx.i", None);
    let metadata = serve(move |request| match request.path() {
        "/opc/v2/instance/regionInfo" => Canned::error(404, "NotFound", "old metadata service"),
        "/opc/v2/instance/region" => Canned::bytes(200, "text/plain", b"phx"),
        "/opc/v2/identity/cert.pem" => Canned::bytes(200, "text/plain", leaf_pem.as_bytes()),
        "/opc/v2/identity/key.pem" => {
            Canned::bytes(200, "text/plain", fixture("leaf-rsa2048.pem").as_bytes())
        }
        _ => Canned::error(404, "NotFound", "none"),
    })
    .await;
    let config = auth::InstancePrincipalConfig {
        metadata_base_url: format!("{}/opc/v2", metadata.base),
        federation_base_url: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    let message = auth::InstancePrincipalProvider::new(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("opc-tenant:"), "{message}");
    assert!(
        metadata
            .requests()
            .iter()
            .any(|r| r.path() == "/opc/v2/instance/region"),
        "falls back to /instance/region"
    );

    // The federation endpoint refusing the certificate surfaces its code and request id.
    let good_leaf = certificate("i", Some(&format!("opc-identity:{TENANCY}")));
    let metadata = serve(move |request| match request.path() {
        "/opc/v2/instance/regionInfo" => {
            Canned::json(200, json!({"regionIdentifier": "us-ashburn-1"}))
        }
        "/opc/v2/identity/cert.pem" => Canned::bytes(200, "text/plain", good_leaf.as_bytes()),
        "/opc/v2/identity/key.pem" => {
            Canned::bytes(200, "text/plain", fixture("leaf-rsa2048.pem").as_bytes())
        }
        _ => Canned::error(404, "NotFound", "none"),
    })
    .await;
    let federation = serve(|_| {
        Canned::error(401, "NotAuthenticated", "certificate not trusted")
            .header("opc-request-id", "fed-req")
    })
    .await;
    let config = auth::InstancePrincipalConfig {
        metadata_base_url: format!("{}/opc/v2", metadata.base),
        federation_base_url: Some(federation.base.clone()),
        ..Default::default()
    };
    let message = auth::InstancePrincipalProvider::new(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("401 NotAuthenticated: certificate not trusted (opc-request-id fed-req)"),
        "{message}"
    );
    assert_eq!(federation.count(), 1, "4xx answers are not retried");
}
