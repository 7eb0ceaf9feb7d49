//! Directory handles that never follow a symbolic link. Every file of a session is reached from
//! the sessions directory one name at a time (`openat` with `O_NOFOLLOW`), so a link anywhere
//! (the session directory, `terraform/`, a file, a directory on the way) is refused by the
//! kernel rather than by a check that could be raced, and a directory swapped for a link after
//! it was opened changes nothing: the handle still names the directory that was opened.
//!
//! Files are created private to the user (`0600`, directories `0700`) and written through a
//! temporary file in the same directory renamed over the target, so a reader, or a crash, sees
//! the old or the new content, never half of it.

use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{Durability, StoreError};

/// Mode of every file the store creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the store creates.
pub const DIR_MODE: u32 = 0o700;
/// What no file or directory of a session may grant: any access by group or others.
const FOREIGN_BITS: u32 = 0o077;
/// Marker in the names of temporary files (`.<name>.tmp-<12 hex>`).
const TMP_MARKER: &str = ".tmp-";

/// Where a file is, for messages: relative to its session (or to the sessions directory), never
/// a server path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub session: Option<Arc<str>>,
    /// `/`-separated path inside the session (empty: the session directory itself).
    pub rel: String,
}

impl Place {
    fn child(&self, name: &str) -> Place {
        Place {
            session: self.session.clone(),
            rel: if self.rel.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", self.rel)
            },
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.session, self.rel.as_str()) {
            (None, "") => f.write_str("the sessions directory"),
            (None, rel) => write!(f, "sessions/{rel}"),
            (Some(s), "") => write!(f, "the directory of session {s}"),
            (Some(s), rel) => write!(f, "{rel} of session {s}"),
        }
    }
}

/// What a directory entry is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `modified`: seconds since the Unix epoch.
    File {
        len: u64,
        mode: u32,
        modified: i64,
    },
    Dir,
    Symlink,
    /// A FIFO, socket or device: never opened (a FIFO would block the reader).
    Other,
}

/// An open directory.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    place: Place,
}

fn errno_io(e: Errno) -> std::io::Error {
    std::io::Error::from(e)
}

fn io_err(action: &'static str, place: Place) -> impl FnOnce(Errno) -> StoreError {
    move |e| StoreError::Io {
        action,
        place,
        source: errno_io(e),
    }
}

