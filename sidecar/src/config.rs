//! Settings: the command line (`--stdio` or `--http ADDR`), the `GALLEY_*` environment variables,
//! and the OCI settings the Galley provider reads (`oci::provider_env`), read once at start-up.
//! Nothing else reads the environment for settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use galley_contract::env::WORK_COMPARTMENT_ID;
use galley_oci::setup::env;

use crate::oci::OciSettings;
use crate::store::{DEFAULT_CACHE_SESSIONS, lease::DEFAULT_LEASE};

/// How clients reach the sidecar.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Stdio,
    Http(SocketAddr),
}

/// Default HTTP address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8000";

#[derive(Debug, Clone)]
pub struct Config {
    pub transport: Transport,
    /// `GALLEY_DATA_DIR`, default `./galley-data`.
    pub data_dir: PathBuf,
    /// `GALLEY_URL_TOKEN`.
    pub url_token: Option<String>,
    /// `GALLEY_ALLOWED_ORIGINS`, comma separated.
    pub allowed_origins: Option<Vec<String>>,
    /// `GALLEY_ALLOWED_HOSTS`, comma separated (`*` for any).
    pub allowed_hosts: Option<Vec<String>>,
    /// `GALLEY_READ_ONLY=1`.
    pub read_only: bool,
    /// `GALLEY_RULES_DIR`: replaces the shipped rules.
    pub rules_dir: Option<PathBuf>,
    /// `GALLEY_HEARING_FILE`: replaces the shipped hearing questions.
    pub hearing_file: Option<PathBuf>,
    /// `GALLEY_PROVIDER_DIR`, default: the directory of this binary.
    pub provider_dir: PathBuf,
    /// `GALLEY_TERRAFORM`, default `terraform` from PATH.
    pub terraform: PathBuf,
    /// OCI auth and endpoints, as the provider reads them (handed to Terraform as they are).
    pub oci: OciSettings,
    /// `GALLEY_STATE_BUCKET` and what goes with it: sessions in a bucket.
    pub state: Option<StateConfig>,
    /// `GALLEY_STATE_LEASE_SECS`: how long the lease of a heavy operation lasts unrenewed.
    pub lease: Duration,
    /// `GALLEY_BUILD_*`: where `build_app_image` builds and pushes.
    pub build: BuildSettings,
}

/// Where images are built and pushed (`GALLEY_BUILD_*`). All optional at start: a build names
/// the variable it misses.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    /// `GALLEY_BUILD_INSTANCE_ID`: OCID of the build instance (Instance Agent run command,
    /// docker, curl).
    pub instance_id: Option<String>,
    /// `GALLEY_BUILD_BUCKET`: existing bucket the build context is uploaded to.
    pub bucket: Option<String>,
    /// `GALLEY_BUILD_NAMESPACE`: the bucket's namespace (default: the tenancy's).
    pub namespace: Option<String>,
    /// `GALLEY_BUILD_REGISTRY`: registry and repository prefix images are pushed under, such as
    /// `iad.ocir.io/mytenancy`.
    pub registry: Option<String>,
    /// `GALLEY_BUILD_REGISTRY_USERNAME`: user for `docker login` on the build instance.
    pub registry_username: Option<String>,
    /// `GALLEY_BUILD_REGISTRY_TOKEN`: its password or auth token. A secret: never shown.
    pub registry_token: Option<String>,
}

/// The environment variables of [`BuildSettings`].
pub mod build_env {
    pub const INSTANCE_ID: &str = "GALLEY_BUILD_INSTANCE_ID";
    pub const BUCKET: &str = "GALLEY_BUILD_BUCKET";
    pub const NAMESPACE: &str = "GALLEY_BUILD_NAMESPACE";
    pub const REGISTRY: &str = "GALLEY_BUILD_REGISTRY";
    pub const REGISTRY_USERNAME: &str = "GALLEY_BUILD_REGISTRY_USERNAME";
    pub const REGISTRY_TOKEN: &str = "GALLEY_BUILD_REGISTRY_TOKEN";
}

