//! Validation tests: both shapes, and one test per kind of mistake, each checking that the
//! message names the source, the item and the field.

use super::*;

fn problems(text: &str) -> Vec<SpecProblem> {
    match EsbSpec::parse("resources.yml", text) {
        Ok(spec) => panic!("expected problems, parsed {spec:?}"),
        Err(err) => {
            assert_eq!(err.source, "resources.yml");
            err.problems
        }
    }
}

/// Asserts one problem exists at `item` / `field` whose message contains `needle`, and that its
/// rendering names all three.
fn has(problems: &[SpecProblem], item: Option<&str>, field: Option<&str>, needle: &str) {
    let found = problems.iter().find(|p| {
        p.item.as_deref() == item && p.field.as_deref() == field && p.message.contains(needle)
    });
    let Some(found) = found else {
        panic!("no problem at {item:?} {field:?} containing {needle:?} in:\n{problems:#?}");
    };
    let text = found.to_string();
    assert!(text.starts_with("resources.yml"), "{text}");
    if let Some(item) = item {
        assert!(text.contains(item), "{text}");
    }
    if let Some(field) = field {
        assert!(text.contains(field), "{text}");
    }
}

const TABLE: &str = r#"
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]"#;

#[test]
fn esb_generator_shape_is_read_with_layers_as_warnings() {
    let spec = EsbSpec::parse(
        "resources.yml",
        r#"
resources:
  dynamodb:
    - TableName: orders
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: sk, AttributeType: S}]
      BillingMode: PAY_PER_REQUEST
      GlobalSecondaryIndexes:
        - IndexName: by-sk
          KeySchema: [{AttributeName: sk, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
  s3:
    - BucketName: uploads
      LifecycleConfiguration:
        Rules: [{Id: expire-tmp, Status: Enabled, Prefix: tmp/, ExpirationInDays: 7}]
  layers:
    - {Name: common, ContentURI: ./layers/common}
"#,
    )
    .unwrap();
    assert_eq!(spec.shape, Shape::Resources);
    let table = &spec.tables[0];
    assert_eq!(table.name, "orders");
    assert_eq!(table.key.hash, "pk");
    assert_eq!(table.key.range.as_deref(), Some("sk"));
    assert_eq!(table.billing, Billing::PayPerRequest);
    assert_eq!(table.global_indexes[0].name, "by-sk");
    assert_eq!(table.global_indexes[0].throughput, None);
    assert_eq!(
        spec.buckets[0].lifecycle,
        Some(vec![LifecycleRule {
            id: Some("expire-tmp".into()),
            enabled: true,
            prefix: "tmp/".into(),
            expiration_days: Some(7),
            noncurrent_expiration_days: None,
            abort_incomplete_upload_days: None,
        }])
    );
    assert_eq!(spec.warnings.len(), 1);
    let warning = spec.warnings[0].to_string();
    assert!(
        warning.contains("resources.layers[0] (common)"),
        "{warning}"
    );
    assert!(warning.contains("ignored"), "{warning}");
}

#[test]
fn design_document_shape_is_read() {
    let spec = EsbSpec::parse(
        "resources_yaml",
        &format!(
            r#"
DynamoDB:
  - TableName: tab1{TABLE}
    BillingMode: PROVISIONED
    ProvisionedThroughput: {{ReadCapacityUnits: 5, WriteCapacityUnits: "2"}}
    StreamSpecification: {{StreamEnabled: true, StreamViewType: NEW_AND_OLD_IMAGES}}
S3:
  - BucketName: my.bucket-1
"#
        ),
    )
    .unwrap();
    assert_eq!(spec.shape, Shape::TopLevel);
    assert_eq!(
        spec.tables[0].billing,
        Billing::Provisioned(Throughput { read: 5, write: 2 })
    );
    assert_eq!(spec.tables[0].stream, Some(StreamViewType::NewAndOldImages));
    assert_eq!(spec.buckets[0].name, "my.bucket-1");
    assert_eq!(spec.buckets[0].lifecycle, None);
    assert!(spec.warnings.is_empty());
}

#[test]
fn throughput_without_billing_mode_means_provisioned_and_indexes_inherit_it() {
    let spec = EsbSpec::parse(
        "r.yml",
        r#"
DynamoDB:
  - TableName: tab1
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: N}]
    ProvisionedThroughput: {ReadCapacityUnits: 4, WriteCapacityUnits: 2}
    GlobalSecondaryIndexes:
      - IndexName: gsi1
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: KEYS_ONLY}
"#,
    )
    .unwrap();
    let t = Throughput { read: 4, write: 2 };
    assert_eq!(spec.tables[0].billing, Billing::Provisioned(t));
    assert_eq!(spec.tables[0].global_indexes[0].throughput, Some(t));
}

