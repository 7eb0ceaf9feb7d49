//! Packaging a directory for upload: the file list (ignore rules applied), a digest of those
//! files that is cheap enough to compute at plan time, and the archives built from the same
//! list: a zip for Resource Manager configurations ([`zip`]) and a tar.gz for image build
//! contexts ([`targz`]).
//!
//! # Which files
//!
//! [`Tree::scan`] decides, and the digest and both archives use its list, so they always agree.
//!
//! 1. The directory is walked recursively. An entry is skipped when the built-in exclusions or
//!    `.galleyignore` exclude its relative path (the path of the entry itself, a link's own
//!    path, with `/` separators; whether it is a directory is that of what it points to).
//! 2. A symbolic link is resolved completely (every level, as `realpath` does):
//!    - if nothing exists there (a dangling link), it is skipped;
//!    - if the resolved path is outside the directory being packaged (compared with the
//!      directory's own resolved path), packaging fails with an error naming the link's
//!      relative path: the content of a file outside the directory is never uploaded;
//!    - otherwise it is packaged as what it points to, under the link's own path: a link to a
//!      file is a regular file with the target's content and executable bit; a link to a
//!      directory is walked like a directory, except that a link to the directory being
//!      walked or to one of its ancestors (a loop) is skipped.
//!
//!    So a file reachable by several paths inside the directory is packaged once per path.
//! 3. Anything else that is not a regular file or a directory (sockets, FIFOs, devices) is
//!    skipped. A file is executable when any execute bit is set.
//! 4. At most [`MAX_FILES`] files.
//!
//! # Digest
//!
//! The digest covers what is packaged (relative paths, executable bits, contents) and not the
//! archive bytes, so it does not change with the compressor or its settings: a plan made by one
//! provider version stays valid for the next. It is the SHA-256 of one line per file, sorted
//! by the bytes of the relative path: `<sha256 of the content, hex> <644|755> <path>\n`.
//!
//! This module reads files only; it never talks to a service or to Terraform.

pub mod ignore;
pub mod targz;
pub mod unzip;
pub mod zip;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

pub use ignore::IgnoreRules;

/// Why a directory could not be packaged.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to package {root}: it is not a directory")]
    NotADirectory { root: PathBuf },
    #[error("failed to package {path}: the name is not valid UTF-8")]
    NonUtf8Name { path: PathBuf },
    #[error("failed to package {root}: {reason}")]
    TooLarge { root: PathBuf, reason: String },
    #[error("failed to compress {path}: {source}")]
    Compress {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "failed to package {root}: {rel} is a symbolic link to {}, which is outside the \
         directory, and only files inside it are uploaded. Replace the link with a copy of what \
         it points to, move that into the directory, or list {rel} in .galleyignore",
        target.display()
    )]
    LinkOutside {
        root: PathBuf,
        /// The link's path relative to the directory.
        rel: String,
        /// Where it resolves to.
        target: PathBuf,
    },
}

/// Most files a directory may package: far beyond any configuration or build context, and a
/// bound on the walk when directory links multiply what it sees.
pub const MAX_FILES: usize = 100_000;

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> PackagingError + '_ {
    move |source| PackagingError::Read {
        path: path.to_owned(),
        source,
    }
}

/// One file to package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path with `/` separators.
    pub rel: String,
    pub abs: PathBuf,
    pub executable: bool,
    pub size: u64,
}

impl FileEntry {
    /// The Unix permission bits recorded in archives and in the digest.
    pub fn mode(&self) -> u32 {
        if self.executable { 0o755 } else { 0o644 }
    }
}

/// The files of a directory that will be packaged, sorted by relative path.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: PathBuf,
    pub files: Vec<FileEntry>,
}

