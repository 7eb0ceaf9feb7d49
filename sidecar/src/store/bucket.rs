//! The bucket store (`GALLEY_STATE_BUCKET`): sessions, their stack files, saved plans and the
//! runner's objects in an Object Storage bucket, the data directory being only a cache.
//!
//! Objects, under `sessions/`:
//! - `<id>.json`: the record, the session together with its stack's manifest (path, SHA-256 and
//!   executable bit of every file). It is the one object an update writes conditionally
//!   (`if-match` the ETag it was read at; `if-none-match: *` when created), so an update either
//!   lands whole or not at all, and two sidecars never lose each other's changes: the one that
//!   raced gets [`StoreError::Conflict`].
//! - `<id>/files/<sha256>`: stack file contents, by content, written (`if-none-match: *`) before
//!   the record that names them; a failed update leaves only unreferenced contents.
//! - `<id>/plans/<sha256>`: saved plans, by content (a plan token names its plan's digest).
//! - `<id>/runner/<name>`: the runner's objects (lease, Terraform state, state lock), written
//!   conditionally on the ETag read.
//!
//! Reads hit a cache of records in memory, validated by one HEAD (its ETag) per read; the local
//! stack directory a run needs is brought to the manifest before the run (contents fetched by
//! digest and checked against it).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use galley_oci::client::OciError;
use galley_oci::object_storage::{ListObjectsRequest, ObjectStorageClient, PutObjectOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    Backend, Cond, Durability, HashedFile, Loaded, LocalStore, StackFile, StackWrite, StoreError,
    Version, VersionedBytes, stack_path, validate_session_id,
};
use crate::model::Session;

/// Prefix of every object the store writes.
const PREFIX: &str = "sessions/";
/// Sessions whose record the cache keeps, by default.
pub const DEFAULT_CACHE_SESSIONS: usize = 64;

/// How calls to the bucket are retried: a few quick attempts, as a tool call waits for them
/// (429, 5xx and connection failures only; conditional writes only when the request never
/// left).
pub fn retry_policy() -> galley_oci::client::RetryPolicy {
    galley_oci::client::RetryPolicy {
        max_attempts: 4,
        base_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_secs(2),
        max_elapsed: std::time::Duration::from_secs(20),
        max_retry_after: std::time::Duration::from_secs(5),
    }
}

/// How long one call to the bucket may take.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

const READ_ADVICE: &str = "Nothing was changed; try again once Object Storage answers.";
const WRITE_ADVICE: &str = "The session was not changed; try again once Object Storage answers.";
const COMMIT_ADVICE: &str = "The change was most likely not saved: call get_session to see the session as stored, and make the change again if it is missing.";
const OBJECT_ADVICE: &str = "Try again once Object Storage answers.";

/// One stack file in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Hex SHA-256 of the content (the name of its object).
    pub sha256: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

/// A stack's files by `/`-separated path.
pub type Manifest = BTreeMap<String, FileRef>;

/// What `sessions/<id>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    session: Session,
    #[serde(default)]
    stack: Manifest,
}

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct BucketConfig {
    pub client: ObjectStorageClient,
    pub namespace: String,
    pub bucket: String,
    /// Sessions whose record is kept in memory.
    pub cache_sessions: usize,
}

struct Cached {
    version: Version,
    session: Session,
    manifest: Arc<Manifest>,
    used: u64,
}

/// The bucket store.
pub struct BucketStore {
    client: ObjectStorageClient,
    namespace: String,
    bucket: String,
    local: LocalStore,
    cache: Mutex<(HashMap<String, Cached>, u64)>,
    cache_sessions: usize,
}

fn record_key(id: &str) -> String {
    format!("{PREFIX}{id}.json")
}

fn file_key(id: &str, sha256: &str) -> String {
    format!("{PREFIX}{id}/files/{sha256}")
}

fn plan_key(id: &str, sha256: &str) -> String {
    format!("{PREFIX}{id}/plans/{sha256}")
}

fn object_key(id: &str, name: &str) -> String {
    format!("{PREFIX}{id}/runner/{name}")
}

