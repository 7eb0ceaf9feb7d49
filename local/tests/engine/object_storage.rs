//! Object Storage: namespace, buckets, objects on disk, pre-authenticated requests.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::util::{COMPARTMENT, Engine, sign_with};

const NS: &str = "galleylocal";

async fn put(
    e: &Engine,
    bucket: &str,
    encoded_name: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> crate::util::Reply {
    let req = sign_with(
        &e.credentials,
        Method::PUT,
        &format!("/n/{NS}/b/{bucket}/o/{encoded_name}"),
        Some(body),
        extra,
        true,
    );
    e.send(req).await
}

#[tokio::test]
async fn buckets_and_objects_round_trip() {
    let e = Engine::new();
    let r = e.get("/n").await;
    assert_eq!(r.json(), json!(NS));
    let r = e.get("/n/other/b?compartmentId=x").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = e
        .post(
            &format!("/n/{NS}/b"),
            json!({"name": "artifacts", "compartmentId": COMPARTMENT}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let bucket = r.json();
    assert_eq!(bucket["name"], "artifacts");
    assert_eq!(bucket["namespace"], NS);
    assert!(r.header("etag").is_some());
    let r = e
        .post(
            &format!("/n/{NS}/b"),
            json!({"name": "artifacts", "compartmentId": COMPARTMENT}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "BucketAlreadyExists");

    // The body is not signed (as PutObject), names are percent-decoded.
    let r = put(
        &e,
        "artifacts",
        "dir%2Fapp.tar.gz",
        b"payload",
        &[
            ("content-type", "application/gzip"),
            ("opc-meta-build", "42"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(
        r.header("opc-content-md5"),
        Some("Mhw89IbtUJFk7eweGYH+yA==")
    );

    let r = e
        .get(&format!("/n/{NS}/b/artifacts/o/dir%2Fapp.tar.gz"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"payload");
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert_eq!(r.header("content-md5"), Some("Mhw89IbtUJFk7eweGYH+yA=="));
    assert_eq!(r.header("opc-meta-build"), Some("42"));
    let r = e
        .send(e.signed(
            Method::HEAD,
            &format!("/n/{NS}/b/artifacts/o/dir%2Fapp.tar.gz"),
            None,
            &[],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), Some("7"));
    assert!(r.body.is_empty());

    // Conditional writes.
    let r = put(
        &e,
        "artifacts",
        "dir%2Fapp.tar.gz",
        b"x",
        &[("if-none-match", "*")],
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = put(
        &e,
        "artifacts",
        "dir%2Fapp.tar.gz",
        b"x",
        &[("content-md5", "Mhw89IbtUJFk7eweGYH+yA==")],
    ) /* md5 of "payload", not of "x" */
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A name that looks like a path escape is just a name.
    let r = put(&e, "artifacts", "..%2F..%2Fescape", b"inside", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!e.dir.join("objectstorage/escape").exists());
    assert!(!e.dir.join("escape").exists());

    let list = e
        .get(&format!("/n/{NS}/b/artifacts/o?fields=name,size,md5"))
        .await
        .json();
    let names: Vec<&str> = list["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["../../escape", "dir/app.tar.gz"]);
    assert_eq!(list["objects"][1]["size"], 7);
    let list = e
        .get(&format!("/n/{NS}/b/artifacts/o?delimiter=/&prefix=dir"))
        .await
        .json();
    assert_eq!(list["prefixes"], json!(["dir/"]));

    let r = e.delete(&format!("/n/{NS}/b/artifacts")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "BucketNotEmpty");
    for name in ["dir%2Fapp.tar.gz", "..%2F..%2Fescape"] {
        let r = e.delete(&format!("/n/{NS}/b/artifacts/o/{name}")).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = e
        .get(&format!("/n/{NS}/b/artifacts/o/dir%2Fapp.tar.gz"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "ObjectNotFound");
    assert_eq!(
        e.delete(&format!("/n/{NS}/b/artifacts")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        e.get(&format!("/n/{NS}/b/artifacts")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pre_authenticated_requests_need_no_signature_but_expire() {
    let e = Engine::new();
    e.post(
        &format!("/n/{NS}/b"),
        json!({"name": "pars", "compartmentId": COMPARTMENT}),
    )
    .await;
    put(&e, "pars", "build.sh", b"echo hi", &[]).await;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let r = e
        .post(
            &format!("/n/{NS}/b/pars/p"),
            json!({"name": "fetch", "objectName": "build.sh", "accessType": "ObjectRead",
                   "timeExpires": expires.format(&time::format_description::well_known::Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let par = r.json();
    let uri = par["accessUri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("/p/") && uri.ends_with(&format!("/n/{NS}/b/pars/o/build.sh")),
        "{uri}"
    );
    assert!(par["fullPath"].as_str().unwrap().ends_with(&uri));

    let unsigned = |method: Method, uri: &str, body: &'static [u8]| {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
            .unwrap()
    };
    let r = e.send(unsigned(Method::GET, &uri, b"")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"echo hi");
    // Read-only: no writes, no other objects.
    let r = e.send(unsigned(Method::PUT, &uri, b"evil")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other = uri.replace("build.sh", "other");
    assert_eq!(
        e.send(unsigned(Method::GET, &other, b"")).await.status,
        StatusCode::NOT_FOUND
    );
    let forged = format!("/p/forged/n/{NS}/b/pars/o/build.sh");
    assert_eq!(
        e.send(unsigned(Method::GET, &forged, b"")).await.status,
        StatusCode::NOT_FOUND
    );

    let listed = e.get(&format!("/n/{NS}/b/pars/p")).await.json();
    assert_eq!(listed[0]["name"], "fetch");
    assert!(
        listed[0].get("accessUri").is_none(),
        "the token is shown only once"
    );
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(
        e.delete(&format!("/n/{NS}/b/pars/p/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        e.send(unsigned(Method::GET, &uri, b"")).await.status,
        StatusCode::NOT_FOUND
    );

    // Expiry is enforced.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let par = e
        .post(
            &format!("/n/{NS}/b/pars/p"),
            json!({"name": "short", "accessType": "AnyObjectReadWrite",
                   "timeExpires": soon.format(&time::format_description::well_known::Rfc3339).unwrap()}),
        )
        .await
        .json();
    let base = par["accessUri"].as_str().unwrap().to_owned();
    let r = e
        .send(unsigned(Method::PUT, &format!("{base}new.txt"), b"via par"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        &e.get(&format!("/n/{NS}/b/pars/o/new.txt")).await.body[..],
        b"via par"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = e
        .send(unsigned(Method::GET, &format!("{base}new.txt"), b""))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