/// Refuses names that would leave the directory or are not one plain name.
fn plain(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Whether `name` is one of the store's temporary files.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(TMP_MARKER)
            .is_some_and(|(_, hex)| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn temporary_name(name: &str) -> String {
    let mut suffix = [0u8; 6];
    let _ = getrandom::fill(&mut suffix);
    format!(".{name}{TMP_MARKER}{}", hex::encode(suffix))
}

impl Dir {
    /// Opens a directory the operator chose (the data directory's `sessions/`): links in that
    /// path are the operator's and are followed, once, here.
    pub fn open_root(path: &Path) -> std::io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_io)?;
        Ok(Dir {
            fd,
            place: Place {
                session: None,
                rel: String::new(),
            },
        })
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    /// Where an entry of this directory is.
    pub fn place_of(&self, name: &str) -> Place {
        self.place.child(name)
    }

    /// The same directory, now described as session `id` (its entries are named relative to it).
    pub fn as_session(self, id: &str) -> Dir {
        Dir {
            fd: self.fd,
            place: Place {
                session: Some(Arc::from(id)),
                rel: String::new(),
            },
        }
    }

    fn check_name(&self, name: &str) -> Result<(), StoreError> {
        if plain(name) {
            Ok(())
        } else {
            Err(StoreError::Unexpected {
                place: self.place.clone(),
                what: format!("holds no entry named {}", crate::echo::quoted(name)),
            })
        }
    }

    /// What `name` is, or `None` when there is nothing by that name.
    pub fn kind(&self, name: &str) -> Result<Option<Kind>, StoreError> {
        self.check_name(name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(match FileType::from_raw_mode(st.st_mode as _) {
                FileType::RegularFile => Kind::File {
                    len: st.st_size as u64,
                    mode: st.st_mode & 0o7777,
                    modified: st.st_mtime,
                },
                FileType::Directory => Kind::Dir,
                FileType::Symlink => Kind::Symlink,
                _ => Kind::Other,
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err("inspect", self.place.child(name))(e)),
        }
    }

    /// The error for an entry that is a link, or not what was expected.
    fn refuse(&self, name: &str, kind: Option<Kind>, wanted: &str) -> StoreError {
        let place = self.place.child(name);
        match kind {
            Some(Kind::Symlink) => StoreError::Symlink { place },
            Some(Kind::Dir) => StoreError::Unexpected {
                place,
                what: format!("is a directory, not {wanted}"),
            },
            Some(Kind::File { .. }) => StoreError::Unexpected {
                place,
                what: format!("is a file, not {wanted}"),
            },
            _ => StoreError::Unexpected {
                place,
                what: format!("is a special file, not {wanted}"),
            },
        }
    }

    /// Opens the directory `name`; `None` when it does not exist. A link is refused.
    pub fn open_dir(&self, name: &str) -> Result<Option<Dir>, StoreError> {
        self.check_name(name)?;
        match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(Dir {
                fd,
                place: self.place.child(name),
            })),
            Err(Errno::NOENT) => Ok(None),
            // ELOOP: the last component is a link; ENOTDIR: it is something else.
            Err(Errno::LOOP | Errno::NOTDIR) => {
                Err(self.refuse(name, self.kind(name)?, "a directory"))
            }
            Err(e) => Err(io_err("open", self.place.child(name))(e)),
        }
    }

    /// Opens the directory `name`, creating it (private) when missing.
    pub fn create_dir(&self, name: &str) -> Result<Dir, StoreError> {
        if let Some(d) = self.open_dir(name)? {
            return Ok(d);
        }
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(DIR_MODE as _)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(io_err("create", self.place.child(name))(e)),
        }
        self.open_dir(name)?.ok_or_else(|| StoreError::Unexpected {
            place: self.place.child(name),
            what: "disappeared while it was created".into(),
        })
    }

    /// Opens (creating when missing) each directory of `names` inside the previous one; an
    /// empty chain is this directory again.
    pub fn create_dir_chain(&self, names: &[String]) -> Result<Dir, StoreError> {
        let mut dir = self.reopen()?;
        for n in names {
            dir = dir.create_dir(n)?;
        }
        Ok(dir)
    }

    /// Opens each directory of `names` inside the previous one; `None` when one is missing.
    pub fn open_dir_chain(&self, names: &[String]) -> Result<Option<Dir>, StoreError> {
        let mut dir = self.reopen()?;
        for n in names {
            match dir.open_dir(n)? {
                Some(d) => dir = d,
                None => return Ok(None),
            }
        }
        Ok(Some(dir))
    }

    /// A second handle on this directory.
    fn reopen(&self) -> Result<Dir, StoreError> {
        let fd = rustix::fs::openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err("open", self.place.clone()))?;
        Ok(Dir {
            fd,
            place: self.place.clone(),
        })
    }

    /// Creates the directory `name`, which must not exist yet; false when it does.
    pub fn create_new_dir(&self, name: &str) -> Result<bool, StoreError> {
        self.check_name(name)?;
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(DIR_MODE as _)) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(io_err("create", self.place.child(name))(e)),
        }
    }

    /// Opens the regular file `name` for reading; `None` when it does not exist. A link or a
    /// special file is refused without being opened for real (`O_NONBLOCK` keeps a FIFO from
    /// blocking the open itself).
    fn open_file(&self, name: &str) -> Result<Option<(std::fs::File, u64, u32)>, StoreError> {
        self.check_name(name)?;
        let fd = match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => {
                return Err(StoreError::Symlink {
                    place: self.place.child(name),
                });
            }
            Err(e) => return Err(io_err("open", self.place.child(name))(e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(io_err("inspect", self.place.child(name)))?;
        let kind = FileType::from_raw_mode(st.st_mode as _);
        if kind != FileType::RegularFile {
            let k = if kind == FileType::Directory {
                Kind::Dir
            } else {
                Kind::Other
            };
            return Err(self.refuse(name, Some(k), "a file"));
        }
        Ok(Some((
            std::fs::File::from(fd),
            st.st_size as u64,
            st.st_mode & 0o7777,
        )))
    }

    /// The content of the regular file `name`, at most `max` bytes; `None` when it is missing.
    pub fn read_file(&self, name: &str, max: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((file, len, _)) = self.open_file(name)? else {
            return Ok(None);
        };
        if len > max as u64 {
            return Err(StoreError::TooLarge {
                place: self.place.child(name),
                limit: max,
            });
        }
        let mut out = Vec::with_capacity(len as usize);
        file.take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|source| StoreError::Io {
                action: "read",
                place: self.place.child(name),
                source,
            })?;
        if out.len() > max {
            return Err(StoreError::TooLarge {
                place: self.place.child(name),
                limit: max,
            });
        }
        Ok(Some(out))
    }

    /// SHA-256 of the regular file `name` and its permission bits, read in pieces.
    pub fn hash_file(&self, name: &str) -> Result<Option<([u8; 32], u32)>, StoreError> {
        use sha2::{Digest, Sha256};
        let Some((mut file, _, mode)) = self.open_file(name)? else {
            return Ok(None);
        };
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(|source| StoreError::Io {
                action: "read",
                place: self.place.child(name),
                source,
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(Some((h.finalize().into(), mode)))
    }

    /// Writes `bytes` to a private temporary file beside `name`; [`Staged::commit`] renames it
    /// into place, dropping it uncommitted removes it.
    pub fn stage(
        &self,
        name: &str,
        bytes: &[u8],
        durability: Durability,
    ) -> Result<Staged<'_>, StoreError> {
        self.check_name(name)?;
        if let Some(k @ (Kind::Dir | Kind::Symlink | Kind::Other)) = self.kind(name)? {
            // A link is replaced, not followed, by the rename; refusing it still keeps what the
            // sidecar writes and what it reads (which refuses links) in agreement.
            return Err(self.refuse(name, Some(k), "a file"));
        }
        let tmp = temporary_name(name);
        let fd = rustix::fs::openat(
            &self.fd,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(FILE_MODE as _),
        )
        .map_err(io_err(
            "create a temporary file for",
            self.place.child(name),
        ))?;
        let staged = Staged {
            dir: self,
            tmp,
            name: name.to_string(),
            committed: false,
        };
        let mut file = std::fs::File::from(fd);
        let written = file.write_all(bytes).and_then(|()| {
            if durability == Durability::Flushed {
                file.sync_all()
            } else {
                Ok(())
            }
        });
        written.map_err(|source| StoreError::Io {
            action: "write",
            place: self.place.child(name),
            source,
        })?;
        Ok(staged)
    }

    /// Replaces `name` with `bytes` (see [`Dir::stage`]).
    pub fn write_file(
        &self,
        name: &str,
        bytes: &[u8],
        durability: Durability,
    ) -> Result<(), StoreError> {
        self.stage(name, bytes, durability)?.commit(durability)
    }

    /// The entries of this directory with what they are, sorted by name. Names that are not
    /// UTF-8 are reported as an error naming the directory.
    pub fn entries(&self) -> Result<Vec<(String, Kind)>, StoreError> {
        let listing =
            rustix::fs::Dir::read_from(&self.fd).map_err(io_err("list", self.place.clone()))?;
        let mut out = Vec::new();
        for entry in listing {
            let entry = entry.map_err(io_err("list", self.place.clone()))?;
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(raw) else {
                return Err(StoreError::Unexpected {
                    place: self.place.child(&String::from_utf8_lossy(raw)),
                    what: "has a name that is not UTF-8".into(),
                });
            };
            // Gone between the listing and the look: nothing to report.
            if let Some(kind) = self.kind(name)? {
                out.push((name.to_string(), kind));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Removes the file `name` (a link is removed, never followed).
    pub fn remove_file(&self, name: &str) -> Result<(), StoreError> {
        self.check_name(name)?;
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(io_err("remove", self.place.child(name))(e)),
        }
    }

    /// Takes group and other permissions away from this directory (older versions created
    /// session files with the process umask).
    pub fn make_private(&self) -> Result<(), StoreError> {
        let st = rustix::fs::fstat(&self.fd).map_err(io_err("inspect", self.place.clone()))?;
        let mode = st.st_mode & 0o7777;
        if mode & FOREIGN_BITS != 0 {
            rustix::fs::fchmod(&self.fd, Mode::from_raw_mode((mode & !FOREIGN_BITS) as _))
                .map_err(io_err("change the permissions of", self.place.clone()))?;
        }
        Ok(())
    }

    /// The same for the regular file `name` (opened without following a link).
    pub fn make_file_private(&self, name: &str) -> Result<(), StoreError> {
        let Some((file, _, mode)) = self.open_file(name)? else {
            return Ok(());
        };
        if mode & FOREIGN_BITS != 0 {
            rustix::fs::fchmod(&file, Mode::from_raw_mode((mode & !FOREIGN_BITS) as _))
                .map_err(io_err("change the permissions of", self.place.child(name)))?;
        }
        Ok(())
    }

    /// Flushes this directory's entries (a rename) to disk; some filesystems refuse, which is
    /// fine.
    fn sync(&self) {
        let _ = rustix::fs::fsync(&self.fd);
    }
}

/// A temporary file waiting to be renamed into place.
pub struct Staged<'a> {
    dir: &'a Dir,
    tmp: String,
    name: String,
    committed: bool,
}

impl Staged<'_> {
    /// Renames the temporary file over the target.
    pub fn commit(mut self, durability: Durability) -> Result<(), StoreError> {
        rustix::fs::renameat(
            &self.dir.fd,
            OsStr::from_bytes(self.tmp.as_bytes()),
            &self.dir.fd,
            self.name.as_str(),
        )
        .map_err(io_err(
            "rename into place",
            self.dir.place.child(&self.name),
        ))?;
        self.committed = true;
        if durability == Durability::Flushed {
            self.dir.sync();
        }
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = rustix::fs::unlinkat(&self.dir.fd, self.tmp.as_str(), AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn root() -> (tempfile::TempDir, Dir) {
        let t = tempfile::tempdir().unwrap();
        let d = Dir::open_root(t.path()).unwrap();
        (t, d)
    }

    #[test]
    fn writes_are_private_and_leave_no_temporary_file() {
        let (t, d) = root();
        d.write_file("a.tf", b"x", Durability::Atomic).unwrap();
        let sub = d.create_dir("sub").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&t.path().join("a.tf")), 0o600);
        assert_eq!(mode(&t.path().join("sub")), 0o700);
        sub.write_file("b", b"y", Durability::Flushed).unwrap();
        let names: Vec<_> = d.entries().unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["a.tf", "sub"]);
        // A stage that is dropped uncommitted leaves nothing.
        drop(d.stage("c.tf", b"z", Durability::Atomic).unwrap());
        assert_eq!(d.entries().unwrap().len(), 2);
        assert!(is_temporary(&temporary_name("main.tf")));
        assert!(!is_temporary(".main.tf"));
    }

    #[test]
    fn links_are_refused_everywhere_and_special_files_never_opened() {
        let (t, d) = root();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        symlink(outside.path(), t.path().join("dirlink")).unwrap();
        symlink(outside.path().join("secret"), t.path().join("filelink")).unwrap();
        assert!(matches!(
            d.open_dir("dirlink"),
            Err(StoreError::Symlink { .. })
        ));
        assert!(matches!(
            d.create_dir("dirlink"),
            Err(StoreError::Symlink { .. })
        ));
        assert!(matches!(
            d.read_file("filelink", 10),
            Err(StoreError::Symlink { .. })
        ));
        assert!(matches!(
            d.write_file("filelink", b"x", Durability::Atomic),
            Err(StoreError::Symlink { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "s"
        );
        rustix::fs::mkfifoat(&d.fd, "fifo", Mode::from_raw_mode(0o600)).unwrap();
        let err = d.read_file("fifo", 10).unwrap_err().to_string();
        assert!(err.contains("special file"), "{err}");
        assert!(d.read_file("..", 10).is_err());
    }

    #[test]
    fn a_directory_swapped_for_a_link_after_it_was_opened_is_not_followed() {
        let (t, d) = root();
        let stack = d.create_dir("terraform").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::rename(t.path().join("terraform"), t.path().join("moved")).unwrap();
        symlink(outside.path(), t.path().join("terraform")).unwrap();
        stack
            .write_file("main.tf", b"x", Durability::Atomic)
            .unwrap();
        assert!(t.path().join("moved/main.tf").exists());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
