//! The OCI config file and `from_settings` for API keys and security-token profiles.

use std::collections::HashMap;
use std::path::Path;

use galley_oci::auth::{
    self, AuthError, AuthMethod, AuthSettings, ConfigFile, Secret, jwt::encode_unverified,
};
use galley_oci::signing::KeyId;
use serde_json::json;

use crate::util::{FINGERPRINT, TENANCY, TEST_KEY_FILE, USER, fixture};

const PASSPHRASE: &str = "galley-test-pass";

/// An environment made of `vars` only.
fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn profiles_inherit_default_and_keys_are_case_insensitive() {
    let text = "\
# comment
[DEFAULT]
region = us-ashburn-1
Tenancy=ocid1.tenancy.oc1..default
; another comment

[dev]
user=ocid1.user.oc1..dev
region=eu-frankfurt-1
";
    let file = ConfigFile::parse(text, Path::new("/cfg/config")).unwrap();
    assert_eq!(file.profile_names(), ["DEFAULT", "dev"]);
    let dev = file.profile("dev").unwrap();
    assert_eq!(dev.get("region"), Some("eu-frankfurt-1"));
    assert_eq!(dev.get("tenancy"), Some("ocid1.tenancy.oc1..default"));
    assert_eq!(dev.get("USER"), Some("ocid1.user.oc1..dev"));
    let default = file.profile("DEFAULT").unwrap();
    assert_eq!(default.get("user"), None);
}

#[test]
fn missing_profile_names_the_file_the_profile_and_what_exists() {
    let file = ConfigFile::parse(
        "[DEFAULT]\nuser=u\n[ops]\nuser=v\n",
        Path::new("/cfg/config"),
    )
    .unwrap();
    let message = file.profile("prod").unwrap_err().to_string();
    assert!(message.contains("[prod]"), "{message}");
    assert!(message.contains("/cfg/config"), "{message}");
    assert!(message.contains("DEFAULT, ops"), "{message}");
}

#[test]
fn missing_key_names_the_key_the_profile_and_the_file() {
    let file = ConfigFile::parse("[DEFAULT]\nuser=u\n", Path::new("/cfg/config")).unwrap();
    let err = file
        .profile("DEFAULT")
        .unwrap()
        .require("fingerprint")
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::MissingKey {
            key: "fingerprint",
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains("`fingerprint`")
            && message.contains("[DEFAULT]")
            && message.contains("/cfg/config"),
        "{message}"
    );
}

#[test]
fn syntax_errors_give_the_line() {
    let err = ConfigFile::parse("[DEFAULT]\nuser=u\nnot a pair\n", Path::new("/c")).unwrap_err();
    assert!(
        matches!(err, AuthError::ConfigSyntax { line: 3, .. }),
        "{err}"
    );
    let err = ConfigFile::parse("user=u\n", Path::new("/c")).unwrap_err();
    assert!(
        matches!(err, AuthError::ConfigSyntax { line: 1, .. }),
        "{err}"
    );
}

#[test]
fn tilde_expands_to_home_and_relative_paths_to_the_config_folder() {
    let env = env_of(&[("HOME", "/home/ada")]);
    let file = ConfigFile::parse(
        "[DEFAULT]\nkey_file=~/.oci/key.pem\n[rel]\nkey_file=keys/k.pem\n",
        Path::new("/etc/oci/config"),
    )
    .unwrap();
    assert_eq!(
        file.profile("DEFAULT")
            .unwrap()
            .path_value("key_file", &env)
            .unwrap()
            .unwrap(),
        Path::new("/home/ada/.oci/key.pem")
    );
    assert_eq!(
        file.profile("rel")
            .unwrap()
            .path_value("key_file", &env)
            .unwrap()
            .unwrap(),
        Path::new("/etc/oci/keys/k.pem")
    );
    let no_home = env_of(&[]);
    assert!(matches!(
        file.profile("DEFAULT")
            .unwrap()
            .path_value("key_file", &no_home),
        Err(AuthError::NoHome { .. })
    ));
}