#[test]
fn pay_per_request_with_throughput_is_a_warning() {
    let spec = EsbSpec::parse(
        "r.yml",
        &format!(
            "DynamoDB:\n  - TableName: tab1{TABLE}\n    BillingMode: PAY_PER_REQUEST\n    \
             ProvisionedThroughput: {{ReadCapacityUnits: 1, WriteCapacityUnits: 1}}\n"
        ),
    )
    .unwrap();
    assert_eq!(spec.tables[0].billing, Billing::PayPerRequest);
    assert_eq!(
        spec.warnings[0].field.as_deref(),
        Some("ProvisionedThroughput")
    );
}

#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let problems = problems("resources:\n  dynamodb:\n    - TableName: [unclosed\n");
    assert_eq!(problems.len(), 1);
    let p = &problems[0];
    assert!(p.message.contains("not valid YAML"), "{p}");
    assert!(p.line.is_some() && p.column.is_some(), "{p:?}");
    assert!(
        p.to_string()
            .starts_with(&format!("resources.yml:{}:", p.line.unwrap()))
    );
}

#[test]
fn duplicate_yaml_keys_are_syntax_errors() {
    let problems = problems("S3:\n  - BucketName: a1b\n    BucketName: a2b\n");
    assert!(
        problems[0].message.contains("not valid YAML"),
        "{problems:?}"
    );
}

#[test]
fn shapes_both_neither_empty_and_unknown_top_keys() {
    has(
        &problems("DynamoDB: []\nresources: {}\n"),
        None,
        None,
        "both shapes",
    );
    has(&problems("{}\n"), None, None, "declares no resources");
    has(&problems(""), None, None, "empty");
    let found = problems("Dynamodb: []\n");
    has(&found, None, Some("Dynamodb"), "did you mean `DynamoDB`");
    has(
        &problems("resources:\n  tables: []\n"),
        None,
        Some("resources.tables"),
        "unknown key `tables`",
    );
    has(
        &problems("- TableName: x\n"),
        None,
        None,
        "expected a mapping",
    );
}

#[test]
fn unknown_keys_at_every_level() {
    let found = problems(
        r#"
resources:
  dynamodb:
    - TableName: orders
      Tags: []
      KeySchema: [{AttributeName: pk, KeyType: HASH, Extra: 1}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: S}]
      GlobalSecondaryIndexes:
        - IndexName: by-g
          KeySchema: [{AttributeName: g, KeyType: HASH}]
          Projection: {ProjectionType: ALL, Other: x}
  s3:
    - BucketName: uploads
      LifecycleConfiguration:
        Rules: [{ID: r1, ExpirationInDays: 1}]
"#,
    );
    let item = Some("resources.dynamodb[0] (orders)");
    has(&found, item, Some("Tags"), "unknown key `Tags`");
    has(
        &found,
        item,
        Some("KeySchema[0].Extra"),
        "unknown key `Extra`",
    );
    has(
        &found,
        item,
        Some("GlobalSecondaryIndexes[0].Projection.Other"),
        "unknown key",
    );
    has(
        &found,
        Some("resources.s3[0] (uploads)"),
        Some("LifecycleConfiguration.Rules[0].ID"),
        "did you mean `Id`",
    );
}

#[test]
fn required_fields_are_reported() {
    let found = problems("DynamoDB:\n  - BillingMode: PAY_PER_REQUEST\nS3:\n  - {}\n");
    has(
        &found,
        Some("DynamoDB[0]"),
        Some("TableName"),
        "is required",
    );
    has(
        &found,
        Some("DynamoDB[0]"),
        Some("KeySchema"),
        "is required",
    );
    has(
        &found,
        Some("DynamoDB[0]"),
        Some("AttributeDefinitions"),
        "is required",
    );
    has(&found, Some("S3[0]"), Some("BucketName"), "is required");
}

