//! The S3 calls the engine needs, path-style over REST XML: HeadBucket, CreateBucket,
//! Get/Put/DeleteBucketLifecycleConfiguration, ListObjectsV2, DeleteObjects, DeleteBucket.
//! Nothing else is called, because S3-compatible servers answer NotImplemented to much of the
//! API. The small request bodies are written by hand; answers are read with quick-xml.

use base64::Engine as _;
use galley_oci::echo::{echo, echo_message};
use http::Method;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::connection::Connection;
use super::dynamodb::Created;
use super::error::{EsbError, Service};
use super::spec::LifecycleRule;
use super::transport::{Call, Transport, encode};

const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// DeleteObjects takes at most this many keys per call.
const DELETE_BATCH: usize = 1000;

/// An S3 client for one endpoint, path-style.
pub struct S3 {
    transport: Transport,
    region: String,
}

/// A lifecycle rule as the server reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveRule {
    pub rule: LifecycleRule,
    /// The rule has parts the spec cannot express (transitions, tag filters, dates...), so it
    /// can never equal a rule from the file.
    pub unmodeled: bool,
}

impl S3 {
    pub fn new(conn: &Connection) -> Result<S3, EsbError> {
        Ok(S3 {
            transport: Transport::new(conn, Service::S3)?,
            region: conn.region.clone(),
        })
    }

    pub fn endpoint(&self) -> &str {
        self.transport.endpoint()
    }

    async fn send(
        &self,
        action: &str,
        method: Method,
        path_and_query: String,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, EsbError> {
        let mut headers = Vec::new();
        let body = match body {
            Some(body) => {
                // PutBucketLifecycleConfiguration and DeleteObjects require an integrity header.
                let digest = Md5::digest(&body);
                headers.push((
                    "content-md5",
                    base64::engine::general_purpose::STANDARD.encode(digest),
                ));
                headers.push(("content-type", "application/xml".to_owned()));
                body
            }
            None => Vec::new(),
        };
        let call = Call {
            action,
            method,
            path_and_query,
            headers,
            body,
        };
        Ok(self.transport.send(&call).await?.body)
    }

    fn decode(&self, action: &str, detail: String) -> EsbError {
        EsbError::Decode {
            service: Service::S3,
            endpoint: self.endpoint().to_owned(),
            action: action.to_owned(),
            detail,
        }
    }

    /// HeadBucket: `true` when the bucket exists, `false` on 404.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, EsbError> {
        let action = format!("check bucket {}", echo(bucket));
        match self
            .send(&action, Method::HEAD, bucket_path(bucket, ""), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if matches!(err.code(), Some("NotFound" | "NoSuchBucket")) => Ok(false),
            Err(err) if err.code() == Some("Forbidden") => {
                // A HEAD answer has no body, so the reason (a wrong secret, an unknown key) is
                // missing; a one-key listing of the same bucket gets the server to say it.
                match self.list_page(bucket, 1, None).await {
                    Err(detailed) if detailed.is_auth() => Err(detailed),
                    _ => Err(err),
                }
            }
            Err(err) => Err(err),
        }
    }

