//! Every request must be signed by a trusted key, over exactly what was sent.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use galley_oci::signing::{Credentials, KeyId};

use crate::util::{Engine, key_id_of, sign_with, untrusted_key};

#[tokio::test]
async fn a_signed_request_is_served_with_a_request_id() {
    let e = Engine::new();
    let r = e.get("/20180917/stacks?compartmentId=x").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!([]));
    assert!(r.header("opc-request-id").is_some_and(|v| v.len() >= 16));
}

#[tokio::test]
async fn a_client_request_id_is_echoed() {
    let e = Engine::new();
    let r = e
        .send(e.signed(
            Method::GET,
            "/n",
            None,
            &[
                ("opc-request-id", "ABC123/DEF"),
                ("opc-client-request-id", "mine"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("opc-request-id"), Some("ABC123/DEF"));
    assert_eq!(r.header("opc-client-request-id"), Some("mine"));
}

async fn assert_401(e: &Engine, req: Request<Body>, reason: &str) {
    let r = e.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{reason}: {}", r.text());
    assert_eq!(r.error_code(), "NotAuthenticated", "{reason}");
    assert!(r.header("opc-request-id").is_some(), "{reason}");
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{reason}"
    );
}

#[tokio::test]
async fn unsigned_requests_are_rejected() {
    let e = Engine::new();
    let req = Request::get("/20180917/stacks")
        .header("host", "127.0.0.1:9")
        .body(Body::empty())
        .unwrap();
    assert_401(&e, req, "no authorization header").await;
}

#[tokio::test]
async fn another_key_is_rejected_even_under_a_trusted_key_id() {
    let e = Engine::new();
    let other = untrusted_key();
    let unknown_id = Credentials::new(key_id_of(&other), other.clone());
    assert_401(
        &e,
        sign_with(
            &unknown_id,
            Method::GET,
            "/20180917/stacks",
            None,
            &[],
            false,
        ),
        "unknown key id",
    )
    .await;
    // The trusted key id, but signed with another key.
    let impostor = Credentials::new(e.credentials.key_id().clone(), other);
    assert_401(
        &e,
        sign_with(&impostor, Method::GET, "/20180917/stacks", None, &[], false),
        "wrong key",
    )
    .await;
    let session = Credentials::new(KeyId::session_token("abc.def.ghi"), untrusted_key());
    assert_401(
        &e,
        sign_with(&session, Method::GET, "/20180917/stacks", None, &[], false),
        "session token",
    )
    .await;
}

#[tokio::test]
async fn tampering_after_signing_is_rejected() {
    let e = Engine::new();
    let body = br#"{"compartmentId":"a","configSource":{}}"#;

    // Body changed, hash header left as signed.
    let mut req = e.signed(Method::POST, "/20180917/stacks", Some(body), &[]);
    *req.body_mut() = Body::from(&br#"{"compartmentId":"b","configSource":{}}"#[..]);
    assert_401(&e, req, "tampered body").await;

    // Body and its hash changed consistently: the signature no longer matches.
    let other = br#"{"compartmentId":"b","configSource":{}}"#;
    let mut req = e.signed(Method::POST, "/20180917/stacks", Some(body), &[]);
    req.headers_mut().insert(
        "x-content-sha256",
        HeaderValue::from_str(&galley_oci::signing::body_sha256_b64(other)).unwrap(),
    );
    *req.body_mut() = Body::from(&other[..]);
    assert_401(&e, req, "tampered body and hash").await;

    // Path changed.
    let mut req = e.signed(Method::GET, "/20180917/stacks?compartmentId=a", None, &[]);
    *req.uri_mut() = "/20180917/stacks?compartmentId=b".parse().unwrap();
    assert_401(&e, req, "tampered query").await;

    // Host changed.
    let mut req = e.signed(Method::GET, "/20180917/stacks", None, &[]);
    req.headers_mut()
        .insert("host", HeaderValue::from_static("example.com"));
    assert_401(&e, req, "tampered host").await;
}

#[tokio::test]
async fn a_stale_date_is_rejected() {
    let e = Engine::new();
    let stale =
        httpdate::fmt_http_date(std::time::SystemTime::now() - std::time::Duration::from_secs(600));
    let req = e.signed(Method::GET, "/20180917/stacks", None, &[("date", &stale)]);
    assert_401(&e, req, "date 10 minutes old").await;
}

#[tokio::test]
async fn unknown_paths_answer_oci_404() {
    let e = Engine::new();
    let r = e.get("/20180917/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "NotAuthorizedOrNotFound");
}
