//! The ESB engine against real servers: moto (DynamoDB and S3), dynalite (tables that stay
//! CREATING/UPDATING/DELETING for a while) and SeaweedFS (S3 that verifies signatures). Each test
//! starts its own servers on free loopback ports; they stop when the test ends.

use std::time::{Duration, Instant};

use galley_provider::esb::dynamodb::DynamoDb;
use galley_provider::esb::reconcile::LiveBucket;
use galley_provider::esb::s3::S3;
use galley_provider::esb::spec::{
    Billing, LifecycleRule, ProjectionType, StreamViewType, Throughput,
};
use galley_provider::esb::{
    Action, Connection, EsbError, EsbSpec, Owned, Timeouts, apply, check_changes, destroy, observe,
    plan,
};
use galley_tests::servers::{Dynalite, Moto, Seaweed};

fn connection(dynamodb: Option<String>, s3: Option<String>, key: &str, secret: &str) -> Connection {
    Connection {
        dynamodb_endpoint: dynamodb,
        s3_endpoint: s3,
        region: "us-east-1".to_owned(),
        access_key: key.to_owned(),
        secret_key: secret.to_owned(),
        timeouts: Timeouts {
            table_wait: Duration::from_secs(60),
            ..Timeouts::default()
        },
        stop: Default::default(),
    }
}

fn moto_connection(moto: &Moto) -> Connection {
    connection(Some(moto.endpoint()), Some(moto.endpoint()), "test", "test")
}

fn spec(text: &str) -> EsbSpec {
    EsbSpec::parse("resources.yml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn changes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.is_change())
        .map(ToString::to_string)
        .collect()
}

fn names(items: &[&str]) -> std::collections::BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const FULL: &str = r#"
resources:
  dynamodb:
    - TableName: existing-table
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
    - TableName: orders
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: status, AttributeType: S}
        - {AttributeName: created, AttributeType: N}
      BillingMode: PAY_PER_REQUEST
      GlobalSecondaryIndexes:
        - IndexName: by-status
          KeySchema: [{AttributeName: status, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
          Projection: {ProjectionType: ALL}
      LocalSecondaryIndexes:
        - IndexName: by-created
          KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: created, KeyType: RANGE}]
          Projection: {ProjectionType: KEYS_ONLY}
      StreamSpecification: {StreamEnabled: true, StreamViewType: NEW_AND_OLD_IMAGES}
  s3:
    - BucketName: existing-bucket
    - BucketName: uploads
      LifecycleConfiguration:
        Rules: [{Id: expire-tmp, Status: Enabled, Prefix: tmp/, ExpirationInDays: 7}]
  layers:
    - {Name: common, ContentURI: ./layers/common}
"#;

