//! Object Storage: one namespace, buckets and objects on disk, pre-authenticated requests.
//!
//! Data layout: `<data>/objectstorage/<namespace>/<bucket>/bucket.json`,
//! `objects/<sha256 of the name>.data` and `.json` (metadata holding the real name), and
//! `pars/<id>.json`. Object files are named by the hash of the object name so no name (`..`,
//! `/`, percent escapes) can ever address a path outside the bucket. Bucket names are checked
//! against OCI's character set before they name a directory.

pub mod handlers;
pub mod par;

use galley_oci::echo::echo;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::ApiError;
use crate::app::AppState;
use crate::store::{self, StoreError};
use par::ParRecord;

/// `Bucket` with the SDK's field names.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub namespace: String,
    pub name: String,
    pub compartment_id: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created_by: String,
    pub time_created: String,
    pub etag: String,
    pub public_access_type: String,
    pub storage_tier: String,
    pub object_events_enabled: bool,
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub defined_tags: BTreeMap<String, serde_json::Value>,
    pub id: String,
    pub versioning: String,
    pub replication_enabled: bool,
    pub is_read_only: bool,
    pub auto_tiering: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_size: Option<u64>,
}

/// What is stored beside each object.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    pub size: u64,
    /// Base64 MD5 of the content, as `content-md5` carries it.
    pub md5: String,
    pub etag: String,
    pub time_created: String,
    pub time_modified: String,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `opc-meta-*` headers, without the prefix.
    #[serde(default)]
    pub user_metadata: BTreeMap<String, String>,
}

/// How an object is written (the headers of PutObject).
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub content_disposition: Option<String>,
    pub cache_control: Option<String>,
    pub user_metadata: BTreeMap<String, String>,
    /// Base64 MD5 the body must have.
    pub content_md5: Option<String>,
    pub if_match: Option<String>,
    /// `*`: fail if the object exists.
    pub if_none_match: Option<String>,
}

pub fn os_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

/// Buckets, objects and PARs of the namespace.
pub struct ObjectStorage {
    root: PathBuf,
    namespace: String,
    pars: RwLock<HashMap<String, ParRecord>>,
    /// Serialises writes so a delete never races an upload into a half-state.
    write_lock: Mutex<()>,
}

