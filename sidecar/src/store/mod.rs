//! The session store, behind one interface with two implementations: a directory
//! (`<data dir>/sessions/<id>/session.json`, the generated stack in `terraform/`, the runner's
//! root module in `runner/`; see `local`) and an Object Storage bucket (`GALLEY_STATE_BUCKET`;
//! see `bucket`), for which the directory is only a cache. Owns session ids (generation and
//! validation), the resolution of client-supplied paths inside a session's stack, which stack
//! files a plan covers (the digest), updates of a session as one conditional step (an update
//! that raced another is refused, never silently lost), the runner's objects (the Terraform
//! state and its lock), and the per-session lease of heavy operations (`lease`).
//!
//! Everything inside a local session directory is reached through `dir` (no symbolic link is
//! ever followed; a link anywhere in a session is refused and named) and created private to the
//! user. Errors name files relative to their session, never by a server path.
//!
//! # Layout
//! - `dir`: directory handles that never follow a link; `local`: the directory store.
//! - `bucket`: the bucket store (conditional writes, stack files by content, a cache of
//!   sessions validated by ETag).
//! - `lease`: the lease a heavy operation holds on its session, renewed while held.

mod bucket;
mod dir;
pub mod lease;
mod local;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component as PathComponent, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

pub use bucket::{BucketConfig, BucketStore, CALL_TIMEOUT, DEFAULT_CACHE_SESSIONS, retry_policy};
pub use dir::{DIR_MODE, Dir, FILE_MODE, Kind, Place};
pub use lease::{Lease, LeaseInfo, LeaseSettings};
pub use local::LocalStore;

use crate::model::{Architecture, Session, SessionStatus, now_secs};

/// Prefix of every session id.
const ID_PREFIX: &str = "s-";
/// Characters after the prefix: lower-case RFC 4648 base32, so ids are safe file names.
const ID_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const ID_LEN: usize = 12;
/// Deepest path `update_terraform_file` accepts below the stack directory.
const MAX_PATH_DEPTH: usize = 4;
/// Largest file `update_terraform_file` writes.
pub const MAX_STACK_FILE_BYTES: usize = 1 << 20;
/// Largest `session.json` read (the design limits keep real ones far smaller).
const MAX_SESSION_BYTES: usize = 64 << 20;
/// Deepest directory walked in a stack or a session (what the sidecar writes is at most
/// `MAX_PATH_DEPTH` deep; deeper trees were put there by hand).
const MAX_WALK_DEPTH: usize = 16;
/// Most files a stack may hold for the sidecar to plan it.
const MAX_STACK_FILES: usize = 10_000;
/// Age from which a temporary file is a crash's leftover rather than a write in progress.
const STALE_TEMPORARY_SECS: i64 = 600;

/// An object's bytes and the version they were read at.
pub type VersionedBytes = (Vec<u8>, Version);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "session id {0:?} is not valid: ids look like `s-` followed by 12 characters a-z and 2-7, as create_session returns them"
    )]
    InvalidId(String),
    #[error(
        "session {0} was not found; call list_sessions to see existing sessions or create_session to start one"
    )]
    NotFound(String),
    #[error("file path {path:?} is refused: {reason}")]
    PathRefused { path: String, reason: String },
    #[error(
        "{place} is a symbolic link; the sidecar follows no link inside a session (a link could point anywhere, and a plan must cover exactly the files Resource Manager gets): replace it with the file or directory itself"
    )]
    Symlink { place: Place },
    #[error("{place} {what}")]
    Unexpected { place: Place, what: String },
    #[error("{place} is larger than {limit} bytes")]
    TooLarge { place: Place, limit: usize },
    #[error("failed to {action} {place}: {source}")]
    Io {
        action: &'static str,
        place: Place,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read session {id}: {source}")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "session {id} was changed elsewhere (another sidecar, or another call) after this call read it, so this change was not saved: call get_session to re-read the session, then make the change again"
    )]
    Conflict { id: String },
    #[error("failed to {what} in Object Storage: {source}. {advice}")]
    Remote {
        what: String,
        // Boxed: the client's error is large, and every store call returns this enum.
        #[source]
        source: Box<galley_oci::client::OciError>,
        advice: &'static str,
    },
    #[error(
        "session {id} is busy: {holder} is running {} on it, and its lease of the session ends at {until} unless renewed; wait for that run to finish, then try again (a sidecar that stopped frees the session once its lease ends)",
        with_article(operation)
    )]
    Busy {
        id: String,
        holder: String,
        operation: String,
        until: String,
    },
    #[error("object {name} of session {id} is not valid: {reason}")]
    BadObject {
        id: String,
        name: String,
        reason: String,
    },
}

