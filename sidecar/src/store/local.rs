//! The directory store: `<data dir>/sessions/<id>/session.json` plus the generated stack in
//! `terraform/` and the runner's root module in `runner/`, every file reached through `dir` (no
//! link followed) and written atomically, private to the user. It is the whole store without a
//! bucket, and the bucket store's cache with one: both run Terraform on its directories.
//!
//! Versions of `session.json` (what a conditional save compares) are the SHA-256 of its bytes;
//! runner objects (`runner/<name>`: the state lease, the Terraform state and its lock) are
//! compared and swapped under one lock of the process.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::dir::{self, DIR_MODE, Dir, Kind, Place};
use futures::future::BoxFuture;

use super::{
    Backend, Cond, Durability, HashedFile, Loaded, MAX_SESSION_BYTES, MAX_WALK_DEPTH,
    STALE_TEMPORARY_SECS, StackFile, StackWrite, StoreError, Version, VersionedBytes,
    collect_stack, digest_of, new_session_id, refuse_links, stack_path, validate_session_id,
};
use crate::model::{Architecture, Session, SessionStatus, now_secs};

/// Largest runner object read (a Terraform state of one `galley_session` is a few kilobytes).
const MAX_OBJECT_BYTES: usize = 64 << 20;

/// The on-disk store of sessions (and the bucket store's cache).
#[derive(Debug, Clone)]
pub struct LocalStore {
    /// The `sessions/` directory, opened once.
    root: Arc<Dir>,
    /// Its resolved path, for the runner (Terraform works with paths).
    root_path: PathBuf,
    /// Makes the compare-and-swap of runner objects one step within this process.
    objects: Arc<Mutex<()>>,
}

impl LocalStore {
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
        let store = LocalStore {
            root: Arc::new(root),
            root_path,
            objects: Arc::default(),
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

    /// The directory of session `id` (never through a link).
    pub(super) fn session(&self, id: &str) -> Result<Dir, StoreError> {
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
            app_files: Default::default(),
            last_build: None,
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
        let parts = stack_path(rel)?;
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
        Ok(digest_of(&self.walk_stack(id, true)?))
    }

    pub(super) fn walk_stack(&self, id: &str, hash: bool) -> Result<Vec<HashedFile>, StoreError> {
        let Some(stack) = self.session(id)?.open_dir("terraform")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        collect_stack(&stack, "", 0, hash, &mut out)?;
        out.sort_by(|a, b| a.0.rel.as_bytes().cmp(b.0.rel.as_bytes()));
        Ok(out)
    }
}

impl LocalStore {
    /// The version of `session.json` as stored now; `None` when there is none.
    pub fn version(&self, id: &str) -> Result<Option<Version>, StoreError> {
        Ok(self
            .session(id)?
            .read_file("session.json", MAX_SESSION_BYTES)?
            .map(|b| Version::of(&b)))
    }

