//! Uploading a Resource Manager provider bucket layout: on the wire against a stand-in bucket
//! that checks signatures and `Content-MD5` like Object Storage (library), and the
//! `galley-upload-providers` command line set up from an OCI config file (binary).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use galley_oci::object_storage::{ObjectStorageClient, content_md5};
use galley_oci::provider_bucket::upload::{self, Action, UploadError};
use galley_oci::signing::{KeyId, PrivateKey};
use http::Method;
use serde_json::json;

use crate::stand_in::{Canned, Recorded, StandIn, serve};
use crate::util::fixture;
use crate::{api_key_client, api_key_lookup};

const BUCKET_PATH: &str = "/n/ns/b/providers";

/// A bucket's objects by name: (content, MD5 the service reports).
type Objects = Arc<Mutex<BTreeMap<String, (Vec<u8>, String)>>>;

/// One bucket `providers` in namespace `ns`, created on demand. `corrupt` makes every PUT
/// store other bytes than sent (so the reported MD5 differs).
struct Bucket {
    server: StandIn,
    objects: Objects,
}

async fn bucket(
    exists: bool,
    corrupt: bool,
    verify: impl Fn(&Recorded) -> bool + Send + Sync + 'static,
) -> Bucket {
    let objects: Objects = Arc::default();
    let created = Arc::new(Mutex::new(exists));
    let store = Arc::clone(&objects);
    let server = serve(move |r| {
        if !verify(r) {
            return Canned::error(401, "NotAuthenticated", "bad signature");
        }
        let path = r.path().to_owned();
        if r.method == Method::GET && path == "/n" {
            return Canned::json(200, json!("ns"));
        }
        if r.method == Method::POST && path == "/n/ns/b" {
            assert_eq!(r.json()["name"], "providers");
            *created.lock().unwrap() = true;
            return Canned::json(200, json!({"namespace": "ns", "name": "providers"}));
        }
        if !*created.lock().unwrap() {
            return Canned::error(404, "BucketNotFound", "no bucket");
        }
        if r.method == Method::GET && path == BUCKET_PATH {
            return Canned::json(200, json!({"namespace": "ns", "name": "providers"}));
        }
        let Some(name) = path.strip_prefix(&format!("{BUCKET_PATH}/o/")) else {
            return Canned::error(404, "NotFound", &path);
        };
        let name = crate::stand_in::percent_decode(name);
        match r.method {
            Method::HEAD => match store.lock().unwrap().get(&name) {
                Some((_, md5)) => Canned::empty(200).header("content-md5", md5),
                None => Canned::empty(404),
            },
            Method::PUT => {
                let md5 = content_md5(&r.body);
                if r.header("content-md5").as_deref() != Some(&md5) {
                    return Canned::error(400, "UnmatchedContentMD5", "content-md5 differs");
                }
                let stored = if corrupt {
                    content_md5(b"damaged")
                } else {
                    md5
                };
                store
                    .lock()
                    .unwrap()
                    .insert(name, (r.body.to_vec(), stored.clone()));
                Canned::empty(200).header("opc-content-md5", &stored)
            }
            _ => Canned::error(405, "MethodNotAllowed", "no"),
        }
    })
    .await;
    Bucket { server, objects }
}