/// `a plan`, `an apply`.
fn with_article(word: &str) -> String {
    let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {word}")
}

impl StoreError {
    /// The change raced another one and was not saved.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

/// Makes a new random session id.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; ID_LEN];
    // The OS RNG failing is not recoverable in any useful way; fall back to time so ids stay unique.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> (i * 5)) as u8;
        }
    }
    let mut id = String::with_capacity(ID_PREFIX.len() + ID_LEN);
    id.push_str(ID_PREFIX);
    for b in bytes {
        id.push(ID_ALPHABET[(b & 31) as usize] as char);
    }
    id
}

/// Checks an id against the exact shape `new_session_id` produces.
pub fn validate_session_id(id: &str) -> Result<(), StoreError> {
    let ok = id
        .strip_prefix(ID_PREFIX)
        .is_some_and(|rest| rest.len() == ID_LEN && rest.bytes().all(|b| ID_ALPHABET.contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidId(id.chars().take(64).collect()))
    }
}

/// How hard a write insists on reaching the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Readers, and a process that crashes, see the old or the new file, never a torn one; a
    /// power loss may lose the last seconds of such writes. For design edits, which are cheap to
    /// redo (a plan token is bound to the files' digest, so a reverted file only costs a plan).
    Atomic,
    /// Also on disk when the call returns (fsync of the file, then of the directory). For what a
    /// run decides: plan tokens, run results, the runner's files.
    Flushed,
}

/// Writes `bytes` to `path` so readers see the old or the new file, never a torn one (flushed).
/// For the runner's own files, in a directory [`SessionStore::runner_dir`] checked.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_file(path, bytes, Durability::Flushed)
}

/// [`write_atomic`] with the durability chosen by the caller: a private temporary file in the
/// same directory (never through a link), renamed over `path`.
pub fn write_file(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), StoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let place = Place {
        session: None,
        rel: name.clone(),
    };
    let io = |action: &'static str| {
        let place = place.clone();
        move |source| StoreError::Io {
            action,
            place,
            source,
        }
    };
    let dir = path.parent().ok_or_else(|| StoreError::Unexpected {
        place: place.clone(),
        what: "has no directory".into(),
    })?;
    let mut suffix = [0u8; 6];
    let _ = getrandom::fill(&mut suffix);
    let tmp = dir.join(format!(".{name}.tmp-{}", hex::encode(suffix)));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(io("create"))?;
        f.write_all(bytes).map_err(io("write"))?;
        if durability == Durability::Flushed {
            f.sync_all().map_err(io("sync"))?;
        }
        fs::rename(&tmp, path).map_err(io("rename into place"))?;
        if durability == Durability::Flushed
            && let Ok(d) = fs::File::open(dir)
        {
            // Directory fsync makes the rename durable; some filesystems refuse it, which is fine.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What the Galley provider never packages (its built-in exclusions): Terraform's working
/// directory, git metadata, state files and the ignore file. Everything else in a stack,
/// hidden files included, is packaged and so is covered by the digest. A `.galleyignore` can
/// only leave more files out of the package; the digest still covers them (and the ignore file
/// itself), so every change the provider sees is a change the digest sees.
fn excluded_dir(name: &str) -> bool {
    name == ".git" || name == ".terraform"
}

fn excluded_file(name: &str) -> bool {
    name.contains(".tfstate")
}

/// A stack file with the SHA-256 of its content, when asked for.
type HashedFile = (StackFile, Option<[u8; 32]>);

/// One file of a stack, as the provider packages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFile {
    /// Relative path with `/` separators.
    pub rel: String,
    pub executable: bool,
}