    /// The session with the version it was read at.
    pub fn load_versioned(&self, id: &str) -> Result<(Session, Version), StoreError> {
        let bytes = self
            .session(id)?
            .read_file("session.json", MAX_SESSION_BYTES)?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let session = serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
            id: id.to_string(),
            source,
        })?;
        Ok((session, Version::of(&bytes)))
    }

    /// Writes `writes` into the stack (each changed file staged beside its target, all renamed
    /// once all are written), then the session, unless `session.json` is no longer at
    /// `expected`: then nothing is written and the answer is [`StoreError::Conflict`].
    pub fn commit(
        &self,
        session: &Session,
        expected: &Version,
        writes: &[StackWrite],
        durability: Durability,
    ) -> Result<Version, StoreError> {
        let id = session.id.as_str();
        if self.version(id)?.as_ref() != Some(expected) {
            return Err(StoreError::Conflict { id: id.to_string() });
        }
        let stack = self.session(id)?.create_dir("terraform")?;
        let mut dirs = Vec::with_capacity(writes.len());
        for w in writes {
            let (_, parents) = w
                .parts
                .split_last()
                .ok_or_else(|| StoreError::PathRefused {
                    path: w.rel.clone(),
                    reason: "it names no file".into(),
                })?;
            dirs.push(stack.create_dir_chain(parents)?);
        }
        let mut staged = Vec::with_capacity(writes.len());
        for (w, dir) in writes.iter().zip(&dirs) {
            let name = w.parts.last().map(String::as_str).unwrap_or_default();
            staged.push(dir.stage(name, &w.bytes, durability)?);
        }
        for s in staged {
            s.commit(durability)?;
        }
        let bytes = session_bytes(session)?;
        self.session(id)?
            .write_file("session.json", &bytes, durability)?;
        Ok(Version::of(&bytes))
    }

    /// Creates the directory of `session` and writes it; `false` when the id is taken.
    pub fn create_new(&self, session: &Session) -> Result<Option<Version>, StoreError> {
        validate_session_id(&session.id)?;
        if !self.root.create_new_dir(&session.id)? {
            return Ok(None);
        }
        let dir = self.session(&session.id)?;
        dir.create_dir("terraform")?;
        let bytes = session_bytes(session)?;
        dir.write_file("session.json", &bytes, Durability::Atomic)?;
        Ok(Some(Version::of(&bytes)))
    }

    /// SHA-256 of one stack file (its path checked by `stack_path`); `None` when missing.
    pub fn stack_file_hash(
        &self,
        id: &str,
        parts: &[String],
    ) -> Result<Option<[u8; 32]>, StoreError> {
        let Some((file, parents)) = parts.split_last() else {
            return Ok(None);
        };
        let Some(mut dir) = self.session(id)?.open_dir("terraform")? else {
            return Ok(None);
        };
        for p in parents {
            match dir.open_dir(p)? {
                Some(d) => dir = d,
                None => return Ok(None),
            }
        }
        Ok(dir.hash_file(file)?.map(|(h, _)| h))
    }

    /// Makes the stack directory hold exactly `files` (path, SHA-256, content on demand):
    /// files whose content differs are rewritten, files not listed are removed (Terraform's
    /// own directories and state files aside).
    pub fn mirror_stack(
        &self,
        id: &str,
        files: &[(String, [u8; 32])],
        mut content: impl FnMut(&str) -> Result<Vec<u8>, StoreError>,
    ) -> Result<usize, StoreError> {
        let stack = self.session(id)?.create_dir("terraform")?;
        let mut fetched = 0;
        for (rel, hash) in files {
            let parts = stack_path(rel)?;
            if self.stack_file_hash(id, &parts)?.as_ref() == Some(hash) {
                continue;
            }
            let bytes = content(rel)?;
            let (name, parents) = parts.split_last().unwrap_or((&parts[0], &[]));
            stack
                .create_dir_chain(parents)?
                .write_file(name, &bytes, Durability::Atomic)?;
            fetched += 1;
        }
        let wanted: std::collections::HashSet<&str> =
            files.iter().map(|(r, _)| r.as_str()).collect();
        for (f, _) in self.walk_stack(id, false)? {
            if !wanted.contains(f.rel.as_str()) {
                let parts: Vec<String> = f.rel.split('/').map(str::to_string).collect();
                if let Some((name, parents)) = parts.split_last()
                    && let Some(dir) = stack.open_dir_chain(parents)?
                {
                    dir.remove_file(name)?;
                }
            }
        }
        Ok(fetched)
    }

    /// The runner object `name` (`runner/<name>`) and its version; `None` when absent.
    pub fn read_object(&self, id: &str, name: &str) -> Result<Option<VersionedBytes>, StoreError> {
        let Some(runner) = self.session(id)?.open_dir("runner")? else {
            return Ok(None);
        };
        Ok(runner.read_file(name, MAX_OBJECT_BYTES)?.map(|b| {
            let v = Version::of(&b);
            (b, v)
        }))
    }

    /// Replaces the runner object `name` when `cond` holds; [`StoreError::Conflict`] otherwise.
    pub fn write_object(
        &self,
        id: &str,
        name: &str,
        bytes: &[u8],
        cond: &Cond,
    ) -> Result<Version, StoreError> {
        let _one = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.read_object(id, name)?.map(|(_, v)| v);
        if !cond.holds(current.as_ref()) {
            return Err(StoreError::Conflict { id: id.to_string() });
        }
        let runner = self.session(id)?.create_dir("runner")?;
        runner.write_file(name, bytes, Durability::Flushed)?;
        Ok(Version::of(bytes))
    }

    /// Removes the runner object `name` when `cond` holds (absent counts as removed).
    pub fn remove_object(&self, id: &str, name: &str, cond: &Cond) -> Result<(), StoreError> {
        let _one = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let Some((_, current)) = self.read_object(id, name)? else {
            return Ok(());
        };
        if !cond.holds(Some(&current)) {
            return Err(StoreError::Conflict { id: id.to_string() });
        }
        if let Some(runner) = self.session(id)?.open_dir("runner")? {
            runner.remove_file(name)?;
        }
        Ok(())
    }

    /// Writes the runner's file `name` (a saved plan brought back from the bucket).
    pub fn put_runner_file(&self, id: &str, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let runner = self.session(id)?.create_dir("runner")?;
        runner.write_file(name, bytes, Durability::Flushed)
    }

    /// Whether the session's directory exists (a cache may lack it).
    pub fn has_session_dir(&self, id: &str) -> Result<bool, StoreError> {
        validate_session_id(id)?;
        Ok(self.root.open_dir(id)?.is_some())
    }

    /// Creates the session's directory when missing (the bucket store's cache).
    pub fn ensure_session_dir(&self, id: &str) -> Result<(), StoreError> {
        validate_session_id(id)?;
        self.root.create_dir(id)?;
        Ok(())
    }
}