impl Tree {
    /// Walks `root`, applying the built-in exclusions and `root/.galleyignore`. Symbolic links
    /// are followed when they resolve inside `root` and refused when they resolve outside it
    /// (see the module documentation for the exact rules).
    pub fn scan(root: &Path) -> Result<Tree, PackagingError> {
        let meta = fs::metadata(root).map_err(read_error(root))?;
        if !meta.is_dir() {
            return Err(PackagingError::NotADirectory {
                root: root.to_owned(),
            });
        }
        let rules = match fs::read_to_string(root.join(ignore::IGNORE_FILE)) {
            Ok(text) => IgnoreRules::new(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => IgnoreRules::default(),
            Err(e) => return Err(read_error(&root.join(ignore::IGNORE_FILE))(e)),
        };
        let canonical = fs::canonicalize(root).map_err(read_error(root))?;
        let mut walk = Walk {
            root,
            canonical_root: &canonical,
            rules: &rules,
            ancestors: vec![canonical.clone()],
            files: Vec::new(),
        };
        walk.dir(root, "")?;
        let mut files = walk.files;
        files.sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
        Ok(Tree {
            root: root.to_owned(),
            files,
        })
    }

    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Whether a file with this relative path is packaged.
    pub fn contains(&self, rel: &str) -> bool {
        self.files.iter().any(|f| f.rel == rel)
    }

    /// The digest of the packaged files (see the module documentation), reading and hashing
    /// files on every available core.
    pub fn digest(&self) -> Result<String, PackagingError> {
        let hashes = par_map(&self.files, |file| {
            let content = fs::read(&file.abs).map_err(read_error(&file.abs))?;
            Ok(Sha256::digest(&content).into())
        })?;
        Ok(digest_of(&self.files, &hashes))
    }
}

/// The tree digest from per-file content hashes (in `files` order).
pub(crate) fn digest_of(files: &[FileEntry], hashes: &[[u8; 32]]) -> String {
    let mut manifest = Sha256::new();
    for (file, hash) in files.iter().zip(hashes) {
        manifest.update(hex::encode(hash).as_bytes());
        manifest.update(format!(" {:o} ", file.mode()).as_bytes());
        manifest.update(file.rel.as_bytes());
        manifest.update(b"\n");
    }
    hex::encode(manifest.finalize())
}

/// The state of one [`Tree::scan`].
struct Walk<'a> {
    root: &'a Path,
    canonical_root: &'a Path,
    rules: &'a IgnoreRules,
    /// Resolved paths of the directories being walked, outermost first: a link to one of them
    /// is a loop.
    ancestors: Vec<PathBuf>,
    files: Vec<FileEntry>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, prefix: &str) -> Result<(), PackagingError> {
        let mut entries = fs::read_dir(dir)
            .map_err(read_error(dir))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_error(dir))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| PackagingError::NonUtf8Name { path: path.clone() })?;
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let is_link = entry.file_type().map_err(read_error(&path))?.is_symlink();
            // What the entry is, following links.
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                // A dangling link has nothing to package.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(read_error(&path)(e)),
            };
            if self.rules.is_excluded(&rel, meta.is_dir()) {
                continue;
            }
            let resolved = if is_link {
                let target = fs::canonicalize(&path).map_err(read_error(&path))?;
                if !target.starts_with(self.canonical_root) {
                    return Err(PackagingError::LinkOutside {
                        root: self.root.to_owned(),
                        rel,
                        target,
                    });
                }
                Some(target)
            } else {
                None
            };
            if meta.is_dir() {
                let canonical = match resolved {
                    Some(target) => target,
                    None => fs::canonicalize(&path).map_err(read_error(&path))?,
                };
                if self.ancestors.contains(&canonical) {
                    continue;
                }
                self.ancestors.push(canonical);
                self.dir(&path, &rel)?;
                self.ancestors.pop();
            } else if meta.is_file() {
                if self.files.len() >= MAX_FILES {
                    return Err(PackagingError::TooLarge {
                        root: self.root.to_owned(),
                        reason: format!(
                            "it holds more than {MAX_FILES} files (counting each path a \
                             directory link adds); list what is not needed in .galleyignore"
                        ),
                    });
                }
                self.files.push(FileEntry {
                    rel,
                    // The checked target, so later reads cannot be sent elsewhere by the link.
                    abs: resolved.unwrap_or(path),
                    executable: is_executable(&meta),
                    size: meta.len(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

/// How many threads packaging uses: every core, at most 8 (reads and deflate scale; more
/// threads only add memory).
fn workers(items: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(items.max(1))
}

/// Maps `f` over `items` on [`workers`] threads, keeping the order; the first error wins.
pub(crate) fn par_map<T, R, F>(items: &[T], f: F) -> Result<Vec<R>, PackagingError>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R, PackagingError> + Sync,
{
    let next = AtomicUsize::new(0);
    let threads = workers(items.len());
    let mut parts: Vec<Vec<(usize, Result<R, PackagingError>)>> = if threads <= 1 {
        vec![items.iter().enumerate().map(|(i, t)| (i, f(t))).collect()]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(item) = items.get(i) else { break };
                            let result = f(item);
                            let failed = result.is_err();
                            done.push((i, result));
                            if failed {
                                // Stop the others soon: the whole call fails anyway.
                                next.store(items.len(), Ordering::Relaxed);
                                break;
                            }
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, result) in parts.drain(..).flatten() {
        slots[i] = Some(result?);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| PackagingError::Compress {
                path: format!("item {i}"),
                source: io::Error::other("a worker thread stopped without a result"),
            })
        })
        .collect()
}

/// An archive and the digest of what it holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Package {
    pub bytes: Vec<u8>,
    /// The tree digest (see the module documentation).
    pub digest: String,
    pub files: usize,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("bytes", &self.bytes.len())
            .field("digest", &self.digest)
            .field("files", &self.files)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod testdir {
    use std::path::Path;

    /// Writes `files` (relative path, content) under `root`.
    pub fn write(root: &Path, files: &[(&str, &str)]) {
        for (rel, content) in files {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rels(tree: &Tree) -> Vec<&str> {
        tree.files.iter().map(|f| f.rel.as_str()).collect()
    }

    #[test]
    fn scan_applies_built_ins_and_galleyignore_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(
            dir.path(),
            &[
                ("main.tf", "x"),
                ("b/z.tf", "z"),
                ("b/a.tf", "a"),
                (".terraform/providers/p", "bin"),
                ("terraform.tfstate", "{}"),
                (".git/HEAD", "ref"),
                ("notes/todo.md", "todo"),
                ("debug.log", "log"),
                (".galleyignore", "notes/\n*.log\n"),
            ],
        );
        let tree = Tree::scan(dir.path()).unwrap();
        assert_eq!(rels(&tree), ["b/a.tf", "b/z.tf", "main.tf"]);
        assert_eq!(tree.total_size(), 3);
    }

    #[test]
    fn digest_changes_with_content_names_and_modes_only() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("main.tf", "one"), ("sub/x.tf", "two")]);
        let first = Tree::scan(dir.path()).unwrap().digest().unwrap();
        assert_eq!(first.len(), 64);
        // Rewriting the same bytes (new mtime) changes nothing.
        testdir::write(dir.path(), &[("main.tf", "one")]);
        assert_eq!(Tree::scan(dir.path()).unwrap().digest().unwrap(), first);
        testdir::write(dir.path(), &[("main.tf", "one!")]);
        let changed = Tree::scan(dir.path()).unwrap().digest().unwrap();
        assert_ne!(changed, first);
        std::fs::rename(dir.path().join("sub/x.tf"), dir.path().join("sub/y.tf")).unwrap();
        let renamed = Tree::scan(dir.path()).unwrap().digest().unwrap();
        assert_ne!(renamed, changed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join("main.tf");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_ne!(Tree::scan(dir.path()).unwrap().digest().unwrap(), renamed);
        }
    }

    #[test]
    fn digest_matches_its_documented_definition() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("a.tf", "A"), ("b/c.tf", "C")]);
        let manifest = format!(
            "{} 644 a.tf\n{} 644 b/c.tf\n",
            hex::encode(Sha256::digest(b"A")),
            hex::encode(Sha256::digest(b"C"))
        );
        assert_eq!(
            Tree::scan(dir.path()).unwrap().digest().unwrap(),
            hex::encode(Sha256::digest(manifest.as_bytes()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_end_and_links_to_files_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("real/file.tf", "x")]);
        std::os::unix::fs::symlink(dir.path(), dir.path().join("real/loop")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real/file.tf"), dir.path().join("link.tf"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("dangling"))
            .unwrap();
        let tree = Tree::scan(dir.path()).unwrap();
        assert_eq!(rels(&tree), ["link.tf", "real/file.tf"]);
    }

    #[cfg(unix)]
    fn link(target: &Path, at: &Path) {
        std::os::unix::fs::symlink(target, at).unwrap();
    }

    /// The attack: a stack directory whose innocuous-looking file is a link to a secret.
    #[cfg(unix)]
    #[test]
    fn a_link_to_a_file_outside_the_directory_is_refused_by_name() {
        let base = tempfile::tempdir().unwrap();
        testdir::write(
            base.path(),
            &[("secrets/id_rsa", "SECRET KEY"), ("stack/main.tf", "x")],
        );
        let dir = base.path().join("stack");
        std::fs::create_dir(dir.join("modules")).unwrap();
        for target in [
            base.path().join("secrets/id_rsa"),
            // Relative links that climb out are caught the same way.
            Path::new("../../secrets/id_rsa").to_owned(),
        ] {
            let _ = std::fs::remove_file(dir.join("modules/vars.tf"));
            link(&target, &dir.join("modules/vars.tf"));
            let err = Tree::scan(&dir).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(&err, PackagingError::LinkOutside { rel, .. } if rel == "modules/vars.tf"),
                "{text}"
            );
            assert!(
                text.contains("modules/vars.tf is a symbolic link"),
                "{text}"
            );
            assert!(text.contains(".galleyignore"), "{text}");
            assert!(!text.contains("SECRET"), "{text}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_directory_outside_is_refused_unless_ignored() {
        let outside = tempfile::tempdir().unwrap();
        testdir::write(outside.path(), &[("secret.tf", "SECRET")]);
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("main.tf", "x")]);
        link(outside.path(), &dir.path().join("elsewhere"));
        let err = Tree::scan(dir.path()).unwrap_err();
        assert!(
            matches!(&err, PackagingError::LinkOutside { rel, .. } if rel == "elsewhere"),
            "{err}"
        );
        // Listed in .galleyignore, the link is left out and nothing of it is read.
        testdir::write(dir.path(), &[(".galleyignore", "elsewhere\n")]);
        let tree = Tree::scan(dir.path()).unwrap();
        assert_eq!(rels(&tree), ["main.tf"]);
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_the_directory_are_packaged_as_their_targets_in_digest_and_archives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        testdir::write(
            dir.path(),
            &[
                ("common/vars.tf", "variable \"a\" {}"),
                ("common/run.sh", "#!/bin/sh"),
            ],
        );
        std::fs::set_permissions(
            dir.path().join("common/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("env")).unwrap();
        link(
            Path::new("../common/vars.tf"),
            &dir.path().join("env/vars.tf"),
        );
        link(Path::new("common"), &dir.path().join("modules"));
        let tree = Tree::scan(dir.path()).unwrap();
        assert_eq!(
            rels(&tree),
            [
                "common/run.sh",
                "common/vars.tf",
                "env/vars.tf",
                "modules/run.sh",
                "modules/vars.tf"
            ]
        );
        let linked = tree
            .files
            .iter()
            .find(|f| f.rel == "modules/run.sh")
            .unwrap();
        assert!(linked.executable, "the target's mode is kept");
        // The digest is the documented manifest over exactly those paths...
        let line = |content: &str, mode: &str, path: &str| {
            format!(
                "{} {mode} {path}\n",
                hex::encode(Sha256::digest(content.as_bytes()))
            )
        };
        let manifest = [
            line("#!/bin/sh", "755", "common/run.sh"),
            line("variable \"a\" {}", "644", "common/vars.tf"),
            line("variable \"a\" {}", "644", "env/vars.tf"),
            line("#!/bin/sh", "755", "modules/run.sh"),
            line("variable \"a\" {}", "644", "modules/vars.tf"),
        ]
        .concat();
        let digest = tree.digest().unwrap();
        assert_eq!(digest, hex::encode(Sha256::digest(manifest.as_bytes())));
        // ...and both archives hold the same files and report the same digest.
        assert_eq!(zip::build(&tree).unwrap().digest, digest);
        assert_eq!(targz::build(&tree).unwrap().digest, digest);
    }

    #[test]
    fn a_file_is_not_a_directory_to_package() {
        let dir = tempfile::tempdir().unwrap();
        testdir::write(dir.path(), &[("main.tf", "x")]);
        let err = Tree::scan(&dir.path().join("main.tf")).unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        let err = Tree::scan(&dir.path().join("absent")).unwrap_err();
        assert!(err.to_string().starts_with("failed to read"), "{err}");
    }
}