fn layout(dir: &Path, files: &[(&str, &[u8])]) {
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

const AMD: &str = "linux_amd64/terraform-provider-galley_v0.1.0";
const ARM: &str = "linux_arm64/terraform-provider-galley_v0.1.0";

#[tokio::test]
async fn an_upload_puts_each_binary_with_its_md5_once() {
    let b = bucket(false, false, |r| {
        r.verify(r.method == Method::PUT, api_key_lookup).is_ok()
    })
    .await;
    let os = ObjectStorageClient::new(api_key_client(), b.server.base.clone());
    let dir = tempfile::tempdir().unwrap();
    layout(
        dir.path(),
        &[(AMD, b"amd64 binary"), (ARM, b"arm64 binary")],
    );
    let binaries = upload::scan(dir.path()).unwrap();

    let err = upload::ensure_bucket(&os, "ns", "providers", None)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::BucketNotFound { .. }));
    assert!(
        err.to_string()
            .starts_with("failed to find bucket providers in namespace ns"),
        "{err}"
    );
    assert!(
        upload::ensure_bucket(&os, "ns", "providers", Some("ocid1.compartment.oc1..c"))
            .await
            .unwrap(),
        "created"
    );

    let mut seen = Vec::new();
    let placed = upload::upload(&os, "ns", "providers", &binaries, |p| {
        seen.push(p.object_name.clone())
    })
    .await
    .unwrap();
    assert_eq!(seen, [AMD, ARM]);
    assert!(placed.iter().all(|p| p.action == Action::Uploaded));
    assert_eq!(placed[0].md5, content_md5(b"amd64 binary"));
    assert_eq!(placed[0].size, 12);
    let objects = b.objects.lock().unwrap().clone();
    assert_eq!(objects[AMD].0, b"amd64 binary");
    assert_eq!(objects[ARM].0, b"arm64 binary");

    // Again: nothing to write. Then one binary changes: only it is written.
    let before = b.server.count();
    let placed = upload::upload(&os, "ns", "providers", &binaries, |_| {})
        .await
        .unwrap();
    assert!(placed.iter().all(|p| p.action == Action::Unchanged));
    let again: Vec<Method> = b.server.requests()[before..]
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(again, [Method::HEAD, Method::HEAD]);
    layout(dir.path(), &[(ARM, b"arm64 binary, rebuilt")]);
    let placed = upload::upload(&os, "ns", "providers", &binaries, |_| {})
        .await
        .unwrap();
    let actions: Vec<Action> = placed.iter().map(|p| p.action).collect();
    assert_eq!(actions, [Action::Unchanged, Action::Uploaded]);
    assert_eq!(b.objects.lock().unwrap()[ARM].0, b"arm64 binary, rebuilt");
    let put = b.server.requests().pop().unwrap();
    assert_eq!(put.method, Method::PUT);
    let md5 = base64::engine::general_purpose::STANDARD
        .encode(<md5::Md5 as md5::Digest>::digest(b"arm64 binary, rebuilt"));
    assert_eq!(put.header("content-md5"), Some(md5));
}

#[tokio::test]
async fn a_body_stored_damaged_is_an_error() {
    let b = bucket(true, true, |_| true).await;
    let os = ObjectStorageClient::new(api_key_client(), b.server.base.clone());
    let dir = tempfile::tempdir().unwrap();
    layout(dir.path(), &[(AMD, b"amd64 binary")]);
    let err = upload::upload(
        &os,
        "ns",
        "providers",
        &upload::scan(dir.path()).unwrap(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UploadError::Md5Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("run the upload again"), "{err}");
}

/// The command line: OCI set-up from a config file and the endpoint override, the namespace
/// asked from the service, and one line per object saying what went where.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_uploads_and_prints_what_it_put_where() {
    const TENANCY: &str = "ocid1.tenancy.oc1..upload";
    const USER: &str = "ocid1.user.oc1..upload";
    let key = PrivateKey::from_pem(&fixture("pkcs8.pem"), None).unwrap();
    let fingerprint = key.public_key().fingerprint().unwrap();
    let key_id = KeyId::api_key(TENANCY, USER, &fingerprint);
    let public = key.public_key();
    let b = bucket(true, false, move |r| {
        r.verify(r.method == Method::PUT, |id| {
            (*id == key_id).then(|| public.clone())
        })
        .is_ok()
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.pem");
    std::fs::write(&key_path, fixture("pkcs8.pem")).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\ntenancy={TENANCY}\nuser={USER}\nfingerprint={fingerprint}\nkey_file={}\nregion=iad\n",
            key_path.display()
        ),
    )
    .unwrap();
    let dist = dir.path().join("rm-bucket");
    layout(&dist, &[(AMD, b"amd64 binary")]);

    let run = |args: Vec<String>| {
        let config = config.clone();
        let endpoint = b.server.base.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_galley-upload-providers"))
                .args(args)
                .env_clear()
                .env("OCI_CONFIG_FILE", config)
                .env("GALLEY_OBJECT_STORAGE_ENDPOINT", endpoint)
                .output()
                .unwrap()
        })
    };
    let args = vec![
        "--bucket".to_owned(),
        "providers".to_owned(),
        format!("--dir={}", dist.display()),
    ];
    let out = run(args.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md5 = content_md5(b"amd64 binary");
    assert!(
        stdout.contains(&format!(
            "uploaded {AMD} (12 bytes, MD5 {md5}) in bucket providers (namespace ns, region us-ashburn-1)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("bucketName = \"providers\""),
        "it says how a stack names the bucket: {stdout}"
    );
    let out = run(args).await.unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("unchanged {AMD}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Something that is not a provider binary stops it before any call.
    let before = b.server.count();
    layout(&dist, &[("linux_amd64/README.md", b"notes")]);
    let out = run(vec![
        "--bucket".into(),
        "providers".into(),
        "--dir".into(),
        dist.display().to_string(),
    ])
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("README.md") && stderr.contains("not a provider binary"),
        "{stderr}"
    );
    assert_eq!(b.server.count(), before);
}
