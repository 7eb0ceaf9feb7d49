//! Namespace, bucket and object handlers.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use galley_oci::signing::BodyCheck;
use http_body_util::BodyExt as _;
use tokio_util::io::ReaderStream;

use super::{Bucket, ObjectMeta, PutOptions, os_error};
use crate::api::{self, ApiError, ApiResult};
use crate::app::AppState;
use crate::auth::{Principal, SignedBody, too_large};

pub async fn get_namespace(State(state): State<AppState>) -> Response {
    api::json(StatusCode::OK, &state.os().namespace())
}

pub async fn get_namespace_metadata(
    State(state): State<AppState>,
    Path(ns): Path<String>,
    principal: Option<Extension<Principal>>,
) -> ApiResult {
    state.os().check_namespace(&ns)?;
    let tenancy = principal
        .as_ref()
        .and_then(|p| p.tenancy().map(str::to_owned))
        .unwrap_or_default();
    Ok(api::json(
        StatusCode::OK,
        &serde_json::json!({
            "namespace": ns,
            "defaultS3CompartmentId": tenancy,
            "defaultSwiftCompartmentId": tenancy,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBucketDetails {
    name: Option<String>,
    compartment_id: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    public_access_type: Option<String>,
    storage_tier: Option<String>,
    object_events_enabled: Option<bool>,
    freeform_tags: Option<BTreeMap<String, String>>,
    defined_tags: Option<BTreeMap<String, serde_json::Value>>,
    versioning: Option<String>,
    auto_tiering: Option<String>,
}

pub async fn create_bucket(
    State(state): State<AppState>,
    Path(ns): Path<String>,
    principal: Option<Extension<Principal>>,
    body: Bytes,
) -> ApiResult {
    let os = state.os();
    os.check_namespace(&ns)?;
    let d: CreateBucketDetails = api::parse_json(&body)?;
    let bucket = Bucket {
        namespace: ns,
        name: d.name.ok_or_else(|| ApiError::missing("name"))?,
        compartment_id: d
            .compartment_id
            .ok_or_else(|| ApiError::missing("compartmentId"))?,
        metadata: d.metadata.unwrap_or_default(),
        created_by: principal
            .as_ref()
            .and_then(|p| p.key_id.api_key_parts().map(|(_, u, _)| u.to_owned()))
            .unwrap_or_else(|| "galley-local".to_owned()),
        time_created: crate::clock::now(),
        etag: crate::ids::token(32).to_ascii_lowercase(),
        public_access_type: d
            .public_access_type
            .unwrap_or_else(|| "NoPublicAccess".to_owned()),
        storage_tier: d.storage_tier.unwrap_or_else(|| "Standard".to_owned()),
        object_events_enabled: d.object_events_enabled.unwrap_or(false),
        freeform_tags: d.freeform_tags.unwrap_or_default(),
        defined_tags: d.defined_tags.unwrap_or_default(),
        id: crate::ids::ocid("bucket"),
        versioning: d.versioning.unwrap_or_else(|| "Disabled".to_owned()),
        replication_enabled: false,
        is_read_only: false,
        auto_tiering: d.auto_tiering.unwrap_or_else(|| "Disabled".to_owned()),
        approximate_count: None,
        approximate_size: None,
    };
    let bucket = os.create_bucket(bucket)?;
    tracing::info!(bucket = %bucket.name, "created a bucket");
    Ok(bucket_response(&bucket))
}

fn bucket_response(bucket: &Bucket) -> Response {
    let mut resp = api::json(StatusCode::OK, bucket);
    if let Ok(v) = HeaderValue::from_str(&bucket.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListBucketsQuery {
    compartment_id: Option<String>,
    limit: Option<usize>,
    page: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BucketSummary<'a> {
    namespace: &'a str,
    name: &'a str,
    compartment_id: &'a str,
    created_by: &'a str,
    time_created: &'a str,
    etag: &'a str,
    freeform_tags: &'a BTreeMap<String, String>,
    defined_tags: &'a BTreeMap<String, serde_json::Value>,
}

pub async fn list_buckets(
    State(state): State<AppState>,
    Path(ns): Path<String>,
    uri: Uri,
) -> ApiResult {
    let os = state.os();
    os.check_namespace(&ns)?;
    let q: ListBucketsQuery = api::parse_query(&uri)?;
    let compartment = q
        .compartment_id
        .ok_or_else(|| ApiError::missing("compartmentId"))?;
    let buckets: Vec<Bucket> = os
        .buckets()
        .into_iter()
        .filter(|b| b.compartment_id == compartment)
        .collect();
    let page = api::paginate(buckets, q.limit, q.page.as_deref(), api::MAX_LIMIT)?;
    let items: Vec<BucketSummary<'_>> = page
        .items
        .iter()
        .map(|b| BucketSummary {
            namespace: &b.namespace,
            name: &b.name,
            compartment_id: &b.compartment_id,
            created_by: &b.created_by,
            time_created: &b.time_created,
            etag: &b.etag,
            freeform_tags: &b.freeform_tags,
            defined_tags: &b.defined_tags,
        })
        .collect();
    Ok(api::page_response(api::Page {
        items,
        next: page.next,
    }))
}

pub async fn get_bucket(
    State(state): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let os = state.os();
    let mut bucket = os.bucket(&ns, &name)?;
    let fields = uri.query().unwrap_or("");
    if fields.contains("approximateCount") || fields.contains("approximateSize") {
        let objects = os.list_objects(&ns, &name)?;
        bucket.approximate_count = Some(objects.len() as u64);
        bucket.approximate_size = Some(objects.iter().map(|o| o.size).sum());
    }
    Ok(bucket_response(&bucket))
}

pub async fn head_bucket(
    State(state): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let bucket = state.os().bucket(&ns, &name)?;
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&bucket.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

pub async fn delete_bucket(
    State(state): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    state.os().delete_bucket(&ns, &name)?;
    tracing::info!(bucket = %name, "deleted a bucket");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListObjectsQuery {
    prefix: Option<String>,
    start: Option<String>,
    end: Option<String>,
    start_after: Option<String>,
    limit: Option<usize>,
    delimiter: Option<String>,
    fields: Option<String>,
}

pub async fn list_objects(
    State(state): State<AppState>,
    Path((ns, bucket)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let q: ListObjectsQuery = api::parse_query(&uri)?;
    let limit = q.limit.unwrap_or(1000);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit must be between 1 and 1000"));
    }
    let fields: Vec<&str> = q
        .fields
        .as_deref()
        .map(|f| f.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let prefix = q.prefix.as_deref().unwrap_or("");
    let mut objects = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut next_start_with = None;
    for meta in state.os().list_objects(&ns, &bucket)? {
        let name = meta.name.as_str();
        if !name.starts_with(prefix)
            || q.start.as_deref().is_some_and(|s| name < s)
            || q.end.as_deref().is_some_and(|e| name >= e)
            || q.start_after.as_deref().is_some_and(|s| name <= s)
        {
            continue;
        }
        if let Some(delim) = q.delimiter.as_deref().filter(|d| !d.is_empty())
            && let Some(pos) = name[prefix.len()..].find(delim)
        {
            let p = name[..prefix.len() + pos + delim.len()].to_owned();
            if !prefixes.contains(&p) {
                prefixes.push(p);
            }
            continue;
        }
        if objects.len() == limit {
            next_start_with = Some(meta.name.clone());
            break;
        }
        objects.push(summary(&meta, &fields));
    }
    let mut body = serde_json::json!({ "objects": objects, "prefixes": prefixes });
    if let Some(next) = next_start_with {
        body["nextStartWith"] = serde_json::Value::String(next);
    }
    Ok(api::json(StatusCode::OK, &body))
}

fn summary(meta: &ObjectMeta, fields: &[&str]) -> serde_json::Value {
    let mut v = serde_json::json!({ "name": meta.name });
    for f in fields {
        let value = match *f {
            "size" => serde_json::json!(meta.size),
            "md5" => serde_json::json!(meta.md5),
            "etag" => serde_json::json!(meta.etag),
            "timeCreated" => serde_json::json!(meta.time_created),
            "timeModified" => serde_json::json!(meta.time_modified),
            "storageTier" => serde_json::json!("Standard"),
            _ => continue,
        };
        v[*f] = value;
    }
    v
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The PutObject options carried by request headers.
pub fn put_options(headers: &HeaderMap) -> PutOptions {
    let mut user_metadata = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("opc-meta-")
            && let Ok(v) = value.to_str()
        {
            user_metadata.insert(key.to_owned(), v.to_owned());
        }
    }
    PutOptions {
        content_type: header_str(headers, header::CONTENT_TYPE),
        content_encoding: header_str(headers, header::CONTENT_ENCODING),
        content_language: header_str(headers, header::CONTENT_LANGUAGE),
        content_disposition: header_str(headers, header::CONTENT_DISPOSITION),
        cache_control: header_str(headers, header::CACHE_CONTROL),
        user_metadata,
        content_md5: header_str(headers, "content-md5"),
        if_match: header_str(headers, header::IF_MATCH),
        if_none_match: header_str(headers, header::IF_NONE_MATCH),
    }
}

pub async fn put_object(
    State(state): State<AppState>,
    Path((ns, bucket, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    signed: Option<Extension<SignedBody>>,
    body: Body,
) -> ApiResult {
    let check = signed.map(|Extension(SignedBody(check))| check);
    let meta = receive_object(&state, &ns, &bucket, &name, &headers, body, check).await?;
    Ok(put_response(&meta))
}

/// Streams an upload's body to a temporary file (never more than one chunk in memory),
/// computing its MD5 and, when the client signed it, checking its SHA-256 and length as it
/// goes; the object is replaced only once all of it arrived and checked out. A body over
/// `max_body_bytes` is refused as soon as it is known to be (from `content-length` before
/// reading, else while reading). Whatever ends the upload early (refusal, a client that
/// disconnects, the request timeout) removes the temporary file.
pub async fn receive_object(
    state: &AppState,
    ns: &str,
    bucket: &str,
    name: &str,
    headers: &HeaderMap,
    body: Body,
    mut check: Option<BodyCheck>,
) -> ApiResult<ObjectMeta> {
    let limit = state.config().max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|d| d > limit) {
        return Err(too_large(limit));
    }
    let opts = put_options(headers);
    let os = state.os();
    let mut upload = os.begin_upload(ns, bucket, name, &opts)?;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::invalid(format!("failed to read the request body: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if upload.size() + chunk.len() as u64 > limit {
            return Err(too_large(limit));
        }
        if let Some(c) = check.as_mut() {
            c.update(&chunk);
        }
        // A chunk is tens of kilobytes into the page cache: cheaper inline than a hop to the
        // blocking pool.
        upload
            .write(&chunk)
            .map_err(|e| ApiError::internal(format!("failed to write an upload: {e}")))?;
    }
    if let Some(c) = check {
        c.finish()
            .map_err(|e| ApiError::not_authenticated(crate::auth::message(&e)))?;
    }
    os.commit_upload(ns, bucket, name, upload, opts)
}

/// PutObject's answer: no body, the new etag and MD5.
pub fn put_response(meta: &ObjectMeta) -> Response {
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    insert(h, header::ETAG, &meta.etag);
    insert(h, HeaderName::from_static("opc-content-md5"), &meta.md5);
    if let Some(d) = crate::clock::http_date(&meta.time_modified) {
        insert(h, header::LAST_MODIFIED, &d);
    }
    resp
}

fn insert(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// The headers GetObject and HeadObject answer with.
pub fn object_headers(meta: &ObjectMeta, h: &mut HeaderMap) {
    insert(h, header::ETAG, &meta.etag);
    insert(h, HeaderName::from_static("content-md5"), &meta.md5);
    insert(h, header::CONTENT_TYPE, &meta.content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
    if let Some(d) = crate::clock::http_date(&meta.time_modified) {
        insert(h, header::LAST_MODIFIED, &d);
    }
    let optional = [
        (header::CONTENT_ENCODING, &meta.content_encoding),
        (header::CONTENT_LANGUAGE, &meta.content_language),
        (header::CONTENT_DISPOSITION, &meta.content_disposition),
        (header::CACHE_CONTROL, &meta.cache_control),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            insert(h, name, v);
        }
    }
    for (k, v) in &meta.user_metadata {
        if let Ok(name) = HeaderName::from_bytes(format!("opc-meta-{k}").as_bytes()) {
            insert(h, name, v);
        }
    }
}

/// `if-match` / `if-none-match` on reads: the 412 or 304 to answer instead of the object.
pub fn read_precondition(headers: &HeaderMap, meta: &ObjectMeta) -> Option<Response> {
    if let Some(m) = header_str(headers, header::IF_MATCH)
        && !super::etag_matches(&m, &meta.etag)
    {
        return Some(
            os_error(
                StatusCode::PRECONDITION_FAILED,
                "IfMatchFailed",
                "the if-match etag does not match the object",
            )
            .into_response(),
        );
    }
    if let Some(m) = header_str(headers, header::IF_NONE_MATCH)
        && super::etag_matches(&m, &meta.etag)
    {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        insert(resp.headers_mut(), header::ETAG, &meta.etag);
        return Some(resp);
    }
    None
}

pub async fn get_object(
    State(state): State<AppState>,
    Path((ns, bucket, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let (meta, file) = state.os().open_object(&ns, &bucket, &name)?;
    Ok(object_body(&headers, &meta, Some(file)))
}

pub async fn head_object(
    State(state): State<AppState>,
    Path((ns, bucket, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let meta = state.os().object_meta(&ns, &bucket, &name)?;
    Ok(object_body(&headers, &meta, None))
}

/// GetObject (with the content, streamed from its file) or HeadObject (without) for `meta`.
pub fn object_body(
    headers: &HeaderMap,
    meta: &ObjectMeta,
    content: Option<std::fs::File>,
) -> Response {
    if let Some(resp) = read_precondition(headers, meta) {
        return resp;
    }
    let mut resp = match content {
        Some(file) => Response::new(Body::from_stream(ReaderStream::new(
            tokio::fs::File::from_std(file),
        ))),
        None => Response::new(Body::empty()),
    };
    object_headers(meta, resp.headers_mut());
    resp
}

pub async fn delete_object(
    State(state): State<AppState>,
    Path((ns, bucket, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    state.os().delete_object(
        &ns,
        &bucket,
        &name,
        header_str(&headers, header::IF_MATCH).as_deref(),
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