#[test]
fn key_schema_rules() {
    let found = problems(
        r#"
DynamoDB:
  - TableName: nohash
    KeySchema: [{AttributeName: a, KeyType: RANGE}]
    AttributeDefinitions: [{AttributeName: a, AttributeType: S}]
  - TableName: tworange
    KeySchema: [{AttributeName: a, KeyType: HASH}, {AttributeName: b, KeyType: RANGE}, {AttributeName: c, KeyType: RANGE}]
    AttributeDefinitions: [{AttributeName: a, AttributeType: S}, {AttributeName: b, AttributeType: S}, {AttributeName: c, AttributeType: S}]
  - TableName: badtype
    KeySchema: [{AttributeName: a, KeyType: PRIMARY}]
    AttributeDefinitions: [{AttributeName: a, AttributeType: X}]
"#,
    );
    has(
        &found,
        Some("DynamoDB[0] (nohash)"),
        Some("KeySchema"),
        "exactly one HASH",
    );
    has(
        &found,
        Some("DynamoDB[1] (tworange)"),
        Some("KeySchema"),
        "at most one RANGE",
    );
    has(
        &found,
        Some("DynamoDB[2] (badtype)"),
        Some("KeySchema[0].KeyType"),
        "use one of HASH, RANGE",
    );
    has(
        &found,
        Some("DynamoDB[2] (badtype)"),
        Some("AttributeDefinitions[0].AttributeType"),
        "use one of S, N, B",
    );
}

#[test]
fn key_attributes_need_definitions_and_definitions_need_keys() {
    let found = problems(
        r#"
DynamoDB:
  - TableName: orders
    KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
    AttributeDefinitions:
      - {AttributeName: pk, AttributeType: S}
      - {AttributeName: unused, AttributeType: S}
      - {AttributeName: pk, AttributeType: N}
    GlobalSecondaryIndexes:
      - IndexName: by-g
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: ALL}
    LocalSecondaryIndexes:
      - IndexName: by-d
        KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: d, KeyType: RANGE}]
        Projection: {ProjectionType: ALL}
"#,
    );
    let item = Some("DynamoDB[0] (orders)");
    has(
        &found,
        item,
        Some("AttributeDefinitions[2].AttributeName"),
        "defined twice",
    );
    // With a duplicate the definitions are unusable; fix it and the rest shows.
    let _ = found;
    let found = problems(
        r#"
DynamoDB:
  - TableName: orders
    KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
    AttributeDefinitions:
      - {AttributeName: pk, AttributeType: S}
      - {AttributeName: unused, AttributeType: S}
    GlobalSecondaryIndexes:
      - IndexName: by-g
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: ALL}
    LocalSecondaryIndexes:
      - IndexName: by-d
        KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: d, KeyType: RANGE}]
        Projection: {ProjectionType: ALL}
"#,
    );
    has(
        &found,
        item,
        Some("KeySchema[1].AttributeName"),
        "`sk` has no entry",
    );
    has(
        &found,
        item,
        Some("GlobalSecondaryIndexes[0].KeySchema[0].AttributeName"),
        "`g` has no entry in AttributeDefinitions",
    );
    has(
        &found,
        item,
        Some("LocalSecondaryIndexes[0].KeySchema[1].AttributeName"),
        "`d` has no entry",
    );
    has(
        &found,
        item,
        Some("AttributeDefinitions[1]"),
        "`unused` is not part of",
    );
}

#[test]
fn billing_rules() {
    let found = problems(&format!(
        "DynamoDB:\n  - TableName: tab1{TABLE}\n    BillingMode: PROVISIONED\n  - TableName: tab2{TABLE}\n    \
         BillingMode: ON_DEMAND\n  - TableName: tab3{TABLE}\n    \
         ProvisionedThroughput: {{ReadCapacityUnits: 0, WriteCapacityUnits: x}}\n"
    ));
    has(
        &found,
        Some("DynamoDB[0] (tab1)"),
        Some("ProvisionedThroughput"),
        "required when BillingMode is PROVISIONED",
    );
    has(
        &found,
        Some("DynamoDB[1] (tab2)"),
        Some("BillingMode"),
        "PAY_PER_REQUEST, PROVISIONED",
    );
    has(
        &found,
        Some("DynamoDB[2] (tab3)"),
        Some("ProvisionedThroughput.ReadCapacityUnits"),
        "at least 1",
    );
    has(
        &found,
        Some("DynamoDB[2] (tab3)"),
        Some("ProvisionedThroughput.WriteCapacityUnits"),
        "at least 1",
    );
}

