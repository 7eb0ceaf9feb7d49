//! Where the servers are and how to talk to them: endpoints, region, keys and call limits, with
//! the defaults ESB's provisioner took from its environment. The secret never appears in
//! `Debug` output.

use std::fmt;
use std::time::Duration;

use super::error::{EsbError, Service};
use super::spec::EsbSpec;

/// Endpoints and credentials for one set of ESB servers.
#[derive(Clone)]
pub struct Connection {
    /// `http://host:port` of the DynamoDB-compatible server; needed only when tables are used.
    pub dynamodb_endpoint: Option<String>,
    /// `http://host:port` of the S3-compatible server (path-style); needed only for buckets.
    pub s3_endpoint: Option<String>,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub timeouts: Timeouts,
    /// Cancelled when Terraform calls Stop (Ctrl-C): waits end at once, and apply reports what
    /// it created up to then.
    pub stop: tokio_util::sync::CancellationToken,
}

/// Limits on every remote call and on waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect limit per attempt.
    pub connect: Duration,
    /// Whole-request limit per attempt (sending, waiting, reading the body).
    pub request: Duration,
    /// Attempts per call, the first included; retried are connection errors, timeouts, HTTP 5xx,
    /// 429 and throttling codes, with capped exponential backoff and jitter.
    pub max_attempts: u32,
    /// How long to wait for a table (and its indexes) to become ACTIVE, or to disappear after a
    /// delete.
    pub table_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
            max_attempts: 5,
            table_wait: Duration::from_secs(300),
        }
    }
}

/// The region when neither the configuration nor `AWS_DEFAULT_REGION` gives one.
pub const DEFAULT_REGION: &str = "us-east-1";

