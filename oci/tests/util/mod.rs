//! Helpers shared by the signing tests: locating the shared vectors and loading the test key.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use galley_oci::signing::{KeyId, PrivateKey};

pub const VECTORS_FILE: &str = "oci-signing-vectors.json";
pub const TEST_KEY_FILE: &str = "oci-signing-testkey.pem";

pub const TENANCY: &str =
    "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
pub const USER: &str =
    "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
pub const FINGERPRINT: &str = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34";
pub const VECTOR_DATE: &str = "Thu, 05 Jan 2014 21:31:40 GMT";

/// The `shared/data` folder that sits beside the checkout (`<crate>/../../shared/data`). A
/// worktree nested deeper finds it further up, so every ancestor is tried in turn.
pub fn shared_data_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tried: Vec<PathBuf> = manifest
        .ancestors()
        .skip(2)
        .map(|dir| dir.join("shared").join("data"))
        .collect();
    if let Some(found) = tried.iter().find(|dir| dir.join(VECTORS_FILE).is_file()) {
        return found.clone();
    }
    panic!(
        "the OCI signing vectors {VECTORS_FILE} were not found: expected them in a shared/data \
         folder beside the checkout ({}/../../shared/data); looked in: {tried:#?}",
        manifest.display()
    );
}

pub fn read_shared(name: &str) -> String {
    let path = shared_data_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()))
}

pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()))
}

pub fn test_key() -> PrivateKey {
    PrivateKey::from_pem(&read_shared(TEST_KEY_FILE), None).expect("the shared test key loads")
}

pub fn vector_key_id() -> KeyId {
    KeyId::api_key(TENANCY, USER, FINGERPRINT)
}