fn remote(what: String, advice: &'static str) -> impl FnOnce(OciError) -> StoreError {
    move |source| StoreError::Remote {
        what,
        source: Box::new(source),
        advice,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl BucketStore {
    /// Opens the cache under `data_dir` and checks the bucket can be read.
    pub async fn open(data_dir: &Path, config: BucketConfig) -> Result<Self, StoreError> {
        let local = LocalStore::open(data_dir)?;
        config
            .client
            .get_bucket(&config.namespace, &config.bucket)
            .await
            .map_err(remote(
                format!(
                    "open the state bucket {} in namespace {}",
                    config.bucket, config.namespace
                ),
                "Create the bucket (with versioning enabled, so earlier versions of sessions and state can be restored), or fix GALLEY_STATE_BUCKET and GALLEY_STATE_NAMESPACE, and check the sidecar's principal may manage objects in it.",
            ))?;
        Ok(BucketStore {
            client: config.client,
            namespace: config.namespace,
            bucket: config.bucket,
            local,
            cache: Mutex::default(),
            cache_sessions: config.cache_sessions.max(1),
        })
    }

    fn cached(&self, id: &str, version: &Version) -> Option<Loaded> {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (map, clock) = &mut *guard;
        *clock += 1;
        let tick = *clock;
        let c = map.get_mut(id).filter(|c| &c.version == version)?;
        c.used = tick;
        Some(Loaded {
            session: c.session.clone(),
            version: c.version.clone(),
            manifest: Some(c.manifest.clone()),
        })
    }

    fn remember(&self, id: &str, version: Version, session: Session, manifest: Arc<Manifest>) {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (map, clock) = &mut *guard;
        *clock += 1;
        map.insert(
            id.to_string(),
            Cached {
                version,
                session,
                manifest,
                used: *clock,
            },
        );
        while map.len() > self.cache_sessions {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
    }

    fn forget(&self, id: &str) {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.remove(id);
    }

    /// GETs the record of `id` (whatever the cache has).
    async fn fetch(&self, id: &str) -> Result<Loaded, StoreError> {
        let reply = match self
            .client
            .get_object(&self.namespace, &self.bucket, &record_key(id))
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Err(StoreError::NotFound(id.to_string())),
            Err(e) => {
                return Err(remote(format!("read session {id}"), READ_ADVICE)(e));
            }
        };
        let record: Record =
            serde_json::from_slice(&reply.value.body).map_err(|source| StoreError::Corrupt {
                id: id.to_string(),
                source,
            })?;
        let version = Version(reply.value.head.etag.clone().unwrap_or_default());
        let manifest = Arc::new(record.stack);
        if !version.0.is_empty() {
            self.remember(
                id,
                version.clone(),
                record.session.clone(),
                manifest.clone(),
            );
        }
        Ok(Loaded {
            session: record.session,
            version,
            manifest: Some(manifest),
        })
    }

    async fn get_bytes(&self, key: &str, what: String) -> Result<Option<Bytes>, StoreError> {
        match self
            .client
            .get_object(&self.namespace, &self.bucket, key)
            .await
        {
            Ok(r) => Ok(Some(r.value.body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(remote(what, READ_ADVICE)(e)),
        }
    }

    /// Writes `bytes` under `key` unless an object is there already (contents by digest: the
    /// one there is the same).
    async fn put_new(&self, key: &str, bytes: Bytes, what: String) -> Result<(), StoreError> {
        let options = PutObjectOptions {
            if_none_match: Some("*".into()),
            ..PutObjectOptions::default()
        };
        match self
            .client
            .put_object(&self.namespace, &self.bucket, key, bytes, &options)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_precondition_failed() => Ok(()),
            Err(e) => Err(remote(what, WRITE_ADVICE)(e)),
        }
    }

    /// The content of stack file `rel` of session `id` with digest `sha256`, checked.
    async fn file_content(&self, id: &str, rel: &str, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let bytes = self
            .get_bytes(&file_key(id, sha256), format!("read {rel} of session {id}"))
            .await?
            .ok_or_else(|| StoreError::BadObject {
                id: id.to_string(),
                name: file_key(id, sha256),
                reason: format!("the content of {rel} is missing from the bucket"),
            })?;
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::BadObject {
                id: id.to_string(),
                name: file_key(id, sha256),
                reason: format!("the content of {rel} does not match its digest"),
            });
        }
        Ok(bytes.to_vec())
    }
}

fn manifest_of(loaded: &Loaded) -> &Manifest {
    static EMPTY: std::sync::OnceLock<Manifest> = std::sync::OnceLock::new();
    loaded
        .manifest
        .as_deref()
        .unwrap_or_else(|| EMPTY.get_or_init(Manifest::new))
}

fn decode_hash(hex_digest: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let _ = hex::decode_to_slice(hex_digest, &mut out);
    out
}

impl Backend for BucketStore {
    fn local(&self) -> &LocalStore {
        &self.local
    }

    fn create<'a>(
        &'a self,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Option<Version>, StoreError>> {
        Box::pin(async move {
            validate_session_id(&session.id)?;
            let record = Record {
                session: session.clone(),
                stack: Manifest::new(),
            };
            let body =
                serde_json::to_vec_pretty(&record).map_err(|source| StoreError::Corrupt {
                    id: session.id.clone(),
                    source,
                })?;
            let options = PutObjectOptions {
                content_type: Some("application/json".into()),
                if_none_match: Some("*".into()),
                ..PutObjectOptions::default()
            };
            let put = self
                .client
                .put_object(
                    &self.namespace,
                    &self.bucket,
                    &record_key(&session.id),
                    Bytes::from(body),
                    &options,
                )
                .await;
            match put {
                Ok(r) => {
                    let version = Version(r.value.etag.unwrap_or_default());
                    self.remember(
                        &session.id,
                        version.clone(),
                        session.clone(),
                        Arc::new(Manifest::new()),
                    );
                    Ok(Some(version))
                }
                Err(e) if e.is_precondition_failed() => Ok(None),
                Err(e) => Err(remote(
                    format!("create session {}", session.id),
                    WRITE_ADVICE,
                )(e)),
            }
        })
    }

    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Loaded, StoreError>> {
        Box::pin(async move {
            let head = self
                .client
                .head_object(&self.namespace, &self.bucket, &record_key(id))
                .await
                .map_err(remote(format!("read session {id}"), READ_ADVICE))?;
            let Some(head) = head else {
                self.forget(id);
                return Err(StoreError::NotFound(id.to_string()));
            };
            if let Some(etag) = head.value.etag
                && let Some(hit) = self.cached(id, &Version(etag))
            {
                return Ok(hit);
            }
            self.fetch(id).await
        })
    }

    fn commit<'a>(
        &'a self,
        loaded: &'a Loaded,
        session: &'a Session,
        writes: &'a [StackWrite],
        _durability: Durability,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let id = session.id.as_str();
            let mut manifest = manifest_of(loaded).clone();
            for w in writes {
                let sha256 = sha256_hex(&w.bytes);
                self.put_new(
                    &file_key(id, &sha256),
                    Bytes::from(w.bytes.clone()),
                    format!("store {} of session {id}", w.rel),
                )
                .await?;
                manifest.insert(
                    w.parts.join("/"),
                    FileRef {
                        sha256,
                        executable: false,
                    },
                );
            }
            let record = Record {
                session: session.clone(),
                stack: manifest,
            };
            let body =
                serde_json::to_vec_pretty(&record).map_err(|source| StoreError::Corrupt {
                    id: id.to_string(),
                    source,
                })?;
            let options = PutObjectOptions {
                content_type: Some("application/json".into()),
                if_match: Some(loaded.version.0.clone()),
                ..PutObjectOptions::default()
            };
            let put = self
                .client
                .put_object(
                    &self.namespace,
                    &self.bucket,
                    &record_key(id),
                    Bytes::from(body),
                    &options,
                )
                .await;
            let version = match put {
                Ok(r) => Version(r.value.etag.unwrap_or_default()),
                Err(e) if e.is_precondition_failed() => {
                    self.forget(id);
                    return Err(StoreError::Conflict { id: id.to_string() });
                }
                Err(e) => {
                    self.forget(id);
                    return Err(remote(format!("save session {id}"), COMMIT_ADVICE)(e));
                }
            };
            let manifest = Arc::new(record.stack);
            self.remember(id, version, record.session, manifest);
            // The cache's stack follows at once when it exists; a run brings it up to date
            // anyway, so a failure here is only logged.
            if self.local.has_session_dir(id).unwrap_or(false) {
                for w in writes {
                    if let Err(e) =
                        self.local
                            .write_stack_file(id, &w.rel, &w.bytes, Durability::Atomic)
                    {
                        tracing::warn!(session = %id, error = %e, "failed to update the cache of a stack file");
                    }
                }
            }
            Ok(())
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Session>, StoreError>> {
        Box::pin(async move {
            let query = ListObjectsRequest {
                prefix: Some(PREFIX.into()),
                delimiter: Some("/".into()),
                fields: Some("name,etag".into()),
                ..ListObjectsRequest::default()
            };
            let listing = self
                .client
                .list_all_objects(&self.namespace, &self.bucket, &query)
                .await
                .map_err(remote("list the sessions".into(), READ_ADVICE))?;
            let mut out = Vec::new();
            for object in listing.objects {
                let Some(id) = object
                    .name
                    .strip_prefix(PREFIX)
                    .and_then(|n| n.strip_suffix(".json"))
                else {
                    continue;
                };
                if validate_session_id(id).is_err() {
                    continue;
                }
                let hit = object.etag.and_then(|etag| self.cached(id, &Version(etag)));
                let loaded = match hit {
                    Some(l) => Ok(l),
                    None => self.fetch(id).await,
                };
                match loaded {
                    Ok(l) => out.push(l.session),
                    Err(StoreError::Remote {
                        what,
                        source,
                        advice,
                    }) => {
                        return Err(StoreError::Remote {
                            what,
                            source,
                            advice,
                        });
                    }
                    Err(e) => {
                        tracing::warn!(session = %id, error = %e, "skipping unreadable session")
                    }
                }
            }
            out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            Ok(out)
        })
    }

    fn stack(&self, loaded: &Loaded, _hash: bool) -> Result<Vec<HashedFile>, StoreError> {
        // A BTreeMap of `/`-separated paths: sorted by their bytes, as the digest wants.
        Ok(manifest_of(loaded)
            .iter()
            .map(|(rel, f)| {
                (
                    StackFile {
                        rel: rel.clone(),
                        executable: f.executable,
                    },
                    Some(decode_hash(&f.sha256)),
                )
            })
            .collect())
    }

    fn stack_file_hash(
        &self,
        loaded: &Loaded,
        parts: &[String],
    ) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(manifest_of(loaded)
            .get(&parts.join("/"))
            .map(|f| decode_hash(&f.sha256)))
    }

    fn sync_stack<'a>(&'a self, loaded: &'a Loaded) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let id = loaded.session.id.as_str();
            self.local.ensure_session_dir(id)?;
            let manifest = manifest_of(loaded);
            let mut fetched: HashMap<String, Vec<u8>> = HashMap::new();
            for (rel, f) in manifest {
                let parts = stack_path(rel)?;
                let want = decode_hash(&f.sha256);
                if self.local.stack_file_hash(id, &parts)? != Some(want) {
                    fetched.insert(rel.clone(), self.file_content(id, rel, &f.sha256).await?);
                }
            }
            let files: Vec<(String, [u8; 32])> = manifest
                .iter()
                .map(|(rel, f)| (rel.clone(), decode_hash(&f.sha256)))
                .collect();
            let n = self.local.mirror_stack(id, &files, |rel| {
                fetched.remove(rel).ok_or_else(|| StoreError::Unexpected {
                    place: super::Place {
                        session: Some(Arc::from(id)),
                        rel: format!("terraform/{rel}"),
                    },
                    what: "changed while the stack was brought up to date; try again".into(),
                })
            })?;
            if n > 0 {
                tracing::info!(session = %id, files = n, "fetched stack files into the cache");
            }
            Ok(())
        })
    }

    fn keep_plan<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let Some((bytes, digest)) = self.local.read_object(id, name)? else {
                return Ok(None);
            };
            self.put_new(
                &plan_key(id, &digest.0),
                Bytes::from(bytes),
                format!("store the saved plan of session {id}"),
            )
            .await?;
            Ok(Some(digest.0))
        })
    }

    fn fetch_plan<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.local.ensure_session_dir(id)?;
            if self.local.runner_file_digest(id, name)?.as_deref() == Some(digest) {
                return Ok(());
            }
            let Some(bytes) = self
                .get_bytes(
                    &plan_key(id, digest),
                    format!("read the saved plan of session {id}"),
                )
                .await?
            else {
                return Ok(());
            };
            if sha256_hex(&bytes) == digest {
                self.local.put_runner_file(id, name, &bytes)?;
            }
            Ok(())
        })
    }

    fn get_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<VersionedBytes>, StoreError>> {
        Box::pin(async move {
            match self
                .client
                .get_object(&self.namespace, &self.bucket, &object_key(id, name))
                .await
            {
                Ok(r) => Ok(Some((
                    r.value.body.to_vec(),
                    Version(r.value.head.etag.unwrap_or_default()),
                ))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(remote(
                    format!("read {name} of session {id}"),
                    OBJECT_ADVICE,
                )(e)),
            }
        })
    }

    fn put_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        bytes: Vec<u8>,
        cond: Cond,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        Box::pin(async move {
            let mut options = PutObjectOptions::default();
            match cond {
                Cond::Absent => options.if_none_match = Some("*".into()),
                Cond::Matches(v) => options.if_match = Some(v.0),
            }
            match self
                .client
                .put_object(
                    &self.namespace,
                    &self.bucket,
                    &object_key(id, name),
                    Bytes::from(bytes),
                    &options,
                )
                .await
            {
                Ok(r) => Ok(Version(r.value.etag.unwrap_or_default())),
                Err(e) if e.is_precondition_failed() => {
                    Err(StoreError::Conflict { id: id.to_string() })
                }
                Err(e) => Err(remote(
                    format!("write {name} of session {id}"),
                    OBJECT_ADVICE,
                )(e)),
            }
        })
    }

    fn delete_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        cond: Cond,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let if_match = match &cond {
                Cond::Matches(v) => Some(v.0.as_str()),
                // Removing what is not there is done.
                Cond::Absent => return Ok(()),
            };
            match self
                .client
                .delete_object(
                    &self.namespace,
                    &self.bucket,
                    &object_key(id, name),
                    if_match,
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) if e.is_precondition_failed() => {
                    Err(StoreError::Conflict { id: id.to_string() })
                }
                Err(e) => Err(remote(
                    format!("remove {name} of session {id}"),
                    OBJECT_ADVICE,
                )(e)),
            }
        })
    }
}