#[test]
fn index_rules() {
    let found = problems(
        r#"
DynamoDB:
  - TableName: orders
    KeySchema: [{AttributeName: pk, KeyType: HASH}]
    AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: S}]
    GlobalSecondaryIndexes:
      - IndexName: same
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: INCLUDE}
      - IndexName: same
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: ALL, NonKeyAttributes: [x]}
      - IndexName: noproj
        KeySchema: [{AttributeName: g, KeyType: HASH}]
    LocalSecondaryIndexes:
      - IndexName: local
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: ALL}
"#,
    );
    let item = Some("DynamoDB[0] (orders)");
    has(
        &found,
        item,
        Some("GlobalSecondaryIndexes[0].Projection.NonKeyAttributes"),
        "required when ProjectionType is INCLUDE",
    );
    has(
        &found,
        item,
        Some("GlobalSecondaryIndexes[1].IndexName"),
        "already declared at GlobalSecondaryIndexes[0].IndexName",
    );
    has(
        &found,
        item,
        Some("GlobalSecondaryIndexes[1].Projection.NonKeyAttributes"),
        "only allowed when ProjectionType is INCLUDE",
    );
    has(
        &found,
        item,
        Some("GlobalSecondaryIndexes[2].Projection"),
        "is required",
    );
    has(
        &found,
        item,
        Some("LocalSecondaryIndexes[0].KeySchema"),
        "needs a RANGE attribute",
    );
    has(
        &found,
        item,
        Some("LocalSecondaryIndexes[0].KeySchema"),
        "must use the table's HASH attribute `pk`",
    );
    has(
        &found,
        item,
        Some("LocalSecondaryIndexes[0]"),
        "need a table with a RANGE key",
    );
}

#[test]
fn stream_rules() {
    let found = problems(&format!(
        "DynamoDB:\n  - TableName: tab1{TABLE}\n    StreamSpecification: {{StreamEnabled: true}}\n  \
         - TableName: tab2{TABLE}\n    StreamSpecification: {{StreamEnabled: yes please, StreamViewType: ALL}}\n"
    ));
    has(
        &found,
        Some("DynamoDB[0] (tab1)"),
        Some("StreamSpecification.StreamViewType"),
        "required when StreamEnabled is true",
    );
    has(
        &found,
        Some("DynamoDB[1] (tab2)"),
        Some("StreamSpecification.StreamEnabled"),
        "expected true or false",
    );
    has(
        &found,
        Some("DynamoDB[1] (tab2)"),
        Some("StreamSpecification.StreamViewType"),
        "NEW_AND_OLD_IMAGES",
    );
}

#[test]
fn names_must_be_valid_and_unique() {
    let found = problems(&format!(
        "DynamoDB:\n  - TableName: ab{TABLE}\n  - TableName: ok-table{TABLE}\n  \
         - TableName: ok-table{TABLE}\n  - TableName: bad/name{TABLE}\n\
         S3:\n  - BucketName: Uploads\n  - BucketName: 192.168.1.1\n  - BucketName: a..b\n  \
         - BucketName: -ab\n  - BucketName: ab\n  - BucketName: good-one\n  - BucketName: good-one\n  \
         - BucketName: under_score\n"
    ));
    has(
        &found,
        Some("DynamoDB[0] (ab)"),
        Some("TableName"),
        "3 to 255",
    );
    has(
        &found,
        Some("DynamoDB[2] (ok-table)"),
        Some("TableName"),
        "already declared by DynamoDB[1] (ok-table)",
    );
    has(
        &found,
        Some("DynamoDB[3] (bad/name)"),
        Some("TableName"),
        "contains `/`",
    );
    has(
        &found,
        Some("S3[0] (Uploads)"),
        Some("BucketName"),
        "uppercase letter `U`",
    );
    has(
        &found,
        Some("S3[1] (192.168.1.1)"),
        Some("BucketName"),
        "IP address",
    );
    has(
        &found,
        Some("S3[2] (a..b)"),
        Some("BucketName"),
        "two adjacent dots",
    );
    has(
        &found,
        Some("S3[3] (-ab)"),
        Some("BucketName"),
        "start and end",
    );
    has(
        &found,
        Some("S3[4] (ab)"),
        Some("BucketName"),
        "2 characters long",
    );
    has(
        &found,
        Some("S3[6] (good-one)"),
        Some("BucketName"),
        "already declared by S3[5] (good-one)",
    );
    has(
        &found,
        Some("S3[7] (under_score)"),
        Some("BucketName"),
        "contains `_`",
    );
}

#[test]
fn lifecycle_rule_rules() {
    let found = problems(
        r#"
S3:
  - BucketName: logs
    LifecycleConfiguration:
      Rules:
        - {Id: a, Status: On, ExpirationInDays: 7}
        - {Id: a, Prefix: x/, Filter: {Prefix: y/}, ExpirationInDays: 0}
        - {Id: c, Prefix: z/}
        - {Id: d, AbortIncompleteMultipartUpload: {}}
"#,
    );
    let item = Some("S3[0] (logs)");
    has(
        &found,
        item,
        Some("LifecycleConfiguration.Rules[0].Status"),
        "use one of Enabled, Disabled",
    );
    has(
        &found,
        item,
        Some("LifecycleConfiguration.Rules[1]"),
        "both Prefix and Filter.Prefix",
    );
    has(
        &found,
        item,
        Some("LifecycleConfiguration.Rules[1].ExpirationInDays"),
        "at least 1",
    );
    has(
        &found,
        item,
        Some("LifecycleConfiguration.Rules[2]"),
        "has no action",
    );
    has(
        &found,
        item,
        Some("LifecycleConfiguration.Rules[3].AbortIncompleteMultipartUpload.DaysAfterInitiation"),
        "is required",
    );
}

