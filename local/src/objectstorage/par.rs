//! Pre-authenticated requests: creation, listing and deletion (signed), and access through
//! `/p/<token>/n/<ns>/b/<bucket>/o/<object>` (unsigned: the token is the credential), with
//! the access type and the expiry enforced.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use galley_oci::echo::echo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use super::handlers::{object_body, put_response, receive_object};
use crate::api::{self, ApiError, ApiResult};
use crate::app::AppState;

/// Characters kept as-is when an object name goes into an access URI.
const PATH_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A PAR as stored (the token is only ever shown once, at creation, as OCI does).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParRecord {
    pub id: String,
    pub token: String,
    pub name: String,
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    pub access_type: String,
    pub bucket_listing_action: String,
    pub time_expires: String,
    pub time_created: String,
}

impl ParRecord {
    fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "name": self.name,
            "accessType": self.access_type,
            "bucketListingAction": self.bucket_listing_action,
            "timeExpires": self.time_expires,
            "timeCreated": self.time_created,
        });
        if let Some(o) = &self.object_name {
            v["objectName"] = serde_json::Value::String(o.clone());
        }
        v
    }

    fn allows_read(&self) -> bool {
        self.access_type.contains("Read")
    }

    fn allows_write(&self) -> bool {
        self.access_type.contains("Write")
    }

    fn any_object(&self) -> bool {
        self.access_type.starts_with("AnyObject")
    }

    fn expired(&self) -> bool {
        crate::clock::parse(&self.time_expires).is_none_or(|t| t <= time::OffsetDateTime::now_utc())
    }
}

const ACCESS_TYPES: [&str; 6] = [
    "ObjectRead",
    "ObjectWrite",
    "ObjectReadWrite",
    "AnyObjectWrite",
    "AnyObjectRead",
    "AnyObjectReadWrite",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateParDetails {
    name: Option<String>,
    object_name: Option<String>,
    access_type: Option<String>,
    time_expires: Option<String>,
    bucket_listing_action: Option<String>,
}

pub async fn create_par(
    State(state): State<AppState>,
    Path((ns, bucket)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let os = state.os();
    os.bucket(&ns, &bucket)?;
    let d: CreateParDetails = api::parse_json(&body)?;
    let name = d.name.ok_or_else(|| ApiError::missing("name"))?;
    let access_type = d
        .access_type
        .ok_or_else(|| ApiError::missing("accessType"))?;
    if !ACCESS_TYPES.contains(&access_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "accessType {access_type} is not one of {}",
            ACCESS_TYPES.join(", "),
            access_type = echo(&access_type)
        )));
    }
    let expires_raw = d
        .time_expires
        .ok_or_else(|| ApiError::missing("timeExpires"))?;
    let expires = crate::clock::parse(&expires_raw)
        .ok_or_else(|| ApiError::invalid("timeExpires is not an RFC 3339 timestamp"))?;
    if expires <= time::OffsetDateTime::now_utc() {
        return Err(ApiError::invalid("timeExpires must be in the future"));
    }
    let any_object = access_type.starts_with("AnyObject");
    let object_name = d.object_name.filter(|o| !o.is_empty());
    if !any_object && object_name.is_none() {
        return Err(ApiError::missing("objectName"));
    }
    let par = ParRecord {
        id: crate::ids::token(48),
        token: crate::ids::token(64),
        name,
        bucket: bucket.clone(),
        object_name: object_name.clone(),
        access_type,
        bucket_listing_action: d.bucket_listing_action.unwrap_or_else(|| "Deny".to_owned()),
        time_expires: crate::clock::format(expires),
        time_created: crate::clock::now(),
    };
    let mut access_uri = format!("/p/{}/n/{ns}/b/{bucket}/o/", par.token);
    if !any_object && let Some(o) = &object_name {
        access_uri.push_str(&utf8_percent_encode(o, PATH_SAFE).to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut body = par.summary();
    body["accessUri"] = serde_json::Value::String(access_uri.clone());
    body["fullPath"] = serde_json::Value::String(format!("http://{host}{access_uri}"));
    os.save_par(par)?;
    Ok(api::json(StatusCode::OK, &body))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParsQuery {
    object_name_prefix: Option<String>,
    limit: Option<usize>,
    page: Option<String>,
}

pub async fn list_pars(
    State(state): State<AppState>,
    Path((ns, bucket)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let os = state.os();
    os.bucket(&ns, &bucket)?;
    let q: ListParsQuery = api::parse_query(&uri)?;
    let pars: Vec<serde_json::Value> = os
        .pars_of(&bucket)
        .iter()
        .filter(|p| {
            q.object_name_prefix.as_ref().is_none_or(|pre| {
                p.object_name
                    .as_deref()
                    .unwrap_or("")
                    .starts_with(pre.as_str())
            })
        })
        .map(ParRecord::summary)
        .collect();
    let page = api::paginate(pars, q.limit, q.page.as_deref(), api::DEFAULT_LIMIT)?;
    Ok(api::page_response(page))
}

fn find(state: &AppState, bucket: &str, id: &str) -> ApiResult<ParRecord> {
    state
        .os()
        .pars_of(bucket)
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "pre-authenticated request {id} was not found",
                id = echo(id)
            ))
        })
}

pub async fn get_par(
    State(state): State<AppState>,
    Path((ns, bucket, id)): Path<(String, String, String)>,
) -> ApiResult {
    state.os().bucket(&ns, &bucket)?;
    Ok(api::json(
        StatusCode::OK,
        &find(&state, &bucket, &id)?.summary(),
    ))
}

pub async fn delete_par(
    State(state): State<AppState>,
    Path((ns, bucket, id)): Path<(String, String, String)>,
) -> ApiResult {
    state.os().bucket(&ns, &bucket)?;
    state.os().delete_par(&bucket, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The PAR of `token` if it grants `write` (or read) access to `object` in `ns`/`bucket`.
fn authorize(
    state: &AppState,
    token: &str,
    ns: &str,
    bucket: &str,
    object: &str,
    write: bool,
) -> ApiResult<ParRecord> {
    let denied = || {
        ApiError::not_found(
            "the pre-authenticated request does not exist, has expired, or does not grant this access",
        )
    };
    let par = state.os().par_by_token(token).ok_or_else(denied)?;
    if ns != state.os().namespace() || par.bucket != bucket || par.expired() {
        return Err(denied());
    }
    if !par.any_object() && par.object_name.as_deref() != Some(object) {
        return Err(denied());
    }
    let allowed = if write {
        par.allows_write()
    } else {
        par.allows_read()
    };
    if !allowed {
        return Err(denied());
    }
    Ok(par)
}

pub async fn par_get(
    State(state): State<AppState>,
    Path((token, ns, bucket, object)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&state, &token, &ns, &bucket, &object, false)?;
    let (meta, file) = state.os().open_object(&ns, &bucket, &object)?;
    Ok(object_body(&headers, &meta, Some(file)))
}

pub async fn par_head(
    State(state): State<AppState>,
    Path((token, ns, bucket, object)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&state, &token, &ns, &bucket, &object, false)?;
    let meta = state.os().object_meta(&ns, &bucket, &object)?;
    Ok(object_body(&headers, &meta, None))
}

pub async fn par_put(
    State(state): State<AppState>,
    Path((token, ns, bucket, object)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    authorize(&state, &token, &ns, &bucket, &object, true)?;
    let meta = receive_object(&state, &ns, &bucket, &object, &headers, body, None).await?;
    Ok(put_response(&meta))
}