/// The runner objects of a session: the Terraform state kept for the runner's `http` backend,
/// its lock, and the lease of heavy operations.
pub mod objects {
    /// The runner's Terraform state.
    pub const STATE: &str = "terraform.tfstate";
    /// The lock of that state, as Terraform's `http` backend takes it.
    pub const STATE_LOCK: &str = "terraform.tflock";
    /// The lease of a heavy operation.
    pub const LEASE: &str = "lease.json";
}

/// A stored version of a session or an object: the SHA-256 of its bytes (directory) or its
/// ETag (bucket). Conditional writes compare it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

impl Version {
    /// The version of `bytes` in the directory store.
    pub fn of(bytes: &[u8]) -> Self {
        Version(hex::encode(Sha256::digest(bytes)))
    }
}

/// The condition of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Only when nothing is stored (`if-none-match: *`).
    Absent,
    /// Only when this version is stored (`if-match`).
    Matches(Version),
}

impl Cond {
    /// Whether the condition holds with `current` stored.
    pub fn holds(&self, current: Option<&Version>) -> bool {
        match self {
            Cond::Absent => current.is_none(),
            Cond::Matches(v) => current == Some(v),
        }
    }

    /// `Matches` the version when there is one, else `Absent`.
    pub fn from_current(current: Option<&Version>) -> Self {
        current.map_or(Cond::Absent, |v| Cond::Matches(v.clone()))
    }
}

/// A file an update writes into the session's stack.
#[derive(Debug, Clone)]
pub struct StackWrite {
    /// As the tool was given it (checked by `stack_path`).
    pub rel: String,
    /// Its segments.
    pub parts: Vec<String>,
    pub bytes: Vec<u8>,
}

/// A session as read for an update: its version and, in the bucket store, its stack's manifest.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub session: Session,
    pub version: Version,
    /// The stack's files by path with their SHA-256 (the bucket store's record of them).
    pub manifest: Option<Arc<bucket::Manifest>>,
}

/// The SHA-256 of one line per file, sorted by path, `<sha256 of the content, hex> <644|755>
/// <path>\n`: the Galley provider's digest of what it packages.
pub fn digest_of(files: &[HashedFile]) -> String {
    let mut manifest = Sha256::new();
    for (f, hash) in files {
        manifest.update(hex::encode(hash.unwrap_or_default()).as_bytes());
        manifest.update(if f.executable { b" 755 " } else { b" 644 " });
        manifest.update(f.rel.as_bytes());
        manifest.update(b"\n");
    }
    hex::encode(manifest.finalize())
}