    /// CreateBucket. `BucketAlreadyOwnedByYou` is reported as [`Created::AlreadyExisted`]; some
    /// servers (and real S3 in us-east-1) answer 200 instead, which is why callers check with
    /// [`S3::bucket_exists`] first.
    pub async fn create_bucket(&self, bucket: &str) -> Result<Created, EsbError> {
        let action = format!("create bucket {}", echo(bucket));
        // Outside us-east-1 S3 wants the region repeated in the body.
        let body = (self.region != "us-east-1").then(|| {
            format!(
                "<CreateBucketConfiguration xmlns=\"{XMLNS}\"><LocationConstraint>{}\
                 </LocationConstraint></CreateBucketConfiguration>",
                escape(&self.region)
            )
            .into_bytes()
        });
        match self
            .send(&action, Method::PUT, bucket_path(bucket, ""), body)
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => {
                Ok(Created::AlreadyExisted)
            }
            Err(err) if err.code() == Some("BucketAlreadyExists") => Err(EsbError::BucketTaken {
                endpoint: self.endpoint().to_owned(),
                bucket: echo(bucket).to_string(),
            }),
            Err(err) => Err(err),
        }
    }

    /// GetBucketLifecycleConfiguration: the rules (empty when none are set), or `None` when the
    /// server does not implement lifecycle configuration.
    pub async fn lifecycle(&self, bucket: &str) -> Result<Option<Vec<LiveRule>>, EsbError> {
        let action = format!("read the lifecycle rules of bucket {}", echo(bucket));
        let body = match self
            .send(&action, Method::GET, bucket_path(bucket, "lifecycle"), None)
            .await
        {
            Ok(body) => body,
            Err(err) if err.code() == Some("NoSuchLifecycleConfiguration") => {
                return Ok(Some(Vec::new()));
            }
            Err(err) if err.code() == Some("NotImplemented") => return Ok(None),
            Err(err) => return Err(err),
        };
        let text = String::from_utf8_lossy(&body);
        if text.trim().is_empty() {
            return Ok(Some(Vec::new()));
        }
        let parsed: LifecycleXml =
            quick_xml::de::from_str(&text).map_err(|e| self.decode(&action, e.to_string()))?;
        Ok(Some(parsed.rules.into_iter().map(live_rule).collect()))
    }

    /// PutBucketLifecycleConfiguration with exactly `rules` (which must not be empty).
    pub async fn put_lifecycle(
        &self,
        bucket: &str,
        rules: &[LifecycleRule],
    ) -> Result<(), EsbError> {
        let action = format!("set the lifecycle rules of bucket {}", echo(bucket));
        self.send(
            &action,
            Method::PUT,
            bucket_path(bucket, "lifecycle"),
            Some(lifecycle_xml(rules).into_bytes()),
        )
        .await
        .map(drop)
    }

    /// DeleteBucketLifecycle: removes all rules.
    pub async fn delete_lifecycle(&self, bucket: &str) -> Result<(), EsbError> {
        let action = format!("remove the lifecycle rules of bucket {}", echo(bucket));
        self.send(
            &action,
            Method::DELETE,
            bucket_path(bucket, "lifecycle"),
            None,
        )
        .await
        .map(drop)
    }

    /// PutObject. The engine never writes objects; this exists for tests and tools that need a
    /// non-empty bucket.
    pub async fn put_object(&self, bucket: &str, key: &str, body: &[u8]) -> Result<(), EsbError> {
        let action = format!("upload {} to bucket {}", echo(key), echo(bucket));
        let path = format!(
            "/{}/{}",
            encode(bucket),
            key.split('/').map(encode).collect::<Vec<_>>().join("/")
        );
        let call = Call {
            action: &action,
            method: Method::PUT,
            path_and_query: path,
            headers: vec![("content-type", "application/octet-stream".to_owned())],
            body: body.to_vec(),
        };
        self.transport.send(&call).await.map(drop)
    }

    /// ListObjectsV2, one page of at most `max_keys` keys after `token`.
    async fn list_page(
        &self,
        bucket: &str,
        max_keys: usize,
        token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EsbError> {
        let action = format!("list the objects of bucket {}", echo(bucket));
        let mut query = format!("list-type=2&max-keys={max_keys}");
        if let Some(token) = token {
            query = format!("continuation-token={}&{query}", encode(token));
        }
        let body = self
            .send(&action, Method::GET, bucket_path(bucket, &query), None)
            .await?;
        let parsed: ListXml = quick_xml::de::from_str(&String::from_utf8_lossy(&body))
            .map_err(|e| self.decode(&action, e.to_string()))?;
        let keys = parsed.contents.into_iter().map(|c| c.key).collect();
        let next = if parsed.is_truncated.as_deref() == Some("true") {
            parsed.next_continuation_token.filter(|t| !t.is_empty())
        } else {
            None
        };
        Ok((keys, next))
    }

    /// Whether the bucket holds no objects.
    pub async fn is_empty(&self, bucket: &str) -> Result<bool, EsbError> {
        Ok(self.list_page(bucket, 1, None).await?.0.is_empty())
    }

    /// Deletes every object in the bucket; returns how many were deleted.
    pub async fn empty_bucket(&self, bucket: &str) -> Result<usize, EsbError> {
        let mut deleted = 0;
        loop {
            // Always list from the start: the previous batch is gone, so this terminates.
            let (keys, _) = self.list_page(bucket, DELETE_BATCH, None).await?;
            if keys.is_empty() {
                return Ok(deleted);
            }
            self.delete_objects(bucket, &keys).await?;
            deleted += keys.len();
        }
    }

    /// DeleteObjects for up to [`DELETE_BATCH`] keys; any per-key error fails the call.
    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<(), EsbError> {
        let action = format!("delete {} objects from bucket {}", keys.len(), echo(bucket));
        let mut body = format!("<Delete xmlns=\"{XMLNS}\"><Quiet>true</Quiet>");
        for key in keys {
            body.push_str("<Object><Key>");
            body.push_str(&escape(key));
            body.push_str("</Key></Object>");
        }
        body.push_str("</Delete>");
        let reply = self
            .send(
                &action,
                Method::POST,
                bucket_path(bucket, "delete"),
                Some(body.into_bytes()),
            )
            .await?;
        let text = String::from_utf8_lossy(&reply);
        if text.trim().is_empty() {
            return Ok(());
        }
        let parsed: DeleteResultXml =
            quick_xml::de::from_str(&text).map_err(|e| self.decode(&action, e.to_string()))?;
        match parsed.errors.into_iter().next() {
            None => Ok(()),
            Some(error) => Err(EsbError::Service {
                service: Service::S3,
                endpoint: self.endpoint().to_owned(),
                action: format!("{action} (object {})", echo(&error.key.unwrap_or_default())),
                status: 200,
                code: echo(&error.code.unwrap_or_default()).to_string(),
                message: echo_message(&error.message.unwrap_or_default()).to_string(),
            }),
        }
    }

    /// DeleteBucket; `false` when there was no such bucket. A non-empty bucket is
    /// [`EsbError::BucketNotEmpty`].
    pub async fn delete_bucket(&self, bucket: &str) -> Result<bool, EsbError> {
        let action = format!("delete bucket {}", echo(bucket));
        match self
            .send(&action, Method::DELETE, bucket_path(bucket, ""), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("NoSuchBucket") => Ok(false),
            Err(err) if err.code() == Some("BucketNotEmpty") => Err(EsbError::BucketNotEmpty {
                endpoint: self.endpoint().to_owned(),
                bucket: echo(bucket).to_string(),
            }),
            Err(err) => Err(err),
        }
    }
}