impl Connection {
    /// Fills what the configuration left unset from the environment, the way ESB's provisioner
    /// did: `DYNAMODB_ENDPOINT`, `S3_ENDPOINT`, `AWS_DEFAULT_REGION` (else `AWS_REGION`, else
    /// `us-east-1`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`. `env` is the lookup
    /// (`|name| std::env::var(name).ok()` in production), so tests need not touch the process
    /// environment. Empty strings count as unset. Keys may end up empty: servers that check
    /// signatures then answer with an auth error naming access_key/secret_key.
    pub fn with_env_defaults(
        dynamodb_endpoint: Option<String>,
        s3_endpoint: Option<String>,
        region: Option<String>,
        access_key: Option<String>,
        secret_key: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Connection {
        let set = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let from_env = |name: &str| set(env(name));
        Connection {
            dynamodb_endpoint: set(dynamodb_endpoint).or_else(|| from_env("DYNAMODB_ENDPOINT")),
            s3_endpoint: set(s3_endpoint).or_else(|| from_env("S3_ENDPOINT")),
            region: set(region)
                .or_else(|| from_env("AWS_DEFAULT_REGION"))
                .or_else(|| from_env("AWS_REGION"))
                .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            access_key: set(access_key)
                .or_else(|| from_env("AWS_ACCESS_KEY_ID"))
                .unwrap_or_default(),
            secret_key: set(secret_key)
                .or_else(|| from_env("AWS_SECRET_ACCESS_KEY"))
                .unwrap_or_default(),
            timeouts: Timeouts::default(),
            stop: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// The endpoint of `service`, checked to be an absolute http(s) URL, without a trailing `/`.
    pub fn endpoint(&self, service: Service, action: &str) -> Result<String, EsbError> {
        let value = match service {
            Service::DynamoDb => &self.dynamodb_endpoint,
            Service::S3 => &self.s3_endpoint,
        };
        let Some(value) = value else {
            return Err(EsbError::MissingEndpoint {
                service,
                action: action.to_owned(),
            });
        };
        check_endpoint(service, value)?;
        Ok(value.trim_end_matches('/').to_owned())
    }

    /// The services `spec` uses (DynamoDB for tables, S3 for buckets) that have no endpoint
    /// here, so that a plan can name what to set before anything is contacted.
    pub fn missing_endpoints(&self, spec: &EsbSpec) -> Vec<Service> {
        let mut missing = Vec::new();
        if !spec.tables.is_empty() && self.dynamodb_endpoint.is_none() {
            missing.push(Service::DynamoDb);
        }
        if !spec.buckets.is_empty() && self.s3_endpoint.is_none() {
            missing.push(Service::S3);
        }
        missing
    }

    /// Checks both endpoints that are set, for plan-time validation; unset ones are not errors
    /// here because a file without tables (or buckets) needs no DynamoDB (or S3) server.
    pub fn check(&self) -> Result<(), EsbError> {
        if let Some(value) = &self.dynamodb_endpoint {
            check_endpoint(Service::DynamoDb, value)?;
        }
        if let Some(value) = &self.s3_endpoint {
            check_endpoint(Service::S3, value)?;
        }
        Ok(())
    }
}

fn check_endpoint(service: Service, value: &str) -> Result<(), EsbError> {
    let invalid = |reason: &str| EsbError::InvalidEndpoint {
        service,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(value).map_err(|e| invalid(&format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("use an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("remove the query or fragment"));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(invalid(
            "give only scheme, host and port (path-style S3 adds the bucket to the path)",
        ));
    }
    Ok(())
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("region", &self.region)
            // Neither key: a Debug rendering can end up in a log line.
            .field("access_key", &"** redacted **")
            .field("secret_key", &"** redacted **")
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn debug_redacts_both_keys() {
        let conn = Connection::with_env_defaults(
            None,
            None,
            None,
            Some("AKIAKEYID".into()),
            Some("esbsecret".into()),
            env(&[]),
        );
        let text = format!("{conn:?}");
        assert!(!text.contains("esbsecret"), "{text}");
        assert!(!text.contains("AKIAKEYID"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }

    #[test]
    fn defaults_come_from_the_environment_and_explicit_values_win() {
        let vars = env(&[
            ("DYNAMODB_ENDPOINT", "http://db:8000"),
            ("S3_ENDPOINT", "http://s3:9000"),
            ("AWS_DEFAULT_REGION", "ap-northeast-1"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "envkey"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ]);
        let conn = Connection::with_env_defaults(None, None, None, None, None, &vars);
        assert_eq!(conn.dynamodb_endpoint.as_deref(), Some("http://db:8000"));
        assert_eq!(conn.s3_endpoint.as_deref(), Some("http://s3:9000"));
        assert_eq!(conn.region, "ap-northeast-1");
        assert_eq!(conn.access_key, "envkey");
        assert_eq!(conn.secret_key, "envsecret");

        let conn = Connection::with_env_defaults(
            Some("http://other:1".into()),
            Some("".into()),
            Some("us-west-2".into()),
            Some("k".into()),
            Some("s".into()),
            &vars,
        );
        assert_eq!(conn.dynamodb_endpoint.as_deref(), Some("http://other:1"));
        assert_eq!(
            conn.s3_endpoint.as_deref(),
            Some("http://s3:9000"),
            "empty means unset"
        );
        assert_eq!(conn.region, "us-west-2");
        assert_eq!(
            (conn.access_key.as_str(), conn.secret_key.as_str()),
            ("k", "s")
        );
    }

    #[test]
    fn region_falls_back_to_us_east_1() {
        let conn = Connection::with_env_defaults(None, None, None, None, None, env(&[]));
        assert_eq!(conn.region, "us-east-1");
        let conn = Connection::with_env_defaults(
            None,
            None,
            None,
            None,
            None,
            env(&[("AWS_REGION", "eu-west-1")]),
        );
        assert_eq!(conn.region, "eu-west-1");
    }

    #[test]
    fn missing_endpoints_are_those_the_file_needs() {
        let spec = |text| EsbSpec::parse("resources.yml", text).unwrap();
        let tables = spec(
            "DynamoDB:\n  - TableName: events\n    KeySchema: [{AttributeName: id, KeyType: HASH}]\n    AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n",
        );
        let buckets = spec("S3:\n  - BucketName: artifacts\n");
        let none = Connection::with_env_defaults(None, None, None, None, None, env(&[]));
        assert_eq!(none.missing_endpoints(&tables), vec![Service::DynamoDb]);
        assert_eq!(none.missing_endpoints(&buckets), vec![Service::S3]);
        assert_eq!(none.missing_endpoints(&spec("S3: []\n")), vec![]);
        let s3_only = Connection::with_env_defaults(
            None,
            Some("http://127.0.0.1:9000".into()),
            None,
            None,
            None,
            env(&[]),
        );
        assert_eq!(s3_only.missing_endpoints(&buckets), vec![]);
        assert_eq!(s3_only.missing_endpoints(&tables), vec![Service::DynamoDb]);
    }

    #[test]
    fn endpoints_are_checked() {
        let mut conn = Connection::with_env_defaults(None, None, None, None, None, env(&[]));
        let err = conn
            .endpoint(Service::DynamoDb, "create table t")
            .unwrap_err();
        assert!(
            err.to_string().contains("dynamodb_endpoint")
                && err.to_string().contains("DYNAMODB_ENDPOINT"),
            "{err}"
        );
        conn.s3_endpoint = Some("ftp://x".into());
        assert!(
            conn.check()
                .unwrap_err()
                .to_string()
                .contains("s3_endpoint")
        );
        conn.s3_endpoint = Some("http://127.0.0.1:9000/bucket".into());
        assert!(conn.check().is_err());
        conn.s3_endpoint = Some("http://127.0.0.1:9000/".into());
        assert_eq!(
            conn.endpoint(Service::S3, "x").unwrap(),
            "http://127.0.0.1:9000"
        );
    }
}