/// What a store implementation does; [`SessionStore`] adds what both share (the update lock,
/// ids, path checks, the lease).
pub trait Backend: Send + Sync + 'static {
    /// The local directory: the store itself, or the cache of the bucket's sessions.
    fn local(&self) -> &LocalStore;
    /// Writes a new session; `None` when its id is taken.
    fn create<'a>(
        &'a self,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Option<Version>, StoreError>>;
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Loaded, StoreError>>;
    /// Writes `writes` and `session`, only if the session is still at `loaded`'s version.
    fn commit<'a>(
        &'a self,
        loaded: &'a Loaded,
        session: &'a Session,
        writes: &'a [StackWrite],
        durability: Durability,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn list(&self) -> BoxFuture<'_, Result<Vec<Session>, StoreError>>;
    /// The stack's files (hashed when asked) as of `loaded`.
    fn stack(&self, loaded: &Loaded, hash: bool) -> Result<Vec<HashedFile>, StoreError>;
    /// The SHA-256 of one stack file as of `loaded`.
    fn stack_file_hash(
        &self,
        loaded: &Loaded,
        parts: &[String],
    ) -> Result<Option<[u8; 32]>, StoreError>;
    /// Makes the local stack directory what `loaded` says (the bucket store's cache).
    fn sync_stack<'a>(&'a self, loaded: &'a Loaded) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Keeps the saved plan `runner/<name>` (the bucket store uploads it by its digest);
    /// returns its digest, `None` when there is no such file.
    fn keep_plan<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
    /// Makes `runner/<name>` the saved plan with `digest` when it is kept somewhere.
    fn fetch_plan<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn get_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<VersionedBytes>, StoreError>>;
    fn put_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        bytes: Vec<u8>,
        cond: Cond,
    ) -> BoxFuture<'a, Result<Version, StoreError>>;
    fn delete_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        cond: Cond,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Why an update was not made: the caller's closure refused it, or the store failed.
#[derive(Debug)]
pub enum UpdateError<E> {
    Refused(E),
    Store(StoreError),
}

/// What an update's closure may do beside changing the session: write stack files (all
/// written with the session, as one step) and read what the stack is.
pub struct Edit<'a> {
    backend: &'a dyn Backend,
    loaded: &'a Loaded,
    writes: Vec<StackWrite>,
}

impl Edit<'_> {
    /// Queues `bytes` for the stack file at `rel` (checked like a tool's path: plain names, at
    /// most four directories deep, no hidden names or state files); true when it differs from
    /// what the stack holds. A file that already says this is left alone.
    pub fn write_stack_file(&mut self, rel: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        let parts = stack_path(rel)?;
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let current = match self.writes.iter().rev().find(|w| w.parts == parts) {
            Some(w) => Some(Sha256::digest(&w.bytes).into()),
            None => self.backend.stack_file_hash(self.loaded, &parts)?,
        };
        let changed = current != Some(hash);
        if changed {
            self.writes.retain(|w| w.parts != parts);
            self.writes.push(StackWrite {
                rel: rel.to_string(),
                parts,
                bytes: bytes.to_vec(),
            });
        }
        Ok(changed)
    }

    /// The digest of the stack as stored (before this update's writes).
    pub fn stack_digest(&self) -> Result<String, StoreError> {
        Ok(digest_of(&self.backend.stack(self.loaded, true)?))
    }

    /// SHA-256 (hex) of the runner's file `name` in the local directory; `None` when missing.
    pub fn runner_file_digest(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.backend
            .local()
            .runner_file_digest(&self.loaded.session.id, name)
    }
}

/// The directories a run works in: the session's stack and the runner's root module.
#[derive(Debug, Clone)]
pub struct RunDirs {
    pub stack_dir: PathBuf,
    pub work_dir: PathBuf,
}

/// Checks a client-supplied path relative to the stack: plain names, at most
/// `MAX_PATH_DEPTH` deep, no `..`, `.`, hidden names or state files. Returns its segments.
pub(crate) fn stack_path(rel: &str) -> Result<Vec<String>, StoreError> {
    let refuse = |reason: &str| StoreError::PathRefused {
        path: rel.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    if rel.is_empty() {
        return Err(refuse(
            "it is empty; give a path relative to the stack, like `main.tf`",
        ));
    }
    if rel.contains('\0') || rel.contains('\\') {
        return Err(refuse(
            "it contains a NUL or backslash; use `/` between directories",
        ));
    }
    let path = Path::new(rel);
    if path.is_absolute() {
        return Err(refuse(
            "it is absolute; give a path relative to the stack, like `main.tf`",
        ));
    }
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            PathComponent::Normal(p) => {
                let p = p.to_string_lossy();
                if p.starts_with('.') {
                    return Err(refuse(
                        "hidden names (starting with `.`) are Terraform's own; pick another name",
                    ));
                }
                parts.push(p.into_owned());
            }
            PathComponent::ParentDir => {
                return Err(refuse("`..` would leave the session's stack directory"));
            }
            PathComponent::CurDir => return Err(refuse("`.` segments are not allowed")),
            PathComponent::RootDir | PathComponent::Prefix(_) => {
                return Err(refuse("it is absolute; give a path relative to the stack"));
            }
        }
    }
    if parts.is_empty() || parts.len() > MAX_PATH_DEPTH {
        return Err(refuse("it must name a file at most 4 directories deep"));
    }
    if parts.iter().any(|p| excluded_file(p)) {
        // State files are Terraform's, and are never packaged.
        return Err(refuse("Terraform state files cannot be written"));
    }
    Ok(parts)
}