fn session_bytes(session: &Session) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec_pretty(session).map_err(|source| StoreError::Corrupt {
        id: session.id.clone(),
        source,
    })
}

impl Backend for LocalStore {
    fn local(&self) -> &LocalStore {
        self
    }

    fn create<'a>(
        &'a self,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Option<Version>, StoreError>> {
        Box::pin(async move { self.create_new(session) })
    }

    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Loaded, StoreError>> {
        Box::pin(async move {
            let (session, version) = self.load_versioned(id)?;
            Ok(Loaded {
                session,
                version,
                manifest: None,
            })
        })
    }

    fn commit<'a>(
        &'a self,
        loaded: &'a Loaded,
        session: &'a Session,
        writes: &'a [StackWrite],
        durability: Durability,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            LocalStore::commit(self, session, &loaded.version, writes, durability).map(|_| ())
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Session>, StoreError>> {
        Box::pin(async move { LocalStore::list(self) })
    }

    fn stack(&self, loaded: &Loaded, hash: bool) -> Result<Vec<HashedFile>, StoreError> {
        self.walk_stack(&loaded.session.id, hash)
    }

    fn stack_file_hash(
        &self,
        loaded: &Loaded,
        parts: &[String],
    ) -> Result<Option<[u8; 32]>, StoreError> {
        LocalStore::stack_file_hash(self, &loaded.session.id, parts)
    }

    fn sync_stack<'a>(&'a self, _loaded: &'a Loaded) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(()) })
    }

    fn keep_plan<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move { self.runner_file_digest(id, name) })
    }

    fn fetch_plan<'a>(
        &'a self,
        _id: &'a str,
        _name: &'a str,
        _digest: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(()) })
    }

    fn get_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<VersionedBytes>, StoreError>> {
        Box::pin(async move { self.read_object(id, name) })
    }

    fn put_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        bytes: Vec<u8>,
        cond: Cond,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        Box::pin(async move { self.write_object(id, name, &bytes, &cond) })
    }

    fn delete_object<'a>(
        &'a self,
        id: &'a str,
        name: &'a str,
        cond: Cond,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.remove_object(id, name, &cond) })
    }
}

/// The build's directory of a session (`build/`, beside `runner/`): its own Terraform root
/// module and state, so building an image never touches the stack's.
impl LocalStore {
    /// Makes `build/app/` hold exactly `files` (paths checked like stack paths) and returns the
    /// path of `build/`, checked like [`LocalStore::runner_dir`].
    pub fn build_dir(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, String>,
    ) -> Result<PathBuf, StoreError> {
        let build = self.session(id)?.create_dir("build")?;
        refuse_links(&build, 0)?;
        let app = build.create_dir("app")?;
        for (rel, content) in files {
            let parts = stack_path(rel)?;
            let (name, parents) = parts.split_last().unwrap_or((&parts[0], &[]));
            let dir = app.create_dir_chain(parents)?;
            if dir.hash_file(name)?.map(|(h, _)| h) != Some(Sha256::digest(content).into()) {
                dir.write_file(name, content.as_bytes(), Durability::Atomic)?;
            }
        }
        // A file the application no longer has must not reach the image.
        let mut present = Vec::new();
        collect_stack(&app, "", 0, false, &mut present)?;
        for (f, _) in present {
            if !files.contains_key(&f.rel) {
                let parts: Vec<String> = f.rel.split('/').map(str::to_string).collect();
                if let Some((name, parents)) = parts.split_last()
                    && let Some(dir) = app.open_dir_chain(parents)?
                {
                    dir.remove_file(name)?;
                }
            }
        }
        Ok(self.root_path.join(id).join("build"))
    }
}
