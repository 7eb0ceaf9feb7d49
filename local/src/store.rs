//! Files in the data directory: small JSON records and blobs written atomically (temporary file
//! in the same directory, then rename), so a crash or restart never leaves a half-written
//! record behind.
//!
//! Records are not fsync'd: they must survive a process restart, which rename guarantees; a
//! test engine need not survive power loss.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a file in the data directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("failed to parse {path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("failed to encode a record for {path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl StoreError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Writes `bytes` to `path` atomically, creating the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let err = |source| StoreError::Write {
        path: path.to_owned(),
        source,
    };
    let (tmp, mut file) = TempFile::beside(path).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    drop(file);
    tmp.persist(path).map_err(err)
}

/// A file being written beside its final path (`.<name>.<random>.tmp` in the same directory),
/// removed when dropped unless [`TempFile::persist`] renamed it into place: a write that fails,
/// is refused or is abandoned halfway (a client that disconnects, a timed-out request) leaves
/// nothing behind.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    persisted: bool,
}

/// Suffix of [`TempFile`] names, so leftovers of a crash can be recognised.
pub const TEMP_SUFFIX: &str = ".tmp";

impl TempFile {
    /// Creates the temporary file for `path` (and its parent directory).
    pub fn beside(path: &Path) -> io::Result<(TempFile, fs::File)> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{file_name}.{}{TEMP_SUFFIX}",
            crate::ids::token(8)
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        Ok((
            TempFile {
                path: tmp,
                persisted: false,
            },
            file,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `dest`, replacing what was there.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Removes the temporary files a crash left in `dir`.
pub fn remove_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Encode {
        path: path.to_owned(),
        source,
    })?;
    write_atomic(path, &bytes)
}

/// Reads a JSON record.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = read(path)?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Reads a file.
pub fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|source| StoreError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The subdirectories of `dir` (none when it does not exist).
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/rec.json");
        write_json(&path, &serde_json::json!({"v": 1})).unwrap();
        write_json(&path, &serde_json::json!({"v": 2})).unwrap();
        let v: serde_json::Value = read_json(&path).unwrap();
        assert_eq!(v["v"], 2);
        let names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("rec.json")]);
        assert!(
            read(&dir.path().join("missing"))
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn an_abandoned_temporary_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("object.data");
        let (tmp, mut file) = TempFile::beside(&dest).unwrap();
        file.write_all(b"half of it").unwrap();
        assert!(tmp.path().exists());
        let path = tmp.path().to_owned();
        drop(tmp);
        assert!(!path.exists() && !dest.exists());
        // Leftovers of a crash are recognised by name.
        std::fs::write(dir.path().join(".x.data.abc.tmp"), b"x").unwrap();
        std::fs::write(dir.path().join("kept.json"), b"x").unwrap();
        remove_temp_files(dir.path());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("kept.json")]);
    }
}
