//! Object Storage (no API version prefix): namespace, buckets, objects and pre-authenticated
//! requests (URLs that let a build instance fetch an object without credentials).
//!
//! PutObject bodies are sent outside the signature, as OCI requires. Object and bucket names
//! are percent-encoded path segments.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, HeaderName, Method};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::client::{Client, OciError, Request, Safety, encode_path_segment};
use crate::endpoints::{EndpointError, Endpoints, Service};
use crate::model::{Reply, rfc3339, string_enum};

/// Largest number of pages [`ObjectStorageClient::list_all_objects`] follows.
pub const MAX_LIST_PAGES: usize = 1000;

/// Prefix of user metadata headers.
pub const METADATA_PREFIX: &str = "opc-meta-";

string_enum! {
    /// `publicAccessType` of a bucket.
    PublicAccessType {
        NoPublicAccess => "NoPublicAccess",
        ObjectRead => "ObjectRead",
        ObjectReadWithoutList => "ObjectReadWithoutList",
    }
}

string_enum! {
    /// `storageTier` of a bucket.
    StorageTier {
        Standard => "Standard",
        Archive => "Archive",
    }
}

string_enum! {
    /// `versioning` of a bucket.
    Versioning {
        Enabled => "Enabled",
        Suspended => "Suspended",
        Disabled => "Disabled",
    }
}

string_enum! {
    /// `accessType` of a pre-authenticated request.
    PreauthenticatedAccessType {
        ObjectRead => "ObjectRead",
        ObjectWrite => "ObjectWrite",
        ObjectReadWrite => "ObjectReadWrite",
        AnyObjectWrite => "AnyObjectWrite",
        AnyObjectRead => "AnyObjectRead",
        AnyObjectReadWrite => "AnyObjectReadWrite",
    }
}

string_enum! {
    /// `bucketListingAction` of a pre-authenticated request.
    BucketListingAction {
        Deny => "Deny",
        ListObjects => "ListObjects",
    }
}

/// CreateBucket body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateBucketDetails {
    pub name: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_type: Option<PublicAccessType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_tier: Option<StorageTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_events_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, serde_json::Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_bucket_key_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    /// `Disabled` or `InfrequentAccess`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_tiering: Option<String>,
    /// `NAMESPACE` or `REGION`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_scope: Option<String>,
}

impl CreateBucketDetails {
    /// A private bucket `name` in `compartment_id`.
    pub fn new(name: impl Into<String>, compartment_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            compartment_id: compartment_id.into(),
            ..Self::default()
        }
    }
}

/// A bucket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Bucket {
    pub namespace: String,
    pub name: String,
    pub compartment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_type: Option<PublicAccessType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_tier: Option<StorageTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_events_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeform_tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, serde_json::Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_bucket_key_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_lifecycle_policy_etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_tiering: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_scope: Option<String>,
}

/// CreatePreauthenticatedRequest body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreatePreauthenticatedRequestDetails {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_listing_action: Option<BucketListingAction>,
    /// The object (or prefix, for the `AnyObject*` types) the URL grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    pub access_type: PreauthenticatedAccessType,
    /// RFC 3339.
    pub time_expires: String,
}

impl CreatePreauthenticatedRequestDetails {
    /// Read access to one object until `expires`.
    pub fn object_read(
        name: impl Into<String>,
        object_name: impl Into<String>,
        expires: SystemTime,
    ) -> Self {
        Self {
            name: name.into(),
            bucket_listing_action: None,
            object_name: Some(object_name.into()),
            access_type: PreauthenticatedAccessType::ObjectRead,
            time_expires: rfc3339(expires),
        }
    }

    /// Read access to one object for `lifetime` from now.
    pub fn object_read_for(
        name: impl Into<String>,
        object_name: impl Into<String>,
        lifetime: Duration,
    ) -> Self {
        Self::object_read(name, object_name, SystemTime::now() + lifetime)
    }
}

/// A pre-authenticated request. `access_uri` is returned only when it is created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PreauthenticatedRequest {
    pub id: String,
    pub name: String,
    /// Path to append to the Object Storage host root (`/p/<token>/n/<ns>/b/<bucket>/o/...`).
    pub access_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_listing_action: Option<BucketListingAction>,
    pub access_type: PreauthenticatedAccessType,
    pub time_expires: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    /// The full URL, which newer services return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_path: Option<String>,
}

impl PreauthenticatedRequest {
    /// The URL to fetch: `full_path` when the service gave one, else `root` (the Object Storage
    /// host root, such as [`ObjectStorageClient::base_url`]) joined with `access_uri`.
    pub fn url(&self, root: &str) -> String {
        match &self.full_path {
            Some(full) if full.starts_with("http://") || full.starts_with("https://") => {
                full.clone()
            }
            _ => format!("{}{}", root.trim_end_matches('/'), self.access_uri),
        }
    }
}

/// Optional headers of PutObject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutObjectOptions {
    pub content_type: Option<String>,
    /// Base64 MD5 of the body; the service rejects a body that does not match. See
    /// [`content_md5`].
    pub content_md5: Option<String>,
    /// `*` to create only when the object does not exist (412 otherwise).
    pub if_none_match: Option<String>,
    /// Replace only the version with this etag.
    pub if_match: Option<String>,
    /// User metadata, sent as `opc-meta-<key>` headers.
    pub metadata: BTreeMap<String, String>,
}

