//! Validation of one S3 bucket entry: the bucket naming rules and the lifecycle rule fields ESB
//! writes (`Id`, `Status`, `Prefix`, `ExpirationInDays`, ...), plus `Filter.Prefix` as S3's API
//! spells it.

use std::collections::BTreeMap;

use galley_oci::echo::echo;
use serde_norway::Value;

use super::reader::{At, Reader};
use super::{BucketSpec, LifecycleRule};

const BUCKET_KEYS: &[&str] = &["BucketName", "LifecycleConfiguration"];
const LIFECYCLE_KEYS: &[&str] = &["Rules"];
const RULE_KEYS: &[&str] = &[
    "Id",
    "Status",
    "Prefix",
    "Filter",
    "ExpirationInDays",
    "NoncurrentVersionExpirationInDays",
    "AbortIncompleteMultipartUpload",
];
const FILTER_KEYS: &[&str] = &["Prefix"];
const ABORT_KEYS: &[&str] = &["DaysAfterInitiation"];

/// S3's limits on one lifecycle configuration.
const MAX_RULES: usize = 1000;
const MAX_ID_LENGTH: usize = 255;
const MAX_PREFIX_LENGTH: usize = 1024;

pub(super) fn read_bucket(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<BucketSpec> {
    let obj = reader.object(value, at, BUCKET_KEYS)?;
    let problems_before = reader.problems.len();

    let name = reader.string(&obj, "BucketName", true);
    if let Some(name) = &name {
        if let Err(reason) = check_bucket_name(name) {
            reader.problem(
                &obj.at.key("BucketName"),
                format!(
                    "`{}` is not a valid bucket name: {reason} (names are 3 to 63 lowercase \
                     letters, digits, dots and hyphens, starting and ending with a letter or \
                     digit)",
                    echo(name)
                ),
            );
        }
    }

    let lifecycle = match obj.get("LifecycleConfiguration") {
        None => None,
        Some(value) => {
            let config_at = obj.at.key("LifecycleConfiguration");
            reader
                .object(value, &config_at, LIFECYCLE_KEYS)
                .and_then(|config| {
                    let rules = reader.list(&config, "Rules", false)?;
                    if rules.len() > MAX_RULES {
                        reader.problem(
                            &config_at.key("Rules"),
                            format!("S3 allows at most {MAX_RULES} lifecycle rules per bucket"),
                        );
                    }
                    let mut read = Vec::new();
                    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
                    for (index, rule) in rules.iter().enumerate() {
                        let at = config_at.key("Rules").index(index);
                        if let Some(rule) = read_rule(reader, rule, &at) {
                            if let Some(id) = &rule.id {
                                if let Some(first) = ids.insert(id.clone(), index) {
                                    reader.problem(
                                        &at.key("Id"),
                                        format!(
                                            "rule id `{id}` is already used by Rules[{first}]: \
                                             rule ids must be unique"
                                        ),
                                    );
                                }
                            }
                            read.push(rule);
                        }
                    }
                    Some(read)
                })
        }
    };

    if reader.problems.len() != problems_before {
        return None;
    }
    Some(BucketSpec {
        name: name?,
        lifecycle,
    })
}

fn read_rule(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<LifecycleRule> {
    let rule = reader.object(value, at, RULE_KEYS)?;
    let problems_before = reader.problems.len();

    let id = reader.string(&rule, "Id", false);
    if let Some(id) = &id {
        if id.is_empty() || id.chars().count() > MAX_ID_LENGTH {
            reader.problem(
                &at.key("Id"),
                format!("must be 1 to {MAX_ID_LENGTH} characters long"),
            );
        }
    }
    // ESB's provisioner defaults the status to Enabled; keep that.
    let status = reader.choice(&rule, "Status", false, &["Enabled", "Disabled"]);
    let enabled = status.as_deref() != Some("Disabled");

    let direct_prefix = reader.string(&rule, "Prefix", false);
    let filter_prefix = match rule.get("Filter") {
        None => None,
        Some(value) => reader
            .object(value, &at.key("Filter"), FILTER_KEYS)
            .and_then(|filter| reader.string(&filter, "Prefix", false)),
    };
    if rule.has("Prefix") && rule.has("Filter") {
        reader.problem(at, "has both Prefix and Filter.Prefix: keep one of them");
    }
    let prefix = direct_prefix.or(filter_prefix).unwrap_or_default();
    if prefix.len() > MAX_PREFIX_LENGTH {
        reader.problem(
            &at.key("Prefix"),
            format!("must be at most {MAX_PREFIX_LENGTH} bytes long"),
        );
    }

    let expiration_days = reader.positive(&rule, "ExpirationInDays", false);
    let noncurrent_expiration_days =
        reader.positive(&rule, "NoncurrentVersionExpirationInDays", false);
    let abort_incomplete_upload_days = match rule.get("AbortIncompleteMultipartUpload") {
        None => None,
        Some(value) => reader
            .object(value, &at.key("AbortIncompleteMultipartUpload"), ABORT_KEYS)
            .and_then(|abort| reader.positive(&abort, "DaysAfterInitiation", true)),
    };
    let has_action = ["ExpirationInDays", "NoncurrentVersionExpirationInDays"]
        .iter()
        .any(|key| rule.has(key))
        || rule.has("AbortIncompleteMultipartUpload");
    if !has_action {
        reader.problem(
            at,
            "has no action: add ExpirationInDays, NoncurrentVersionExpirationInDays or \
             AbortIncompleteMultipartUpload.DaysAfterInitiation",
        );
    }

    if reader.problems.len() != problems_before {
        return None;
    }
    Some(LifecycleRule {
        id,
        enabled,
        prefix,
        expiration_days,
        noncurrent_expiration_days,
        abort_incomplete_upload_days,
    })
}

/// S3's bucket naming rules for general purpose buckets; `Err` says which one is broken.
pub(crate) fn check_bucket_name(name: &str) -> Result<(), String> {
    let length = name.len();
    if !(3..=63).contains(&length) {
        return Err(format!("it is {length} characters long"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        return Err(if bad.is_ascii_uppercase() {
            format!("it contains the uppercase letter `{bad}`")
        } else {
            format!("it contains `{bad}`")
        });
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must start and end with a letter or digit".to_owned());
    }
    if name.contains("..") {
        return Err("it contains two adjacent dots".to_owned());
    }
    if name.contains(".-") || name.contains("-.") {
        return Err("a dot and a hyphen may not be adjacent".to_owned());
    }
    if name.split('.').count() == 4
        && name.split('.').all(|part| {
            !part.is_empty() && part.len() <= 3 && part.chars().all(|c| c.is_ascii_digit())
        })
    {
        return Err("it is formatted like an IP address".to_owned());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("the prefix `{prefix}` is reserved"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("the suffix `{suffix}` is reserved"));
        }
    }
    Ok(())
}