/// `/bucket` or `/bucket?query`; a valid bucket name needs no encoding, but encode anyway.
fn bucket_path(bucket: &str, query: &str) -> String {
    if query.is_empty() {
        format!("/{}", encode(bucket))
    } else {
        format!("/{}?{query}", encode(bucket))
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The PutBucketLifecycleConfiguration body, elements in the order of S3's schema.
pub(crate) fn lifecycle_xml(rules: &[LifecycleRule]) -> String {
    let mut xml = format!("<LifecycleConfiguration xmlns=\"{XMLNS}\">");
    for rule in rules {
        xml.push_str("<Rule>");
        if let Some(days) = rule.expiration_days {
            xml.push_str(&format!("<Expiration><Days>{days}</Days></Expiration>"));
        }
        if let Some(id) = &rule.id {
            xml.push_str(&format!("<ID>{}</ID>", escape(id)));
        }
        xml.push_str(&format!(
            "<Filter><Prefix>{}</Prefix></Filter>",
            escape(&rule.prefix)
        ));
        xml.push_str(if rule.enabled {
            "<Status>Enabled</Status>"
        } else {
            "<Status>Disabled</Status>"
        });
        if let Some(days) = rule.noncurrent_expiration_days {
            xml.push_str(&format!(
                "<NoncurrentVersionExpiration><NoncurrentDays>{days}</NoncurrentDays>\
                 </NoncurrentVersionExpiration>"
            ));
        }
        if let Some(days) = rule.abort_incomplete_upload_days {
            xml.push_str(&format!(
                "<AbortIncompleteMultipartUpload><DaysAfterInitiation>{days}\
                 </DaysAfterInitiation></AbortIncompleteMultipartUpload>"
            ));
        }
        xml.push_str("</Rule>");
    }
    xml.push_str("</LifecycleConfiguration>");
    xml
}

#[derive(Deserialize)]
struct LifecycleXml {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Deserialize)]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<FilterXml>,
    #[serde(rename = "Expiration")]
    expiration: Option<ExpirationXml>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent: Option<NoncurrentXml>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<AbortXml>,
    #[serde(rename = "Transition", default)]
    transitions: Vec<IgnoredAny>,
    #[serde(rename = "NoncurrentVersionTransition", default)]
    noncurrent_transitions: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct FilterXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<IgnoredAny>,
    #[serde(rename = "And")]
    and: Option<IgnoredAny>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_greater: Option<IgnoredAny>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_less: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ExpirationXml {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker")]
    delete_marker: Option<String>,
}

#[derive(Deserialize)]
struct NoncurrentXml {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
    #[serde(rename = "NewerNoncurrentVersions")]
    newer: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct AbortXml {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<String>,
}

/// Days as servers write them; `0` and empty mean "not set" (some servers echo empty actions).
fn days(text: Option<&str>) -> Option<u64> {
    text.and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|d| *d > 0)
}

fn present(text: Option<&str>) -> bool {
    text.is_some_and(|t| !t.trim().is_empty())
}

fn live_rule(rule: RuleXml) -> LiveRule {
    let mut unmodeled = !rule.transitions.is_empty() || !rule.noncurrent_transitions.is_empty();
    let mut prefix = rule.prefix.unwrap_or_default();
    if let Some(filter) = &rule.filter {
        if let Some(filter_prefix) = &filter.prefix {
            if !filter_prefix.is_empty() {
                prefix = filter_prefix.clone();
            }
        }
        unmodeled |= filter.tag.is_some()
            || filter.and.is_some()
            || filter.size_greater.is_some()
            || filter.size_less.is_some();
    }
    let mut expiration_days = None;
    if let Some(expiration) = &rule.expiration {
        expiration_days = days(expiration.days.as_deref());
        unmodeled |= present(expiration.date.as_deref())
            || expiration.delete_marker.as_deref().map(str::trim) == Some("true");
    }
    let mut noncurrent_expiration_days = None;
    if let Some(noncurrent) = &rule.noncurrent {
        noncurrent_expiration_days = days(noncurrent.days.as_deref());
        unmodeled |= noncurrent.newer.is_some();
    }
    let abort_incomplete_upload_days = rule.abort.as_ref().and_then(|a| days(a.days.as_deref()));
    LiveRule {
        rule: LifecycleRule {
            id: rule.id.filter(|id| !id.is_empty()),
            enabled: rule.status.as_deref() == Some("Enabled"),
            prefix,
            expiration_days,
            noncurrent_expiration_days,
            abort_incomplete_upload_days,
        },
        unmodeled,
    }
}

#[derive(Deserialize)]
struct ListXml {
    #[serde(rename = "Contents", default)]
    contents: Vec<ContentsXml>,
    #[serde(rename = "IsTruncated")]
    is_truncated: Option<String>,
    #[serde(rename = "NextContinuationToken")]
    next_continuation_token: Option<String>,
}

#[derive(Deserialize)]
struct ContentsXml {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Deserialize)]
struct DeleteResultXml {
    #[serde(rename = "Error", default)]
    errors: Vec<DeleteErrorXml>,
}