impl std::fmt::Debug for BuildSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildSettings")
            .field("instance_id", &self.instance_id)
            .field("bucket", &self.bucket)
            .field("namespace", &self.namespace)
            .field("registry", &self.registry)
            .field("registry_username", &self.registry_username)
            .field(
                "registry_token",
                &self.registry_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl BuildSettings {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        BuildSettings {
            instance_id: get(build_env::INSTANCE_ID),
            bucket: get(build_env::BUCKET),
            namespace: get(build_env::NAMESPACE),
            registry: get(build_env::REGISTRY).map(|r| r.trim_end_matches('/').to_string()),
            registry_username: get(build_env::REGISTRY_USERNAME),
            // A token is taken as it is: spaces may be part of it.
            registry_token: env(build_env::REGISTRY_TOKEN).filter(|t| !t.is_empty()),
        }
    }

    /// The settings a build cannot do without, or the error naming the first one missing.
    pub fn required(&self) -> Result<(&str, &str, &str), String> {
        fn need<'a>(v: &'a Option<String>, name: &str, what: &str) -> Result<&'a str, String> {
            v.as_deref().ok_or_else(|| {
                format!(
                    "building images is not set up: {name} is not set ({what}); set it in the sidecar's environment and restart it"
                )
            })
        }
        let instance = need(
            &self.instance_id,
            build_env::INSTANCE_ID,
            "the OCID of the build instance, which runs docker through the Instance Agent",
        )?;
        let bucket = need(
            &self.bucket,
            build_env::BUCKET,
            "an existing Object Storage bucket the build context is uploaded to",
        )?;
        let registry = need(
            &self.registry,
            build_env::REGISTRY,
            "the registry and repository prefix images are pushed under, such as iad.ocir.io/mytenancy",
        )?;
        if self.registry_token.is_some() && self.registry_username.is_none() {
            return Err(format!(
                "{} is set but {} is not; set the registry user too, or unset the token when the build instance is already logged in",
                build_env::REGISTRY_TOKEN,
                build_env::REGISTRY_USERNAME
            ));
        }
        Ok((instance, bucket, registry))
    }
}

/// The bucket store's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// `GALLEY_STATE_BUCKET`.
    pub bucket: String,
    /// `GALLEY_STATE_NAMESPACE`; `None`: asked of Object Storage.
    pub namespace: Option<String>,
    /// `GALLEY_STATE_CACHE_SESSIONS`: session records kept in memory.
    pub cache_sessions: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{0}\n\n{usage}", usage = usage())]
    Usage(String),
}

/// The command line help, with the OCI variables named by the shared constants.
pub fn usage() -> String {
    let pair = format!("{}, {}", env::CONFIG_FILE, env::CONFIG_FILE_PROFILE);
    format!(
        "usage: galley-sidecar --stdio | --http [ADDR]   (ADDR defaults to 127.0.0.1:8000)

environment:
  GALLEY_DATA_DIR          where sessions live (default ./galley-data)
  GALLEY_URL_TOKEN         token every HTTP request must carry (?token= or Authorization: Bearer)
  GALLEY_ALLOWED_ORIGINS   comma-separated browser origins allowed (default: localhost on any port)
  GALLEY_ALLOWED_HOSTS     comma-separated Host names allowed (default: localhost names; * for any)
  GALLEY_READ_ONLY=1       do not offer run_terraform_apply and run_terraform_destroy
  GALLEY_RULES_DIR         directory of *.yml validation rules replacing the shipped ones
  GALLEY_HEARING_FILE      YAML file of hearing questions replacing the shipped ones
  GALLEY_PROVIDER_DIR      directory holding terraform-provider-galley (default: next to this binary)
  GALLEY_TERRAFORM         terraform CLI to run (default: terraform on PATH)
  GALLEY_STATE_BUCKET      keep sessions, stack files, plans and the runner's state in this Object
                           Storage bucket (GALLEY_DATA_DIR is then only a cache)
  GALLEY_STATE_NAMESPACE   the bucket's namespace (default: the tenancy's, asked of Object Storage)
  GALLEY_STATE_LEASE_SECS  how long a plan/apply/destroy's lease on its session lasts unrenewed
                           (default 60; renewed every third of it while the run goes on)
  GALLEY_STATE_CACHE_SESSIONS  session records kept in memory with the bucket (default 64)
  GALLEY_BUILD_INSTANCE_ID  build_app_image: OCID of the build instance (docker, Instance Agent)
  GALLEY_BUILD_BUCKET      build_app_image: bucket the build context is uploaded to
  GALLEY_BUILD_NAMESPACE   that bucket's namespace (default: the tenancy's)
  GALLEY_BUILD_REGISTRY    build_app_image: registry and prefix images go to (iad.ocir.io/ns)
  GALLEY_BUILD_REGISTRY_USERNAME, GALLEY_BUILD_REGISTRY_TOKEN  docker login on the build
                           instance (unset: the instance is already logged in)
  RUST_LOG                 log filter (logs go to stderr)