#[tokio::test]
async fn moto_creates_what_is_missing_adopts_what_exists_and_destroys_only_its_own() {
    let moto = Moto::start();
    let conn = moto_connection(&moto);
    let db = DynamoDb::new(&conn).unwrap();
    let s3 = S3::new(&conn).unwrap();

    // Made beforehand by someone else: adopted, never owned, never deleted.
    let existing = spec(FULL);
    db.create_table(existing.table("existing-table").unwrap())
        .await
        .unwrap();
    s3.create_bucket("existing-bucket").await.unwrap();

    let full = spec(FULL);
    assert_eq!(full.warnings.len(), 1, "layers are a warning");
    let outcome = apply(&conn, &full, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(outcome.owned.tables, names(&["orders"]));
    assert_eq!(outcome.owned.buckets, names(&["uploads"]));
    assert!(
        outcome
            .actions
            .contains(&Action::AdoptedTable("existing-table".into()))
    );
    assert!(
        outcome
            .actions
            .contains(&Action::AdoptedBucket("existing-bucket".into()))
    );
    assert!(
        outcome
            .actions
            .contains(&Action::SetLifecycle("uploads".into()))
    );

    let orders = db.describe_table("orders").await.unwrap().unwrap();
    assert_eq!(orders.status, "ACTIVE");
    assert_eq!(orders.key.range.as_deref(), Some("sk"));
    assert_eq!(orders.billing, Billing::PayPerRequest);
    assert_eq!(orders.global_indexes[0].name, "by-status");
    assert_eq!(orders.local_indexes[0].name, "by-created");
    assert_eq!(
        orders.local_indexes[0].projection.kind,
        ProjectionType::KeysOnly
    );
    assert_eq!(orders.stream, Some(StreamViewType::NewAndOldImages));
    let rules = s3.lifecycle("uploads").await.unwrap().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].rule.id.as_deref(), Some("expire-tmp"));
    assert_eq!(rules[0].rule.prefix, "tmp/");
    assert_eq!(rules[0].rule.expiration_days, Some(7));

    // A second apply changes nothing, and the plan from an observation agrees.
    let again = apply(&conn, &full, &outcome.owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(changes(&again.actions), Vec::<String>::new());
    assert_eq!(again.owned, outcome.owned);
    let observed = observe(&conn, &full, &again.owned).await.unwrap();
    let planned = plan(&full, &again.owned, &observed);
    assert!(planned.is_empty(), "{planned:?}");
    assert_eq!(planned.adopt_tables, ["existing-table"]);

    let gone = destroy(&conn, &again.owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(gone.owned.is_empty());
    assert!(db.describe_table("orders").await.unwrap().is_none());
    assert!(!s3.bucket_exists("uploads").await.unwrap());
    assert!(db.describe_table("existing-table").await.unwrap().is_some());
    assert!(s3.bucket_exists("existing-bucket").await.unwrap());
}

#[tokio::test]
async fn moto_updates_indexes_billing_and_streams_in_place_but_never_recreates() {
    let moto = Moto::start();
    let conn = moto_connection(&moto);
    let db = DynamoDb::new(&conn).unwrap();

    let v1 = spec(
        r#"
DynamoDB:
  - TableName: events
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: kind, AttributeType: S}]
    GlobalSecondaryIndexes:
      - IndexName: by-kind
        KeySchema: [{AttributeName: kind, KeyType: HASH}]
        Projection: {ProjectionType: ALL}
"#,
    );
    let owned = apply(&conn, &v1, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"))
        .owned;

    let v2 = spec(
        r#"
DynamoDB:
  - TableName: events
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: day, AttributeType: N}]
    BillingMode: PROVISIONED
    ProvisionedThroughput: {ReadCapacityUnits: 3, WriteCapacityUnits: 2}
    GlobalSecondaryIndexes:
      - IndexName: by-day
        KeySchema: [{AttributeName: day, KeyType: HASH}]
        Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [title]}
    StreamSpecification: {StreamEnabled: true, StreamViewType: KEYS_ONLY}
