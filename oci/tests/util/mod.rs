//! Helpers shared by the signing tests: reading fixtures (the signing vectors among them) and
//! loading the test key.

#![allow(dead_code)]

use std::path::Path;

use galley_oci::signing::{KeyId, PrivateKey};

pub const VECTORS_FILE: &str = "oci-signing-vectors.json";
pub const TEST_KEY_FILE: &str = "oci-signing-testkey.pem";

pub const TENANCY: &str =
    "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
pub const USER: &str =
    "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
pub const FINGERPRINT: &str = "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34";
pub const VECTOR_DATE: &str = "Thu, 05 Jan 2014 21:31:40 GMT";

pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()))
}

pub fn test_key() -> PrivateKey {
    PrivateKey::from_pem(&fixture(TEST_KEY_FILE), None).expect("the signing test key loads")
}

pub fn vector_key_id() -> KeyId {
    KeyId::api_key(TENANCY, USER, FINGERPRINT)
}