/// A lock serialising read-modify-write of one session's document, released from the store's
/// table when the last holder is done (so made-up ids do not accumulate).
pub struct UpdateLock {
    lock: Arc<tokio::sync::Mutex<()>>,
    id: String,
    table: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl UpdateLock {
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }
}

impl Drop for UpdateLock {
    fn drop(&mut self) {
        let mut map = self.table.lock().unwrap_or_else(|p| p.into_inner());
        // Two references left, the table's and ours: nobody else waits on this session.
        if Arc::strong_count(&self.lock) <= 2 {
            map.remove(&self.id);
        }
    }
}

/// The session store the tools use: one of the two implementations, with the update lock,
/// the lease settings and this process's name as a lease holder.
#[derive(Clone)]
pub struct SessionStore {
    backend: Arc<dyn Backend>,
    /// Serialises read-modify-write of one session between concurrent tool calls.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    leases: LeaseSettings,
    /// `directory` or `bucket <namespace>/<name>`, for logs.
    kind: String,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("kind", &self.kind)
            .finish()
    }
}

impl SessionStore {
    /// The directory store under `data_dir` (see [`LocalStore::open`]).
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self::with_backend(
            Arc::new(LocalStore::open(data_dir)?),
            "directory".into(),
        ))
    }

    /// The bucket store, with `data_dir` as its cache.
    pub async fn open_bucket(data_dir: &Path, config: BucketConfig) -> Result<Self, StoreError> {
        let kind = format!("bucket {}/{}", config.namespace, config.bucket);
        let store = BucketStore::open(data_dir, config).await?;
        Ok(Self::with_backend(Arc::new(store), kind))
    }

    fn with_backend(backend: Arc<dyn Backend>, kind: String) -> Self {
        SessionStore {
            backend,
            locks: Arc::default(),
            leases: LeaseSettings::default(),
            kind,
        }
    }

    /// Sets how long a lease lasts without renewal.
    pub fn with_lease_duration(mut self, duration: Duration) -> Self {
        self.leases.duration = duration;
        self
    }

    /// `directory` or `bucket <namespace>/<name>`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The lease settings (the holder's name, the duration).
    pub fn leases(&self) -> &LeaseSettings {
        &self.leases
    }

    fn local(&self) -> &LocalStore {
        self.backend.local()
    }

    /// The lock that serialises updates of one session.
    pub fn update_lock(&self, id: &str) -> UpdateLock {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let lock = map.entry(id.to_string()).or_default().clone();
        UpdateLock {
            lock,
            id: id.to_string(),
            table: self.locks.clone(),
        }
    }

    /// Creates a new empty session and writes it.
    pub async fn create(
        &self,
        answers: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Session, StoreError> {
        let now = now_secs();
        let mut session = Session {
            id: new_session_id(),
            status: SessionStatus::Designing,
            created_at: now,
            updated_at: now,
            answers,
            hearing_result: None,
            architecture: Architecture::default(),
            rm_stack_id: None,
            last_job_id: None,
            pending_plan: None,
            app_files: Default::default(),
            last_build: None,
        };
        // 60 random bits: a clash is all but impossible, but an id is never reused.
        while self.backend.create(&session).await?.is_none() {
            session.id = new_session_id();
        }
        Ok(session)
    }

    pub async fn load(&self, id: &str) -> Result<Session, StoreError> {
        validate_session_id(id)?;
        Ok(self.backend.load(id).await?.session)
    }

    /// All sessions, newest first.
    pub async fn list(&self) -> Result<Vec<Session>, StoreError> {
        self.backend.list().await
    }

    /// Loads session `id`, lets `f` change it (and queue stack files), and saves both as one
    /// step, under the session's update lock here and on the condition that nobody saved the
    /// session since it was read ([`StoreError::Conflict`] otherwise: nothing is written).
    pub async fn update<T, E>(
        &self,
        id: &str,
        durability: Durability,
        f: impl FnOnce(&mut Session, &mut Edit<'_>) -> Result<T, E>,
    ) -> Result<(T, Session), UpdateError<E>> {
        validate_session_id(id).map_err(UpdateError::Store)?;
        let lock = self.update_lock(id);
        let _g = lock.lock().await;
        let loaded = self.backend.load(id).await.map_err(UpdateError::Store)?;
        let mut session = loaded.session.clone();
        let mut edit = Edit {
            backend: self.backend.as_ref(),
            loaded: &loaded,
            writes: Vec::new(),
        };
        let out = f(&mut session, &mut edit).map_err(UpdateError::Refused)?;
        let writes = std::mem::take(&mut edit.writes);
        session.updated_at = now_secs();
        self.backend
            .commit(&loaded, &session, &writes, durability)
            .await
            .map_err(UpdateError::Store)?;
        Ok((out, session))
    }

    /// The stack's files as the provider packages them, sorted by path.
    pub async fn stack_files(&self, id: &str) -> Result<Vec<StackFile>, StoreError> {
        validate_session_id(id)?;
        let loaded = self.backend.load(id).await?;
        Ok(self
            .backend
            .stack(&loaded, false)?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// The digest of the stack exactly as the Galley provider defines it for what it packages
    /// (see [`digest_of`]): any edit, added or removed file, or executable bit changes it.
    pub async fn stack_digest(&self, id: &str) -> Result<String, StoreError> {
        validate_session_id(id)?;
        let loaded = self.backend.load(id).await?;
        Ok(digest_of(&self.backend.stack(&loaded, true)?))
    }

    /// The directories a run of session `id` works in, the stack in them being the stored one.
    pub async fn run_dirs(&self, id: &str) -> Result<RunDirs, StoreError> {
        validate_session_id(id)?;
        let loaded = self.backend.load(id).await?;
        self.backend.sync_stack(&loaded).await?;
        Ok(RunDirs {
            stack_dir: self.local().terraform_dir(id)?,
            work_dir: self.local().runner_dir(id)?,
        })
    }

    /// The directory a build of session `id` works in (`build/`), its `app/` holding exactly
    /// `files`: the session's application directory, written from the session document.
    pub async fn build_dir(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, String>,
    ) -> Result<PathBuf, StoreError> {
        validate_session_id(id)?;
        // The bucket store's cache may not have the session's directory yet.
        self.local().ensure_session_dir(id)?;
        self.local().build_dir(id, files)
    }

    /// Keeps the saved plan `runner/<name>` where another sidecar (or this one after a
    /// restart) finds it; its digest, `None` without such a file.
    pub async fn keep_plan(&self, id: &str, name: &str) -> Result<Option<String>, StoreError> {
        validate_session_id(id)?;
        self.backend.keep_plan(id, name).await
    }

    /// Brings back the saved plan with `digest` as `runner/<name>` when it is kept elsewhere.
    pub async fn fetch_plan(&self, id: &str, name: &str, digest: &str) -> Result<(), StoreError> {
        validate_session_id(id)?;
        self.backend.fetch_plan(id, name, digest).await
    }

    /// The runner object `name` of session `id` with its version.
    pub async fn get_object(
        &self,
        id: &str,
        name: &str,
    ) -> Result<Option<VersionedBytes>, StoreError> {
        validate_session_id(id)?;
        self.backend.get_object(id, name).await
    }

    /// Writes the runner object `name` when `cond` holds ([`StoreError::Conflict`] otherwise).
    pub async fn put_object(
        &self,
        id: &str,
        name: &str,
        bytes: Vec<u8>,
        cond: Cond,
    ) -> Result<Version, StoreError> {
        validate_session_id(id)?;
        self.backend.put_object(id, name, bytes, cond).await
    }

    /// Removes the runner object `name` when `cond` holds.
    pub async fn delete_object(&self, id: &str, name: &str, cond: Cond) -> Result<(), StoreError> {
        validate_session_id(id)?;
        self.backend.delete_object(id, name, cond).await
    }

    /// Takes the lease of heavy operations on session `id` for `operation` (see `lease`).
    pub async fn lease(&self, id: &str, operation: &str) -> Result<Lease, StoreError> {
        validate_session_id(id)?;
        Lease::acquire(self.clone(), id, operation).await
    }

    /// Text that may hold server paths of session `id` (a message of Terraform or of the
    /// provider) with its session directory written as a relative path, and any other path in
    /// the data directory as `<data dir>/sessions/...`. An empty `id` replaces only the latter.
    pub fn relative_to_session(&self, id: &str, text: &str) -> String {
        self.local().relative_to_session(id, text)
    }
}

fn collect_stack(
    dir: &Dir,
    prefix: &str,
    depth: usize,
    hash: bool,
    out: &mut Vec<HashedFile>,
) -> Result<(), StoreError> {
    for (name, kind) in dir.entries()? {
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        match kind {
            Kind::Symlink => {
                return Err(StoreError::Symlink {
                    place: dir.place_of(&name),
                });
            }
            Kind::Dir if excluded_dir(&name) => {}
            Kind::Dir => {
                if depth >= MAX_WALK_DEPTH {
                    return Err(StoreError::Unexpected {
                        place: dir.place_of(&name),
                        what: format!("is more than {MAX_WALK_DEPTH} directories deep"),
                    });
                }
                if let Some(sub) = dir.open_dir(&name)? {
                    collect_stack(&sub, &rel, depth + 1, hash, out)?;
                }
            }
            Kind::File { .. } if excluded_file(&name) => {}
            Kind::File { mode, .. } => {
                if out.len() >= MAX_STACK_FILES {
                    return Err(StoreError::Unexpected {
                        place: dir.place_of(&name),
                        what: format!("is past the {MAX_STACK_FILES} files a stack may hold"),
                    });
                }
                if !hash {
                    out.push((
                        StackFile {
                            rel,
                            executable: mode & 0o111 != 0,
                        },
                        None,
                    ));
                } else if let Some((digest, mode)) = dir.hash_file(&name)? {
                    // Content and mode come from the same open file. A file removed since the
                    // listing is simply not there any more.
                    out.push((
                        StackFile {
                            rel,
                            executable: mode & 0o111 != 0,
                        },
                        Some(digest),
                    ));
                }
            }
            // FIFOs, sockets and devices are not packaged by the provider either.
            Kind::Other => {}
        }
    }
    Ok(())
}

/// Refuses any link in `dir` (recursively), Terraform's `.terraform/` aside.
fn refuse_links(dir: &Dir, depth: usize) -> Result<(), StoreError> {
    for (name, kind) in dir.entries()? {
        match kind {
            Kind::Symlink => {
                return Err(StoreError::Symlink {
                    place: dir.place_of(&name),
                });
            }
            Kind::Dir if name != ".terraform" && depth < MAX_WALK_DEPTH => {
                if let Some(sub) = dir.open_dir(&name)? {
                    refuse_links(&sub, depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