"#,
    );
    let observed = observe(&conn, &v2, &owned).await.unwrap();
    assert!(check_changes(&v2, &observed).is_empty());
    let planned = plan(&v2, &owned, &observed);
    assert_eq!(planned.update_tables.len(), 1, "{planned:?}");

    let outcome = apply(&conn, &v2, &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let done = changes(&outcome.actions);
    assert_eq!(
        done,
        [
            "updated table events: delete index by-kind",
            "updated table events: billing to PROVISIONED (3 read, 2 write)",
            "updated table events: create index by-day",
            "updated table events: enable stream KEYS_ONLY",
        ]
    );
    let live = db.describe_table("events").await.unwrap().unwrap();
    assert_eq!(
        live.billing,
        Billing::Provisioned(Throughput { read: 3, write: 2 })
    );
    assert_eq!(live.global_indexes.len(), 1);
    assert_eq!(live.global_indexes[0].name, "by-day");
    assert_eq!(
        live.global_indexes[0].projection.non_key_attributes,
        ["title"]
    );
    assert_eq!(live.stream, Some(StreamViewType::KeysOnly));
    assert_eq!(outcome.owned, owned, "updates keep ownership");
    let again = apply(&conn, &v2, &outcome.owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(changes(&again.actions), Vec::<String>::new(), "converged");

    // A new key schema would need the table re-created: refused, with the table untouched.
    let v3 = spec(
        r#"
DynamoDB:
  - TableName: events
    KeySchema: [{AttributeName: id, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
"#,
    );
    let observed = observe(&conn, &v3, &owned).await.unwrap();
    let problems = check_changes(&v3, &observed);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "KeySchema");
    assert_eq!(problems[0].live, "pk HASH");
    assert_eq!(problems[0].file, "id HASH");
    let failure = apply(&conn, &v3, &owned, false).await.unwrap_err();
    assert!(
        matches!(failure.error, EsbError::NeedsReplacement(_)),
        "{failure}"
    );
    assert!(
        failure
            .to_string()
            .contains("table events: KeySchema cannot change in place")
    );
    assert!(failure.actions.is_empty());
    assert_eq!(failure.owned, owned);
    let live = db.describe_table("events").await.unwrap().unwrap();
    assert_eq!(live.key.hash, "pk", "not re-created");
}

#[tokio::test]
async fn moto_reapplies_lifecycle_rules_when_they_differ() {
    let moto = Moto::start();
    let conn = moto_connection(&moto);
    let s3 = S3::new(&conn).unwrap();
    let with_rules = |days: u64| {
        spec(&format!(
            "S3:\n  - BucketName: logs\n    LifecycleConfiguration:\n      Rules:\n        \
             - {{Id: expire, Prefix: tmp/, ExpirationInDays: {days}}}\n        \
             - {{Filter: {{Prefix: uploads/}}, AbortIncompleteMultipartUpload: {{DaysAfterInitiation: 2}}}}\n"
        ))
    };
    let owned = apply(&conn, &with_rules(7), &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"))
        .owned;

    // The file changes: the rules are applied again.
    let outcome = apply(&conn, &with_rules(30), &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        changes(&outcome.actions),
        ["set the lifecycle rules of bucket logs"]
    );
    let live = s3.lifecycle("logs").await.unwrap().unwrap();
    let expire = live
        .iter()
        .find(|r| r.rule.id.as_deref() == Some("expire"))
        .unwrap();
    assert_eq!(expire.rule.expiration_days, Some(30));
    assert!(
        live.iter()
            .any(|r| r.rule.abort_incomplete_upload_days == Some(2))
    );

    // Unchanged file, rules changed behind our back: the observation shows it and apply fixes it.
    let drifted = LifecycleRule {
        id: Some("other".into()),
        enabled: true,
        prefix: String::new(),
        expiration_days: Some(1),
        noncurrent_expiration_days: None,
        abort_incomplete_upload_days: None,
    };
    s3.put_lifecycle("logs", &[drifted]).await.unwrap();
    let observed = observe(&conn, &with_rules(30), &owned).await.unwrap();
    assert!(matches!(
        observed.buckets.get("logs"),
        Some(Some(LiveBucket { lifecycle: Some(rules) })) if rules.len() == 1
    ));
    assert_eq!(
        plan(&with_rules(30), &owned, &observed).update_buckets,
        [("logs".to_owned(), "set lifecycle rules".to_owned())]
    );
    let outcome = apply(&conn, &with_rules(30), &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        changes(&outcome.actions),
        ["set the lifecycle rules of bucket logs"]
    );
    assert_eq!(s3.lifecycle("logs").await.unwrap().unwrap().len(), 2);

    // Lifecycle dropped from the file on a bucket we created: the rules go too.
    let bare = spec("S3:\n  - BucketName: logs\n");
    let outcome = apply(&conn, &bare, &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        changes(&outcome.actions),
        ["removed the lifecycle rules of bucket logs"]
    );
    assert_eq!(s3.lifecycle("logs").await.unwrap(), Some(vec![]));
}

#[tokio::test]
async fn moto_deletes_what_leaves_the_file_and_needs_force_for_a_non_empty_bucket() {
    let moto = Moto::start();
    let conn = moto_connection(&moto);
    let db = DynamoDb::new(&conn).unwrap();
    let s3 = S3::new(&conn).unwrap();
    let both = spec(
        r#"
DynamoDB:
  - {TableName: keep-table, KeySchema: [{AttributeName: pk, KeyType: HASH}], AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}
  - {TableName: drop-table, KeySchema: [{AttributeName: pk, KeyType: HASH}], AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}
S3:
  - BucketName: keep-bucket
  - BucketName: drop-bucket
"#,
    );
    let owned = apply(&conn, &both, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"))
        .owned;
    s3.put_object("drop-bucket", "a/b.txt", b"hello")
        .await
        .unwrap();
    s3.put_object("drop-bucket", "c.txt", b"world")
        .await
        .unwrap();

    let fewer = spec(
        r#"
DynamoDB:
  - {TableName: keep-table, KeySchema: [{AttributeName: pk, KeyType: HASH}], AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}
S3:
  - BucketName: keep-bucket
"#,
    );
    let failure = apply(&conn, &fewer, &owned, false).await.unwrap_err();
    assert!(
        matches!(&failure.error, EsbError::BucketNotEmpty { bucket, .. } if bucket == "drop-bucket"),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("force_destroy = true"),
        "{failure}"
    );
    // The table left before the bucket failed; the failure says what is still owned.
    assert_eq!(failure.owned.tables, names(&["keep-table"]));
    assert_eq!(
        failure.owned.buckets,
        names(&["drop-bucket", "keep-bucket"])
    );
    assert!(db.describe_table("drop-table").await.unwrap().is_none());
    assert!(s3.bucket_exists("drop-bucket").await.unwrap());

    let outcome = apply(&conn, &fewer, &failure.owned, true)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        changes(&outcome.actions),
        [
            "deleted 2 objects from bucket drop-bucket",
            "deleted bucket drop-bucket"
        ]
    );
    assert!(!s3.bucket_exists("drop-bucket").await.unwrap());
    assert_eq!(outcome.owned.buckets, names(&["keep-bucket"]));
}

#[tokio::test]
async fn moto_refresh_sees_out_of_band_deletion_and_apply_recreates() {
    let moto = Moto::start();
    let conn = moto_connection(&moto);
    let db = DynamoDb::new(&conn).unwrap();
    let s3 = S3::new(&conn).unwrap();
    let file = spec(
        r#"
DynamoDB:
  - {TableName: sessions, KeySchema: [{AttributeName: id, KeyType: HASH}], AttributeDefinitions: [{AttributeName: id, AttributeType: S}]}
S3:
  - BucketName: artifacts
"#,
    );
    let owned = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"))
        .owned;

    assert!(db.delete_table("sessions").await.unwrap());
    assert!(s3.delete_bucket("artifacts").await.unwrap());

    let observed = observe(&conn, &file, &owned).await.unwrap();
    let refreshed = observed.still_owned(&owned);
    assert!(refreshed.is_empty(), "{refreshed:?}");
    let planned = plan(&file, &refreshed, &observed);
    assert_eq!(planned.create_tables, ["sessions"]);
    assert_eq!(planned.create_buckets, ["artifacts"]);

    let outcome = apply(&conn, &file, &refreshed, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(outcome.owned, owned, "re-created, so owned again");
    assert!(db.describe_table("sessions").await.unwrap().is_some());
    assert!(s3.bucket_exists("artifacts").await.unwrap());
}

#[tokio::test]
async fn dynalite_apply_waits_through_creating_updating_and_deleting() {
    let delay = Duration::from_millis(1200);
    let dynalite = Dynalite::start_with_delay(delay);
    let conn = connection(Some(dynalite.endpoint()), None, "test", "test");
    let db = DynamoDb::new(&conn).unwrap();
    let file = spec(
        r#"
DynamoDB:
  - TableName: slow-table
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
    BillingMode: PROVISIONED
    ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
"#,
    );
    let started = Instant::now();
    let owned = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"))
        .owned;
    assert!(
        started.elapsed() >= delay,
        "returned before the table left CREATING"
    );
    let live = db.describe_table("slow-table").await.unwrap().unwrap();
    assert_eq!(live.status, "ACTIVE", "apply returns only once ACTIVE");

    let faster = spec(
        r#"
DynamoDB:
  - TableName: slow-table
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
    BillingMode: PROVISIONED
    ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 1}
"#,
    );
    let outcome = apply(&conn, &faster, &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(changes(&outcome.actions).len(), 1, "{:?}", outcome.actions);
    let live = db.describe_table("slow-table").await.unwrap().unwrap();
    assert_eq!(live.status, "ACTIVE", "waited through UPDATING");
    assert_eq!(
        live.billing,
        Billing::Provisioned(Throughput { read: 5, write: 1 })
    );

    destroy(&conn, &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(
        db.describe_table("slow-table").await.unwrap().is_none(),
        "destroy returns only once the table is gone"
    );
}

#[tokio::test]
async fn dynalite_table_wait_times_out_with_the_status() {
    let dynalite = Dynalite::start_with_delay(Duration::from_secs(30));
    let mut conn = connection(Some(dynalite.endpoint()), None, "test", "test");
    conn.timeouts.table_wait = Duration::from_millis(700);
    let file = spec(
        "DynamoDB:\n  - {TableName: stuck, KeySchema: [{AttributeName: pk, KeyType: HASH}], \
         AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}\n",
    );
    let failure = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&failure.error, EsbError::WaitTimeout { table, status, .. } if table == "stuck" && status == "CREATING"),
        "{failure}"
    );
    // Created before the wait failed: owned, so a retry or destroy can find it.
    assert_eq!(failure.owned.tables, names(&["stuck"]));
}

#[tokio::test]
async fn seaweed_checks_signatures_and_refuses_to_delete_a_non_empty_bucket() {
    let weed = Seaweed::start("esb", "esbsecret");
    let conn = connection(None, Some(weed.endpoint()), "esb", "esbsecret");
    let s3 = S3::new(&conn).unwrap();
    let file = spec(
        r#"
resources:
  s3:
    - BucketName: uploads
      LifecycleConfiguration:
        Rules: [{Id: expire-tmp, Status: Enabled, Prefix: tmp/, ExpirationInDays: 7}]
"#,
    );

    // A wrong secret fails with an error that says what to check, and creates nothing.
    let wrong = connection(None, Some(weed.endpoint()), "esb", "not-the-secret");
    let failure = apply(&wrong, &file, &Owned::default(), false)
        .await
        .unwrap_err();
    assert!(failure.error.is_auth(), "{failure}");
    let message = failure.to_string();
    assert!(message.contains("check access_key/secret_key"), "{message}");
    assert!(message.contains(&weed.endpoint()), "{message}");
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    assert!(failure.owned.is_empty());
    assert!(!s3.bucket_exists("uploads").await.unwrap());

    let outcome = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        changes(&outcome.actions),
        [
            "created bucket uploads",
            "set the lifecycle rules of bucket uploads"
        ]
    );
    let owned = outcome.owned;
    let rules = s3
        .lifecycle("uploads")
        .await
        .unwrap()
        .expect("lifecycle supported");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].rule.expiration_days, Some(7));

    // The rules read back equal the file's, so nothing is re-applied.
    let again = apply(&conn, &file, &owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(changes(&again.actions), Vec::<String>::new());

    s3.put_object("uploads", "tmp/file.txt", b"data")
        .await
        .unwrap();
    let failure = destroy(&conn, &owned, false).await.unwrap_err();
    assert!(
        matches!(&failure.error, EsbError::BucketNotEmpty { bucket, .. } if bucket == "uploads"),
        "{failure}"
    );
    assert_eq!(failure.owned, owned);
    assert!(s3.bucket_exists("uploads").await.unwrap());

    let gone = destroy(&conn, &owned, true)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(gone.owned.is_empty());
    assert!(!s3.bucket_exists("uploads").await.unwrap());
}

#[tokio::test]
async fn missing_and_unreachable_endpoints_are_clear_errors() {
    let file = spec(
        "DynamoDB:\n  - {TableName: orders, KeySchema: [{AttributeName: pk, KeyType: HASH}], \
         AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}\n",
    );
    let failure = apply(
        &connection(None, None, "k", "s"),
        &file,
        &Owned::default(),
        false,
    )
    .await
    .unwrap_err();
    let message = failure.to_string();
    assert!(
        message.contains("dynamodb_endpoint") && message.contains("DYNAMODB_ENDPOINT"),
        "{message}"
    );

    // A closed port: connection errors are retried, then reported with the endpoint.
    let port = galley_tests::servers::free_ports(1).unwrap()[0];
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut conn = connection(Some(endpoint.clone()), None, "k", "s");
    conn.timeouts.max_attempts = 2;
    let failure = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&failure.error, EsbError::Unreachable { attempts: 2, .. }),
        "{failure}"
    );
    assert!(failure.to_string().contains(&endpoint), "{failure}");
}

#[tokio::test]
async fn moto_outside_us_east_1() {
    let moto = Moto::start();
    let mut conn = moto_connection(&moto);
    conn.region = "ap-northeast-1".to_owned();
    let file = spec(
        "DynamoDB:\n  - {TableName: tokyo, KeySchema: [{AttributeName: pk, KeyType: HASH}], \
         AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]}\nS3:\n  - BucketName: tokyo-bucket\n",
    );
    let outcome = apply(&conn, &file, &Owned::default(), false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(outcome.owned.buckets, names(&["tokyo-bucket"]));
    // A second apply adopts nothing new and creates nothing: the bucket is found, not re-made.
    let again = apply(&conn, &file, &outcome.owned, false)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(changes(&again.actions), Vec::<String>::new());
    // Tables live per region: the same name in us-east-1 does not exist.
    let east = DynamoDb::new(&moto_connection(&moto)).unwrap();
    assert!(east.describe_table("tokyo").await.unwrap().is_none());
}