#[derive(Deserialize)]
struct DeleteErrorXml {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: Option<&str>, prefix: &str, days: Option<u64>) -> LifecycleRule {
        LifecycleRule {
            id: id.map(str::to_owned),
            enabled: true,
            prefix: prefix.to_owned(),
            expiration_days: days,
            noncurrent_expiration_days: None,
            abort_incomplete_upload_days: None,
        }
    }

    #[test]
    fn lifecycle_round_trips_through_the_xml_we_write() {
        let rules = vec![
            rule(Some("expire-tmp"), "tmp/<&>", Some(7)),
            LifecycleRule {
                enabled: false,
                abort_incomplete_upload_days: Some(2),
                noncurrent_expiration_days: Some(30),
                ..rule(None, "", None)
            },
        ];
        let xml = lifecycle_xml(&rules);
        assert!(xml.contains("<Prefix>tmp/&lt;&amp;&gt;</Prefix>"), "{xml}");
        let parsed: LifecycleXml = quick_xml::de::from_str(&xml).unwrap();
        let live: Vec<LifecycleRule> = parsed
            .rules
            .into_iter()
            .map(|r| {
                let live = live_rule(r);
                assert!(!live.unmodeled);
                live.rule
            })
            .collect();
        assert_eq!(live, rules);
    }

    #[test]
    fn rules_with_parts_we_do_not_model_are_marked() {
        let xml = r#"<LifecycleConfiguration><Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status>
            <Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>
            <Rule><ID>b</ID><Filter><And><Prefix>x</Prefix></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>
            </LifecycleConfiguration>"#;
        let parsed: LifecycleXml = quick_xml::de::from_str(xml).unwrap();
        let live: Vec<LiveRule> = parsed.rules.into_iter().map(live_rule).collect();
        assert_eq!(live.len(), 2);
        assert!(live.iter().all(|r| r.unmodeled));
        assert_eq!(live[0].rule.prefix, "logs/", "legacy top-level Prefix");
    }

    #[test]
    fn list_and_delete_results_are_read() {
        let xml = r#"<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
            <Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b/c</Key></Contents>
            <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"#;
        let parsed: ListXml = quick_xml::de::from_str(xml).unwrap();
        assert_eq!(parsed.contents.len(), 2);
        assert_eq!(parsed.contents[1].key, "b/c");
        assert_eq!(parsed.next_continuation_token.as_deref(), Some("tok"));

        let xml = r#"<DeleteResult><Error><Key>k</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"#;
        let parsed: DeleteResultXml = quick_xml::de::from_str(xml).unwrap();
        assert_eq!(parsed.errors[0].code.as_deref(), Some("AccessDenied"));
    }
}
