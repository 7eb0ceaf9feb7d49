//! TRACE logs of a whole ESB apply carry no key material. Its own test binary: the subscriber
//! is the process's global one, so no other test running at the same time can leave the
//! callsites' interest cached as "never" (which silenced the capture when this test shared a
//! process with the other engine tests).

use std::time::Duration;

use galley_provider::esb::{Connection, EsbSpec, Owned, Timeouts, apply, destroy};
use galley_tests::servers::Moto;

/// Everything a TRACE subscriber writes, kept for inspection.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The attack: the access key id appeared in aws-sigv4's TRACE lines. A whole apply and
/// destroy at TRACE (every crate's events, from every thread)
/// must show no access key, secret, signature or credential scope.
#[tokio::test]
async fn trace_logs_of_a_whole_apply_carry_no_key_material() {
    const ACCESS_KEY: &str = "AKIATRACECANARY7Q4Z";
    const SECRET: &str = "trace-canary-secret-9f2c";
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    tracing::trace!(probe = "capture-works", "the capture sees TRACE events");

    let moto = Moto::start();
    let conn = Connection {
        dynamodb_endpoint: Some(moto.endpoint()),
        s3_endpoint: Some(moto.endpoint()),
        region: "us-east-1".to_owned(),
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SECRET.to_owned(),
        timeouts: Timeouts {
            table_wait: Duration::from_secs(60),
            ..Timeouts::default()
        },
        stop: Default::default(),
    };
    let file = EsbSpec::parse(
        "resources.yml",
        r#"
resources:
  dynamodb:
    - TableName: traced
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
  s3:
    - BucketName: traced-bucket
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    destroy(&conn, &outcome.owned, true)
        .await
        .unwrap_or_else(|f| panic!("{f}"));

    let logs = captured.text();
    assert!(logs.contains("capture-works"), "the capture is not working");
    assert!(logs.lines().count() > 20, "too little was logged:\n{logs}");
    for secret in [
        ACCESS_KEY,
        SECRET,
        "Signature=",
        "Credential=",
        "AWS4-HMAC-SHA256",
    ] {
        assert!(!logs.contains(secret), "{secret} is in the TRACE logs");
    }
}