OCI access (passed to the Galley provider, and used by get_rm_job_status), as the provider reads it:
  {pair:<43}config file and profile (default ~/.oci/config, DEFAULT)
  {}, {}, {}, {}, {}, {}
  {:<43}Resource Manager URL override (a local engine)
  {:<43}compartment of the stacks when a plan names none",
        env::AUTH,
        env::REGION,
        env::TENANCY_OCID,
        env::USER_OCID,
        env::FINGERPRINT,
        env::PRIVATE_KEY_PATH,
        env::RESOURCE_MANAGER_ENDPOINT,
        WORK_COMPARTMENT_ID,
    )
}

fn list(v: Option<String>) -> Option<Vec<String>> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

fn truthy(v: Option<String>) -> bool {
    matches!(
        v.as_deref().map(str::trim),
        Some("1" | "true" | "yes" | "on")
    )
}

impl Config {
    /// Reads the arguments (without the program name) and the environment through `env`.
    pub fn from_parts(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let transport = match args {
            [flag] if flag == "--stdio" => Transport::Stdio,
            [flag] if flag == "--http" => Transport::Http(
                DEFAULT_ADDR
                    .parse()
                    .map_err(|_| ConfigError::Usage("bad default address".into()))?,
            ),
            [flag, addr] if flag == "--http" => Transport::Http(addr.parse().map_err(|_| {
                ConfigError::Usage(format!("{addr:?} is not an address like 127.0.0.1:8000"))
            })?),
            [] => return Err(ConfigError::Usage("choose a transport".into())),
            other => {
                return Err(ConfigError::Usage(format!(
                    "unexpected arguments {other:?}"
                )));
            }
        };
        let number = |name: &str, default: u64, min: u64| -> Result<u64, ConfigError> {
            match env(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        ConfigError::Usage(format!(
                            "{name}={v:?} is not a whole number of at least {min}"
                        ))
                    }),
            }
        };
        let lease = Duration::from_secs(number(
            "GALLEY_STATE_LEASE_SECS",
            DEFAULT_LEASE.as_secs(),
            1,
        )?);
        let state = match env("GALLEY_STATE_BUCKET").filter(|b| !b.trim().is_empty()) {
            None => None,
            Some(bucket) => Some(StateConfig {
                bucket: bucket.trim().to_string(),
                namespace: env("GALLEY_STATE_NAMESPACE")
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty()),
                cache_sessions: number(
                    "GALLEY_STATE_CACHE_SESSIONS",
                    DEFAULT_CACHE_SESSIONS as u64,
                    1,
                )? as usize,
            }),
        };
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_default();
        Ok(Config {
            transport,
            data_dir: env("GALLEY_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("galley-data")),
            url_token: env("GALLEY_URL_TOKEN").filter(|t| !t.is_empty()),
            allowed_origins: list(env("GALLEY_ALLOWED_ORIGINS")),
            allowed_hosts: list(env("GALLEY_ALLOWED_HOSTS")),
            read_only: truthy(env("GALLEY_READ_ONLY")),
            rules_dir: env("GALLEY_RULES_DIR").map(PathBuf::from),
            hearing_file: env("GALLEY_HEARING_FILE")
                .filter(|f| !f.is_empty())
                .map(PathBuf::from),
            provider_dir: env("GALLEY_PROVIDER_DIR")
                .map(PathBuf::from)
                .unwrap_or(exe_dir),
            terraform: env("GALLEY_TERRAFORM")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("terraform")),
            oci: OciSettings::from_env(&env),
            state,
            lease,
            build: BuildSettings::from_env(&env),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_settings_name_what_is_missing_and_hide_the_token() {
        let full = |k: &str| match k {
            "GALLEY_BUILD_INSTANCE_ID" => Some("ocid1.instance.oc1..b".to_string()),
            "GALLEY_BUILD_BUCKET" => Some("builds".to_string()),
            "GALLEY_BUILD_REGISTRY" => Some("iad.ocir.io/ns/".to_string()),
            "GALLEY_BUILD_REGISTRY_USERNAME" => Some("ns/ci".to_string()),
            "GALLEY_BUILD_REGISTRY_TOKEN" => Some("s3cret token".to_string()),
            _ => None,
        };
        let b = BuildSettings::from_env(full);
        assert_eq!(
            b.required().unwrap(),
            ("ocid1.instance.oc1..b", "builds", "iad.ocir.io/ns")
        );
        assert_eq!(b.registry_token.as_deref(), Some("s3cret token"));
        let shown = format!("{b:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
        for missing in [
            build_env::INSTANCE_ID,
            build_env::BUCKET,
            build_env::REGISTRY,
            build_env::REGISTRY_USERNAME,
        ] {
            let b = BuildSettings::from_env(|k| (k != missing).then(|| full(k)).flatten());
            let err = b.required().unwrap_err();
            assert!(err.contains(missing), "{err}");
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn transports() {
        let none = |_: &str| None;
        assert_eq!(
            Config::from_parts(&args(&["--stdio"]), none)
                .unwrap()
                .transport,
            Transport::Stdio
        );
        assert_eq!(
            Config::from_parts(&args(&["--http"]), none)
                .unwrap()
                .transport,
            Transport::Http("127.0.0.1:8000".parse().unwrap())
        );
        assert_eq!(
            Config::from_parts(&args(&["--http", "127.0.0.1:0"]), none)
                .unwrap()
                .transport,
            Transport::Http("127.0.0.1:0".parse().unwrap())
        );
        assert!(Config::from_parts(&args(&[]), none).is_err());
        assert!(Config::from_parts(&args(&["--http", "nope"]), none).is_err());
    }

    #[test]
    fn the_state_bucket_settings() {
        let c = Config::from_parts(&args(&["--stdio"]), |k| match k {
            "GALLEY_STATE_BUCKET" => Some(" galley-state ".into()),
            "GALLEY_STATE_LEASE_SECS" => Some("5".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            c.state,
            Some(StateConfig {
                bucket: "galley-state".into(),
                namespace: None,
                cache_sessions: DEFAULT_CACHE_SESSIONS,
            })
        );
        assert_eq!(c.lease, Duration::from_secs(5));
        for bad in ["0", "soon", "-1"] {
            let err = Config::from_parts(&args(&["--stdio"]), |k| {
                (k == "GALLEY_STATE_LEASE_SECS").then(|| bad.to_string())
            })
            .unwrap_err()
            .to_string();
            assert!(err.contains("GALLEY_STATE_LEASE_SECS"), "{err}");
        }
        let c = Config::from_parts(&args(&["--stdio"]), |k| match k {
            "GALLEY_STATE_BUCKET" => Some("b".into()),
            "GALLEY_STATE_NAMESPACE" => Some("ns".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.state.unwrap().namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn environment() {
        let env = |k: &str| match k {
            "GALLEY_READ_ONLY" => Some("1".to_string()),
            "GALLEY_ALLOWED_ORIGINS" => {
                Some("https://a.example, http://b.example:8080".to_string())
            }
            "GALLEY_URL_TOKEN" => Some(String::new()),
            _ => None,
        };
        let c = Config::from_parts(&args(&["--stdio"]), env).unwrap();
        assert!(c.read_only);
        assert_eq!(
            c.allowed_origins.unwrap(),
            vec!["https://a.example", "http://b.example:8080"]
        );
        assert_eq!(c.url_token, None);
        assert_eq!(c.oci, OciSettings::default());
        assert_eq!(c.state, None, "the directory store by default");
        assert_eq!(c.lease, DEFAULT_LEASE);
        assert_eq!(c.build, BuildSettings::default());
        let c = Config::from_parts(&args(&["--stdio"]), |k| {
            (k == env::RESOURCE_MANAGER_ENDPOINT).then(|| "http://127.0.0.1:9".to_string())
        })
        .unwrap();
        assert_eq!(
            c.oci.get(env::RESOURCE_MANAGER_ENDPOINT),
            Some("http://127.0.0.1:9")
        );
    }
}