#[test]
fn default_path_is_oci_config_file_else_home() {
    let env = env_of(&[("HOME", "/home/ada"), ("OCI_CONFIG_FILE", "~/alt/config")]);
    assert_eq!(
        ConfigFile::default_path(&env).unwrap(),
        Path::new("/home/ada/alt/config")
    );
    let env = env_of(&[("HOME", "/home/ada")]);
    assert_eq!(
        ConfigFile::default_path(&env).unwrap(),
        Path::new("/home/ada/.oci/config")
    );
}

#[tokio::test]
async fn api_key_from_a_profile_with_an_encrypted_key_under_home() {
    let home = tempfile::tempdir().unwrap();
    write(home.path(), ".oci/enc.pem", &fixture("pkcs8-aes256.pem"));
    write(
        home.path(),
        ".oci/config",
        &format!(
            "[DEFAULT]\nregion=fra\n[work]\ntenancy={TENANCY}\nuser={USER}\nfingerprint={FINGERPRINT}\nkey_file=~/.oci/enc.pem\npass_phrase={PASSPHRASE}\n"
        ),
    );
    let home_str = home.path().to_str().unwrap().to_owned();
    let env = env_of(&[("HOME", &home_str)]);
    let settings = AuthSettings {
        profile: Some("work".into()),
        ..AuthSettings::default()
    };
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    assert_eq!(
        auth.region, "eu-frankfurt-1",
        "short code from [DEFAULT], inherited and resolved"
    );
    assert_eq!(auth.tenancy_id.as_deref(), Some(TENANCY));
    let credentials = auth.provider.credentials().await.unwrap();
    assert_eq!(
        credentials.key_id(),
        &KeyId::api_key(TENANCY, USER, FINGERPRINT)
    );
    let expected = galley_oci::signing::PrivateKey::from_pem(
        &fixture("pkcs8-aes256.pem"),
        Some(PASSPHRASE.as_bytes()),
    )
    .unwrap();
    assert_eq!(credentials.key().public_key(), expected.public_key());

    // Without the pass phrase the error names the key file and the profile.
    write(
        home.path(),
        ".oci/config",
        &format!(
            "[work]\ntenancy={TENANCY}\nuser={USER}\nfingerprint={FINGERPRINT}\nkey_file=~/.oci/enc.pem\n"
        ),
    );
    let message = auth::from_settings(&settings, &env)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("enc.pem")
            && message.contains("[work]")
            && message.contains("pass phrase"),
        "{message}"
    );
}

#[tokio::test]
async fn explicit_values_need_no_config_file_and_override_the_profile() {
    let env = env_of(&[("HOME", "/nonexistent-home")]);
    let settings = AuthSettings {
        method: AuthMethod::ApiKey,
        region: Some("phx".into()),
        tenancy_ocid: Some(TENANCY.into()),
        user_ocid: Some(USER.into()),
        fingerprint: Some(FINGERPRINT.into()),
        private_key: Some(Secret::new(fixture(TEST_KEY_FILE))),
        ..AuthSettings::default()
    };
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    assert_eq!(auth.region, "us-phoenix-1");
    let credentials = auth.provider.credentials().await.unwrap();
    assert_eq!(
        credentials.key_id(),
        &KeyId::api_key(TENANCY, USER, FINGERPRINT)
    );
    // Secrets stay out of Debug.
    let debug = format!("{settings:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");

    // Partial values: the profile fills the gaps, explicit ones win.
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.pem", &fixture(TEST_KEY_FILE));
    let config = write(
        dir.path(),
        "config",
        &format!(
            "[DEFAULT]\ntenancy=ocid1.tenancy.oc1..fromfile\nuser={USER}\nfingerprint={FINGERPRINT}\nkey_file={}\nregion=iad\n",
            key.display()
        ),
    );
    let settings = AuthSettings {
        config_file: Some(config),
        tenancy_ocid: Some(TENANCY.into()),
        ..AuthSettings::default()
    };
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    assert_eq!(auth.region, "us-ashburn-1");
    let credentials = auth.provider.credentials().await.unwrap();
    assert_eq!(
        credentials.key_id(),
        &KeyId::api_key(TENANCY, USER, FINGERPRINT)
    );
}

