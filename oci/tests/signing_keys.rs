//! Loading RSA keys in the forms OCI users have: PKCS#1, PKCS#8, encrypted PKCS#8 (PBES2 with
//! PBKDF2 or scrypt) and legacy OpenSSL-encrypted PEM, plus public keys and fingerprints.
//!
//! The fixtures are the shared test key re-encoded by `openssl pkcs8 -topk8` and
//! `openssl rsa -traditional` with the pass phrase below.

mod util;

use galley_oci::signing::{KeyError, PrivateKey, PublicKey};
use util::*;

const PASSPHRASE: &[u8] = b"galley-test-pass";

const ENCRYPTED: &[&str] = &[
    "pkcs8-aes256.pem",
    "pkcs8-des3.pem",
    "pkcs8-scrypt.pem",
    "legacy-aes128.pem",
    "legacy-aes256.pem",
    "legacy-des3.pem",
];

#[test]
fn every_encoding_loads_the_same_key() {
    let reference = test_key().public_key();
    let plain = PrivateKey::from_pem(&fixture("pkcs8.pem"), None).unwrap();
    assert_eq!(plain.public_key(), reference);
    for name in ENCRYPTED {
        let key = PrivateKey::from_pem(&fixture(name), Some(PASSPHRASE))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.public_key(), reference, "{name}");
    }
}

#[test]
fn an_encrypted_key_without_pass_phrase_is_refused_clearly() {
    for name in ENCRYPTED {
        let err = PrivateKey::from_pem(&fixture(name), None).unwrap_err();
        assert!(matches!(err, KeyError::PassphraseRequired), "{name}: {err}");
    }
}

#[test]
fn a_wrong_pass_phrase_is_reported_as_such() {
    for name in ENCRYPTED {
        let err = PrivateKey::from_pem(&fixture(name), Some(b"not-it")).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassphrase), "{name}: {err}");
    }
}

#[test]
fn console_downloads_with_a_trailing_marker_and_crlf_load() {
    let text = fixture(TEST_KEY_FILE).replace('\n', "\r\n") + "OCI_API_KEY\r\n";
    let key = PrivateKey::from_pem(&text, Some(b"ignored for a plain key")).unwrap();
    assert_eq!(key.public_key(), test_key().public_key());
}

#[test]
fn text_without_a_key_is_an_error() {
    let err = PrivateKey::from_pem("not a key", None).unwrap_err();
    assert!(matches!(err, KeyError::NoPemBlock { .. }));
    // A public key where a private key is expected.
    let err = PrivateKey::from_pem(&fixture("public-spki.pem"), None).unwrap_err();
    assert!(matches!(err, KeyError::NoPemBlock { .. }));
}

#[test]
fn public_keys_load_from_spki_and_pkcs1_and_round_trip() {
    let reference = test_key().public_key();
    let spki = PublicKey::from_pem(&fixture("public-spki.pem")).unwrap();
    let pkcs1 = PublicKey::from_pem(&fixture("public-pkcs1.pem")).unwrap();
    assert_eq!(spki, reference);
    assert_eq!(pkcs1, reference);
    assert_eq!(reference.to_pem().unwrap(), fixture("public-spki.pem"));
    assert_eq!(
        PublicKey::from_der(&reference.to_der().unwrap()).unwrap(),
        reference
    );
}

#[test]
fn fingerprint_is_the_md5_of_the_public_key_der() {
    // `openssl rsa -in oci-signing-testkey.pem -pubout -outform DER | openssl md5 -c`
    assert_eq!(
        test_key().public_key().fingerprint().unwrap(),
        "73:61:a2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7"
    );
}

#[test]
fn generated_keys_sign_and_verify() {
    let key = PrivateKey::generate(1024).unwrap();
    assert_eq!(key.bits(), 1024);
    let signature = key.sign_sha256(b"message").unwrap();
    assert!(key.public_key().verify_sha256(b"message", &signature));
    assert!(!key.public_key().verify_sha256(b"massage", &signature));
    assert!(
        !test_key()
            .public_key()
            .verify_sha256(b"message", &signature)
    );
}
