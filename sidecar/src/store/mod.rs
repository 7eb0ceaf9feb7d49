//! The session store on disk: `<data dir>/sessions/<id>/session.json` plus the generated stack in
//! `terraform/` and the runner's root module in `runner/`. Owns session ids (generation and
//! validation), atomic private writes, the resolution of client-supplied paths inside a
//! session's stack, and which stack files a plan covers (the digest), so that nothing a tool
//! receives can reach outside its session directory.
//!
//! Everything inside a session is reached through `dir` (no symbolic link is ever followed; a
//! link anywhere in a session is refused and named) and created private to the user. Opening
//! the store takes group and other permissions away from what older versions wrote, and removes
//! temporary files a crash left behind. Errors name files relative to their session, never by
//! a server path.

mod dir;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component as PathComponent, Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

pub use dir::{DIR_MODE, Dir, FILE_MODE, Kind, Place};

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

/// The on-disk store of sessions.
#[derive(Debug, Clone)]
pub struct SessionStore {
    /// The `sessions/` directory, opened once.
    root: Arc<Dir>,
    /// Its resolved path, for the runner (Terraform works with paths).
    root_path: PathBuf,
    /// Serialises read-modify-write of one session's JSON between concurrent tool calls.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl SessionStore {
    /// Opens (creating when needed, private to the user) the store under `data_dir`, takes group
    /// and other permissions away from everything in it, and removes temporary files left by a
    /// crash.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let sessions = data_dir.join("sessions");
        let io = |action: &'static str| {
            move |source| StoreError::Io {
                action,
                place: Place {
                    session: None,
                    rel: String::new(),
                },
                source,
            }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&sessions)
            .map_err(io("create"))?;
        let root_path = fs::canonicalize(&sessions).map_err(io("resolve"))?;
        let root = Dir::open_root(&root_path).map_err(io("open"))?;
        let store = SessionStore {
            root: Arc::new(root),
            root_path,
            locks: Arc::default(),
        };
        store.tidy();
        Ok(store)
    }

    /// Makes every directory and file under `sessions/` private and removes stale temporary
    /// files. Problems are logged: a file the sidecar cannot fix must not stop it from serving
    /// the other sessions.
    fn tidy(&self) {
        let stale_before = now_secs() as i64 - STALE_TEMPORARY_SECS;
        fn walk(dir: &Dir, depth: usize, stale_before: i64) {
            if let Err(e) = dir.make_private() {
                tracing::warn!(error = %e, "cannot make a session directory private");
            }
            let entries = match dir.entries() {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list a session directory");
                    return;
                }
            };
            for (name, kind) in entries {
                let outcome = match kind {
                    // Only a crash's leftovers: another sidecar process on the same data
                    // directory may be writing this very file.
                    Kind::File { modified, .. }
                        if dir::is_temporary(&name) && modified < stale_before =>
                    {
                        dir.remove_file(&name)
                    }
                    Kind::File { .. } => dir.make_file_private(&name),
                    Kind::Dir if depth < MAX_WALK_DEPTH => match dir.open_dir(&name) {
                        Ok(Some(sub)) => {
                            walk(&sub, depth + 1, stale_before);
                            Ok(())
                        }
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    },
                    Kind::Symlink => {
                        tracing::warn!(place = %dir.place_of(&name), "symbolic link in the data directory; it is refused wherever a tool meets it");
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "cannot tidy a session file");
                }
            }
        }
        walk(&self.root, 0, stale_before);
    }

    /// The lock that serialises updates of one session's document.
    pub fn update_lock(&self, id: &str) -> UpdateLock {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let lock = map.entry(id.to_string()).or_default().clone();
        UpdateLock {
            lock,
            id: id.to_string(),
            table: self.locks.clone(),
        }
    }

    /// The directory of session `id` (never through a link).
    fn session(&self, id: &str) -> Result<Dir, StoreError> {
        validate_session_id(id)?;
        match self.root.open_dir(id)? {
            Some(d) => Ok(d.as_session(id)),
            None => Err(StoreError::NotFound(id.to_string())),
        }
    }

    /// The session's stack directory, for the runner: checked to be a real directory (created
    /// when missing) inside a real session directory.
    pub fn terraform_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        self.session(id)?.create_dir("terraform")?;
        Ok(self.root_path.join(id).join("terraform"))
    }

    /// The runner's directory of the session, for the runner: checked like
    /// [`SessionStore::terraform_dir`], and holding no link (Terraform would write through one),
    /// `.terraform/` (Terraform's own) aside.
    pub fn runner_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        let runner = self.session(id)?.create_dir("runner")?;
        refuse_links(&runner, 0)?;
        Ok(self.root_path.join(id).join("runner"))
    }

    /// SHA-256 (hex) of a file the runner wrote (a saved plan); `None` when it is missing.
    pub fn runner_file_digest(&self, id: &str, name: &str) -> Result<Option<String>, StoreError> {
        let Some(runner) = self.session(id)?.open_dir("runner")? else {
            return Ok(None);
        };
        Ok(runner.hash_file(name)?.map(|(h, _)| hex::encode(h)))
    }

    /// Text that may hold server paths of session `id` (a message of Terraform or of the
    /// provider) with its session directory written as a relative path, and any other path in
    /// the data directory as `<data dir>/sessions/...`. An empty `id` replaces only the latter.
    pub fn relative_to_session(&self, id: &str, text: &str) -> String {
        let mut text = text.to_string();
        if !id.is_empty() {
            let dir = self.root_path.join(id);
            let dir = dir.to_string_lossy();
            text = text
                .replace(&format!("{dir}/"), "")
                .replace(dir.as_ref(), ".");
        }
        let root = self.root_path.to_string_lossy();
        text.replace(root.as_ref(), "<data dir>/sessions")
    }

    /// Creates a new empty session and writes it.
    pub fn create(
        &self,
        answers: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Session, StoreError> {
        let mut id = new_session_id();
        // 60 random bits: a clash is all but impossible, but never reuse a directory.
        while !self.root.create_new_dir(&id)? {
            id = new_session_id();
        }
        let dir = self.session(&id)?;
        dir.create_dir("terraform")?;
        let now = now_secs();
        let session = Session {
            id,
            status: SessionStatus::Designing,
            created_at: now,
            updated_at: now,
            answers,
            hearing_result: None,
            architecture: Architecture::default(),
            rm_stack_id: None,
            last_job_id: None,
            pending_plan: None,
        };
        self.save(&session, Durability::Atomic)?;
        Ok(session)
    }

    pub fn load(&self, id: &str) -> Result<Session, StoreError> {
        let bytes = self
            .session(id)?
            .read_file("session.json", MAX_SESSION_BYTES)?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
            id: id.to_string(),
            source,
        })
    }

    pub fn save(&self, session: &Session, durability: Durability) -> Result<(), StoreError> {
        validate_session_id(&session.id)?;
        let dir = self.root.create_dir(&session.id)?.as_session(&session.id);
        let bytes = serde_json::to_vec_pretty(session).map_err(|source| StoreError::Corrupt {
            id: session.id.clone(),
            source,
        })?;
        dir.write_file("session.json", &bytes, durability)
    }

    /// All sessions, newest first. Entries that are not valid sessions (other names, links,
    /// unreadable documents) are skipped with a warning.
    pub fn list(&self) -> Result<Vec<Session>, StoreError> {
        let mut out = Vec::new();
        for (name, kind) in self.root.entries()? {
            if validate_session_id(&name).is_err() {
                continue;
            }
            if kind != Kind::Dir {
                tracing::warn!(session = %name, ?kind, "skipping a session entry that is not a directory");
                continue;
            }
            match self.load(&name) {
                Ok(s) => out.push(s),
                Err(e) => {
                    tracing::warn!(session = %name, error = %e, "skipping unreadable session")
                }
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Checks a client-supplied path relative to the stack: plain names, at most
    /// `MAX_PATH_DEPTH` deep, no `..`, `.`, hidden names or state files. Returns its segments.
    fn stack_path(rel: &str) -> Result<Vec<String>, StoreError> {
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

    /// Writes one file of the session's stack at a client-supplied relative path (see
    /// `stack_path`), creating missing directories; true when the content changed. Nothing on
    /// the way is followed if it is a link: the write is refused, naming it.
    pub fn write_stack_file(
        &self,
        id: &str,
        rel: &str,
        bytes: &[u8],
        durability: Durability,
    ) -> Result<bool, StoreError> {
        let parts = Self::stack_path(rel)?;
        let (file, dirs) = parts.split_last().ok_or_else(|| StoreError::PathRefused {
            path: rel.chars().take(200).collect(),
            reason: "it names no file".into(),
        })?;
        let mut dir = self.session(id)?.create_dir("terraform")?;
        for d in dirs {
            dir = dir.create_dir(d)?;
        }
        let changed = dir.hash_file(file)?.map(|(h, _)| h) != Some(Sha256::digest(bytes).into());
        dir.write_file(file, bytes, durability)?;
        Ok(changed)
    }

    /// Writes several top-level files of the stack (an export) as one step as far as files
    /// allow: every changed file is written to a temporary file first, and only when all are
    /// written are they renamed into place. Returns which files changed; unchanged files are
    /// left alone.
    pub fn write_stack_files(
        &self,
        id: &str,
        files: &[(&str, &[u8])],
        durability: Durability,
    ) -> Result<Vec<bool>, StoreError> {
        let dir = self.session(id)?.create_dir("terraform")?;
        let mut changed = Vec::with_capacity(files.len());
        let mut staged = Vec::new();
        for (name, bytes) in files {
            let differs =
                dir.hash_file(name)?.map(|(h, _)| h) != Some(Sha256::digest(bytes).into());
            if differs {
                staged.push(dir.stage(name, bytes, durability)?);
            }
            changed.push(differs);
        }
        for s in staged {
            s.commit(durability)?;
        }
        Ok(changed)
    }

    /// The stack's files as the provider packages them (its built-in exclusions applied),
    /// sorted by path. A link anywhere in the stack, the stack directory itself included, is
    /// an error naming it.
    pub fn stack_files(&self, id: &str) -> Result<Vec<StackFile>, StoreError> {
        Ok(self
            .walk_stack(id, false)?
            .into_iter()
            .map(|(f, _)| f)
            .collect())
    }

    /// The digest of the stack exactly as the Galley provider defines it for what it packages:
    /// SHA-256 of one line per file, sorted by path, `<sha256 of the content, hex> <644|755>
    /// <path>\n`. Any edit, added or removed file, or executable bit changes it.
    pub fn stack_digest(&self, id: &str) -> Result<String, StoreError> {
        let mut manifest = Sha256::new();
        for (f, hash) in self.walk_stack(id, true)? {
            manifest.update(hex::encode(hash.unwrap_or_default()).as_bytes());
            manifest.update(if f.executable { b" 755 " } else { b" 644 " });
            manifest.update(f.rel.as_bytes());
            manifest.update(b"\n");
        }
        Ok(hex::encode(manifest.finalize()))
    }

    fn walk_stack(&self, id: &str, hash: bool) -> Result<Vec<HashedFile>, StoreError> {
        let Some(stack) = self.session(id)?.open_dir("terraform")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        collect_stack(&stack, "", 0, hash, &mut out)?;
        out.sort_by(|a, b| a.0.rel.as_bytes().cmp(b.0.rel.as_bytes()));
        Ok(out)
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