#[test]
fn duplicate_rule_ids_and_filter_prefix() {
    let found = problems(
        "S3:\n  - BucketName: logs\n    LifecycleConfiguration:\n      Rules:\n        \
         - {Id: a, ExpirationInDays: 1}\n        - {Id: a, ExpirationInDays: 2}\n",
    );
    has(
        &found,
        Some("S3[0] (logs)"),
        Some("LifecycleConfiguration.Rules[1].Id"),
        "already used by Rules[0]",
    );
    let spec = EsbSpec::parse(
        "r.yml",
        "S3:\n  - BucketName: logs\n    LifecycleConfiguration:\n      Rules:\n        \
         - {Filter: {Prefix: p/}, Status: Disabled, NoncurrentVersionExpirationInDays: 3, \
         AbortIncompleteMultipartUpload: {DaysAfterInitiation: 2}}\n",
    )
    .unwrap();
    let rule = &spec.buckets[0].lifecycle.as_ref().unwrap()[0];
    assert_eq!(rule.prefix, "p/");
    assert!(!rule.enabled);
    assert_eq!(rule.noncurrent_expiration_days, Some(3));
    assert_eq!(rule.abort_incomplete_upload_days, Some(2));
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = EsbSpec::parse(
        "resources.yml",
        "DynamoDB:\n  - TableName: x\nS3:\n  - BucketName: A\n",
    )
    .unwrap_err();
    assert!(err.problems.len() >= 4, "{err}");
    let text = err.to_string();
    assert!(text.starts_with("failed to read resources.yml:"), "{text}");
    assert!(
        text.contains("\n  - resources.yml: S3[0] (A): BucketName:"),
        "{text}"
    );
}

#[test]
fn numeric_names_are_text() {
    let spec = EsbSpec::parse(
        "r.yml",
        "DynamoDB:\n  - TableName: 12345\n    KeySchema: [{AttributeName: pk, KeyType: HASH}]\n    \
         AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
    )
    .unwrap();
    assert_eq!(spec.tables[0].name, "12345");
}

#[test]
fn files_are_read_and_named_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resources.yml");
    std::fs::write(&path, "S3:\n  - BucketName: Bad\n").unwrap();
    let err = EsbSpec::from_file(&path).unwrap_err();
    assert_eq!(err.source, path.display().to_string());
    assert!(
        err.to_string()
            .contains("resources.yml: S3[0] (Bad): BucketName"),
        "{err}"
    );

    let missing = dir.path().join("nope.yml");
    let err = EsbSpec::from_file(&missing).unwrap_err();
    assert!(
        err.to_string().contains("nope.yml: cannot be read"),
        "{err}"
    );
}

/// The attack: a 10 MB table name used to come back twice in a 21 MB error. Every echo of it
/// is now a recognisable prefix plus its length, however many problems quote it.
#[test]
fn a_huge_name_or_key_is_echoed_bounded() {
    let huge = format!("orders{}", "x".repeat(10 * 1024 * 1024));
    let text = format!(
        "resources:\n  dynamodb:\n    - TableName: {huge}\n      KeySchema: [{{AttributeName: {huge}, KeyType: HASH}}]\n      AttributeDefinitions: [{{AttributeName: pk, AttributeType: S}}]\n      ? {huge}\n      : 1\n  s3:\n    - BucketName: {huge}\n"
    );
    let err = EsbSpec::parse("resources.yml", &text).unwrap_err();
    let rendered = err.to_string();
    assert!(err.problems.len() >= 4, "{rendered}");
    assert!(
        rendered.len() < 8 * 1024,
        "the error is {} bytes for {} problems",
        rendered.len(),
        err.problems.len()
    );
    let shown = format!("orders{}... ({} bytes)", "x".repeat(58), huge.len());
    assert!(rendered.contains(&shown), "{rendered}");
    assert!(
        rendered.contains("must be 3 to 255 characters long"),
        "{rendered}"
    );
    assert!(rendered.contains("unknown key `orders"), "{rendered}");
    for problem in &err.problems {
        assert!(problem.to_string().len() < 2048, "{problem}");
    }
}