impl ObjectStorage {
    pub fn open(data_dir: &Path, namespace: &str) -> Result<Self, StoreError> {
        let os = Self {
            root: data_dir.join("objectstorage").join(namespace),
            namespace: namespace.to_owned(),
            pars: RwLock::default(),
            write_lock: Mutex::new(()),
        };
        for bucket in store::subdirs(&os.root) {
            // Uploads a crash interrupted.
            store::remove_temp_files(&bucket.join("objects"));
            let Ok(entries) = std::fs::read_dir(bucket.join("pars")) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                match store::read_json::<ParRecord>(&entry.path()) {
                    Ok(par) => {
                        os.pars_mut().insert(par.token.clone(), par);
                    }
                    Err(e) => tracing::warn!(error = %e, "skipping an unreadable PAR"),
                }
            }
        }
        Ok(os)
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn pars_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ParRecord>> {
        self.pars.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// 404 unless `ns` is the served namespace.
    pub fn check_namespace(&self, ns: &str) -> Result<(), ApiError> {
        if ns == self.namespace {
            Ok(())
        } else {
            Err(os_error(
                StatusCode::NOT_FOUND,
                "NamespaceNotFound",
                format!("namespace {ns} was not found", ns = echo(ns)),
            ))
        }
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, ApiError> {
        if !valid_bucket_name(bucket) {
            return Err(ApiError::invalid(format!(
                "bucket name {bucket:?} must be 1 to 256 letters, digits, dashes, underscores and periods",
                bucket = echo(bucket)
            )));
        }
        Ok(self.root.join(bucket))
    }

    pub fn bucket(&self, ns: &str, bucket: &str) -> Result<Bucket, ApiError> {
        self.check_namespace(ns)?;
        let dir = self.bucket_dir(bucket)?;
        match store::read_json::<Bucket>(&dir.join("bucket.json")) {
            Ok(b) => Ok(b),
            Err(e) if e.is_not_found() => Err(bucket_not_found(bucket)),
            Err(e) => Err(e.into()),
        }
    }

    pub fn buckets(&self) -> Vec<Bucket> {
        let mut all: Vec<Bucket> = store::subdirs(&self.root)
            .into_iter()
            .filter_map(|d| store::read_json(&d.join("bucket.json")).ok())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn create_bucket(&self, bucket: Bucket) -> Result<Bucket, ApiError> {
        let _lock = self.lock();
        let dir = self.bucket_dir(&bucket.name)?;
        if dir.join("bucket.json").exists() {
            return Err(os_error(
                StatusCode::CONFLICT,
                "BucketAlreadyExists",
                format!("bucket {} already exists", bucket.name),
            ));
        }
        store::write_json(&dir.join("bucket.json"), &bucket)?;
        Ok(bucket)
    }

    pub fn delete_bucket(&self, ns: &str, name: &str) -> Result<(), ApiError> {
        let _lock = self.lock();
        self.bucket(ns, name)?;
        let dir = self.bucket_dir(name)?;
        let has_objects = std::fs::read_dir(dir.join("objects"))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if has_objects {
            return Err(os_error(
                StatusCode::CONFLICT,
                "BucketNotEmpty",
                format!(
                    "bucket {name} is not empty; delete its objects first",
                    name = echo(name)
                ),
            ));
        }
        self.pars_mut().retain(|_, p| p.bucket != name);
        std::fs::remove_dir_all(&dir).map_err(ApiError::internal)?;
        Ok(())
    }

    fn object_paths(&self, bucket: &str, name: &str) -> Result<(PathBuf, PathBuf), ApiError> {
        let dir = self.bucket_dir(bucket)?.join("objects");
        let key = hex::encode(Sha256::digest(name.as_bytes()));
        Ok((
            dir.join(format!("{key}.data")),
            dir.join(format!("{key}.json")),
        ))
    }

    pub fn object_meta(&self, ns: &str, bucket: &str, name: &str) -> Result<ObjectMeta, ApiError> {
        self.bucket(ns, bucket)?;
        let (_, meta) = self.object_paths(bucket, name)?;
        match store::read_json::<ObjectMeta>(&meta) {
            Ok(m) => Ok(m),
            Err(e) if e.is_not_found() => Err(object_not_found(bucket, name)),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's metadata and its content file, opened together under the write lock so
    /// that they belong to the same version (a concurrent upload replaces the file by rename;
    /// the open file keeps the version it was opened on).
    pub fn open_object(
        &self,
        ns: &str,
        bucket: &str,
        name: &str,
    ) -> Result<(ObjectMeta, std::fs::File), ApiError> {
        let _lock = self.lock();
        let meta = self.object_meta(ns, bucket, name)?;
        let (data, _) = self.object_paths(bucket, name)?;
        match std::fs::File::open(&data) {
            Ok(f) => Ok((meta, f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(object_not_found(bucket, name))
            }
            Err(e) => Err(ApiError::internal(format!(
                "failed to open {}: {e}",
                data.display()
            ))),
        }
    }

    /// Checks what can be checked before an upload's body is read (the name, the bucket, the
    /// `if-match` / `if-none-match` preconditions), and opens the temporary file it streams
    /// into. The preconditions are checked again when the upload is committed.
    pub fn begin_upload(
        &self,
        ns: &str,
        bucket: &str,
        name: &str,
        opts: &PutOptions,
    ) -> Result<Upload, ApiError> {
        if name.is_empty() || name.len() > 1024 || name.contains('\0') {
            return Err(ApiError::invalid(
                "object names must be 1 to 1024 bytes without NUL",
            ));
        }
        self.bucket(ns, bucket)?;
        let (data, meta_path) = self.object_paths(bucket, name)?;
        check_preconditions(
            opts,
            store::read_json::<ObjectMeta>(&meta_path).ok().as_ref(),
        )?;
        let (tmp, file) = store::TempFile::beside(&data)
            .map_err(|e| ApiError::internal(format!("failed to start an upload: {e}")))?;
        Ok(Upload {
            tmp,
            file,
            md5: Md5::new(),
            size: 0,
        })
    }

    /// Makes a complete upload the object's content: checks `content-md5`, then (under the
    /// write lock) the preconditions again, renames the file into place and writes the
    /// metadata. A refused upload's file is removed.
    pub fn commit_upload(
        &self,
        ns: &str,
        bucket: &str,
        name: &str,
        upload: Upload,
        opts: PutOptions,
    ) -> Result<ObjectMeta, ApiError> {
        use base64::Engine as _;
        let Upload {
            tmp,
            file,
            md5,
            size,
        } = upload;
        drop(file);
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5.finalize());
        if let Some(expected) = &opts.content_md5
            && expected.trim() != md5
        {
            return Err(os_error(
                StatusCode::BAD_REQUEST,
                "UnmatchedContentMD5",
                "the content-md5 header does not match the MD5 of the body",
            ));
        }
        let _lock = self.lock();
        self.bucket(ns, bucket)?;
        let (data, meta_path) = self.object_paths(bucket, name)?;
        let existing = store::read_json::<ObjectMeta>(&meta_path).ok();
        check_preconditions(&opts, existing.as_ref())?;
        let now = crate::clock::now();
        let meta = ObjectMeta {
            name: name.to_owned(),
            size,
            md5,
            etag: new_etag(),
            time_created: existing
                .as_ref()
                .map_or_else(|| now.clone(), |e| e.time_created.clone()),
            time_modified: now,
            content_type: opts
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            content_encoding: opts.content_encoding,
            content_language: opts.content_language,
            content_disposition: opts.content_disposition,
            cache_control: opts.cache_control,
            user_metadata: opts.user_metadata,
        };
        tmp.persist(&data)
            .map_err(|e| ApiError::internal(format!("failed to store {}: {e}", data.display())))?;
        store::write_json(&meta_path, &meta)?;
        Ok(meta)
    }

    /// Writes an object from memory, checking `content-md5`, `if-match` and `if-none-match`.
    pub fn put_object(
        &self,
        ns: &str,
        bucket: &str,
        name: &str,
        body: &[u8],
        opts: PutOptions,
    ) -> Result<ObjectMeta, ApiError> {
        let mut upload = self.begin_upload(ns, bucket, name, &opts)?;
        upload
            .write(body)
            .map_err(|e| ApiError::internal(format!("failed to write an object: {e}")))?;
        self.commit_upload(ns, bucket, name, upload, opts)
    }

    pub fn delete_object(
        &self,
        ns: &str,
        bucket: &str,
        name: &str,
        if_match: Option<&str>,
    ) -> Result<(), ApiError> {
        let _lock = self.lock();
        let meta = self.object_meta(ns, bucket, name)?;
        if let Some(m) = if_match
            && !etag_matches(m, &meta.etag)
        {
            return Err(os_error(
                StatusCode::PRECONDITION_FAILED,
                "IfMatchFailed",
                "the if-match etag does not match the object",
            ));
        }
        let (data, meta_path) = self.object_paths(bucket, name)?;
        let _ = std::fs::remove_file(meta_path);
        let _ = std::fs::remove_file(data);
        Ok(())
    }

    /// Every object's metadata in the bucket, sorted by name.
    pub fn list_objects(&self, ns: &str, bucket: &str) -> Result<Vec<ObjectMeta>, ApiError> {
        self.bucket(ns, bucket)?;
        let dir = self.bucket_dir(bucket)?.join("objects");
        let mut all: Vec<ObjectMeta> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .filter_map(|e| store::read_json(&e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Writes an object with default options (agent command output).
    pub fn put_bytes(
        &self,
        ns: &str,
        bucket: &str,
        name: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<(), ApiError> {
        let opts = PutOptions {
            content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        self.put_object(ns, bucket, name, body, opts).map(|_| ())
    }

    /// Reads an object's content (agent command scripts).
    pub fn get_bytes(&self, ns: &str, bucket: &str, name: &str) -> Result<Vec<u8>, ApiError> {
        use std::io::Read as _;
        let (meta, mut file) = self.open_object(ns, bucket, name)?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| ApiError::internal(format!("failed to read an object: {e}")))?;
        Ok(bytes)
    }

    pub fn par_dir(&self, bucket: &str) -> Result<PathBuf, ApiError> {
        Ok(self.bucket_dir(bucket)?.join("pars"))
    }

    pub fn par_by_token(&self, token: &str) -> Option<ParRecord> {
        self.pars
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    pub fn pars_of(&self, bucket: &str) -> Vec<ParRecord> {
        let mut all: Vec<ParRecord> = self
            .pars
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|p| p.bucket == bucket)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.time_created.cmp(&b.time_created));
        all
    }

    pub fn save_par(&self, par: ParRecord) -> Result<(), ApiError> {
        store::write_json(
            &self.par_dir(&par.bucket)?.join(format!("{}.json", par.id)),
            &par,
        )?;
        self.pars_mut().insert(par.token.clone(), par);
        Ok(())
    }

    pub fn delete_par(&self, bucket: &str, id: &str) -> Result<(), ApiError> {
        let mut pars = self.pars_mut();
        let token = pars
            .values()
            .find(|p| p.bucket == bucket && p.id == id)
            .map(|p| p.token.clone())
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "pre-authenticated request {id} was not found",
                    id = echo(id)
                ))
            })?;
        pars.remove(&token);
        let _ = std::fs::remove_file(self.par_dir(bucket)?.join(format!("{id}.json")));
        Ok(())
    }
}

fn valid_bucket_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub fn bucket_not_found(bucket: &str) -> ApiError {
    os_error(
        StatusCode::NOT_FOUND,
        "BucketNotFound",
        format!("bucket {bucket} was not found", bucket = echo(bucket)),
    )
}

pub fn object_not_found(bucket: &str, name: &str) -> ApiError {
    os_error(
        StatusCode::NOT_FOUND,
        "ObjectNotFound",
        format!(
            "object {name} was not found in bucket {bucket}",
            name = echo(name),
            bucket = echo(bucket)
        ),
    )
}

/// An object upload in progress: its temporary file (removed unless committed), and the MD5
/// and size of what was written so far.
pub struct Upload {
    tmp: store::TempFile,
    file: std::fs::File,
    md5: Md5,
    size: u64,
}

impl Upload {
    /// Appends a chunk of the body.
    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        self.file.write_all(chunk)?;
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// `if-match` and `if-none-match: *` of an upload against the current object.
fn check_preconditions(opts: &PutOptions, existing: Option<&ObjectMeta>) -> Result<(), ApiError> {
    if let Some(if_match) = &opts.if_match
        && existing.is_none_or(|e| !etag_matches(if_match, &e.etag))
    {
        return Err(os_error(
            StatusCode::PRECONDITION_FAILED,
            "IfMatchFailed",
            "the if-match etag does not match the object",
        ));
    }
    if let Some(inm) = &opts.if_none_match
        && inm.trim() == "*"
        && existing.is_some()
    {
        return Err(os_error(
            StatusCode::PRECONDITION_FAILED,
            "IfNoneMatchFailed",
            "the object already exists and if-none-match is *",
        ));
    }
    Ok(())
}

fn new_etag() -> String {
    let t = crate::ids::token(32).to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &t[..8],
        &t[8..12],
        &t[12..16],
        &t[16..20],
        &t[20..32]
    )
}

fn etag_matches(header: &str, etag: &str) -> bool {
    let h = header.trim().trim_matches('"');
    h == "*" || h == etag
}

/// Routes under `/n` and `/p`.
pub fn routes() -> Router<AppState> {
    use handlers::*;
    Router::new()
        .route("/n", get(get_namespace))
        .route("/n/", get(get_namespace))
        .route("/n/{ns}", get(get_namespace_metadata))
        .route("/n/{ns}/b", get(list_buckets).post(create_bucket))
        .route("/n/{ns}/b/", get(list_buckets).post(create_bucket))
        .route(
            "/n/{ns}/b/{bucket}",
            get(get_bucket).head(head_bucket).delete(delete_bucket),
        )
        .route(
            "/n/{ns}/b/{bucket}/",
            get(get_bucket).head(head_bucket).delete(delete_bucket),
        )
        .route("/n/{ns}/b/{bucket}/o", get(list_objects))
        .route("/n/{ns}/b/{bucket}/o/", get(list_objects))
        .route(
            "/n/{ns}/b/{bucket}/o/{*object}",
            get(get_object)
                .head(head_object)
                .put(put_object)
                .delete(delete_object),
        )
        .route(
            "/n/{ns}/b/{bucket}/p",
            post(par::create_par).get(par::list_pars),
        )
        .route(
            "/n/{ns}/b/{bucket}/p/",
            post(par::create_par).get(par::list_pars),
        )
        .route(
            "/n/{ns}/b/{bucket}/p/{par_id}",
            get(par::get_par).delete(par::delete_par),
        )
        .route(
            "/p/{token}/n/{ns}/b/{bucket}/o/{*object}",
            get(par::par_get).head(par::par_head).put(par::par_put),
        )
}