/// What PutObject answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutObjectResult {
    pub etag: Option<String>,
    /// `opc-content-md5`: base64 MD5 of what was stored.
    pub content_md5: Option<String>,
    pub version_id: Option<String>,
    pub last_modified: Option<String>,
}

/// An object's headers (HeadObject, and GetObject beside the body).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub etag: Option<String>,
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    pub content_md5: Option<String>,
    pub last_modified: Option<String>,
    pub version_id: Option<String>,
    /// `opc-meta-*` headers, prefix removed.
    pub metadata: BTreeMap<String, String>,
}

impl ObjectHead {
    fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let metadata = headers
            .iter()
            .filter_map(|(name, value)| {
                let key = name.as_str().strip_prefix(METADATA_PREFIX)?;
                Some((key.to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Self {
            etag: get("etag"),
            content_length: get("content-length").and_then(|v| v.parse().ok()),
            content_type: get("content-type"),
            content_md5: get("content-md5").or_else(|| get("opc-content-md5")),
            last_modified: get("last-modified"),
            version_id: get("version-id"),
            metadata,
        }
    }
}

/// One object of a ListObjects page, with the fields asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectSummary {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_modified: Option<String>,
}

/// A ListObjects page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListObjects {
    pub objects: Vec<ObjectSummary>,
    /// With a delimiter: the name prefixes up to and including it, each once.
    pub prefixes: Vec<String>,
    /// Where the next page starts, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start_with: Option<String>,
}

/// Query of ListObjects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListObjectsRequest {
    pub prefix: Option<String>,
    pub start: Option<String>,
    pub delimiter: Option<String>,
    pub limit: Option<u32>,
    /// Comma-separated fields beside `name`: `size`, `etag`, `md5`, `timeCreated`,
    /// `timeModified`.
    pub fields: Option<String>,
}

/// An object's bytes and headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectContent {
    pub body: Bytes,
    pub head: ObjectHead,
}

/// Base64 MD5 of `body`, for [`PutObjectOptions::content_md5`].
pub fn content_md5(body: &[u8]) -> String {
    STANDARD.encode(Md5::digest(body))
}

/// An Object Storage client for one region (or endpoint).
#[derive(Clone, Debug)]
pub struct ObjectStorageClient {
    client: Client,
    base_url: String,
}

service_client!(ObjectStorageClient, Service::ObjectStorage);

impl ObjectStorageClient {
    fn bucket_url(&self, namespace: &str, bucket: Option<&str>) -> String {
        let mut url = format!("{}/n/{}/b", self.base_url, encode_path_segment(namespace));
        if let Some(bucket) = bucket {
            url.push('/');
            url.push_str(&encode_path_segment(bucket));
        }
        url
    }

    fn object_url(&self, namespace: &str, bucket: &str, object: &str) -> String {
        format!(
            "{}/o/{}",
            self.bucket_url(namespace, Some(bucket)),
            encode_path_segment(object)
        )
    }

    /// GetNamespace: the tenancy's namespace (of `compartment_id`'s tenancy when given).
    pub async fn get_namespace(
        &self,
        compartment_id: Option<&str>,
    ) -> Result<Reply<String>, OciError> {
        let request = Request::new("GetNamespace", Method::GET, format!("{}/n", self.base_url))
            .query_opt("compartmentId", compartment_id);
        let response = self.client.send(request).await?;
        // The answer is a JSON string; tolerate a bare word.
        let namespace = response
            .json::<String>()
            .unwrap_or_else(|_| response.text().trim().trim_matches('"').to_owned());
        Ok(Reply::new(namespace, &response))
    }