#[tokio::test]
async fn missing_config_file_and_missing_values_say_both() {
    let env = env_of(&[("HOME", "/nonexistent-home")]);
    let message = auth::from_settings(&AuthSettings::default(), &env)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("tenancy_ocid") && message.contains("/nonexistent-home/.oci/config"),
        "{message}"
    );
}

#[tokio::test]
async fn security_token_profile_signs_with_st_and_rereads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.pem", &fixture(TEST_KEY_FILE));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let first = encode_unverified(&json!({"exp": now + 3600, "tenant": TENANCY, "n": 1}));
    let token_file = write(dir.path(), "token", &format!("{first}\n"));
    let config = write(
        dir.path(),
        "config",
        &format!(
            "[session]\nfingerprint=x\nkey_file={}\ntenancy={TENANCY}\nregion=us-chicago-1\nsecurity_token_file={}\n",
            key.display(),
            token_file.display()
        ),
    );
    let env = env_of(&[]);
    for method in [AuthMethod::SecurityToken, AuthMethod::ApiKey] {
        // ApiKey with a token file and no user also takes the session-token path.
        let settings = AuthSettings {
            method,
            config_file: Some(config.clone()),
            profile: Some("session".into()),
            ..AuthSettings::default()
        };
        let auth = auth::from_settings(&settings, &env).await.unwrap();
        assert_eq!(auth.region, "us-chicago-1");
        let credentials = auth.provider.credentials().await.unwrap();
        assert_eq!(
            credentials.key_id().session_token_value(),
            Some(first.as_str())
        );

        let second = encode_unverified(&json!({"exp": now + 7200, "n": 2}));
        std::fs::write(&token_file, &second).unwrap();
        auth.provider.refresh().await.unwrap();
        let credentials = auth.provider.credentials().await.unwrap();
        assert_eq!(
            credentials.key_id().session_token_value(),
            Some(second.as_str())
        );
        std::fs::write(&token_file, &first).unwrap();
    }

    // An expired token that stays expired is an error telling how to renew it.
    let expired = encode_unverified(&json!({"exp": now - 10}));
    std::fs::write(&token_file, &expired).unwrap();
    let settings = AuthSettings {
        method: AuthMethod::SecurityToken,
        config_file: Some(config.clone()),
        profile: Some("session".into()),
        ..AuthSettings::default()
    };
    let auth = auth::from_settings(&settings, &env).await.unwrap();
    let message = auth.provider.credentials().await.unwrap_err().to_string();
    assert!(
        message.contains("oci session refresh --profile session"),
        "{message}"
    );
}

#[test]
fn the_process_environment_is_an_env() {
    let env: auth::Env<'_> = &auth::process_env;
    assert_eq!(env("GALLEY_OCI_TEST_SURELY_UNSET_VARIABLE"), None);
}

#[test]
fn auth_method_names_parse_loosely() {
    for (text, method) in [
        ("ApiKey", AuthMethod::ApiKey),
        ("api_key", AuthMethod::ApiKey),
        ("InstancePrincipal", AuthMethod::InstancePrincipal),
        ("resource_principal", AuthMethod::ResourcePrincipal),
        ("SecurityToken", AuthMethod::SecurityToken),
    ] {
        assert_eq!(text.parse::<AuthMethod>().unwrap(), method);
    }
    assert!(matches!(
        "Password".parse::<AuthMethod>(),
        Err(AuthError::UnknownMethod(_))
    ));
}
