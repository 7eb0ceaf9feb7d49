//! The session store on disk: `<data dir>/sessions/<id>/session.json` plus the generated stack in
//! `terraform/` and the runner's root module in `runner/`. Owns session ids (generation and
//! validation), atomic writes, and the resolution of client-supplied paths inside a session's
//! stack, so that nothing a tool receives can reach outside its session directory.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Component as PathComponent, Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

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
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
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

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
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

/// Writes `bytes` to `path` so readers see the old or the new file, never a torn one: a temporary
/// file in the same directory, rename over; fsync of the file before and the directory after for
/// [`Durability::Flushed`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_file(path, bytes, Durability::Flushed)
}

/// [`write_atomic`] with the durability chosen by the caller.
pub fn write_file(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), StoreError> {
    let dir = path.parent().ok_or_else(|| StoreError::Io {
        action: "find the directory of",
        path: path.to_path_buf(),
        source: std::io::Error::other("no parent directory"),
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 6];
    let _ = getrandom::fill(&mut suffix);
    let tmp = dir.join(format!(".{name}.tmp-{}", hex::encode(suffix)));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        if durability == Durability::Flushed {
            f.sync_all().map_err(io_err("sync", &tmp))?;
        }
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
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

/// Files of a stack that belong to Terraform's own bookkeeping, not to the configuration.
fn is_bookkeeping(rel: &str) -> bool {
    rel.starts_with(".terraform/")
        || rel == ".terraform.lock.hcl"
        || rel.ends_with(".tfstate")
        || rel.contains(".tfstate.")
        || rel.rsplit('/').next().is_some_and(|n| n.starts_with('.'))
}

/// The on-disk store of sessions.
#[derive(Debug, Clone)]
pub struct SessionStore {
    sessions: PathBuf,
    /// Serialises read-modify-write of one session's JSON between concurrent tool calls.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl SessionStore {
    /// Opens (creating when needed) the store under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let sessions = data_dir.join("sessions");
        fs::create_dir_all(&sessions).map_err(io_err("create", &sessions))?;
        let sessions = fs::canonicalize(&sessions).map_err(io_err("resolve", &sessions))?;
        Ok(SessionStore {
            sessions,
            locks: Arc::default(),
        })
    }

    /// The lock that serialises updates of one session's document.
    pub fn update_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_string()).or_default().clone()
    }

    pub fn session_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        validate_session_id(id)?;
        Ok(self.sessions.join(id))
    }

    pub fn terraform_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.session_dir(id)?.join("terraform"))
    }

    pub fn runner_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        Ok(self.session_dir(id)?.join("runner"))
    }

    /// Creates a new empty session and writes it.
    pub fn create(
        &self,
        answers: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Session, StoreError> {
        let id = new_session_id();
        let dir = self.session_dir(&id)?;
        fs::create_dir_all(dir.join("terraform")).map_err(io_err("create", &dir))?;
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
        let path = self.session_dir(id)?.join("session.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()));
            }
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
            id: id.to_string(),
            source,
        })
    }

    pub fn save(&self, session: &Session, durability: Durability) -> Result<(), StoreError> {
        let dir = self.session_dir(&session.id)?;
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let bytes = serde_json::to_vec_pretty(session).map_err(|source| StoreError::Corrupt {
            id: session.id.clone(),
            source,
        })?;
        write_file(&dir.join("session.json"), &bytes, durability)
    }

    /// All sessions, newest first. Directories that are not valid sessions are skipped.
    pub fn list(&self) -> Result<Vec<Session>, StoreError> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.sessions).map_err(io_err("list", &self.sessions))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if validate_session_id(&name).is_err() {
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

    /// Resolves a client-supplied path to a file inside the session's stack directory, creating
    /// missing parent directories. Refuses absolute paths, `..`, `.`, hidden names, deep paths,
    /// and any existing symlink on the way (a link could point anywhere).
    pub fn resolve_stack_file(&self, id: &str, rel: &str) -> Result<PathBuf, StoreError> {
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
        let root_dir = self.terraform_dir(id)?;
        fs::create_dir_all(&root_dir).map_err(io_err("create", &root_dir))?;
        let root = fs::canonicalize(&root_dir).map_err(io_err("resolve", &root_dir))?;
        let (file, dirs) = parts
            .split_last()
            .ok_or_else(|| refuse("it names no file"))?;
        if is_bookkeeping(&parts.join("/")) {
            // State files are Terraform's, and are left out of the plan-token digest.
            return Err(refuse("Terraform state files cannot be written"));
        }
        let mut dir = root.clone();
        for d in dirs {
            dir.push(d);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refuse("a directory on the way is a symbolic link"));
                }
                Ok(m) if !m.is_dir() => return Err(refuse("a directory on the way is a file")),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    fs::create_dir(&dir).map_err(io_err("create", &dir))?;
                }
                Err(e) => return Err(io_err("inspect", &dir)(e)),
            }
        }
        // Belt and braces: whatever happened on the way, the parent must resolve inside the stack.
        let parent = fs::canonicalize(&dir).map_err(io_err("resolve", &dir))?;
        if !parent.starts_with(&root) {
            return Err(refuse("it resolves outside the session's stack directory"));
        }
        let target = parent.join(file);
        if let Ok(m) = fs::symlink_metadata(&target) {
            if m.file_type().is_symlink() {
                return Err(refuse(
                    "the file is a symbolic link; refusing to write through it",
                ));
            }
            if m.is_dir() {
                return Err(refuse("it is a directory"));
            }
        }
        Ok(target)
    }

    /// The stack's configuration files (relative path, content), sorted by path. Terraform's
    /// bookkeeping (`.terraform/`, state, lock file) is left out; symlinks are skipped.
    pub fn stack_files(&self, id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let root = self.terraform_dir(id)?;
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("list", &dir)(e)),
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(ft) = entry.file_type() else { continue };
                let rel = path
                    .strip_prefix(&root)
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                if ft.is_dir() {
                    if !rel.starts_with('.') {
                        stack.push(path);
                    }
                } else if ft.is_file() && !is_bookkeeping(&rel) {
                    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
                    out.push((rel, bytes));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// SHA-256 over every configuration file's path and content: any edit changes it.
    pub fn stack_digest(&self, id: &str) -> Result<String, StoreError> {
        let mut h = Sha256::new();
        for (rel, bytes) in self.stack_files(id)? {
            h.update((rel.len() as u64).to_be_bytes());
            h.update(rel.as_bytes());
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(&bytes);
        }
        Ok(hex::encode(h.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SessionStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SessionStore::open(dir.path()).expect("open");
        (dir, store)
    }

    #[test]
    fn generated_ids_validate_and_differ() {
        let a = new_session_id();
        let b = new_session_id();
        validate_session_id(&a).expect("valid");
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "s-",
            "../etc",
            "s-abcdefghijk",
            "s-abcdefghijkl/",
            "s-ABCDEFGHIJKL",
            "s-abcdefghij01",
            "/tmp/s-abcdefghijkl",
            "s-abcdefghijkl\0",
        ] {
            assert!(validate_session_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sessions_survive_reopening_the_store() {
        let (dir, store) = store();
        let s = store.create(Default::default()).expect("create");
        let again = SessionStore::open(dir.path()).expect("reopen");
        assert_eq!(again.load(&s.id).expect("load"), s);
        assert_eq!(again.list().expect("list").len(), 1);
        // No temporary files are left behind by the atomic write.
        let names: Vec<_> = fs::read_dir(store.session_dir(&s.id).unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn traversal_and_absolute_paths_are_refused() {
        let (_d, store) = store();
        let s = store.create(Default::default()).unwrap();
        for bad in [
            "../session.json",
            "a/../../x.tf",
            "/etc/passwd",
            "./main.tf",
            ".terraform/x",
            "",
            "a/b/c/d/e.tf",
            "a\\..\\x.tf",
            "terraform.tfstate",
            "x/terraform.tfstate.backup",
        ] {
            let err = store.resolve_stack_file(&s.id, bad).expect_err(bad);
            assert!(
                matches!(err, StoreError::PathRefused { .. }),
                "{bad}: {err}"
            );
        }
        let ok = store
            .resolve_stack_file(&s.id, "modules/net/main.tf")
            .expect("nested ok");
        assert!(ok.starts_with(fs::canonicalize(store.terraform_dir(&s.id).unwrap()).unwrap()));
    }

    #[test]
    fn symlinks_are_not_followed() {
        let (d, store) = store();
        let s = store.create(Default::default()).unwrap();
        let tf = store.terraform_dir(&s.id).unwrap();
        let outside = d.path().join("outside");
        fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, tf.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.join("f.tf"), tf.join("link.tf")).unwrap();
        assert!(store.resolve_stack_file(&s.id, "escape/x.tf").is_err());
        assert!(store.resolve_stack_file(&s.id, "link.tf").is_err());
        assert!(!outside.join("x.tf").exists());
    }

    #[test]
    fn digest_changes_with_any_file_but_not_with_terraform_bookkeeping() {
        let (_d, store) = store();
        let s = store.create(Default::default()).unwrap();
        let tf = store.terraform_dir(&s.id).unwrap();
        fs::write(tf.join("main.tf"), "a").unwrap();
        let d1 = store.stack_digest(&s.id).unwrap();
        fs::create_dir_all(tf.join(".terraform")).unwrap();
        fs::write(tf.join(".terraform/x"), "y").unwrap();
        fs::write(tf.join("terraform.tfstate"), "{}").unwrap();
        assert_eq!(d1, store.stack_digest(&s.id).unwrap());
        fs::write(tf.join("main.tf"), "b").unwrap();
        assert_ne!(d1, store.stack_digest(&s.id).unwrap());
    }
}