    /// CreateBucket. Not retried after an ambiguous failure (it carries no retry token); a
    /// bucket that already exists answers 409 `BucketAlreadyExists`.
    pub async fn create_bucket(
        &self,
        namespace: &str,
        details: &CreateBucketDetails,
    ) -> Result<Reply<Bucket>, OciError> {
        let request = Request::new(
            "CreateBucket",
            Method::POST,
            self.bucket_url(namespace, None),
        )
        .json(details)?;
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// GetBucket.
    pub async fn get_bucket(
        &self,
        namespace: &str,
        bucket: &str,
    ) -> Result<Reply<Bucket>, OciError> {
        let request = Request::new(
            "GetBucket",
            Method::GET,
            self.bucket_url(namespace, Some(bucket)),
        );
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// PutObject: the body is outside the signature.
    pub async fn put_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
        body: Bytes,
        options: &PutObjectOptions,
    ) -> Result<Reply<PutObjectResult>, OciError> {
        let mut request = Request::new(
            "PutObject",
            Method::PUT,
            self.object_url(namespace, bucket, object),
        )
        .header(
            CONTENT_TYPE,
            options
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        )
        .header_opt(
            HeaderName::from_static("content-md5"),
            options.content_md5.clone(),
        )
        .header_opt(IF_NONE_MATCH, options.if_none_match.clone())
        .header_opt(IF_MATCH, options.if_match.clone())
        .unsigned_body(body);
        for (key, value) in &options.metadata {
            let name = HeaderName::from_bytes(format!("{METADATA_PREFIX}{key}").as_bytes())
                .map_err(|_| OciError::InvalidRequest {
                    operation: "PutObject",
                    reason: format!("metadata key {key:?} is not a valid header name"),
                })?;
            request = request.header(name, value.clone());
        }
        if options.if_none_match.is_some() || options.if_match.is_some() {
            // A resent conditional put whose first attempt landed would fail its precondition.
            request = request.safety(Safety::Unsafe);
        }
        let response = self.client.send(request).await?;
        let result = PutObjectResult {
            etag: response.etag(),
            content_md5: response.header("opc-content-md5").map(str::to_owned),
            version_id: response.header("version-id").map(str::to_owned),
            last_modified: response.header("last-modified").map(str::to_owned),
        };
        Ok(Reply::new(result, &response))
    }

    /// GetObject: the whole object in memory.
    pub async fn get_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
    ) -> Result<Reply<ObjectContent>, OciError> {
        let request = Request::new(
            "GetObject",
            Method::GET,
            self.object_url(namespace, bucket, object),
        );
        let response = self.client.send(request).await?;
        let content = ObjectContent {
            body: response.body.clone(),
            head: ObjectHead::from_headers(&response.headers),
        };
        Ok(Reply::new(content, &response))
    }

    /// HeadObject; `None` when the object does not exist (404).
    pub async fn head_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
    ) -> Result<Option<Reply<ObjectHead>>, OciError> {
        let request = Request::new(
            "HeadObject",
            Method::HEAD,
            self.object_url(namespace, bucket, object),
        );
        match self.client.send(request).await {
            Ok(response) => Ok(Some(Reply::new(
                ObjectHead::from_headers(&response.headers),
                &response,
            ))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// ListObjects: one page.
    pub async fn list_objects(
        &self,
        namespace: &str,
        bucket: &str,
        query: &ListObjectsRequest,
    ) -> Result<Reply<ListObjects>, OciError> {
        let request = Request::new(
            "ListObjects",
            Method::GET,
            format!("{}/o", self.bucket_url(namespace, Some(bucket))),
        )
        .query_opt("prefix", query.prefix.as_deref())
        .query_opt("start", query.start.as_deref())
        .query_opt("delimiter", query.delimiter.as_deref())
        .query_opt("limit", query.limit)
        .query_opt("fields", query.fields.as_deref());
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// ListObjects, every page (at most [`MAX_LIST_PAGES`]).
    pub async fn list_all_objects(
        &self,
        namespace: &str,
        bucket: &str,
        query: &ListObjectsRequest,
    ) -> Result<ListObjects, OciError> {
        let mut query = query.clone();
        let mut all = ListObjects::default();
        for _ in 0..MAX_LIST_PAGES {
            let page = self.list_objects(namespace, bucket, &query).await?.value;
            all.objects.extend(page.objects);
            for p in page.prefixes {
                if !all.prefixes.contains(&p) {
                    all.prefixes.push(p);
                }
            }
            match page.next_start_with {
                Some(next) => query.start = Some(next),
                None => return Ok(all),
            }
        }
        Err(OciError::InvalidRequest {
            operation: "ListObjects",
            reason: format!("the bucket listing did not end after {MAX_LIST_PAGES} pages"),
        })
    }

    /// DeleteObject.
    pub async fn delete_object(
        &self,
        namespace: &str,
        bucket: &str,
        object: &str,
        if_match: Option<&str>,
    ) -> Result<Reply<()>, OciError> {
        let request = Request::new(
            "DeleteObject",
            Method::DELETE,
            self.object_url(namespace, bucket, object),
        )
        .header_opt(IF_MATCH, if_match);
        let response = self.client.send(request).await?;
        Ok(Reply::new((), &response))
    }

    /// CreatePreauthenticatedRequest. Not retried after an ambiguous failure (no retry token).
    pub async fn create_preauthenticated_request(
        &self,
        namespace: &str,
        bucket: &str,
        details: &CreatePreauthenticatedRequestDetails,
    ) -> Result<Reply<PreauthenticatedRequest>, OciError> {
        let request = Request::new(
            "CreatePreauthenticatedRequest",
            Method::POST,
            format!("{}/p", self.bucket_url(namespace, Some(bucket))),
        )
        .json(details)?;
        let response = self.client.send(request).await?;
        Ok(Reply::new(response.json()?, &response))
    }

    /// DeletePreauthenticatedRequest.
    pub async fn delete_preauthenticated_request(
        &self,
        namespace: &str,
        bucket: &str,
        par_id: &str,
    ) -> Result<Reply<()>, OciError> {
        let request = Request::new(
            "DeletePreauthenticatedRequest",
            Method::DELETE,
            format!(
                "{}/p/{}",
                self.bucket_url(namespace, Some(bucket)),
                encode_path_segment(par_id)
            ),
        );
        let response = self.client.send(request).await?;
        Ok(Reply::new((), &response))
    }
}
